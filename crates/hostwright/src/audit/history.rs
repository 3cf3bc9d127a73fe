//! The audit log as pages show it: the newest entries, and the history of one record.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::{Column, Entity, Model};

/// One entry as the pages show it (`macros/audit.html`).
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: String,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<i64>,
    pub ip: String,
    pub summary: String,
}

/// One entry as the pages show it.
pub fn row(entry: Model) -> AuditRow {
    AuditRow {
        id: entry.id,
        occurred_at: entry.occurred_at.to_rfc3339(),
        actor_kind: entry.actor_kind,
        actor_id: entry.actor_id,
        actor_label: entry.actor_label,
        action: entry.action,
        entity_type: entry.entity_type,
        entity_id: entry.entity_id,
        ip: entry.ip,
        summary: entry.summary,
    }
}

/// The newest `count` entries.
pub async fn latest(db: &impl ConnectionTrait, count: u64) -> Result<Vec<AuditRow>, DbErr> {
    Ok(Entity::find().order_by_desc(Column::Id).limit(count).all(db).await?.into_iter().map(row).collect())
}

/// The newest `count` entries about one record (a product, a client, an invoice...).
pub async fn for_entity(
    db: &impl ConnectionTrait,
    entity_type: &str,
    id: i64,
    count: u64,
) -> Result<Vec<AuditRow>, DbErr> {
    Ok(Entity::find()
        .filter(Column::EntityType.eq(entity_type))
        .filter(Column::EntityId.eq(id))
        .order_by_desc(Column::Id)
        .limit(count)
        .all(db)
        .await?
        .into_iter()
        .map(row)
        .collect())
}

/// Entries about a record, an email and the settings, and one about nothing, with and
/// without an address; the labels must come out escaped.
#[cfg(test)]
pub fn sample_rows() -> Vec<AuditRow> {
    use crate::web::view::{SCRIPT, TIME};
    let entry = |entity_type: Option<&str>, entity_id: Option<i64>, ip: &str| AuditRow {
        id: 3,
        occurred_at: TIME.into(),
        actor_kind: "staff".into(),
        actor_id: Some(1),
        actor_label: SCRIPT.into(),
        action: "staff.created".into(),
        entity_type: entity_type.map(str::to_owned),
        entity_id,
        ip: ip.into(),
        summary: SCRIPT.into(),
    };
    vec![
        entry(Some("staff"), Some(2), "192.0.2.1"),
        entry(Some("email"), Some(5), ""),
        entry(Some("settings"), None, "192.0.2.1"),
        entry(None, None, ""),
    ]
}
