//! Ordering: the storefront and the cart (kept in the database, for visitors too), coupons,
//! checkout (order, services and first invoice in one transaction), and the admin's orders.

pub mod admin_handlers;
pub mod cart;
pub mod checkout;
pub mod client_handlers;
pub mod coupons;
pub mod manage;
pub mod model;
pub mod status;
pub mod storefront;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;
use crate::web::retry::keyed;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/store", get(storefront::products::storefront))
        .route("/store/products/{id}", get(storefront::products::configure))
        .route("/store/currency", post(storefront::products::choose_currency))
        .route("/cart", get(storefront::cart_page::show_cart))
        .route("/cart/items", post(storefront::cart_page::add_to_cart))
        .route("/cart/items/{id}/quantity", post(storefront::cart_page::change_quantity))
        .route("/cart/items/{id}/remove", post(storefront::cart_page::remove_item))
        .route("/cart/coupon", post(storefront::cart_page::apply_coupon))
        .route("/cart/country", post(storefront::cart_page::choose_country))
        .route(
            "/checkout",
            keyed(get(storefront::checkout_page::checkout_form).post(storefront::checkout_page::place_order)),
        )
        .route("/checkout/register", post(storefront::checkout_page::register_at_checkout))
        .route("/account/orders", get(client_handlers::client_orders))
        .route("/account/orders/{id}", get(client_handlers::client_order))
        .route("/admin/orders", get(admin_handlers::list_orders))
        .route("/admin/orders/{id}", get(admin_handlers::show_order))
        .route("/admin/orders/{id}/{action}", post(admin_handlers::order_action))
        .route(
            "/admin/settings/ordering",
            get(admin_handlers::ordering_settings).post(admin_handlers::save_ordering_settings),
        )
        .merge(coupons::handlers::routes())
}
