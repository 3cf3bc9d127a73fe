//! What staff do with orders: accept (set up every service through its provisioning module),
//! cancel (services ended, stock and coupon given back, the unpaid invoice cancelled), mark as
//! fraud, delete a pending order; and the orders list.
//!
//! Each status change is one guarded UPDATE (`WHERE status = 'pending'` …), so two staff
//! pressing "Accept" at once accept once.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{Condition, QueryOrder, QuerySelect, QueryTrait, TransactionTrait};

use super::coupons;
use super::model::order;
use crate::audit::ActorRecord;
use crate::audit::{self, Actor};
use crate::catalog::model::product;
use crate::ids::{ClientId, InvoiceId, OrderId};
use crate::invoices::service as invoices;
use crate::invoices::status::InvoiceStatus;
use crate::jobs::{self, Enqueue, Job, JobContext, JobError};
use crate::orders::status::OrderStatus;
use crate::provisioning::Command;
use crate::services::lifecycle::{self, LifecycleError};
use crate::services::model::{service, service_addon};
use crate::services::status::Status;
use crate::services::store as services;
use crate::state::AppState;
use crate::web::AppError;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<OrderError> for AppError {
    fn from(err: OrderError) -> Self {
        match err {
            OrderError::NotFound => AppError::NotFound,
            OrderError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for OrderError {
    fn from(err: DbErr) -> Self {
        OrderError::Internal(anyhow::Error::new(err).context("database"))
    }
}

pub async fn find(db: &impl ConnectionTrait, id: OrderId) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find_by_id(id).one(db).await
}

/// Moves the order from one of `from` to `to`; false when it was not in one of them.
async fn move_status(
    txn: &impl ConnectionTrait,
    id: OrderId,
    from: &[OrderStatus],
    to: OrderStatus,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let mut update = Query::update();
    update
        .table(order::Entity)
        .value(order::Column::Status, to)
        .value(order::Column::UpdatedAt, now)
        .and_where(Expr::col(order::Column::Id).eq(id))
        .and_where(Expr::col(order::Column::Status).is_in(from.iter().copied()));
    match to {
        OrderStatus::Active => {
            update.value(order::Column::AcceptedAt, now);
        }
        OrderStatus::Cancelled | OrderStatus::Fraud => {
            update.value(order::Column::CancelledAt, now);
        }
        _ => {}
    }
    Ok(txn.execute(&update).await?.rows_affected() == 1)
}

/// What accepting queued: one create per pending service, run by the workers (their outcome
/// shows on each service's page and, if they fail, on the queue page).
#[derive(Debug, Default)]
pub struct Accepted {
    pub queued: usize,
}

/// Accepts a pending order and queues the module "create" for each of its services, in the
/// same transaction (queued once per service, however often the order is accepted).
pub async fn accept(state: &AppState, actor: &Actor, id: OrderId) -> Result<Accepted, OrderError> {
    let current = find(&state.db, id).await?.ok_or(OrderError::NotFound)?;
    let txn = state.db.begin().await?;
    if !move_status(&txn, id, &[OrderStatus::Pending], OrderStatus::Active).await? {
        return Err(OrderError::NotAllowed(format!("Order {} is not pending.", current.number)));
    }
    let addons = Query::update()
        .table(service_addon::Entity)
        .value(service_addon::Column::Status, Status::Active.key())
        .value(service_addon::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(service_addon::Column::OrderId).eq(id))
        .and_where(Expr::col(service_addon::Column::Status).eq(Status::Pending.key()))
        .to_owned();
    txn.execute(&addons).await?;
    audit::record(&txn, actor, "order.accepted", Some(("order", id.0)), format!("Accepted order {}", current.number))
        .await?;
    let mut outcome = Accepted::default();
    for s in services::for_order(&txn, id).await? {
        if s.status != Status::Pending.key() {
            continue;
        }
        match lifecycle::request(&txn, actor, s.id, Command::Create, Some(format!("service.create:{}", s.id))).await {
            Ok(()) => outcome.queued += 1,
            Err(LifecycleError::NotFound | LifecycleError::NotAllowed(_)) => {}
            Err(err) => return Err(OrderError::Internal(anyhow::Error::new(err))),
        }
    }
    txn.commit().await?;
    state.jobs_wakeup.notify_one();
    Ok(outcome)
}

/// How staff's cancel or fraud ended: done, or queued because services must first be removed
/// from their servers (a job does that, then closes the order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    Done,
    Queued,
}

/// Cancels a pending or active order: live services are terminated and closed, stock and the
/// coupon's use are given back, and an invoice nobody paid is cancelled.
pub async fn cancel(state: &AppState, actor: &Actor, id: OrderId) -> Result<Closing, OrderError> {
    request_close(state, actor, id, OrderStatus::Cancelled).await
}

/// Marks a pending order as fraud: nothing was set up, nothing will be.
pub async fn mark_fraud(state: &AppState, actor: &Actor, id: OrderId) -> Result<Closing, OrderError> {
    request_close(state, actor, id, OrderStatus::Fraud).await
}

/// The statuses an order may be closed from, and what its services become.
fn closing(to: OrderStatus) -> (&'static [OrderStatus], Status) {
    if to == OrderStatus::Fraud {
        (&[OrderStatus::Pending], Status::Fraud)
    } else {
        (&[OrderStatus::Pending, OrderStatus::Active], Status::Cancelled)
    }
}

/// Closes the order now when none of its services is on a server; otherwise queues
/// [`CloseOrder`], which terminates them first.
async fn request_close(state: &AppState, actor: &Actor, id: OrderId, to: OrderStatus) -> Result<Closing, OrderError> {
    let current = find(&state.db, id).await?.ok_or(OrderError::NotFound)?;
    let (from, _) = closing(to);
    if !from.contains(&current.status) {
        return Err(OrderError::NotAllowed(format!(
            "Order {} is {}; it cannot be changed so.",
            current.number, current.status
        )));
    }
    let live = services::for_order(&state.db, id)
        .await?
        .iter()
        .any(|s| matches!(Status::parse(&s.status), Some(Status::Active | Status::Suspended)));
    if !live {
        close_now(state, None, actor, id, to).await?;
        return Ok(Closing::Done);
    }
    let job = CloseOrder { order_id: id, to, actor: actor.into() };
    jobs::enqueue(&state.db, &job, Enqueue::default().about(format!("order:{id}"))).await?;
    state.jobs_wakeup.notify_one();
    Ok(Closing::Queued)
}

/// Close an order whose services are on servers: terminate them, then close it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloseOrder {
    pub order_id: OrderId,
    /// `Cancelled` or `Fraud`.
    pub to: OrderStatus,
    pub actor: ActorRecord,
}

impl Job for CloseOrder {
    const KIND: &'static str = "order.close";
    const TIMEOUT: std::time::Duration = crate::provisioning::jobs::MODULE_JOB_TIMEOUT;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        match close_now(&ctx.state, Some(ctx), &self.actor.actor(), self.order_id, self.to).await {
            Ok(()) | Err(OrderError::NotFound) => Ok(()),
            Err(OrderError::NotAllowed(message)) => Err(JobError::Permanent(message)),
            Err(OrderError::Internal(err)) => Err(JobError::Retry(err)),
        }
    }
}

/// Closes an order as `to` (cancelled or fraud); called from a job when services are live, as
/// their module calls must not run inside a web request.
pub async fn close_now(
    state: &AppState,
    ctx: Option<&JobContext>,
    actor: &Actor,
    id: OrderId,
    to: OrderStatus,
) -> Result<(), OrderError> {
    let (from, service_status) = closing(to);
    let current = find(&state.db, id).await?.ok_or(OrderError::NotFound)?;
    if !from.contains(&current.status) {
        return Err(OrderError::NotAllowed(format!(
            "Order {} is {}; it cannot be changed so.",
            current.number, current.status
        )));
    }
    // Services on a server are removed there first; a module failure stops here with
    // nothing else changed, and the job is retried or kept failed for staff.
    let ordered = services::for_order(&state.db, id).await?;
    for s in &ordered {
        if matches!(Status::parse(&s.status), Some(Status::Active | Status::Suspended)) {
            match lifecycle::run(state, ctx, actor, s.id, Command::Terminate).await {
                Ok(_) => {}
                Err(LifecycleError::Module { message, retry: true }) => {
                    return Err(OrderError::Internal(anyhow::anyhow!("service #{}: {message}", s.id)));
                }
                Err(err) => return Err(OrderError::NotAllowed(format!("Service #{}: {err}", s.id))),
            }
        }
    }
    let today = invoices::today(&state.db).await?;
    let txn = state.db.begin().await?;
    if !move_status(&txn, id, from, to).await? {
        return Err(OrderError::NotAllowed("The order changed meanwhile; reload it.".into()));
    }
    for s in services::for_order(&txn, id).await? {
        if matches!(Status::parse(&s.status), Some(Status::Pending | Status::Terminated)) {
            lifecycle::mark_ended(&txn, actor, s.id, service_status, today)
                .await
                .map_err(|e| OrderError::NotAllowed(e.to_string()))?;
        }
    }
    restore_stock(&txn, id).await?;
    coupons::release_use(&txn, id).await?;
    let invoice_note = cancel_unpaid_invoice(&txn, current.invoice_id).await?;
    audit::record(
        &txn,
        actor,
        &format!("order.{to}"),
        Some(("order", id.0)),
        format!("Order {} marked {to}{invoice_note}", current.number),
    )
    .await?;
    if let Some(ctx) = ctx {
        ctx.fence(&txn).await.map_err(|e| OrderError::Internal(anyhow::Error::from(e)))?;
    }
    txn.commit().await?;
    Ok(())
}

/// Cancels the order's invoice if nothing was paid on it; says what happened.
async fn cancel_unpaid_invoice(txn: &impl ConnectionTrait, invoice_id: Option<InvoiceId>) -> Result<String, DbErr> {
    let Some(invoice_id) = invoice_id else { return Ok(String::new()) };
    Ok(if invoices::cancel_untouched(txn, invoice_id).await? {
        "; its unpaid invoice was cancelled".into()
    } else {
        "; its invoice was paid (issue a credit note to refund it)".into()
    })
}

/// Deletes a pending order with its services (never set up); stock and the coupon's use are
/// given back and its invoice, which keeps its number, is cancelled.
pub async fn delete(state: &AppState, actor: &Actor, id: OrderId) -> Result<String, OrderError> {
    let current = find(&state.db, id).await?.ok_or(OrderError::NotFound)?;
    if current.status != OrderStatus::Pending {
        return Err(OrderError::NotAllowed("Only pending orders can be deleted; cancel this one instead.".into()));
    }
    let ordered = services::for_order(&state.db, id).await?;
    if ordered.iter().any(|s| s.status != Status::Pending.key()) {
        return Err(OrderError::NotAllowed("A service of this order was set up; cancel the order instead.".into()));
    }
    let txn = state.db.begin().await?;
    // Claim the order first (the first statement writes, see `checkout`).
    if !move_status(&txn, id, &[OrderStatus::Pending], OrderStatus::Pending).await? {
        return Err(OrderError::NotAllowed("The order changed meanwhile; reload it.".into()));
    }
    restore_stock(&txn, id).await?;
    coupons::release_use(&txn, id).await?;
    let invoice_note = cancel_unpaid_invoice(&txn, current.invoice_id).await?;
    let deleted = order::Entity::delete_many()
        .filter(order::Column::Id.eq(id))
        .filter(order::Column::Status.eq(OrderStatus::Pending))
        .exec(&txn)
        .await?;
    if deleted.rows_affected != 1 {
        return Err(OrderError::NotAllowed("The order changed meanwhile; reload it.".into()));
    }
    audit::record(
        &txn,
        actor,
        "order.deleted",
        Some(("order", id.0)),
        format!("Deleted pending order {} of client #{}{invoice_note}", current.number, current.client_id),
    )
    .await?;
    txn.commit().await?;
    Ok(current.number)
}

/// After an invoice was paid: accept the order it belongs to when the setting says so.
pub async fn after_invoice_paid(state: &AppState, invoice_id: InvoiceId) -> Result<(), OrderError> {
    let settings = crate::site_settings::ordering::load(&state.db).await?;
    if !settings.auto_accept_paid {
        return Ok(());
    }
    let pending = order::Entity::find()
        .filter(order::Column::InvoiceId.eq(invoice_id))
        .filter(order::Column::Status.eq(OrderStatus::Pending))
        .all(&state.db)
        .await?;
    for o in pending {
        accept_automatically(state, o.id).await?;
    }
    Ok(())
}

/// The admin list's filters.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub status: Option<OrderStatus>,
    pub client_id: Option<ClientId>,
    /// An order number (exact).
    pub number: Option<String>,
    pub page: u64,
}

pub const PER_PAGE: u64 = 50;

pub async fn search(db: &impl ConnectionTrait, q: &OrderQuery) -> Result<(Vec<order::Model>, u64), DbErr> {
    let mut condition = Condition::all();
    if let Some(status) = q.status {
        condition = condition.add(order::Column::Status.eq(status));
    }
    if let Some(client_id) = q.client_id {
        condition = condition.add(order::Column::ClientId.eq(client_id));
    }
    if let Some(number) = &q.number {
        condition = condition.add(order::Column::Number.eq(number.as_str()));
    }
    let base = order::Entity::find().filter(condition);
    let capped = base.clone().select_only().column(order::Column::Id).limit(invoices::COUNT_CAP + 1).into_query();
    let count = Query::select().expr(Expr::cust("COUNT(*)")).from_subquery(capped, "capped").to_owned();
    let total = match db.query_one(&count).await? {
        Some(row) => u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0),
        None => 0,
    };
    let rows = base
        .order_by_desc(order::Column::Id)
        .offset(crate::web::forms::page_offset(q.page, PER_PAGE))
        .limit(PER_PAGE)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The services of an order with their product names.
pub async fn services_of(db: &impl ConnectionTrait, id: OrderId) -> Result<Vec<service::Model>, DbErr> {
    services::for_order(db, id).await
}

/// Gives stock back for the units of `order_id`'s services (a cancelled or deleted order).
async fn restore_stock(txn: &impl ConnectionTrait, order_id: OrderId) -> Result<(), DbErr> {
    let ordered = services::for_order(txn, order_id).await?;
    let mut units: std::collections::BTreeMap<crate::ids::ProductId, i32> = Default::default();
    for s in &ordered {
        *units.entry(s.product_id).or_insert(0) += 1;
    }
    for (product_id, n) in units {
        let update = Query::update()
            .table(product::Entity)
            .value(product::Column::StockQuantity, Expr::col(product::Column::StockQuantity).add(n))
            .and_where(Expr::col(product::Column::Id).eq(product_id))
            .and_where(Expr::col(product::Column::StockEnabled).eq(true))
            .to_owned();
        txn.execute(&update).await?;
    }
    Ok(())
}

/// Accepts a paid order automatically. An order that is no longer pending (staff accepted or
/// cancelled it meanwhile) is left as it is; any other failure is returned, so the job that
/// asked fails, is retried and shows on the Queue page until it succeeds.
pub(crate) async fn accept_automatically(state: &AppState, id: OrderId) -> Result<(), OrderError> {
    let actor = Actor::system("automatic order acceptance");
    match accept(state, &actor, id).await {
        Ok(_) | Err(OrderError::NotFound) => Ok(()),
        Err(OrderError::NotAllowed(why)) => {
            tracing::info!(order = %id, reason = %why, "automatic acceptance found nothing to do");
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// Accept an order that had nothing to pay (queued with it, so a failure is retried).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptOrder {
    pub order_id: OrderId,
}

impl AcceptOrder {
    /// Queues the acceptance of `order_id` in the caller's transaction, once per order.
    pub async fn enqueue(txn: &impl ConnectionTrait, order_id: OrderId) -> Result<(), DbErr> {
        jobs::enqueue(txn, &AcceptOrder { order_id }, Enqueue::unique(format!("order.accept:{order_id}"))).await?;
        Ok(())
    }
}

impl Job for AcceptOrder {
    const KIND: &'static str = "order.accept";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        accept_automatically(&ctx.state, self.order_id)
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("accepting order #{}: {e:#}", self.order_id)))
    }
}

/// Cancel an order nobody paid anything for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelUnpaidOrder {
    pub order_id: OrderId,
}

impl Job for CancelUnpaidOrder {
    const KIND: &'static str = "order.cancel_unpaid";
    const TIMEOUT: std::time::Duration = crate::provisioning::jobs::MODULE_JOB_TIMEOUT;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(order) = find(&state.db, self.order_id).await? else { return Ok(()) };
        if order.status != OrderStatus::Pending {
            return Ok(());
        }
        if let Some(invoice_id) = order.invoice_id {
            match invoices::find(&state.db, invoice_id).await? {
                Some(i) if i.status == InvoiceStatus::Unpaid && i.received_minor() == 0 => {}
                _ => return Ok(()),
            }
        }
        let actor = Actor::system("automation");
        match close_now(state, Some(ctx), &actor, self.order_id, OrderStatus::Cancelled).await {
            Ok(()) | Err(OrderError::NotFound | OrderError::NotAllowed(_)) => Ok(()),
            Err(OrderError::Internal(err)) => Err(JobError::Retry(err)),
        }
    }
}
