//! The staff dashboard: what the business looks like today, across clients, staff, email
//! and the latest activity.

use axum::extract::State;
use axum::response::Response;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde::Serialize;

use crate::audit::history::AuditRow;
use crate::clients::model::client;
use crate::permissions::Permission;
use crate::staff::current::{CurrentStaff, StaffBadge};
use crate::state::AppState;
use crate::web::{AppResult, Page, PageView};

/// The first page staff see.
#[derive(Debug, Serialize)]
pub struct DashboardPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub stats: Stats,
    /// The latest audit entries, for those who may read the log.
    pub recent: Vec<AuditRow>,
    pub twofa_enabled: bool,
}

impl PageView for DashboardPage {
    const TEMPLATE: &'static str = "admin/dashboard.html";
}

/// The counts at the top of the dashboard.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub clients: u64,
    pub staff: u64,
    pub pending_email: u64,
    pub failed_email: u64,
}

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
    let view = DashboardPage {
        current_staff: current.badge(),
        nav: "dashboard",
        stats: Stats { clients, staff, pending_email, failed_email },
        recent,
        twofa_enabled: current.staff.totp_enabled_at.is_some(),
    };
    state.render_view(&page, &view).await
}

#[cfg(test)]
impl DashboardPage {
    /// Everything to show, nothing yet (and a member without 2FA), and a member who may
    /// only read the log.
    pub(super) fn samples() -> Vec<Self> {
        let page = |current_staff, clients, staff, pending_email, recent, twofa_enabled| DashboardPage {
            current_staff,
            nav: "dashboard",
            stats: Stats { clients, staff, pending_email, failed_email: 0 },
            recent,
            twofa_enabled,
        };
        vec![
            page(StaffBadge::sample_all(), 12, 3, 1, crate::audit::history::sample_rows(), true),
            page(StaffBadge::sample(&[]), 12, 3, 1, Vec::new(), false),
            page(StaffBadge::sample(&["audit.view"]), 0, 1, 0, Vec::new(), true),
        ]
    }
}
