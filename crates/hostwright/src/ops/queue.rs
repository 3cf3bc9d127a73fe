//! The admin "Queue" page: jobs by kind and status with their attempts, next run and last
//! error; staff retry a pending or failed job now, or cancel it.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::{Value, context};
use sea_orm::TransactionTrait;
use serde::Deserialize;

use crate::audit::{self, Actor};
use crate::db::ms_to_rfc3339;
use crate::ids::JobId;
use crate::jobs::store;
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppResult, Page, flash};

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

/// Pending, running and failed counts per kind, as rows for the page.
fn depth_by_kind(depth: &[(String, String, i64)]) -> Vec<Value> {
    let mut kinds: Vec<&str> = depth.iter().map(|(k, _, _)| k.as_str()).collect();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| {
            let count =
                |status: &str| depth.iter().find(|(k, s, _)| k == kind && s == status).map_or(0, |(_, _, n)| *n);
            context! {
                kind => kind,
                pending => count(store::PENDING),
                running => count(store::RUNNING),
                failed => count(store::FAILED),
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
    let jobs: Vec<Value> = rows
        .into_iter()
        .map(|j| {
            context! {
                id => j.id,
                kind => j.kind,
                payload => j.payload.chars().take(200).collect::<String>(),
                status => j.status,
                priority => j.priority,
                attempts => j.attempts,
                max_attempts => j.max_attempts,
                run_at => ms_to_rfc3339(j.run_at_ms),
                lease_owner => j.lease_owner,
                lease_expires_at => j.lease_expires_ms.and_then(ms_to_rfc3339),
                last_error => j.last_error,
                created_at => ms_to_rfc3339(j.created_at_ms),
                finished_at => j.finished_at_ms.and_then(ms_to_rfc3339),
            }
        })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "queue",
        jobs => jobs,
        depth => depth_by_kind(&depth),
        kinds => kinds,
        status => status.unwrap_or(""),
        kind => kind.unwrap_or(""),
        pagination => context! {
            page => page_number,
            pages => total.div_ceil(PER_PAGE).max(1),
            total => total,
            query => format!(
                "status={}&kind={}",
                status.unwrap_or(""),
                url::form_urlencoded::byte_serialize(kind.unwrap_or("").as_bytes()).collect::<String>()
            ),
        },
    };
    state.render(&page, "admin/queue.html", ctx).await
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
        let actor = Actor::staff(current.staff.id, &current.staff.email, &page.ip);
        audit::record(&txn, &actor, action, Some(("job", id.0)), summary.replace("{id}", &id.to_string())).await?;
    }
    txn.commit().await?;
    Ok(done)
}
