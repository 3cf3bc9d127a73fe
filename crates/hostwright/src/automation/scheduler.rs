//! The scheduler every node runs: once the business's day has reached the run hour and a
//! task is not yet done that day, it tries for the scheduler lease and, holding it, runs the
//! tasks not done, renewing the lease meanwhile, then gives it back. The lease guards a run,
//! not the role: a manual `automation run` takes it the same way, and if a holder dies
//! mid-run, another node takes over only once its lease expired by the database's clock.

use std::time::Duration;

use chrono::{NaiveDate, Timelike};
use tokio::sync::watch;

use super::lease::{self, Held};
use super::{RunError, Task};
use crate::state::AppState;

/// Looks every third of the lease's time to live for a due run, until `stop` turns true.
pub async fn run(state: AppState, owner: String, mut stop: watch::Receiver<bool>) {
    let ttl = Duration::from_secs(state.settings.automation_lease_seconds.max(3));
    let tick = ttl / 3;
    tracing::info!(%owner, ttl_s = ttl.as_secs(), "scheduler started");
    loop {
        if *stop.borrow() {
            break;
        }
        if let Err(err) = run_if_due(&state, &owner, ttl).await {
            tracing::warn!(error = %err, "the daily run stopped");
        }
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!("scheduler stopped");
}

/// The tasks not yet done for `date`.
async fn not_done(state: &AppState, date: NaiveDate) -> Result<Vec<Task>, sea_orm::DbErr> {
    let mut due = Vec::new();
    for task in Task::ALL {
        if !super::done_on(&state.db, task, date).await? {
            due.push(task);
        }
    }
    Ok(due)
}

async fn run_if_due(state: &AppState, owner: &str, ttl: Duration) -> Result<(), RunError> {
    let (date, hour_reached) = business_now(state).await?;
    if !hour_reached || not_done(state, date).await?.is_empty() {
        return Ok(());
    }
    let Some(held) = lease::acquire(&state.db, lease::SCHEDULER, owner, ttl).await? else {
        return Ok(());
    };
    tracing::info!(token = held.token, %date, "this node runs the daily run");
    // Another node may have finished it between the look and the lease.
    let result = match not_done(state, date).await {
        Ok(due) if due.is_empty() => Ok(()),
        Ok(due) => run_holding(state, &held, ttl, date, &due).await.map(|_| ()),
        Err(err) => Err(err.into()),
    };
    if let Err(err) = lease::release(&state.db, &held).await {
        tracing::warn!(error = %err, "giving the scheduler lease up failed; it expires by itself");
    }
    result
}

/// The business date the clock says it is, and whether the run hour has come.
async fn business_now(state: &AppState) -> Result<(NaiveDate, bool), sea_orm::DbErr> {
    let billing = crate::invoices::settings::load(&state.db).await?;
    let settings = crate::site_settings::automation::load(&state.db).await?;
    let local = state.clock.now().with_timezone(&billing.tz());
    Ok((local.date_naive(), local.hour() >= settings.run_hour))
}

/// Runs `tasks` for `date` as `held`, renewing the lease every third of its time to live
/// meanwhile; if a renewal fails the run is cancelled.
pub async fn run_holding(
    state: &AppState,
    held: &Held,
    ttl: Duration,
    date: NaiveDate,
    tasks: &[Task],
) -> Result<Vec<super::TaskReport>, RunError> {
    let keeper = async {
        loop {
            tokio::time::sleep(ttl / 3).await;
            match lease::renew(&state.db, held, ttl).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(err) => tracing::warn!(error = %err, "renewing the scheduler lease failed"),
            }
        }
    };
    tokio::select! {
        reports = super::run(state, Some(held), date, tasks) => {
            let reports = reports?;
            for r in &reports {
                tracing::info!(task = %r.task, %date, counts = %r.summary(), ms = r.millis as u64, error = ?r.error, "automation task ran");
            }
            Ok(reports)
        }
        () = keeper => Err(RunError::LeaseLost),
    }
}
