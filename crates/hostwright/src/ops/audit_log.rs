//! The admin page to browse and filter the audit log.

use axum::extract::{Query, State};
use axum::response::Response;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::audit::history::{AuditRow, row};
use crate::audit::{Column, Entity};
use crate::permissions::perm;
use crate::staff::current::{Authorized, StaffBadge};
use crate::state::AppState;
use crate::web::view::Pagination;
use crate::web::{AppResult, Page, PageView};

const PER_PAGE: u64 = 50;

/// The audit log, newest first, as filtered.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub entries: Vec<AuditRow>,
    pub filters: Filters,
    pub pagination: Pagination,
}

impl PageView for AuditPage {
    const TEMPLATE: &'static str = "admin/audit.html";
}

/// The filters as typed (and shown again in the form).
#[derive(Debug, Deserialize, Serialize, Default)]
pub struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    entity_type: String,
    #[serde(default)]
    entity_id: String,
    #[serde(default, skip_serializing)]
    page: Option<u64>,
}

pub async fn list_audit(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::AuditView>,
    Query(filters): Query<Filters>,
) -> AppResult<Response> {
    let mut query = Entity::find();
    let actor = filters.actor.trim().to_lowercase();
    if !actor.is_empty() {
        query = query.filter(Column::ActorLabel.contains(&actor));
    }
    let action = filters.action.trim();
    if !action.is_empty() {
        query = query.filter(Column::Action.starts_with(action));
    }
    let entity_type = filters.entity_type.trim();
    if !entity_type.is_empty() {
        query = query.filter(Column::EntityType.eq(entity_type));
    }
    if let Ok(id) = filters.entity_id.trim().parse::<i64>() {
        query = query.filter(Column::EntityId.eq(id));
    }
    let total = query.clone().count(&state.db).await?;
    let page_number = filters.page.unwrap_or(1).max(1);
    let pages = total.div_ceil(PER_PAGE).max(1);
    let entries = query
        .order_by_desc(Column::Id)
        .offset(crate::web::forms::page_offset(page_number, PER_PAGE))
        .limit(PER_PAGE)
        .all(&state.db)
        .await?
        .into_iter()
        .map(row)
        .collect();
    let query_string = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("actor", &filters.actor)
        .append_pair("action", &filters.action)
        .append_pair("entity_type", &filters.entity_type)
        .append_pair("entity_id", &filters.entity_id)
        .finish();
    let view = AuditPage {
        current_staff: current.badge(),
        nav: "audit",
        entries,
        filters,
        pagination: Pagination { page: page_number, pages, total, query: query_string },
    };
    state.render_view(&page, &view).await
}

#[cfg(test)]
impl AuditPage {
    pub(super) fn samples() -> Vec<Self> {
        use crate::web::view::SCRIPT;
        let filters = || Filters {
            actor: SCRIPT.into(),
            action: SCRIPT.into(),
            entity_type: "staff".into(),
            entity_id: "2".into(),
            page: None,
        };
        let query = "actor=%3Cscript%3E&action=&entity_type=&entity_id=".to_owned();
        vec![
            AuditPage {
                current_staff: StaffBadge::sample_all(),
                nav: "audit",
                entries: crate::audit::history::sample_rows(),
                filters: filters(),
                pagination: Pagination { page: 2, pages: 3, total: 104, query: query.clone() },
            },
            AuditPage {
                current_staff: StaffBadge::sample(&["audit.view"]),
                nav: "audit",
                entries: Vec::new(),
                filters: filters(),
                pagination: Pagination { page: 1, pages: 1, total: 0, query },
            },
        ]
    }
}
