//! Cancellation requests: a client asks to end a service, immediately or at the end of the
//! billing period, and may withdraw the request while it is open; staff act on it (cancel the
//! service now) or reject it. A service has at most one open request: the partial unique
//! index `cancellation_requests_open` says so, and a second request is refused with a message.
//!
//! An `end_of_period` request is shown as "ends on <next due date>". It is acted on by the
//! daily run (which comes with a later issue): on the due date that run cancels the service
//! and marks the request done. Until then, staff may still cancel it at once from the service
//! page or the list of open requests. No scheduler lives here.
//!
//! Every change is one transaction with its audit record, on the service's history.

use chrono::{NaiveDate, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, DbErr, QueryOrder, QuerySelect, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::lifecycle::{self, LifecycleError};
use super::model::{cancellation, service};
use super::service::ServiceError;
use super::status::Status;
use super::store;
use crate::audit::{self, Actor};
use crate::ids::{CancellationRequestId, ServiceId};
use crate::jobs::{self, Enqueue, Job, JobContext, JobError};
use crate::provisioning::Command;
use crate::provisioning::jobs::MODULE_JOB_TIMEOUT;
use crate::state::AppState;
use crate::web::FormErrors;

pub const OPEN: &str = "open";
pub const DONE: &str = "done";
pub const WITHDRAWN: &str = "withdrawn";
pub const REJECTED: &str = "rejected";

/// When the client wants the service to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Immediate,
    EndOfPeriod,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Immediate, Kind::EndOfPeriod];

    pub fn key(self) -> &'static str {
        match self {
            Kind::Immediate => "immediate",
            Kind::EndOfPeriod => "end_of_period",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Immediate => "Immediately",
            Kind::EndOfPeriod => "At the end of the billing period",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }
}

/// How a request ends, as the pages say it.
pub fn status_label(status: &str) -> &'static str {
    match status {
        OPEN => "Open",
        DONE => "Done",
        WITHDRAWN => "Withdrawn",
        REJECTED => "Rejected",
        _ => "Unknown",
    }
}

/// What a request asks for in words: "Immediately", or "Ends on 2026-12-01" (the service's
/// next due date) for a request at the end of the period.
pub fn describe(kind: &str, next_due_date: Option<NaiveDate>) -> String {
    match (Kind::parse(kind), next_due_date) {
        (Some(Kind::EndOfPeriod), Some(date)) => format!("Ends on {date}"),
        (Some(kind), _) => kind.label().to_owned(),
        (None, _) => kind.to_owned(),
    }
}

/// The longest reason a client may give.
pub const MAX_REASON: usize = 2000;

/// A client (or staff for them) asks to cancel `service`. Only a pending, active or suspended
/// service can be cancelled; a service with an open request is refused, changing nothing.
#[tracing::instrument(skip_all, fields(service.id = %s.id))]
pub async fn request(
    state: &AppState,
    actor: &Actor,
    s: &service::Model,
    kind: &str,
    reason: &str,
) -> Result<CancellationRequestId, ServiceError> {
    let mut errors = FormErrors::new();
    let kind = Kind::parse(kind.trim());
    if kind.is_none() {
        errors.add("kind", "Choose when the service should end.");
    }
    let reason = reason.trim();
    if reason.is_empty() {
        errors.add("reason", "Tell us why you are cancelling.");
    } else if reason.chars().count() > MAX_REASON {
        errors.add("reason", format!("Use at most {MAX_REASON} characters."));
    }
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    if !Status::parse(&s.status).is_some_and(Status::is_live) {
        return Err(ServiceError::NotAllowed("This service has already ended; there is nothing to cancel.".into()));
    }
    if kind == Kind::EndOfPeriod && s.next_due_date.is_none() {
        return Err(ServiceError::NotAllowed(
            "This service has no billing period to wait for; ask for it to end immediately.".into(),
        ));
    }
    let txn = state.db.begin().await?;
    let inserted = cancellation::ActiveModel {
        service_id: Set(s.id),
        kind: Set(kind.key().to_owned()),
        reason: Set(reason.to_owned()),
        status: Set(OPEN.to_owned()),
        requested_by: Set(actor.label.clone()),
        created_at: Set(Utc::now()),
        resolved_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(created) => created,
        Err(err) => {
            txn.rollback().await?;
            if crate::web::forms::is_unique_violation(&err) {
                return Err(ServiceError::NotAllowed(
                    "A cancellation of this service has already been requested; withdraw that request to make another."
                        .into(),
                ));
            }
            return Err(err.into());
        }
    };
    let short: String = reason.chars().take(200).collect();
    audit::record(
        &txn,
        actor,
        "service.cancellation_requested",
        Some(("service", s.id.0)),
        format!("Cancellation requested ({}): {short}", describe(kind.key(), s.next_due_date).to_lowercase()),
    )
    .await?;
    txn.commit().await?;
    Ok(created.id)
}

/// The client withdraws the open request on service `id`.
#[tracing::instrument(skip_all, fields(service.id = %id))]
pub async fn withdraw(state: &AppState, actor: &Actor, id: ServiceId) -> Result<(), ServiceError> {
    let txn = state.db.begin().await?;
    if close(&txn, id, None, WITHDRAWN).await? != 1 {
        return Err(ServiceError::NotAllowed("There is no open cancellation request to withdraw.".into()));
    }
    audit::record(&txn, actor, "service.cancellation_withdrawn", Some(("service", id.0)), "Cancellation withdrawn")
        .await?;
    txn.commit().await?;
    Ok(())
}

/// What staff do with an open request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// End the service now (terminated on its server first when it is live there).
    CancelNow,
    /// Keep the service; the request is closed as rejected.
    Reject,
}

impl Resolution {
    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "cancel_now" => Some(Resolution::CancelNow),
            "reject" => Some(Resolution::Reject),
            _ => None,
        }
    }
}

/// Closes open request `request` of service `id` as `status`; returns the rows changed (0 when
/// it is not open, or not this service's).
async fn close(
    txn: &impl ConnectionTrait,
    id: ServiceId,
    request: Option<CancellationRequestId>,
    status: &str,
) -> Result<u64, DbErr> {
    let mut update = Query::update();
    update
        .table(cancellation::Entity)
        .value(cancellation::Column::Status, status)
        .value(cancellation::Column::ResolvedAt, Utc::now())
        .and_where(Expr::col(cancellation::Column::ServiceId).eq(id))
        .and_where(Expr::col(cancellation::Column::Status).eq(OPEN));
    if let Some(request) = request {
        update.and_where(Expr::col(cancellation::Column::Id).eq(request));
    }
    Ok(txn.execute(&update).await?.rows_affected())
}

/// What acting on a request did: done, or queued because the service must first be removed
/// from its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Done,
    Queued,
}

/// Staff act on open request `request` of service `id` (from a job, `ctx` is its claim).
#[tracing::instrument(skip_all, fields(service.id = %id, request.id = %request))]
pub async fn resolve(
    state: &AppState,
    ctx: Option<&JobContext>,
    actor: &Actor,
    id: ServiceId,
    request: CancellationRequestId,
    resolution: Resolution,
) -> Result<Resolved, ServiceError> {
    let found = cancellation::Entity::find_by_id(request)
        .one(&state.db)
        .await?
        .filter(|r| r.service_id == id)
        .ok_or(ServiceError::NotFound)?;
    if found.status != OPEN {
        return Err(ServiceError::NotAllowed(format!(
            "This request is already {}.",
            status_label(&found.status).to_lowercase()
        )));
    }
    if resolution == Resolution::Reject {
        let txn = state.db.begin().await?;
        if close(&txn, id, Some(request), REJECTED).await? != 1 {
            return Err(ServiceError::NotAllowed("The request was resolved meanwhile; reload the page.".into()));
        }
        audit::record(&txn, actor, "service.cancellation_rejected", Some(("service", id.0)), "Cancellation rejected")
            .await?;
        txn.commit().await?;
        return Ok(Resolved::Done);
    }
    let s = store::find(&state.db, id).await?.ok_or(ServiceError::NotFound)?;
    let mut status = Status::parse(&s.status).ok_or_else(|| anyhow::anyhow!("service {id}: bad status"))?;
    // A service live on a server is removed from it first, by a job (the module call cannot
    // sit in a web request or a transaction); if that fails, the request stays open and the
    // service unchanged.
    if matches!(status, Status::Active | Status::Suspended) {
        let Some(ctx) = ctx else {
            let job = CancelAtPeriodEnd { service_id: id, request_id: request, actor: Some(actor.into()) };
            jobs::enqueue(&state.db, &job, Enqueue::default().about(format!("service:{id}"))).await?;
            state.jobs_wakeup.notify_one();
            return Ok(Resolved::Queued);
        };
        status = lifecycle::run(state, Some(ctx), actor, id, Command::Terminate).await?;
    }
    let today = crate::invoices::service::today(&state.db).await?;
    let txn = state.db.begin().await?;
    if matches!(status, Status::Pending | Status::Terminated) {
        match lifecycle::mark_ended(&txn, actor, id, Status::Cancelled, today).await {
            Ok(()) => {}
            Err(LifecycleError::NotAllowed(message)) => return Err(ServiceError::NotAllowed(message)),
            Err(err) => return Err(err.into()),
        }
    }
    if close(&txn, id, Some(request), DONE).await? != 1 {
        return Err(ServiceError::NotAllowed("The request was resolved meanwhile; reload the page.".into()));
    }
    if let Some(ctx) = ctx {
        ctx.fence(&txn).await.map_err(|e| ServiceError::Internal(anyhow::Error::from(e)))?;
    }
    audit::record(
        &txn,
        actor,
        "service.cancellation_done",
        Some(("service", id.0)),
        "Cancellation request acted on: service cancelled",
    )
    .await?;
    txn.commit().await?;
    Ok(Resolved::Done)
}

/// A service's requests, newest first.
pub async fn for_service(db: &impl ConnectionTrait, id: ServiceId) -> Result<Vec<cancellation::Model>, DbErr> {
    cancellation::Entity::find()
        .filter(cancellation::Column::ServiceId.eq(id))
        .order_by_desc(cancellation::Column::Id)
        .limit(50)
        .all(db)
        .await
}

/// Open requests, oldest first (the order staff work through them).
pub async fn open_requests(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<cancellation::Model>, DbErr> {
    cancellation::Entity::find()
        .filter(cancellation::Column::Status.eq(OPEN))
        .order_by_asc(cancellation::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_at_the_end_of_the_period_names_the_day() {
        let due = NaiveDate::from_ymd_opt(2026, 12, 1);
        assert_eq!(describe("end_of_period", due), "Ends on 2026-12-01");
        assert_eq!(describe("end_of_period", None), "At the end of the billing period");
        assert_eq!(describe("immediate", due), "Immediately");
        assert_eq!(Resolution::parse("cancel_now"), Some(Resolution::CancelNow));
        assert_eq!(Resolution::parse("delete"), None);
    }
}

/// Carry out a cancellation request: an end-of-period one whose period has ended, or one
/// staff chose to act on now for a service live on a server (`actor` is then theirs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelAtPeriodEnd {
    pub service_id: ServiceId,
    pub request_id: CancellationRequestId,
    #[serde(default)]
    pub actor: Option<crate::audit::ActorRecord>,
}

impl Job for CancelAtPeriodEnd {
    const KIND: &'static str = "service.cancel_at_period_end";
    const TIMEOUT: std::time::Duration = MODULE_JOB_TIMEOUT;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let who = self.actor.as_ref().map_or_else(|| Actor::system("automation"), crate::audit::ActorRecord::actor);
        let result =
            resolve(&ctx.state, Some(ctx), &who, self.service_id, self.request_id, Resolution::CancelNow).await;
        match result {
            Ok(_) | Err(ServiceError::NotFound | ServiceError::NotAllowed(_)) => Ok(()),
            Err(ServiceError::Invalid(errors)) => Err(JobError::Permanent(errors.to_string())),
            Err(ServiceError::Module(message)) => Err(JobError::Permanent(message)),
            Err(ServiceError::Internal(err)) => Err(JobError::Retry(err)),
        }
    }
}
