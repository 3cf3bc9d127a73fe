//! What follows an invoice being paid in full: the order it belongs to is accepted (when the
//! ordering settings say so) and the service change it was for is applied.
//!
//! The pages that take payments call this after the payment committed, so the invoice use
//! cases stay below orders and services. A failure is logged and left for staff; it never
//! undoes the payment, and each follow-up is guarded by status, so a repeat does nothing. With
//! the job queue these become jobs enqueued in the payment's own transaction.

use super::service::{self, PAID};
use crate::ids::InvoiceId;
use crate::state::AppState;

pub async fn after_paid(state: &AppState, id: InvoiceId) {
    match service::find(&state.db, id).await {
        Ok(Some(invoice)) if invoice.status == PAID => {}
        Ok(_) => return,
        Err(err) => {
            tracing::warn!(invoice = %id, error = %err, "reading a paid invoice failed");
            return;
        }
    }
    if let Err(err) = crate::orders::manage::after_invoice_paid(state, id).await {
        tracing::warn!(invoice = %id, error = %err, "accepting the order of a paid invoice failed");
    }
    if let Err(err) = crate::services::upgrades::after_invoice_paid(state, id).await {
        tracing::warn!(invoice = %id, error = %err, "applying the upgrade of a paid invoice failed");
    }
}
