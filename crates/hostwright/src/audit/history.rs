//! The audit log as pages show it: the newest entries, and the history of one record.

use minijinja::{Value, context};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Column, Entity, Model};

/// One entry as the pages show it.
pub fn row(entry: Model) -> Value {
    context! {
        id => entry.id,
        occurred_at => entry.occurred_at.to_rfc3339(),
        actor_kind => entry.actor_kind,
        actor_id => entry.actor_id,
        actor_label => entry.actor_label,
        action => entry.action,
        entity_type => entry.entity_type,
        entity_id => entry.entity_id,
        ip => entry.ip,
        summary => entry.summary,
    }
}

/// The newest `count` entries.
pub async fn latest(db: &impl ConnectionTrait, count: u64) -> Result<Vec<Value>, DbErr> {
    Ok(Entity::find().order_by_desc(Column::Id).limit(count).all(db).await?.into_iter().map(row).collect())
}

/// The newest `count` entries about one record (a product, a client, an invoice...).
pub async fn for_entity(
    db: &impl ConnectionTrait,
    entity_type: &str,
    id: i64,
    count: u64,
) -> Result<Vec<Value>, DbErr> {
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
