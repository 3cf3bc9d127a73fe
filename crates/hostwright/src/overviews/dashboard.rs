//! The staff dashboard: what the business looks like today, across clients, staff, email
//! and the latest activity.

use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::clients::model::client;
use crate::permissions::Permission;
use crate::staff::current::CurrentStaff;
use crate::state::AppState;
use crate::web::{AppResult, Page};

/// The first page staff see.
pub async fn dashboard(State(state): State<AppState>, page: Page, current: CurrentStaff) -> AppResult<Response> {
    let clients = client::Entity::find().count(&state.db).await?;
    let staff = crate::staff::store::count(&state.db).await?;
    let (_, pending_email) = crate::mail::outbox::recent(&state.db, Some(crate::mail::outbox::PENDING), 1, 1).await?;
    let (_, failed_email) = crate::mail::outbox::recent(&state.db, Some(crate::mail::outbox::FAILED), 1, 1).await?;
    let recent = if current.can(Permission::AuditView) {
        crate::audit::history::latest(&state.db, 8).await?
    } else {
        Vec::new()
    };
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "dashboard",
        stats => context! { clients => clients, staff => staff, pending_email => pending_email, failed_email => failed_email },
        recent => recent,
        twofa_enabled => current.staff.totp_enabled_at.is_some(),
    };
    state.render(&page, "admin/dashboard.html", ctx).await
}
