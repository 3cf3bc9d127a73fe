//! Pages and documents that gather from several domains: the staff dashboard, the admin
//! client page with its tabs, and a client's data export. Each domain offers its part; these
//! put the parts together, so no domain has to reach into another.

pub mod client_export;
pub mod client_page;
pub mod dashboard;
/// The sample contexts of the pages and emails not yet typed, for `dev::template_check`;
/// each moves beside its view as its module is converted (decision 0032).
#[cfg(test)]
pub mod template_samples;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// The dashboard and the admin client page in their sample states, for the template test.
#[cfg(test)]
pub fn samples() -> Vec<crate::web::view::Sample> {
    use crate::web::view::Sample;
    let mut out: Vec<Sample> = dashboard::DashboardPage::samples().iter().map(Sample::page).collect();
    out.extend(client_page::ClientPage::samples().iter().map(Sample::page));
    out
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard::dashboard))
        .route("/admin/clients/{id}", get(client_page::show_client).post(client_page::update_client))
        .route("/admin/clients/{id}/export", get(client_export::export_client))
        .route("/account/export", get(client_export::export_own_data))
}
