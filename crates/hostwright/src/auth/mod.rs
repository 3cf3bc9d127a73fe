//! Authentication shared by the staff and client areas: passwords, TOTP, recovery codes,
//! database-backed sessions, one-time tokens and throttling.

pub mod credentials;
pub mod password;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod totp;

pub use crate::ids::PrincipalKind;

use sea_orm::DbErr;

use self::throttle::Locked;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("wrong code")]
    InvalidCode,
    #[error("too many attempts")]
    Locked(Locked),
    #[error("{0}")]
    WeakPassword(&'static str),
    #[error("the link is invalid or has expired")]
    InvalidLink,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for AuthError {
    fn from(err: DbErr) -> Self {
        AuthError::Internal(anyhow::Error::new(err).context("database"))
    }
}
