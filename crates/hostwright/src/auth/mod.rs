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
    /// A sub-user of a client account: signs in to the client area with their own password.
    Contact,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Staff => "staff",
            PrincipalKind::Client => "client",
            PrincipalKind::Contact => "contact",
        }
    }

    /// The area a principal signs in to: contacts use the client area (its cookie and pages).
    pub fn area(self) -> PrincipalKind {
        match self {
            PrincipalKind::Staff => PrincipalKind::Staff,
            PrincipalKind::Client | PrincipalKind::Contact => PrincipalKind::Client,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "staff" => Some(PrincipalKind::Staff),
            "client" => Some(PrincipalKind::Client),
            "contact" => Some(PrincipalKind::Contact),
            _ => None,
        }
    }
}
