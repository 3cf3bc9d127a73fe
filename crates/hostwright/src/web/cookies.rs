//! The cookies a request's identity rests on. Form tokens are bound to them (`csrf`); on
//! https each is named `__Host-<name>` (`Settings::cookie_name`).

/// The staff area's session.
pub const STAFF_SESSION: &str = "hw_admin";
/// The client area's session (an owner or a sub-user).
pub const CLIENT_SESSION: &str = "hw_client";
/// The cart's token, for visitors and clients alike.
pub const CART: &str = "hw_cart";
