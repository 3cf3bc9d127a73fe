//! The durable job queue: work that must happen once, whatever node runs it and whichever
//! node dies (decision 0016).
//!
//! A job is enqueued **in the transaction of the change that causes it** ([`enqueue`]), so
//! it exists exactly when the change committed. Workers on any number of nodes claim due
//! jobs ([`store::claim`]); a claim is a lease with an expiry read from the database's clock,
//! and a job whose worker died is claimed again only once its lease has expired. Every claim
//! raises the job's fencing token: a worker that lost its lease (paused, partitioned) is
//! refused when it finishes the job or commits its writes ([`JobContext::fence`]). Failures
//! are retried with exponential backoff up to the kind's maximum attempts, then kept as
//! failed with their last error for staff. Jobs are idempotent: a repeated run finds its
//! work done and does nothing.

pub mod store;
pub mod worker;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ids::JobId;
use crate::state::AppState;

/// A kind of work the queue runs.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind's name in the database and on the queue page, like `invoice.paid`.
    const KIND: &'static str;
    /// Attempts before the job is kept as failed.
    const MAX_ATTEMPTS: i32 = 8;
    /// The longest one attempt may take; the lease outlasts it.
    const TIMEOUT: Duration = Duration::from_secs(60);

    fn run(&self, ctx: &JobContext) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// Why an attempt did not finish the job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (a database hiccup, a panel that did not answer).
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Trying again cannot help (the payload is unreadable, the thing is gone): kept as
    /// failed at once.
    #[error("{0}")]
    Permanent(String),
    /// This worker no longer holds the job's lease; another one has it or will.
    #[error("the lease on this job was lost")]
    LeaseLost,
}

impl From<sea_orm::DbErr> for JobError {
    fn from(err: sea_orm::DbErr) -> Self {
        JobError::Retry(anyhow::Error::new(err).context("database"))
    }
}

impl From<anyhow::Error> for JobError {
    fn from(err: anyhow::Error) -> Self {
        JobError::Retry(err)
    }
}

/// How a job is queued.
#[derive(Debug, Clone, Default)]
pub struct Enqueue {
    /// Run no sooner than this from now.
    pub delay: Duration,
    /// Lower runs first; 100 by default.
    pub priority: Option<i32>,
    /// A job with the same key is queued once: a second enqueue does nothing.
    pub unique_key: Option<String>,
    /// What the job is about (`service:42`), listed on that thing's page.
    pub subject: Option<String>,
}

impl Enqueue {
    pub fn unique(key: impl Into<String>) -> Self {
        Enqueue { unique_key: Some(key.into()), ..Enqueue::default() }
    }

    pub fn about(self, subject: impl Into<String>) -> Self {
        Enqueue { subject: Some(subject.into()), ..self }
    }
}

/// Queues `job`; call it with the transaction of the change that causes it. Returns `false`
/// when a job with the same unique key was queued already.
pub async fn enqueue<J: Job>(db: &impl ConnectionTrait, job: &J, how: Enqueue) -> Result<bool, sea_orm::DbErr> {
    let payload = serde_json::to_string(job).map_err(|e| sea_orm::DbErr::Custom(format!("job payload: {e}")))?;
    store::insert(db, J::KIND, &payload, J::MAX_ATTEMPTS, &how).await
}

/// What a running job can reach: the node's state and its own claim.
pub struct JobContext {
    pub state: AppState,
    pub id: JobId,
    /// The fencing token of this claim.
    pub token: i64,
    /// 1 for the first attempt.
    pub attempt: i32,
}

impl JobContext {
    /// Checks, inside the job's own transaction and just before it commits, that this worker
    /// still holds the lease; the row lock it takes makes a concurrent reclaim wait for the
    /// commit, and a reclaim that came first makes this fail, so the writes of a worker that
    /// lost its lease are never committed.
    pub async fn fence(&self, txn: &impl ConnectionTrait) -> Result<(), JobError> {
        if store::fence(txn, self.id, self.token).await? { Ok(()) } else { Err(JobError::LeaseLost) }
    }
}

type Handler = for<'a> fn(&'a JobContext, &'a str) -> Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>>;

fn handler<'a, J: Job>(
    ctx: &'a JobContext,
    payload: &'a str,
) -> Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>> {
    let parsed = serde_json::from_str::<J>(payload);
    Box::pin(async move {
        let job = parsed.map_err(|e| JobError::Permanent(format!("the job's payload cannot be read: {e}")))?;
        job.run(ctx).await
    })
}

/// The kinds a worker runs. A node claims only kinds it knows, so during a rolling upgrade
/// an older node leaves a newer kind to the newer nodes.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, (Handler, Duration)>,
    lease: Option<Duration>,
}

impl Registry {
    pub fn with<J: Job>(mut self) -> Self {
        self.kinds.insert(J::KIND, (handler::<J>, J::TIMEOUT));
        self
    }

    /// Claims of every kind last `lease` instead of the kind's timeout and a margin.
    pub fn with_lease(mut self, lease: Option<Duration>) -> Self {
        self.lease = lease;
        self
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }

    /// The kinds grouped by how long a claim of them lasts (their longest attempt and a
    /// margin), shortest first: a job whose worker died is claimed again after its own kind's
    /// lease, so a quick payment job does not wait as long as a module call may take.
    pub fn lease_groups(&self) -> Vec<(Duration, Vec<&'static str>)> {
        if let Some(lease) = self.lease {
            return vec![(lease, self.kinds())];
        }
        let mut groups: BTreeMap<Duration, Vec<&'static str>> = BTreeMap::new();
        for (kind, (_, timeout)) in &self.kinds {
            groups.entry(*timeout + Duration::from_secs(30)).or_default().push(kind);
        }
        groups.into_iter().collect()
    }

    pub(crate) fn find(&self, kind: &str) -> Option<(Handler, Duration)> {
        self.kinds.get(kind).copied()
    }
}

/// Sets the `jobs_queued{kind, status}` gauges for a metrics scrape; the registry's kinds
/// with nothing waiting read 0 rather than their last value.
pub async fn record_depth_gauges(state: &AppState, registry: &Registry) -> Result<(), sea_orm::DbErr> {
    let depth = store::depth(&state.db).await?;
    let mut kinds: Vec<String> = registry.kinds().into_iter().map(str::to_owned).collect();
    kinds.extend(depth.iter().map(|(k, _, _)| k.clone()));
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        for status in [store::PENDING, store::RUNNING, store::FAILED] {
            let n = depth.iter().find(|(k, s, _)| *k == kind && s == status).map_or(0, |(_, _, n)| *n);
            metrics::gauge!("jobs_queued", "kind" => kind.clone(), "status" => status).set(n as f64);
        }
    }
    Ok(())
}
