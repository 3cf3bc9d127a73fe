//! The catalog: what the business sells and at which prices, in which currencies; the
//! configurable options, add-ons and upgrade paths of products, and `pricing`, which turns
//! a client's choices into invoice lines.

pub mod addons;
pub mod choice_forms;
pub mod handlers;
pub mod model;
pub mod module_handlers;
pub mod module_settings;
pub mod options;
pub mod pricing;
pub mod service;
pub mod views;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// The catalog's pages that render typed views, in their sample states, for the template
/// test.
#[cfg(test)]
pub fn samples() -> Vec<crate::web::view::Sample> {
    views::ProductModulePage::samples().iter().map(crate::web::view::Sample::page).collect()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/catalog", get(handlers::catalog))
        .route("/admin/catalog/groups", post(handlers::create_group))
        .route("/admin/catalog/groups/{id}", get(handlers::edit_group_form).post(handlers::update_group))
        .route("/admin/catalog/products", post(handlers::create_product))
        .route("/admin/catalog/products/new", get(handlers::new_product_form))
        .route("/admin/catalog/products/{id}", get(handlers::show_product).post(handlers::update_product))
        .route("/admin/catalog/products/{id}/prices", post(handlers::update_prices))
        .route("/admin/catalog/products/{id}/upgrades", post(handlers::update_upgrades))
        .route(
            "/admin/catalog/products/{id}/module",
            get(module_handlers::product_module_form).post(module_handlers::save_product_module),
        )
        .route("/admin/catalog/products/{id}/module/packages", post(module_handlers::read_packages))
        .route("/admin/catalog/products/{id}/option-groups", post(handlers::update_product_option_groups))
        .route(
            "/admin/catalog/option-groups",
            get(options::handlers::list_option_groups).post(options::handlers::create_option_group),
        )
        .route(
            "/admin/catalog/option-groups/{id}",
            get(options::handlers::show_option_group).post(options::handlers::update_option_group),
        )
        .route("/admin/catalog/option-groups/{id}/delete", post(options::handlers::delete_option_group))
        .route("/admin/catalog/option-groups/{id}/products", post(options::handlers::update_option_group_products))
        .route("/admin/catalog/option-groups/{id}/options", post(options::handlers::create_option))
        .route(
            "/admin/catalog/options/{id}",
            get(options::handlers::show_option).post(options::handlers::update_option),
        )
        .route("/admin/catalog/options/{id}/delete", post(options::handlers::delete_option))
        .route("/admin/catalog/options/{id}/values", post(options::handlers::create_option_value))
        .route(
            "/admin/catalog/option-values/{id}",
            get(options::handlers::show_option_value).post(options::handlers::update_option_value),
        )
        .route("/admin/catalog/option-values/{id}/prices", post(options::handlers::update_option_value_prices))
        .route("/admin/catalog/option-values/{id}/delete", post(options::handlers::delete_option_value))
        .route("/admin/catalog/addons", get(addons::handlers::list_addons).post(addons::handlers::create_addon))
        .route("/admin/catalog/addons/{id}", get(addons::handlers::show_addon).post(addons::handlers::update_addon))
        .route("/admin/catalog/addons/{id}/prices", post(addons::handlers::update_addon_prices))
        .route("/admin/catalog/addons/{id}/products", post(addons::handlers::update_addon_products))
        .route("/admin/catalog/addons/{id}/delete", post(addons::handlers::delete_addon))
        .route("/admin/currencies", get(handlers::list_currencies).post(handlers::add_currency))
        .route("/admin/currencies/{code}", post(handlers::update_currency))
        .route("/admin/currencies/{code}/default", post(handlers::make_default_currency))
}
