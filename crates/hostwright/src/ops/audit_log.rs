//! The admin page to browse and filter the audit log.

use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::{Value, context};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use crate::audit::history::row;
use crate::audit::{Column, Entity};
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppResult, Page};

const PER_PAGE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    entity_type: String,
    #[serde(default)]
    entity_id: String,
    #[serde(default)]
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
    let entries: Vec<Value> = query
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
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "audit",
        entries => entries,
        filters => context! { actor => filters.actor, action => filters.action, entity_type => filters.entity_type, entity_id => filters.entity_id },
        pagination => context! { page => page_number, pages => pages, total => total, query => query_string },
    };
    state.render(&page, "admin/audit.html", ctx).await
}
