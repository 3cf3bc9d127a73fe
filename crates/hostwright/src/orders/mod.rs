//! Ordering: the storefront and the cart (kept in the database, for visitors too), coupons,
//! checkout (order, services and first invoice in one transaction), and the admin's orders.

pub mod coupon_handlers;
pub mod coupons;
pub mod model;
pub mod settings;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().merge(coupon_handlers::routes())
}
