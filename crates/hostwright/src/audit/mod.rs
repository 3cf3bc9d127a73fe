//! The audit log: an append-only record of every staff change and every security event.
//! Nothing in the product updates or deletes a row of it.

pub mod history;

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, ConnectionTrait};
use serde::Serialize;

use crate::ids::{ClientId, StaffId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub occurred_at: DateTimeUtc,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<i64>,
    pub ip: String,
    pub summary: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Who did something.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<i64>,
    pub label: String,
    pub ip: String,
}

impl Actor {
    pub fn staff(id: StaffId, email: &str, ip: &str) -> Self {
        Self { kind: "staff", id: Some(id.0), label: email.to_owned(), ip: ip.to_owned() }
    }

    pub fn client(id: ClientId, email: &str, ip: &str) -> Self {
        Self { kind: "client", id: Some(id.0), label: email.to_owned(), ip: ip.to_owned() }
    }

    /// A sub-user acting in a client's account.
    pub fn contact(id: crate::ids::ContactId, email: &str, ip: &str) -> Self {
        Self { kind: "contact", id: Some(id.0), label: email.to_owned(), ip: ip.to_owned() }
    }

    /// Someone not signed in (a failed sign-in, a reset request).
    pub fn anonymous(claimed: &str, ip: &str) -> Self {
        Self { kind: "anonymous", id: None, label: claimed.chars().take(200).collect(), ip: ip.to_owned() }
    }

    pub fn system(what: &str) -> Self {
        Self { kind: "system", id: None, label: what.to_owned(), ip: String::new() }
    }
}

/// An [`Actor`] as a job's payload carries it, so work done later is recorded as done by
/// whoever asked for it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ActorRecord {
    pub kind: String,
    pub id: Option<i64>,
    pub label: String,
    pub ip: String,
}

impl From<&Actor> for ActorRecord {
    fn from(a: &Actor) -> Self {
        ActorRecord { kind: a.kind.to_owned(), id: a.id, label: a.label.clone(), ip: a.ip.clone() }
    }
}

impl ActorRecord {
    pub fn actor(&self) -> Actor {
        let kind = match self.kind.as_str() {
            "staff" => "staff",
            "client" => "client",
            "contact" => "contact",
            "anonymous" => "anonymous",
            _ => "system",
        };
        Actor { kind, id: self.id, label: self.label.clone(), ip: self.ip.clone() }
    }
}

/// Appends one entry; call inside the transaction of the change it records.
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    entity: Option<(&str, i64)>,
    summary: impl Into<String>,
) -> Result<(), DbErr> {
    ActiveModel {
        occurred_at: Set(Utc::now()),
        actor_kind: Set(actor.kind.to_owned()),
        actor_id: Set(actor.id),
        actor_label: Set(actor.label.clone()),
        action: Set(action.to_owned()),
        entity_type: Set(entity.map(|(t, _)| t.to_owned())),
        entity_id: Set(entity.map(|(_, id)| id)),
        ip: Set(actor.ip.clone()),
        summary: Set(summary.into()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// One entry of [`record_many`].
#[derive(Debug, Clone)]
pub struct Entry {
    pub action: &'static str,
    pub entity: Option<(&'static str, i64)>,
    pub summary: String,
}

/// Appends many entries by one actor with multi-row inserts; call inside the transaction of
/// the changes they record.
pub async fn record_many(db: &impl ConnectionTrait, actor: &Actor, entries: Vec<Entry>) -> Result<(), DbErr> {
    let now = Utc::now();
    let rows = entries
        .into_iter()
        .map(|e| {
            vec![
                now.into(),
                actor.kind.into(),
                actor.id.into(),
                actor.label.clone().into(),
                e.action.into(),
                e.entity.map(|(t, _)| t).into(),
                e.entity.map(|(_, id)| id).into(),
                actor.ip.clone().into(),
                e.summary.into(),
            ]
        })
        .collect();
    let columns =
        ["occurred_at", "actor_kind", "actor_id", "actor_label", "action", "entity_type", "entity_id", "ip", "summary"];
    crate::db::insert_many(db, "audit_log", &columns, rows, &[]).await?;
    Ok(())
}
