//! What follows an invoice being paid in full: the order it belongs to is accepted (when the
//! ordering settings say so), the service change it was for is applied, the services it
//! renewed are paid up to the end of their periods, and funds it added reach the account
//! credit.
//!
//! Whatever pays an invoice in full queues an [`InvoicePaid`] job in the same transaction
//! (`service::receive`, credit notes), so the follow-ups happen once the payment is committed,
//! on whichever node's worker claims it. A follow-up that fails fails the job, which is
//! retried and shows on the Queue page; none swallows its error. Each follow-up is guarded by
//! status, so a repeat does nothing.

use serde::{Deserialize, Serialize};

use super::service::{self, PAID};
use crate::ids::InvoiceId;
use crate::jobs::{Enqueue, Job, JobContext, JobError};

/// The follow-ups of invoice `invoice_id` being paid in full.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoicePaid {
    pub invoice_id: InvoiceId,
}

impl Job for InvoicePaid {
    const KIND: &'static str = "invoice.paid";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let id = self.invoice_id;
        match service::find(&state.db, id).await? {
            Some(invoice) if invoice.status == PAID => {}
            // Refunded or cancelled since: nothing follows any more.
            _ => return Ok(()),
        }
        crate::orders::manage::after_invoice_paid(state, id)
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("accepting the order of invoice {id}: {e:#}")))?;
        crate::services::upgrades::after_invoice_paid(state, id)
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("applying the change paid by invoice {id}: {e:#}")))?;
        crate::automation::renewals::after_invoice_paid(state, id)
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("renewing the services of invoice {id}: {e:#}")))?;
        super::add_funds::after_invoice_paid(state, id)
            .await
            .map_err(|e| JobError::Retry(e.context(format!("adding the funds of invoice {id}"))))?;
        Ok(())
    }
}

/// Queues the follow-ups of invoice `id` being paid in full, in the caller's transaction;
/// once per invoice.
pub async fn enqueue(txn: &impl sea_orm::ConnectionTrait, id: InvoiceId) -> Result<(), sea_orm::DbErr> {
    crate::jobs::enqueue(txn, &InvoicePaid { invoice_id: id }, Enqueue::unique(format!("invoice.paid:{id}"))).await?;
    Ok(())
}
