//! The cluster as the database sees it: every node's heartbeat, who holds the daily run's
//! lease, the job queue, and the database server's role and replication lag
//! (`hostwright cluster status`).

use std::fmt;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};
use tokio::sync::watch;

use crate::automation::lease::{self, LeaseState};
use crate::db::{clock_statement, millis};
use crate::state::AppState;

/// How often a node says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A node not heard from for this long is listed as gone.
pub const GONE_AFTER: Duration = Duration::from_secs(30);
/// Rows of nodes gone longer than this are removed.
const FORGET_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a node says about itself.
#[derive(Debug, Clone)]
pub struct Beat<'a> {
    pub id: &'a str,
    pub role: &'a str,
    pub draining: bool,
}

/// Records that the node is alive (and whether it drains), on the database's clock.
pub async fn beat(db: &impl ConnectionTrait, beat: &Beat<'_>) -> Result<(), DbErr> {
    let host = crate::state::host_name();
    let sql = "INSERT INTO nodes (id, host, pid, version, role, draining, started_ms, seen_ms) \
               VALUES (?, ?, ?, ?, ?, ?, {now}, {now}) \
               ON CONFLICT (id) DO UPDATE SET seen_ms = {now}, draining = excluded.draining, stopped_ms = NULL";
    let values = vec![
        beat.id.into(),
        host.into(),
        i64::from(std::process::id()).into(),
        env!("CARGO_PKG_VERSION").into(),
        beat.role.into(),
        beat.draining.into(),
    ];
    db.execute_raw(clock_statement(db.get_database_backend(), sql, values)).await?;
    Ok(())
}

/// Records a clean stop, and forgets nodes gone for a week.
pub async fn stopped(db: &impl ConnectionTrait, id: &str) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(clock_statement(backend, "UPDATE nodes SET stopped_ms = {now} WHERE id = ?", vec![id.into()]))
        .await?;
    forget_old(db).await
}

async fn forget_old(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = "DELETE FROM nodes WHERE seen_ms < {now} - ?";
    db.execute_raw(clock_statement(backend, sql, vec![millis(FORGET_AFTER).into()])).await?;
    Ok(())
}

/// The heartbeat loop every node runs until `stop`; a failed beat (the database moving) is
/// logged and the next one tries again.
pub async fn heartbeat(state: AppState, role: &'static str, mut stop: watch::Receiver<bool>) {
    let mut beats = 0u64;
    loop {
        let beat_now = Beat { id: &state.node, role, draining: state.is_draining() };
        if let Err(err) = beat(&state.db, &beat_now).await {
            tracing::warn!(error = %err, "recording this node's heartbeat failed");
        }
        beats += 1;
        if beats % 720 == 1
            && let Err(err) = forget_old(&state.db).await
        {
            tracing::warn!(error = %err, "forgetting old nodes failed");
        }
        tokio::select! {
            () = tokio::time::sleep(HEARTBEAT) => {}
            _ = stop.changed() => break,
        }
    }
    if let Err(err) = stopped(&state.db, &state.node).await {
        tracing::warn!(error = %err, "recording this node's stop failed");
    }
}

/// One node as the heartbeat table has it.
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub role: String,
    pub draining: bool,
    /// From its start to its last heartbeat.
    pub up_ms: i64,
    pub seen_ago_ms: i64,
    pub stopped: bool,
}

impl NodeRow {
    pub fn alive(&self) -> bool {
        !self.stopped && self.seen_ago_ms <= millis(GONE_AFTER)
    }
}

/// The database server this node reaches.
#[derive(Debug, Clone, Default)]
pub struct DatabaseRole {
    pub backend: String,
    pub server: String,
    /// `primary` or `standby` (PostgreSQL), `embedded` (SQLite).
    pub role: String,
    /// On a primary: each standby's name, state, sync state and replay lag.
    pub standbys: Vec<Standby>,
    /// Why part of this could not be read (permissions).
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Standby {
    pub name: String,
    pub state: String,
    pub sync_state: String,
    pub lag_bytes: Option<i64>,
    pub replay_lag_ms: Option<i64>,
}

/// Everything `cluster status` prints.
#[derive(Debug, Clone)]
pub struct Status {
    pub nodes: Vec<NodeRow>,
    pub scheduler: Option<LeaseState>,
    pub queue: Vec<(String, String, i64)>,
    pub database: DatabaseRole,
}

pub async fn status(db: &impl ConnectionTrait) -> anyhow::Result<Status> {
    Ok(Status {
        nodes: nodes(db).await?,
        scheduler: lease::current(db, lease::SCHEDULER).await?,
        queue: crate::jobs::store::depth(db).await?,
        database: database_role(db).await?,
    })
}

async fn nodes(db: &impl ConnectionTrait) -> Result<Vec<NodeRow>, DbErr> {
    let sql = "SELECT id, host, pid, version, role, draining, seen_ms - started_ms AS up_ms, \
               {now} - seen_ms AS seen_ago_ms, stopped_ms FROM nodes ORDER BY started_ms, id";
    let rows = db.query_all_raw(clock_statement(db.get_database_backend(), sql, Vec::new())).await?;
    rows.iter()
        .map(|r| {
            Ok(NodeRow {
                id: r.try_get("", "id")?,
                host: r.try_get("", "host")?,
                pid: r.try_get("", "pid")?,
                version: r.try_get("", "version")?,
                role: r.try_get("", "role")?,
                draining: r.try_get("", "draining")?,
                up_ms: r.try_get("", "up_ms")?,
                seen_ago_ms: r.try_get("", "seen_ago_ms")?,
                stopped: r.try_get::<Option<i64>>("", "stopped_ms")?.is_some(),
            })
        })
        .collect()
}

async fn database_role(db: &impl ConnectionTrait) -> Result<DatabaseRole, DbErr> {
    let backend = db.get_database_backend();
    if backend != DatabaseBackend::Postgres {
        let version = db.query_one_raw(Statement::from_string(backend, "SELECT sqlite_version() AS v")).await?;
        let server = match version {
            Some(row) => format!("SQLite {}", row.try_get::<String>("", "v")?),
            None => "SQLite".into(),
        };
        return Ok(DatabaseRole { backend: "sqlite".into(), server, role: "embedded".into(), ..Default::default() });
    }
    let sql = "SELECT pg_is_in_recovery() AS standby, current_setting('server_version') AS version, \
               COALESCE(host(inet_server_addr()), 'local socket') AS address, COALESCE(inet_server_port(), 0) AS port";
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await?;
    let Some(row) = row else {
        return Ok(DatabaseRole { backend: "postgres".into(), ..Default::default() });
    };
    let standby: bool = row.try_get("", "standby")?;
    let server = format!(
        "PostgreSQL {} at {}:{}",
        row.try_get::<String>("", "version")?,
        row.try_get::<String>("", "address")?,
        row.try_get::<i32>("", "port")?
    );
    let mut role = DatabaseRole {
        backend: "postgres".into(),
        server,
        role: if standby { "standby" } else { "primary" }.into(),
        ..Default::default()
    };
    if standby {
        return Ok(role);
    }
    let sql = "SELECT COALESCE(application_name, '') AS name, COALESCE(state, '') AS state, \
               COALESCE(sync_state, '') AS sync_state, \
               CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS BIGINT) AS lag_bytes, \
               CAST(EXTRACT(EPOCH FROM replay_lag) * 1000 AS BIGINT) AS replay_lag_ms \
               FROM pg_stat_replication ORDER BY application_name";
    match db.query_all_raw(Statement::from_string(backend, sql)).await {
        Ok(rows) => {
            for r in rows {
                role.standbys.push(Standby {
                    name: r.try_get("", "name")?,
                    state: r.try_get("", "state")?,
                    sync_state: r.try_get("", "sync_state")?,
                    lag_bytes: r.try_get("", "lag_bytes")?,
                    replay_lag_ms: r.try_get("", "replay_lag_ms")?,
                });
            }
        }
        Err(err) => role.note = Some(format!("replication is not visible to this user: {err}")),
    }
    Ok(role)
}

fn seconds(ms: i64) -> String {
    if ms < 120_000 { format!("{:.1} s", ms as f64 / 1000.0) } else { format!("{} min", ms / 60_000) }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alive = self.nodes.iter().filter(|n| n.alive()).count();
        writeln!(f, "Nodes: {alive} alive of {} seen", self.nodes.len())?;
        for n in &self.nodes {
            let state = if n.stopped {
                "stopped".to_owned()
            } else if !n.alive() {
                format!("gone (last seen {} ago)", seconds(n.seen_ago_ms))
            } else if n.draining {
                "draining".to_owned()
            } else {
                format!("alive (seen {} ago)", seconds(n.seen_ago_ms))
            };
            let holds = self.scheduler.as_ref().is_some_and(|l| l.live && l.holder == n.id);
            writeln!(
                f,
                "  {:<40} {:<7} {:<8} pid {:<7} up {:<9} {state}{}",
                n.id,
                n.role,
                n.version,
                n.pid,
                seconds(n.up_ms),
                if holds { "  [scheduler]" } else { "" }
            )?;
        }
        match &self.scheduler {
            Some(l) if l.live => writeln!(
                f,
                "Scheduler lease: held by {} (token {}), renewed {} ago, expires in {}",
                l.holder,
                l.token,
                seconds(l.renewed_ago_ms()),
                seconds(l.expires_in_ms())
            )?,
            Some(l) => writeln!(
                f,
                "Scheduler lease: free (last held by {}, token {}, expired {} ago)",
                l.holder,
                l.token,
                seconds(-l.expires_in_ms())
            )?,
            None => writeln!(f, "Scheduler lease: never taken")?,
        }
        let total = |status: &str| self.queue.iter().filter(|(_, s, _)| s == status).map(|(_, _, n)| n).sum::<i64>();
        writeln!(
            f,
            "Job queue: {} pending, {} running, {} failed",
            total(crate::jobs::store::PENDING),
            total(crate::jobs::store::RUNNING),
            total(crate::jobs::store::FAILED)
        )?;
        for (kind, status, n) in &self.queue {
            writeln!(f, "  {kind:<24} {status:<8} {n}")?;
        }
        writeln!(f, "Database: {} ({})", self.database.server, self.database.role)?;
        for s in &self.database.standbys {
            let lag = match (s.lag_bytes, s.replay_lag_ms) {
                (Some(bytes), Some(ms)) => format!("{bytes} bytes, {ms} ms behind"),
                (Some(bytes), None) => format!("{bytes} bytes behind"),
                _ => "lag unknown".into(),
            };
            writeln!(f, "  standby {:<12} {:<10} {:<6} {lag}", s.name, s.state, s.sync_state)?;
        }
        if self.database.role == "primary" && self.database.standbys.is_empty() && self.database.note.is_none() {
            writeln!(f, "  no standby is streaming from it")?;
        }
        if let Some(note) = &self.database.note {
            writeln!(f, "  {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_loses_its_job_claims_after_three_missed_heartbeats() {
        assert_eq!(crate::jobs::store::DEAD_NODE_AFTER, HEARTBEAT * 3);
    }
}
