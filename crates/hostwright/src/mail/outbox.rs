//! The outbox table: every email the product sends, with its delivery state.

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder, QuerySelect};
use serde::Serialize;

use super::Email;
use crate::ids::{ClientId, EmailId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "email_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: EmailId,
    pub template: String,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub client_id: Option<ClientId>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub claimed_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// The cause a message was queued for, when that cause may be retried: a message is
    /// queued once per key.
    pub dedupe_key: Option<String>,
    /// The one-time link of the message, sealed with the installation key, until it is sent
    /// (see `mail::LINK_PLACEHOLDER`).
    #[serde(skip)]
    pub sealed_link: Option<String>,
}

impl Model {
    /// The plain-text body as people may read it later (the client's export, staff pages):
    /// the stored body never holds a live link, and its placeholder says so.
    pub fn readable_text(&self) -> String {
        self.body_text.replace(super::LINK_PLACEHOLDER, super::LINK_WITHHELD)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// Attempts before a message is marked failed for staff to look at.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a node owns a message it is sending; past this another node may retry it.
const CLAIM_SECONDS: i64 = 120;

/// Minutes to wait after the n-th failed attempt: 1, 5, 15, 60, 180, 360, 720.
fn backoff(attempts: i32) -> Duration {
    let minutes = match attempts {
        ..=1 => 1,
        2 => 5,
        3 => 15,
        4 => 60,
        5 => 180,
        6 => 360,
        _ => 720,
    };
    Duration::minutes(minutes)
}

/// Queues a message. Call inside the transaction of the change that causes it.
pub async fn enqueue(db: &impl ConnectionTrait, email: Email) -> Result<EmailId, DbErr> {
    let now = Utc::now();
    let model = ActiveModel {
        template: Set(email.template),
        to_address: Set(email.to_address),
        to_name: Set(email.to_name),
        subject: Set(email.subject),
        body_text: Set(email.text),
        body_html: Set(email.html),
        client_id: Set(email.client_id),
        status: Set(PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        dedupe_key: Set(email.dedupe_key),
        sealed_link: Set(email.sealed_link),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(model.id)
}

/// Queues many messages with multi-row inserts (the emails of the daily run's invoices),
/// skipping those whose `dedupe_key` was queued already. Call inside the transaction of the
/// change that causes them.
pub async fn enqueue_many(db: &impl ConnectionTrait, emails: Vec<Email>) -> Result<(), DbErr> {
    let now = Utc::now();
    let rows = emails
        .into_iter()
        .map(|e| {
            vec![
                e.template.into(),
                e.to_address.into(),
                e.to_name.into(),
                e.subject.into(),
                e.text.into(),
                e.html.into(),
                e.client_id.map(|c| c.0).into(),
                PENDING.into(),
                0_i32.into(),
                now.into(),
                now.into(),
                e.dedupe_key.into(),
                e.sealed_link.into(),
            ]
        })
        .collect();
    let columns = [
        "template",
        "to_address",
        "to_name",
        "subject",
        "body_text",
        "body_html",
        "client_id",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "dedupe_key",
        "sealed_link",
    ];
    crate::db::insert_many_once(db, "email_outbox", &columns, rows, "dedupe_key").await
}

/// Claims up to `limit` due messages for this node. Each claim is a conditional UPDATE, so
/// two nodes never send the same message while a claim is live.
pub async fn claim_due(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<Model>, DbErr> {
    let now = Utc::now();
    let candidates = Entity::find()
        .filter(Column::Status.eq(PENDING))
        .filter(Column::NextAttemptAt.lte(now))
        .filter(Column::ClaimedUntil.is_null().or(Column::ClaimedUntil.lt(now)))
        .order_by_asc(Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?;
    let mut claimed = Vec::new();
    for candidate in candidates {
        let update = Query::update()
            .table(Entity)
            .value(Column::ClaimedUntil, now + Duration::seconds(CLAIM_SECONDS))
            .value(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .and_where(Expr::col(Column::Id).eq(candidate.id))
            .and_where(Expr::col(Column::Status).eq(PENDING))
            .and_where(Expr::col(Column::ClaimedUntil).is_null().or(Expr::col(Column::ClaimedUntil).lt(now)))
            .to_owned();
        if db.execute(&update).await?.rows_affected() == 1 {
            claimed.push(Model { attempts: candidate.attempts + 1, ..candidate });
        }
    }
    Ok(claimed)
}

/// The one-time link of the newest `template` message to `to` not sent yet, unsealed: for
/// the operator's own tools (`hostwright dev sign-up-link`), who hold the key anyway.
pub async fn unsent_link(
    db: &impl ConnectionTrait,
    key: &crate::crypto::SecretKey,
    to: &str,
    template: &str,
) -> anyhow::Result<Option<String>> {
    let newest = Entity::find()
        .filter(Column::ToAddress.eq(to))
        .filter(Column::Template.eq(template))
        .filter(Column::SealedLink.is_not_null())
        .order_by_desc(Column::Id)
        .one(db)
        .await?;
    let Some(sealed) = newest.and_then(|m| m.sealed_link) else { return Ok(None) };
    Ok(Some(String::from_utf8(key.decrypt(&sealed)?)?))
}

/// Records a message as sent and forgets its one-time link.
pub async fn mark_sent(db: &impl ConnectionTrait, id: EmailId) -> Result<(), DbErr> {
    let update = Query::update()
        .table(Entity)
        .value(Column::Status, SENT)
        .value(Column::SealedLink, Option::<String>::None)
        .value(Column::SentAt, Utc::now())
        .value(Column::ClaimedUntil, Option::<DateTime<Utc>>::None)
        .value(Column::LastError, Option::<String>::None)
        .and_where(Expr::col(Column::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

pub async fn mark_failed(db: &impl ConnectionTrait, message: &Model, error: &str) -> Result<(), DbErr> {
    let give_up = message.attempts >= MAX_ATTEMPTS;
    let update = Query::update()
        .table(Entity)
        .value(Column::Status, if give_up { FAILED } else { PENDING })
        .value(Column::NextAttemptAt, Utc::now() + backoff(message.attempts))
        .value(Column::ClaimedUntil, Option::<DateTime<Utc>>::None)
        .value(Column::LastError, error.chars().take(2000).collect::<String>())
        .and_where(Expr::col(Column::Id).eq(message.id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Puts a message back in the queue now (staff pressed "retry").
pub async fn retry_now(db: &impl ConnectionTrait, id: EmailId) -> Result<bool, DbErr> {
    let update = Query::update()
        .table(Entity)
        .value(Column::Status, PENDING)
        .value(Column::NextAttemptAt, Utc::now())
        .value(Column::ClaimedUntil, Option::<DateTime<Utc>>::None)
        .and_where(Expr::col(Column::Id).eq(id))
        .and_where(Expr::col(Column::Status).ne(SENT))
        .to_owned();
    Ok(db.execute(&update).await?.rows_affected() == 1)
}

/// The newest messages, optionally of one status, a page at a time.
pub async fn recent(
    db: &impl ConnectionTrait,
    status: Option<&str>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<Model>, u64), DbErr> {
    let mut query = Entity::find();
    if let Some(status) = status {
        query = query.filter(Column::Status.eq(status));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(Column::Id)
        .offset(crate::web::forms::page_offset(page, per_page))
        .limit(per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}
