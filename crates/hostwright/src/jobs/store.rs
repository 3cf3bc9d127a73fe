//! The `jobs` table. Every statement that decides who runs a job is one guarded UPDATE, and
//! every time in it comes from the database's clock (`db::clock_statement`), never from a node's.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::{DbBackend, PaginatorTrait, QueryOrder, QuerySelect};
use serde::Serialize;

use super::Enqueue;
use crate::db::{clock_statement as statement, millis};
use crate::ids::JobId;

pub use crate::db::db_now_ms;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    pub unique_key: Option<String>,
    pub priority: i32,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at_ms: i64,
    pub lease_owner: Option<String>,
    pub lease_token: i64,
    pub lease_expires_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// What the job is about, like `service:42`, for that thing's page.
    pub subject: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const PENDING: &str = "pending";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";
pub const STATUSES: [&str; 5] = [PENDING, RUNNING, DONE, FAILED, CANCELLED];

pub(super) async fn insert(
    db: &impl ConnectionTrait,
    kind: &str,
    payload: &str,
    max_attempts: i32,
    how: &Enqueue,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = "INSERT INTO jobs (kind, payload, unique_key, priority, status, attempts, max_attempts, run_at_ms, \
               lease_token, created_at_ms, updated_at_ms, subject) \
               VALUES (?, ?, ?, ?, 'pending', 0, ?, {now} + ?, 0, {now}, {now}, ?) \
               ON CONFLICT (unique_key) DO NOTHING";
    let values = vec![
        kind.into(),
        payload.into(),
        how.unique_key.clone().into(),
        how.priority.unwrap_or(100).into(),
        max_attempts.into(),
        millis(how.delay).into(),
        how.subject.clone().into(),
    ];
    Ok(db.execute_raw(statement(backend, sql, values)).await?.rows_affected() == 1)
}

/// A job this worker claimed.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    pub attempts: i32,
    pub token: i64,
}

/// Claims up to `limit` due jobs of `kinds` for `owner` with a lease of `lease`: pending jobs
/// whose time has come, and running jobs whose lease expired (their worker died). On
/// PostgreSQL concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`); SQLite
/// runs one writer at a time. Running jobs whose lease expired with no attempts left are
/// kept as failed first.
/// How far a node's last heartbeat may fall behind the freshest node's before its claims are
/// given to others: three heartbeats (`ops::cluster::HEARTBEAT`, which checks the two agree),
/// far less than a payment or module job's lease. Measured against the other nodes rather than
/// the clock, so a database failover that stops every node's heartbeats at once declares
/// nobody dead.
pub const DEAD_NODE_AFTER: Duration = Duration::from_secs(15);

/// A running job whose claim may be taken: its lease ran out, or the node holding it stopped,
/// or stopped beating while others beat on. The new claim raises the fencing token, so the
/// old holder can commit nothing if it comes back.
fn abandoned_claim() -> String {
    format!(
        "(lease_expires_ms < {{now}} OR lease_owner IN (SELECT id FROM nodes WHERE stopped_ms IS NOT NULL \
         OR seen_ms < (SELECT MAX(seen_ms) FROM nodes) - {}))",
        DEAD_NODE_AFTER.as_millis()
    )
}

pub async fn claim(
    db: &impl ConnectionTrait,
    owner: &str,
    kinds: &[&str],
    lease: Duration,
    limit: u64,
) -> Result<Vec<Claimed>, DbErr> {
    if kinds.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let abandoned = abandoned_claim();
    db.execute_raw(statement(
        backend,
        &format!(
            "UPDATE jobs SET status = 'failed', lease_owner = NULL, finished_at_ms = {{now}}, updated_at_ms = {{now}}, \
             last_error = 'Its worker stopped before finishing (the lease expired) and no attempts are left.' \
             WHERE status = 'running' AND {abandoned} AND attempts >= max_attempts"
        ),
        Vec::new(),
    ))
    .await?;
    let kind_list = vec!["?"; kinds.len()].join(", ");
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = lease_token + 1, \
         lease_owner = ?, lease_expires_ms = {{now}} + ?, updated_at_ms = {{now}} \
         WHERE id IN (SELECT id FROM jobs WHERE kind IN ({kind_list}) AND \
         ((status = 'pending' AND run_at_ms <= {{now}}) OR (status = 'running' AND {abandoned})) \
         ORDER BY priority, run_at_ms, id LIMIT ?{lock}) \
         RETURNING id, kind, payload, attempts, lease_token"
    );
    let mut values: Vec<sea_orm::Value> = vec![owner.into(), millis(lease).into()];
    values.extend(kinds.iter().map(|k| (*k).into()));
    values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    let rows = db.query_all_raw(statement(backend, &sql, values)).await?;
    rows.iter()
        .map(|row| {
            Ok(Claimed {
                id: JobId(row.try_get("", "id")?),
                kind: row.try_get("", "kind")?,
                payload: row.try_get("", "payload")?,
                attempts: row.try_get("", "attempts")?,
                token: row.try_get("", "lease_token")?,
            })
        })
        .collect()
}

/// Whether the claim `token` still holds job `id` with a live lease; takes the row's lock
/// until the caller's transaction ends.
pub async fn fence(db: &impl ConnectionTrait, id: JobId, token: i64) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = "UPDATE jobs SET updated_at_ms = {now} \
               WHERE id = ? AND lease_token = ? AND status = 'running' AND lease_expires_ms >= {now}";
    Ok(db.execute_raw(statement(backend, sql, vec![id.0.into(), token.into()])).await?.rows_affected() == 1)
}

/// Marks the job done; `false` when the claim `token` no longer holds it.
pub async fn finish(db: &impl ConnectionTrait, id: JobId, token: i64) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_expires_ms = NULL, last_error = NULL, \
               finished_at_ms = {now}, updated_at_ms = {now} \
               WHERE id = ? AND lease_token = ? AND status = 'running'";
    Ok(db.execute_raw(statement(backend, sql, vec![id.0.into(), token.into()])).await?.rows_affected() == 1)
}

/// How long to wait after the n-th failed attempt: 10 s, 20 s, 40 s … at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(10u64.saturating_mul(2u64.saturating_pow(exponent)).min(3600))
}

/// Records a failed attempt: back to pending after the backoff, or failed for good when
/// `permanent` or out of attempts. `false` when the claim no longer holds the job.
pub async fn fail(db: &impl ConnectionTrait, job: &Claimed, error: &str, permanent: bool) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let give_up = if permanent { "1 = 1" } else { "attempts >= max_attempts" };
    let sql = format!(
        "UPDATE jobs SET status = CASE WHEN {give_up} THEN 'failed' ELSE 'pending' END, \
         finished_at_ms = CASE WHEN {give_up} THEN {{now}} ELSE NULL END, \
         run_at_ms = {{now}} + ?, last_error = ?, lease_owner = NULL, lease_expires_ms = NULL, updated_at_ms = {{now}} \
         WHERE id = ? AND lease_token = ? AND status = 'running'"
    );
    let error: String = error.chars().take(4000).collect();
    let values = vec![millis(backoff(job.attempts)).into(), error.into(), job.id.0.into(), job.token.into()];
    Ok(db.execute_raw(statement(backend, &sql, values)).await?.rows_affected() == 1)
}

/// The jobs about `subject` that are not done: waiting, running or failed, oldest first.
pub async fn open_for(db: &impl ConnectionTrait, subject: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Subject.eq(subject))
        .filter(Column::Status.is_in([PENDING, RUNNING, FAILED]))
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// Whether a job with `unique_key` was ever queued.
pub async fn queued(db: &impl ConnectionTrait, unique_key: &str) -> Result<bool, DbErr> {
    Ok(Entity::find().filter(Column::UniqueKey.eq(unique_key)).count(db).await? > 0)
}

/// Staff's "retry now": a pending or failed job runs at once, with its attempts counted
/// afresh when it had failed.
pub async fn retry_now(db: &impl ConnectionTrait, id: JobId) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = "UPDATE jobs SET run_at_ms = {now}, updated_at_ms = {now}, finished_at_ms = NULL, \
               attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END, status = 'pending' \
               WHERE id = ? AND status IN ('pending', 'failed')";
    Ok(db.execute_raw(statement(backend, sql, vec![id.0.into()])).await?.rows_affected() == 1)
}

/// Staff's "cancel": a pending or failed job never runs.
pub async fn cancel(db: &impl ConnectionTrait, id: JobId) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = "UPDATE jobs SET status = 'cancelled', finished_at_ms = {now}, updated_at_ms = {now} \
               WHERE id = ? AND status IN ('pending', 'failed')";
    Ok(db.execute_raw(statement(backend, sql, vec![id.0.into()])).await?.rows_affected() == 1)
}

/// A page of jobs for the queue page, newest first, and how many match.
pub async fn list(
    db: &impl ConnectionTrait,
    status: Option<&str>,
    kind: Option<&str>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<Model>, u64), DbErr> {
    let mut query = Entity::find();
    if let Some(status) = status {
        query = query.filter(Column::Status.eq(status));
    }
    if let Some(kind) = kind {
        query = query.filter(Column::Kind.eq(kind));
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

/// Every kind that has a job, for the queue page's filter.
pub async fn kinds(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    Entity::find().select_only().column(Column::Kind).distinct().order_by_asc(Column::Kind).into_tuple().all(db).await
}

/// (kind, status, count) of every job not done, for the queue page and the metrics.
pub async fn depth(db: &impl ConnectionTrait) -> Result<Vec<(String, String, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let sql = "SELECT kind, status, COUNT(*) AS n FROM jobs WHERE status IN ('pending', 'running', 'failed') \
               GROUP BY kind, status ORDER BY kind, status";
    let rows = db.query_all_raw(statement(backend, sql, Vec::new())).await?;
    rows.iter().map(|r| Ok((r.try_get("", "kind")?, r.try_get("", "status")?, r.try_get("", "n")?))).collect()
}
