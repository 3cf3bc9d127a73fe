//! Named leases held by one node at a time, on the database's clock, each with a fencing
//! token that grows with every new holder (decision 0017).
//!
//! A holder renews its lease well within the time to live; a lease is taken over only once
//! it has expired by the database's clock, so a node whose clock is skewed or stepped
//! cannot make two holders. Every write a holder makes checks its token with [`fence`] in
//! the same transaction: a node that was paused or partitioned past its lease, and wakes up
//! thinking it still holds it, is refused.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, DbErr};

use crate::db::{clock_statement, millis};

/// The lease of the daily run and the scheduler.
pub const SCHEDULER: &str = "scheduler";

/// A lease this node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub name: String,
    pub holder: String,
    /// The fencing token: higher than every earlier holder's.
    pub token: i64,
}

/// Who holds a lease, as the status pages show it.
#[derive(Debug, Clone)]
pub struct LeaseState {
    pub holder: String,
    pub token: i64,
    pub expires_ms: i64,
    pub acquired_ms: i64,
    pub renewed_ms: i64,
    /// Whether it has not expired yet (by the database's clock).
    pub live: bool,
    /// The database's clock when this was read.
    pub now_ms: i64,
}

impl LeaseState {
    pub fn renewed_ago_ms(&self) -> i64 {
        self.now_ms - self.renewed_ms
    }

    /// Negative once it expired.
    pub fn expires_in_ms(&self) -> i64 {
        self.expires_ms - self.now_ms
    }
}

/// Takes lease `name` for `holder` for `ttl` when nobody holds it or its holder let it
/// expire; `None` while another holder's lease is live (or this holder's own: renew that).
pub async fn acquire(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Held>, DbErr> {
    let backend = db.get_database_backend();
    let sql = "INSERT INTO leases (name, holder, token, expires_ms, acquired_ms, renewed_ms) \
               VALUES (?, ?, 1, {now} + ?, {now}, {now}) \
               ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1, \
               expires_ms = excluded.expires_ms, acquired_ms = excluded.acquired_ms, renewed_ms = excluded.renewed_ms \
               WHERE leases.expires_ms < {now} \
               RETURNING token";
    let row =
        db.query_one_raw(clock_statement(backend, sql, vec![name.into(), holder.into(), millis(ttl).into()])).await?;
    match row {
        Some(row) => {
            Ok(Some(Held { name: name.to_owned(), holder: holder.to_owned(), token: row.try_get("", "token")? }))
        }
        None => Ok(None),
    }
}

/// Extends a held lease by `ttl` from now; `false` when it was lost (expired, or taken over).
pub async fn renew(db: &impl ConnectionTrait, held: &Held, ttl: Duration) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = "UPDATE leases SET expires_ms = {now} + ?, renewed_ms = {now} \
               WHERE name = ? AND holder = ? AND token = ? AND expires_ms >= {now}";
    let values = vec![millis(ttl).into(), held.name.clone().into(), held.holder.clone().into(), held.token.into()];
    Ok(db.execute_raw(clock_statement(backend, sql, values)).await?.rows_affected() == 1)
}

/// Gives a held lease up at once, so a standby need not wait out its time to live.
pub async fn release(db: &impl ConnectionTrait, held: &Held) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = "UPDATE leases SET expires_ms = {now} - 1 WHERE name = ? AND token = ?";
    db.execute_raw(clock_statement(backend, sql, vec![held.name.clone().into(), held.token.into()])).await?;
    Ok(())
}

/// Whether `held` is still the live lease, checked inside the caller's transaction just
/// before it commits. On PostgreSQL the row's share lock makes a takeover wait for the
/// commit; on SQLite the caller already holds the one write lock once it has written.
pub async fn fence(txn: &impl ConnectionTrait, held: &Held) -> Result<bool, DbErr> {
    let backend = txn.get_database_backend();
    let values = vec![held.name.clone().into(), held.token.into()];
    if backend == DbBackend::Postgres {
        let sql = "SELECT token FROM leases WHERE name = ? AND token = ? AND expires_ms >= {now} FOR SHARE";
        Ok(txn.query_one_raw(clock_statement(backend, sql, values)).await?.is_some())
    } else {
        let sql = "UPDATE leases SET renewed_ms = renewed_ms WHERE name = ? AND token = ? AND expires_ms >= {now}";
        Ok(txn.execute_raw(clock_statement(backend, sql, values)).await?.rows_affected() == 1)
    }
}

/// The lease `name` as it stands, if anyone ever held it.
pub async fn current(db: &impl ConnectionTrait, name: &str) -> Result<Option<LeaseState>, DbErr> {
    let backend = db.get_database_backend();
    let sql = "SELECT holder, token, expires_ms, acquired_ms, renewed_ms, {now} AS now_ms FROM leases WHERE name = ?";
    let Some(row) = db.query_one_raw(clock_statement(backend, sql, vec![name.into()])).await? else {
        return Ok(None);
    };
    let expires_ms: i64 = row.try_get("", "expires_ms")?;
    let now_ms: i64 = row.try_get("", "now_ms")?;
    Ok(Some(LeaseState {
        holder: row.try_get("", "holder")?,
        token: row.try_get("", "token")?,
        expires_ms,
        acquired_ms: row.try_get("", "acquired_ms")?,
        renewed_ms: row.try_get("", "renewed_ms")?,
        live: expires_ms >= now_ms,
        now_ms,
    }))
}
