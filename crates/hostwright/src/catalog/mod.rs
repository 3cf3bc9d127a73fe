//! The catalog: what the business sells and at which prices, in which currencies.

pub mod handlers;
pub mod model;
pub mod service;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/catalog", get(handlers::catalog))
        .route("/admin/catalog/groups", post(handlers::create_group))
        .route("/admin/catalog/groups/{id}", get(handlers::edit_group_form).post(handlers::update_group))
        .route("/admin/catalog/products", post(handlers::create_product))
        .route("/admin/catalog/products/new", get(handlers::new_product_form))
        .route("/admin/catalog/products/{id}", get(handlers::show_product).post(handlers::update_product))
        .route("/admin/catalog/products/{id}/prices", post(handlers::update_prices))
        .route("/admin/currencies", get(handlers::list_currencies).post(handlers::add_currency))
        .route("/admin/currencies/{code}", post(handlers::update_currency))
        .route("/admin/currencies/{code}/default", post(handlers::make_default_currency))
}
