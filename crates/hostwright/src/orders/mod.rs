//! Ordering: the storefront and the cart (kept in the database, for visitors too), coupons,
//! checkout (order, services and first invoice in one transaction), and the admin's orders.

pub mod admin_handlers;
pub mod cart;
pub mod checkout;
pub mod coupon_handlers;
pub mod coupons;
pub mod manage;
pub mod model;
pub mod store_handlers;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;
use crate::web::retry::keyed;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/store", get(store_handlers::storefront))
        .route("/store/products/{id}", get(store_handlers::configure))
        .route("/store/currency", post(store_handlers::choose_currency))
        .route("/cart", get(store_handlers::show_cart))
        .route("/cart/items", post(store_handlers::add_to_cart))
        .route("/cart/items/{id}/quantity", post(store_handlers::change_quantity))
        .route("/cart/items/{id}/remove", post(store_handlers::remove_item))
        .route("/cart/coupon", post(store_handlers::apply_coupon))
        .route("/cart/country", post(store_handlers::choose_country))
        .route("/checkout", keyed(get(store_handlers::checkout_form).post(store_handlers::place_order)))
        .route("/checkout/register", post(store_handlers::register_at_checkout))
        .route("/account/orders", get(store_handlers::client_orders))
        .route("/account/orders/{id}", get(store_handlers::client_order))
        .route("/admin/orders", get(admin_handlers::list_orders))
        .route("/admin/orders/{id}", get(admin_handlers::show_order))
        .route("/admin/orders/{id}/{action}", post(admin_handlers::order_action))
        .route(
            "/admin/settings/ordering",
            get(admin_handlers::ordering_settings).post(admin_handlers::save_ordering_settings),
        )
        .merge(coupon_handlers::routes())
}
