//! Staff: the people of the hosting business who work in the admin area.

pub mod current;
pub mod handlers;
pub mod model;
pub mod service;
pub mod settings_handlers;
pub mod store;
pub mod views;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/setup/{token}", get(handlers::setup_form).post(handlers::setup))
        .route("/admin/invite/{token}", get(handlers::invite_form).post(handlers::accept_invite))
        .route("/admin/staff", get(handlers::list_staff).post(handlers::create_staff))
        .route("/admin/staff/new", get(handlers::new_staff_form))
        .route("/admin/staff/{id}", get(handlers::show_staff))
        .route("/admin/staff/{id}/role", post(handlers::change_role))
        .route("/admin/staff/{id}/disable", post(handlers::disable_staff))
        .route("/admin/staff/{id}/enable", post(handlers::enable_staff))
        .route("/admin/staff/{id}/reset-2fa", post(handlers::reset_twofa))
        .route("/admin/roles", get(handlers::list_roles))
        .route("/admin/roles/{id}", get(handlers::edit_role_form).post(handlers::update_role))
}

/// The staff pages and emails in their sample states, for the template test.
#[cfg(test)]
pub fn samples() -> Vec<crate::web::view::Sample> {
    views::samples()
}
