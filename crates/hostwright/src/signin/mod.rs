//! Signing in and everything around it, the same way for staff and clients: the sign-in and
//! second-factor pages, sign-out, password and 2FA changes, password reset. It sits above
//! staff and clients, whose people it signs in; the passwords, sessions, tokens and
//! throttling it uses are `auth`'s.

pub mod account;
pub mod flows;
pub mod handlers;
pub mod views;

/// The sign-in and security pages and the reset email in their sample states, for the
/// template test.
#[cfg(test)]
pub fn samples() -> Vec<crate::web::view::Sample> {
    views::samples()
}
