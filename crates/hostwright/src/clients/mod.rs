//! Clients: the hosting business's customers and their own area of the site.

pub mod admin;
pub mod admin_handlers;
pub mod contact_handlers;
pub mod contacts;
pub mod countries;
pub mod current;
pub mod field_handlers;
pub mod fields;
pub mod handlers;
pub mod model;
pub mod service;
pub mod store;
pub mod views;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(handlers::home))
        .route("/register", get(handlers::register_form).post(handlers::register))
        .route("/register/check-email", get(handlers::check_email_page))
        .route("/verify-email/{token}", get(handlers::verify_email))
        .route("/account", get(handlers::dashboard))
        .route("/account/verify-email/resend", post(handlers::resend_verification))
        .route("/account/profile", get(handlers::profile_form).post(handlers::update_profile))
        .route("/admin/clients", get(admin_handlers::list_clients).post(admin_handlers::create_client))
        .route("/admin/clients/new", get(admin_handlers::new_client_form))
        .route("/admin/clients/{id}/notes", post(admin_handlers::add_note))
        .route("/admin/clients/{id}/anonymise", post(admin_handlers::anonymise_client))
        .route(
            "/account/contacts",
            get(contact_handlers::client_contacts).post(contact_handlers::create_client_contact),
        )
        .route("/account/contacts/new", get(contact_handlers::new_client_contact_form))
        .route(
            "/account/contacts/{id}",
            get(contact_handlers::edit_client_contact_form).post(contact_handlers::update_client_contact),
        )
        .route("/account/contacts/{id}/delete", post(contact_handlers::delete_client_contact))
        .route("/admin/clients/{id}/contacts/new", get(contact_handlers::new_contact_form))
        .route("/admin/clients/{id}/contacts", post(contact_handlers::create_contact))
        .route(
            "/admin/clients/{id}/contacts/{contact}",
            get(contact_handlers::edit_contact_form).post(contact_handlers::update_contact),
        )
        .route("/admin/clients/{id}/contacts/{contact}/delete", post(contact_handlers::delete_contact))
        .route("/admin/client-groups", get(admin_handlers::list_groups).post(admin_handlers::create_group))
        .route(
            "/admin/settings/client-fields",
            get(field_handlers::list_client_fields).post(field_handlers::create_client_field),
        )
        .route(
            "/admin/settings/client-fields/{id}",
            get(field_handlers::edit_client_field_form).post(field_handlers::update_client_field),
        )
        .route("/admin/settings/client-fields/{id}/move", post(field_handlers::move_client_field))
        .route("/admin/settings/client-fields/{id}/delete", post(field_handlers::delete_client_field))
}

/// The client pages and emails in their sample states, for the template test.
#[cfg(test)]
pub fn samples() -> Vec<crate::web::view::Sample> {
    views::all()
}
