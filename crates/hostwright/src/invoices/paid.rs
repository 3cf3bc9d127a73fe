//! `invoice.paid`: what an invoice announces when it is paid in full. Whatever pays an invoice
//! in full queues an [`InvoicePaid`] job in the same transaction (`service::receive`, credit
//! notes), so what follows happens once the payment is committed, on whichever node's worker
//! claims it, once per invoice. What follows crosses domains (orders, upgrades, renewals,
//! funds): the job runs in `workflows::invoice_paid`.

use serde::{Deserialize, Serialize};

use crate::ids::InvoiceId;
use crate::jobs::Enqueue;

/// The follow-ups of invoice `invoice_id` being paid in full.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoicePaid {
    pub invoice_id: InvoiceId,
}

/// Queues the follow-ups of invoice `id` being paid in full, in the caller's transaction;
/// once per invoice.
pub async fn enqueue(txn: &impl sea_orm::ConnectionTrait, id: InvoiceId) -> Result<(), sea_orm::DbErr> {
    crate::jobs::enqueue(txn, &InvoicePaid { invoice_id: id }, Enqueue::unique(format!("invoice.paid:{id}"))).await?;
    Ok(())
}
