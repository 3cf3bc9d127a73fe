//! Clients: the hosting business's customers and their own area of the site.

pub mod handlers;
pub mod model;
pub mod service;
pub mod store;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(handlers::home))
        .route("/register", get(handlers::register_form).post(handlers::register))
        .route("/verify-email/{token}", get(handlers::verify_email))
        .route("/account", get(handlers::dashboard))
        .route("/account/verify-email/resend", post(handlers::resend_verification))
        .route("/account/profile", get(handlers::profile_form).post(handlers::update_profile))
}
