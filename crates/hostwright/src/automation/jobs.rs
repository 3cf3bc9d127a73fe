//! The jobs the daily run and payments queue for what touches a customer's service: an
//! overdue service suspended or terminated through its provisioning module, a paid one
//! unsuspended, a cancellation request carried out at the end of its period, an unpaid order
//! cancelled. Each checks, when it runs, that the reason it was queued for still holds (the
//! client may have paid meanwhile, staff may have acted), so a late or repeated run does
//! nothing.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::ids::{CancellationRequestId, InvoiceId, OrderId, ServiceId};
use crate::invoices::service::UNPAID;
use crate::jobs::{Job, JobContext, JobError};
use crate::provisioning::Command;
use crate::services::cancellations::{self, Resolution};
use crate::services::lifecycle::{self, LifecycleError};
use crate::services::service::ServiceError;
use crate::services::status::Status;
use crate::services::store;

/// The suspension reason the daily run gives; only services suspended for it are
/// unsuspended when paid.
pub const OVERDUE_REASON: &str = "Overdue: unpaid invoice";

fn actor() -> Actor {
    Actor::system("automation")
}

/// What the module call's failure means for the job: a refusal because the service moved on
/// is the end of it; anything else is worth retrying, and shows on the queue page.
fn outcome(result: Result<Status, LifecycleError>) -> Result<(), JobError> {
    match result {
        Ok(_) | Err(LifecycleError::NotFound | LifecycleError::NotAllowed(_)) => Ok(()),
        Err(LifecycleError::Module(message)) => Err(JobError::Retry(anyhow::anyhow!("{message}"))),
        Err(LifecycleError::Internal(err)) => Err(JobError::Retry(err)),
    }
}

/// Suspend (or terminate) a service that is still unpaid since `due`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overdue {
    pub service_id: ServiceId,
    /// The due date left unpaid; once the service is paid past it, nothing happens.
    pub due: NaiveDate,
    pub terminate: bool,
}

impl Job for Overdue {
    const KIND: &'static str = "service.overdue";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(s) = store::find(&state.db, self.service_id).await? else { return Ok(()) };
        if s.next_due_date != Some(self.due) {
            return Ok(());
        }
        let status = Status::parse(&s.status);
        let command = match (self.terminate, status) {
            (true, Some(Status::Active | Status::Suspended)) => Command::Terminate,
            (false, Some(Status::Active)) => Command::Suspend { reason: OVERDUE_REASON.into() },
            _ => return Ok(()),
        };
        outcome(lifecycle::run(state, &actor(), self.service_id, command).await)
    }
}

/// Unsuspend a service suspended for non-payment once invoice `invoice_id` paid it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unsuspend {
    pub service_id: ServiceId,
    pub invoice_id: InvoiceId,
}

impl Job for Unsuspend {
    const KIND: &'static str = "service.unsuspend_paid";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(s) = store::find(&state.db, self.service_id).await? else { return Ok(()) };
        // Staff suspensions, for abuse or anything else, stay.
        if s.status != Status::Suspended.key() || s.suspend_reason != OVERDUE_REASON {
            return Ok(());
        }
        outcome(lifecycle::run(state, &actor(), self.service_id, Command::Unsuspend).await)
    }
}

/// Carry out an end-of-period cancellation request whose period has ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelAtPeriodEnd {
    pub service_id: ServiceId,
    pub request_id: CancellationRequestId,
}

impl Job for CancelAtPeriodEnd {
    const KIND: &'static str = "service.cancel_at_period_end";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let result =
            cancellations::resolve(&ctx.state, &actor(), self.service_id, self.request_id, Resolution::CancelNow).await;
        match result {
            Ok(()) | Err(ServiceError::NotFound | ServiceError::NotAllowed(_)) => Ok(()),
            Err(ServiceError::Invalid(errors)) => Err(JobError::Permanent(errors.to_string())),
            Err(ServiceError::Internal(err)) => Err(JobError::Retry(err)),
        }
    }
}

/// Cancel an order nobody paid anything for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelUnpaidOrder {
    pub order_id: OrderId,
}

impl Job for CancelUnpaidOrder {
    const KIND: &'static str = "order.cancel_unpaid";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        use crate::orders::manage::{self, OrderError};
        let state = &ctx.state;
        let Some(order) = manage::find(&state.db, self.order_id).await? else { return Ok(()) };
        if order.status != manage::PENDING {
            return Ok(());
        }
        if let Some(invoice_id) = order.invoice_id {
            match crate::invoices::service::find(&state.db, invoice_id).await? {
                Some(i) if i.status == UNPAID && i.received_minor() == 0 => {}
                _ => return Ok(()),
            }
        }
        match manage::cancel(state, &actor(), self.order_id).await {
            Ok(()) | Err(OrderError::NotFound | OrderError::NotAllowed(_)) => Ok(()),
            Err(OrderError::Internal(err)) => Err(JobError::Retry(err)),
        }
    }
}
