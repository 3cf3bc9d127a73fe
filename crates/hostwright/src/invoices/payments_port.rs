//! What invoices need from payments, which sit above them: giving a credit note's money back
//! to the cards an invoice was paid with, the refunds a credit note asked for, how a client
//! may pay an invoice, and how much a client may add to their account credit.
//!
//! Invoices name the need; `payments` meets it (`payments::for_invoices::Payments`), and the
//! composition root hands that type to [`super::router`]. So invoices never import payments,
//! and payments keep building on invoices.

use std::future::Future;

use hostwright_core::{Currency, Money};
use minijinja::Value;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use super::model::invoice;
use crate::audit::Actor;
use crate::ids::{CreditNoteId, GatewayPaymentId, InvoiceId};
use crate::state::AppState;

/// A card refund a credit note asked for, as its page shows it.
#[derive(Debug, Clone)]
pub struct NoteRefund {
    pub payment_id: GatewayPaymentId,
    pub amount_minor: i64,
    pub status_label: &'static str,
}

pub trait PaymentsPort: Send + Sync + 'static {
    /// What of invoice `invoice_id`'s card payments can still go back to the cards.
    fn card_refundable(
        db: &DatabaseConnection,
        invoice_id: InvoiceId,
    ) -> impl Future<Output = Result<i64, DbErr>> + Send;

    /// Refunds `amount_minor` of invoice `invoice_id` to its cards for credit note `note`, in
    /// the note's transaction; `Err` holds what can be refunded that way when it is less.
    fn refund_to_cards(
        txn: &DatabaseTransaction,
        actor: &Actor,
        invoice_id: InvoiceId,
        note: CreditNoteId,
        amount_minor: i64,
    ) -> impl Future<Output = Result<Result<(), i64>, DbErr>> + Send;

    /// The card refunds credit note `note` asked for.
    fn refunds_of_note(
        db: &DatabaseConnection,
        note: CreditNoteId,
    ) -> impl Future<Output = Result<Vec<NoteRefund>, DbErr>> + Send;

    /// How the client may pay `invoice` now (the client's invoice page shows it).
    fn pay_options(state: &AppState, invoice: &invoice::Model) -> impl Future<Output = Result<Value, DbErr>> + Send;

    /// The least and most a client may add to their account credit in `currency`, or `None`
    /// when adding funds is not offered in it.
    fn add_funds_range(
        db: &DatabaseConnection,
        currency: Currency,
    ) -> impl Future<Output = Result<Option<(Money, Money)>, DbErr>> + Send;
}
