//! The scheduler every node runs: it tries for the scheduler lease, renews it while held,
//! and when the business's day has reached the run hour runs the tasks not yet done that
//! day. A standby takes over only once the holder's lease expired by the database's clock.

use std::time::Duration;

use chrono::{NaiveDate, Timelike};
use tokio::sync::watch;

use super::lease::{self, Held};
use super::{RunError, Task};
use crate::state::AppState;

/// Tries for (or renews) the lease and runs what is due, until `stop` turns true; the lease
/// is given up on the way out.
pub async fn run(state: AppState, owner: String, mut stop: watch::Receiver<bool>) {
    let ttl = Duration::from_secs(state.settings.automation_lease_seconds.max(3));
    let tick = ttl / 3;
    tracing::info!(%owner, ttl_s = ttl.as_secs(), "scheduler started");
    let mut held: Option<Held> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        held = match keep_or_take(&state, &owner, held, ttl).await {
            Ok(held) => held,
            Err(err) => {
                tracing::warn!(error = %err, "the scheduler lease could not be checked");
                None
            }
        };
        if let Some(h) = &held
            && let Err(err) = run_due(&state, h, ttl).await
        {
            tracing::warn!(error = %err, "the daily run stopped");
            if matches!(err, RunError::LeaseLost) {
                held = None;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            _ = stop.changed() => {}
        }
    }
    if let Some(h) = held
        && let Err(err) = lease::release(&state.db, &h).await
    {
        tracing::warn!(error = %err, "giving the scheduler lease up failed; it expires by itself");
    }
    tracing::info!("scheduler stopped");
}

async fn keep_or_take(
    state: &AppState,
    owner: &str,
    held: Option<Held>,
    ttl: Duration,
) -> Result<Option<Held>, sea_orm::DbErr> {
    if let Some(h) = held {
        if lease::renew(&state.db, &h, ttl).await? {
            return Ok(Some(h));
        }
        tracing::warn!(token = h.token, "the scheduler lease was lost");
    }
    let taken = lease::acquire(&state.db, lease::SCHEDULER, owner, ttl).await?;
    if let Some(h) = &taken {
        tracing::info!(token = h.token, "this node holds the scheduler lease");
    }
    Ok(taken)
}

/// The business date the clock says it is, and whether the run hour has come.
async fn business_now(state: &AppState) -> Result<(NaiveDate, bool), sea_orm::DbErr> {
    let billing = crate::invoices::settings::load(&state.db).await?;
    let settings = super::settings::load(&state.db).await?;
    let local = state.clock.now().with_timezone(&billing.tz());
    Ok((local.date_naive(), local.hour() >= settings.run_hour))
}

/// Runs the tasks not yet done today once the run hour has come, renewing the lease while
/// they run; a lost lease cancels the run (its writes are fenced off anyway).
async fn run_due(state: &AppState, held: &Held, ttl: Duration) -> Result<(), RunError> {
    let (date, hour_reached) = business_now(state).await?;
    if !hour_reached {
        return Ok(());
    }
    let mut due = Vec::new();
    for task in Task::ALL {
        if !super::done_on(&state.db, task, date).await? {
            due.push(task);
        }
    }
    if due.is_empty() {
        return Ok(());
    }
    run_holding(state, held, ttl, date, &due).await.map(|_| ())
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
