//! A client's services: what they bought and keep paying for (a hosting account, a server, a
//! licence), with the options and add-ons they chose, the price locked when they ordered, the
//! lifecycle staff and the provisioning modules drive, cancellation requests and upgrades.

pub mod accounts;
pub mod adding;
pub mod admin_handlers;
pub mod cancellations;
pub mod client_handlers;
pub mod jobs;
pub mod lifecycle;
pub mod model;
pub mod module_access;
pub mod module_handlers;
pub mod placement;
pub mod server_handlers;
pub mod service;
pub mod status;
pub mod store;
pub mod upgrade_handlers;
pub mod upgrades;
pub mod views;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(admin_handlers::routes())
        .merge(client_handlers::routes())
        .merge(upgrade_handlers::routes())
        .merge(module_handlers::routes())
        .merge(server_handlers::routes())
}
