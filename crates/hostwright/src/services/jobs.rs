//! The jobs the daily run and payments queue for what touches a customer's service: an
//! overdue service suspended or terminated through its provisioning module, a paid one
//! unsuspended, a cancellation request carried out at the end of its period. Each checks,
//! when it runs, that the reason it was queued for still holds (the client may have paid
//! meanwhile, staff may have acted), so a late or repeated run does nothing.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::lifecycle::{self, outcome};
use super::status::Status;
use super::store;
use crate::audit::Actor;
use crate::ids::{InvoiceId, ServiceId};
use crate::jobs::{Job, JobContext, JobError};
use crate::provisioning::Command;
use crate::provisioning::jobs::MODULE_JOB_TIMEOUT;

/// The suspension reason the daily run gives; only services suspended for it are
/// unsuspended when paid.
pub const OVERDUE_REASON: &str = "Overdue: unpaid invoice";

fn actor() -> Actor {
    Actor::system("automation")
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
    const TIMEOUT: std::time::Duration = MODULE_JOB_TIMEOUT;

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
        outcome(lifecycle::run(state, Some(ctx), &actor(), self.service_id, command).await)
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
    const TIMEOUT: std::time::Duration = MODULE_JOB_TIMEOUT;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(s) = store::find(&state.db, self.service_id).await? else { return Ok(()) };
        // Staff suspensions, for abuse or anything else, stay.
        if s.status != Status::Suspended.key() || s.suspend_reason != OVERDUE_REASON {
            return Ok(());
        }
        outcome(lifecycle::run(state, Some(ctx), &actor(), self.service_id, Command::Unsuspend).await)
    }
}
