//! Payments meeting what invoices ask of them (`invoices::payments_port`): card refunds for
//! credit notes, the ways to pay an invoice, and the add-funds limits of account credit.

use hostwright_core::{Currency, Money};
use minijinja::Value;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use super::{gateways, handlers, refunds};
use crate::audit::Actor;
use crate::ids::{CreditNoteId, InvoiceId};
use crate::invoices::model::invoice;
use crate::invoices::payments_port::{NoteRefund, PaymentsPort};
use crate::state::AppState;

/// The payments invoices are wired to.
pub struct Payments;

impl PaymentsPort for Payments {
    async fn card_refundable(db: &DatabaseConnection, invoice_id: InvoiceId) -> Result<i64, DbErr> {
        Ok(refunds::refundable_for_invoice(db, invoice_id).await?.iter().map(|(_, left)| left).sum())
    }

    async fn refund_to_cards(
        txn: &DatabaseTransaction,
        actor: &Actor,
        invoice_id: InvoiceId,
        note: CreditNoteId,
        amount_minor: i64,
    ) -> Result<Result<(), i64>, DbErr> {
        refunds::for_credit_note(txn, actor, invoice_id, note, amount_minor).await
    }

    async fn refunds_of_note(db: &DatabaseConnection, note: CreditNoteId) -> Result<Vec<NoteRefund>, DbErr> {
        Ok(refunds::of_credit_note(db, note)
            .await?
            .into_iter()
            .map(|r| NoteRefund {
                payment_id: r.payment_id,
                amount_minor: r.amount_minor,
                status_label: refunds::status_label(&r.status),
            })
            .collect())
    }

    async fn pay_options(state: &AppState, invoice: &invoice::Model) -> Result<Value, DbErr> {
        handlers::pay_options(state, invoice).await
    }

    async fn add_funds_range(db: &DatabaseConnection, currency: Currency) -> Result<Option<(Money, Money)>, DbErr> {
        let credit = gateways::load(db, gateways::ACCOUNT_CREDIT).await?;
        if !credit.takes(currency.code()) {
            return Ok(None);
        }
        Ok(credit.options.add_funds_range(currency))
    }
}
