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

use serde::Serialize;

/// Who a session, token or recovery code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PrincipalKind {
    Staff,
    Client,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Staff => "staff",
            PrincipalKind::Client => "client",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "staff" => Some(PrincipalKind::Staff),
            "client" => Some(PrincipalKind::Client),
            _ => None,
        }
    }
}
