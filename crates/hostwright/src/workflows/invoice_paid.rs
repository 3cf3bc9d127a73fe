//! What follows an invoice being paid in full: the order it belongs to is accepted (when the
//! ordering settings say so), the service change it was for is applied, the services it
//! renewed are paid up to the end of their periods, and funds it added reach the account
//! credit.
//!
//! A follow-up that fails fails the job, which is retried and shows on the Queue page; none
//! swallows its error. Each follow-up is guarded by status, so a repeat does nothing.

use crate::invoices::paid::InvoicePaid;
use crate::invoices::service;
use crate::invoices::status::InvoiceStatus;
use crate::jobs::{Job, JobContext, JobError};

impl Job for InvoicePaid {
    const KIND: &'static str = "invoice.paid";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let id = self.invoice_id;
        match service::find(&state.db, id).await? {
            Some(invoice) if invoice.status == InvoiceStatus::Paid => {}
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
        crate::invoices::account_credit::add_funds::after_invoice_paid(state, id)
            .await
            .map_err(|e| JobError::Retry(e.context(format!("adding the funds of invoice {id}"))))?;
        Ok(())
    }
}
