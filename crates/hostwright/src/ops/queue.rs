//! The admin "Queue" page: jobs by kind and status with their attempts, next run and last
//! error; staff retry a pending or failed job now, or cancel it.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};

use crate::audit;
use crate::db::ms_to_rfc3339;
use crate::ids::JobId;
use crate::jobs::store;
use crate::permissions::perm;
use crate::staff::current::{Authorized, StaffBadge};
use crate::state::AppState;
use crate::web::view::Pagination;
use crate::web::{AppResult, Page, PageView, flash};

const PER_PAGE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    page: Option<u64>,
}

/// The queue: jobs as filtered, and how deep it is per kind.
#[derive(Debug, Serialize)]
pub struct QueuePage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub jobs: Vec<JobRow>,
    pub depth: Vec<KindDepth>,
    /// Every kind the queue has seen, for the filter.
    pub kinds: Vec<String>,
    pub status: String,
    pub kind: String,
    pub pagination: Pagination,
}

impl PageView for QueuePage {
    const TEMPLATE: &'static str = "admin/queue.html";
}

/// A job as the list shows it (the payload cut to 200 characters).
#[derive(Debug, Serialize)]
pub struct JobRow {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub priority: i32,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
}

/// How many jobs of a kind wait, run and failed.
#[derive(Debug, Serialize)]
pub struct KindDepth {
    pub kind: String,
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
}

/// Pending, running and failed counts per kind, as rows for the page.
fn depth_by_kind(depth: &[(String, String, i64)]) -> Vec<KindDepth> {
    let mut kinds: Vec<&str> = depth.iter().map(|(k, _, _)| k.as_str()).collect();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| {
            let count =
                |status: &str| depth.iter().find(|(k, s, _)| k == kind && s == status).map_or(0, |(_, _, n)| *n);
            KindDepth {
                kind: kind.to_owned(),
                pending: count(store::PENDING),
                running: count(store::RUNNING),
                failed: count(store::FAILED),
            }
        })
        .collect()
}

pub async fn list_queue(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Query(filters): Query<Filters>,
) -> AppResult<Response> {
    let status = store::STATUSES.into_iter().find(|s| *s == filters.status);
    let kinds = store::kinds(&state.db).await?;
    let kind = kinds.iter().find(|k| **k == filters.kind).map(String::as_str);
    let page_number = filters.page.unwrap_or(1).max(1);
    let (rows, total) = store::list(&state.db, status, kind, page_number, PER_PAGE).await?;
    let depth = store::depth(&state.db).await?;
    let jobs = rows
        .into_iter()
        .map(|j| JobRow {
            id: j.id,
            kind: j.kind,
            payload: j.payload.chars().take(200).collect(),
            status: j.status,
            priority: j.priority,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: ms_to_rfc3339(j.run_at_ms),
            lease_owner: j.lease_owner,
            lease_expires_at: j.lease_expires_ms.and_then(ms_to_rfc3339),
            last_error: j.last_error,
            created_at: ms_to_rfc3339(j.created_at_ms),
            finished_at: j.finished_at_ms.and_then(ms_to_rfc3339),
        })
        .collect();
    let query = format!(
        "status={}&kind={}",
        status.unwrap_or(""),
        url::form_urlencoded::byte_serialize(kind.unwrap_or("").as_bytes()).collect::<String>()
    );
    let view = QueuePage {
        current_staff: current.badge(),
        nav: "queue",
        jobs,
        depth: depth_by_kind(&depth),
        status: status.unwrap_or("").to_owned(),
        kind: kind.unwrap_or("").to_owned(),
        pagination: Pagination { page: page_number, pages: total.div_ceil(PER_PAGE).max(1), total, query },
        kinds,
    };
    state.render_view(&page, &view).await
}

pub async fn retry_job(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<JobId>,
) -> AppResult<Response> {
    let done =
        staff_act(&state, &page, &current, id, store::retry_now, "job.retried", "Queued job {id} to run now").await?;
    state.jobs_wakeup.notify_one();
    Ok(if done {
        flash::redirect(&state, "/admin/queue", "success", "The job will run again shortly.")
    } else {
        flash::redirect(&state, "/admin/queue", "error", "Only a pending or failed job can be retried.")
    })
}

pub async fn cancel_job(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<JobId>,
) -> AppResult<Response> {
    let done = staff_act(&state, &page, &current, id, store::cancel, "job.cancelled", "Cancelled job {id}").await?;
    Ok(if done {
        flash::redirect(&state, "/admin/queue", "success", "The job was cancelled; it will not run.")
    } else {
        flash::redirect(&state, "/admin/queue", "error", "Only a pending or failed job can be cancelled.")
    })
}

/// Applies a staff action to job `id` and, when it changed the job, audits it as `action`
/// (`summary` with `{id}` filled in), in one transaction; `false` when the job's status
/// did not allow it.
async fn staff_act<F>(
    state: &AppState,
    page: &Page,
    current: &Authorized<perm::SettingsManage>,
    id: JobId,
    act: F,
    action: &str,
    summary: &str,
) -> AppResult<bool>
where
    F: for<'a> AsyncFn(&'a sea_orm::DatabaseTransaction, JobId) -> Result<bool, sea_orm::DbErr>,
{
    let txn = state.db.begin().await?;
    let done = act(&txn, id).await?;
    if done {
        audit::record(
            &txn,
            &current.actor(&page.ip),
            action,
            Some(("job", id.0)),
            summary.replace("{id}", &id.to_string()),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(done)
}

#[cfg(test)]
impl QueuePage {
    pub(super) fn samples() -> Vec<Self> {
        use crate::web::view::{SCRIPT, TIME};
        let job = |id: i64, status: &str, last_error: Option<&str>, lease: bool| JobRow {
            id: JobId(id),
            kind: "invoice.paid".into(),
            payload: SCRIPT.into(),
            status: status.into(),
            priority: 100,
            attempts: 2,
            max_attempts: 8,
            run_at: Some(TIME.into()),
            lease_owner: lease.then(|| "node-1:4242:a1b2c3".into()),
            lease_expires_at: lease.then(|| TIME.into()),
            last_error: last_error.map(str::to_owned),
            created_at: Some(TIME.into()),
            finished_at: (status == "done").then(|| TIME.into()),
        };
        let jobs = vec![
            job(1, "pending", Some("timed out after 60 s"), false),
            job(2, "running", None, true),
            job(3, "running", None, false),
            job(4, "done", None, false),
            job(5, "failed", Some(SCRIPT), false),
            job(6, "cancelled", None, false),
            job(7, "unknown", None, false),
        ];
        let depth = vec![
            KindDepth { kind: "invoice.paid".into(), pending: 3, running: 1, failed: 2 },
            KindDepth { kind: SCRIPT.into(), pending: 0, running: 0, failed: 0 },
        ];
        [
            (jobs, depth, "", "", 2, 51),
            (Vec::new(), Vec::new(), "failed", "invoice.paid", 1, 0),
            (Vec::new(), Vec::new(), "", "", 1, 0),
        ]
        .into_iter()
        .map(|(jobs, depth, status, kind, pages, total)| QueuePage {
            current_staff: StaffBadge::sample_all(),
            nav: "queue",
            jobs,
            depth,
            kinds: vec!["invoice.paid".into(), SCRIPT.into()],
            status: status.into(),
            kind: kind.into(),
            pagination: Pagination { page: 1, pages, total, query: format!("status={status}&kind={kind}") },
        })
        .collect()
    }
}
