//! Authentication shared by the staff and client areas: passwords, TOTP, recovery codes,
//! database-backed sessions, one-time tokens and throttling.

pub mod account;
pub mod flows;
pub mod handlers;
pub mod password;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod totp;

pub use crate::ids::PrincipalKind;
