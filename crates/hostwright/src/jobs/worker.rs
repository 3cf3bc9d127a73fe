//! The worker loop every `serve` node runs (and `hostwright worker` runs alone): claim due
//! jobs, run each under its kind's timeout, record the outcome under the claim's token.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::store::{self, Claimed};
use super::{JobContext, JobError, Registry};
use crate::state::AppState;

/// How often an idle worker looks for due jobs (it is also woken when a job is queued).
const POLL: Duration = Duration::from_secs(1);

/// Runs jobs until `stop` turns true; `concurrency` jobs at a time.
pub async fn run(state: AppState, registry: Arc<Registry>, concurrency: usize, mut stop: watch::Receiver<bool>) {
    let owner = state.node.clone();
    tracing::info!(%owner, concurrency, kinds = ?registry.kinds(), "job worker started");
    loop {
        if *stop.borrow() {
            break;
        }
        match run_once(&state, &registry, &owner, concurrency).await {
            Ok(0) => {}
            Ok(_) => continue,
            Err(err) => tracing::warn!(error = %err, "claiming jobs failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = state.jobs_wakeup.notified() => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!("job worker stopped");
}

/// Claims and runs one batch; returns how many jobs it ran.
pub async fn run_once(state: &AppState, registry: &Registry, owner: &str, batch: usize) -> anyhow::Result<usize> {
    let mut claimed = Vec::new();
    for (lease, kinds) in registry.lease_groups() {
        let room = batch.saturating_sub(claimed.len());
        if room == 0 {
            break;
        }
        claimed.extend(store::claim(&state.db, owner, &kinds, lease, room as u64).await?);
    }
    let count = claimed.len();
    let runs = claimed.into_iter().map(|job| run_job(state, registry, job));
    futures::future::join_all(runs).await;
    Ok(count)
}

/// Records a job's outcome under its claim. While the database fails over the write is tried
/// again (the claim stays this worker's until its lease ends), so work that finished is not
/// left for the lease to expire and run again.
async fn record(state: &AppState, job: &Claimed, outcome: &Result<(), JobError>) -> Result<bool, sea_orm::DbErr> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(state.settings.failover_retry_seconds);
    let mut pause = Duration::from_millis(200);
    loop {
        let recorded = match outcome {
            Ok(()) => store::finish(&state.db, job.id, job.token).await,
            Err(JobError::LeaseLost) => Ok(false),
            Err(JobError::Permanent(message)) => store::fail(&state.db, job, message, true).await,
            Err(err @ JobError::Retry(_)) => store::fail(&state.db, job, &err.to_string(), false).await,
        };
        match recorded {
            Err(err) if crate::db::interrupted(&err) && tokio::time::Instant::now() + pause < deadline => {
                tracing::info!(job.id = %job.id, error = %err, "the database is unreachable; recording the outcome again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

async fn run_job(state: &AppState, registry: &Registry, job: Claimed) {
    let Some((handler, timeout)) = registry.find(&job.kind) else {
        // Claimed only by kind, so this cannot happen; leave it to the lease to expire.
        tracing::error!(job.id = %job.id, job.kind = %job.kind, "claimed a job of an unknown kind");
        return;
    };
    let ctx = JobContext { state: state.clone(), id: job.id, token: job.token, attempt: job.attempts };
    let outcome = match tokio::time::timeout(timeout, handler(&ctx, &job.payload)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(JobError::Retry(anyhow::anyhow!("timed out after {} s", timeout.as_secs()))),
    };
    let recorded = record(state, &job, &outcome).await;
    let kind = job.kind.clone();
    match (&outcome, recorded) {
        (Ok(()), Ok(true)) => {
            metrics::counter!("jobs_done_total", "kind" => kind).increment(1);
            tracing::info!(job.id = %job.id, job.kind = %job.kind, attempt = job.attempts, "job done");
        }
        (Err(err), Ok(true)) => {
            metrics::counter!("jobs_failed_attempts_total", "kind" => kind).increment(1);
            tracing::warn!(job.id = %job.id, job.kind = %job.kind, attempt = job.attempts, error = %err, "job attempt failed");
        }
        (_, Ok(false)) => {
            tracing::warn!(job.id = %job.id, job.kind = %job.kind, "job lease lost; its outcome is not recorded");
        }
        (_, Err(err)) => {
            tracing::warn!(job.id = %job.id, job.kind = %job.kind, error = %err, "recording a job's outcome failed");
        }
    }
}
