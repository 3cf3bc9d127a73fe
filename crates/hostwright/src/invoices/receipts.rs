//! Money received on an invoice: the one place `invoice_payments` rows are written and
//! receipts are sent. A gateway's payment (booked by `payments`) and a payment staff record
//! by hand (idempotent per form submission) both go through [`receive_payment`].

use chrono::{NaiveDate, Utc};
use hostwright_core::Money;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, TransactionTrait};

use super::account_credit::{self, MoveError, Movement};
use super::model::{invoice, payment};
use super::service::{InvoiceError, Received, Settled, find, receive, stored_currency, today};
use crate::audit::{self, Actor};
use crate::ids::{ClientId, GatewayPaymentId, InvoiceId};
use crate::invoices::status::InvoiceStatus;
use crate::state::AppState;
use crate::web::FormErrors;

/// Ways staff record a payment by hand.
pub const MANUAL_METHODS: [(&str, &str); 4] =
    [("bank_transfer", "Bank transfer"), ("cheque", "Cheque"), ("cash", "Cash"), ("other", "Other")];

#[derive(Debug, Clone, Default)]
pub struct PaymentInput {
    pub amount: String,
    pub fee: String,
    pub method: String,
    pub reference: String,
    pub paid_on: String,
    /// Identifies one submission of the payment form.
    pub idempotency_key: String,
}

/// How a manual payment's form key is stored: under its invoice.
fn manual_payment_key(invoice: InvoiceId, form_key: &str) -> String {
    format!("manual:{invoice}:{form_key}")
}

#[derive(Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    Recorded { paid_in_full: bool },
    AlreadyRecorded,
}

pub async fn record_payment(
    state: &AppState,
    actor: &Actor,
    id: InvoiceId,
    input: &PaymentInput,
) -> Result<PaymentOutcome, InvoiceError> {
    let current = find(&state.db, id).await?.ok_or(InvoiceError::NotFound)?;
    // The key finds a submission of this very form, for this invoice, and nothing else: it is
    // stored under the invoice (keys stored before that were the form's key alone).
    let form_key = input.idempotency_key.trim();
    if payment::Entity::find()
        .filter(payment::Column::InvoiceId.eq(id))
        .filter(payment::Column::IdempotencyKey.is_in([manual_payment_key(id, form_key), form_key.to_owned()]))
        .one(&state.db)
        .await?
        .is_some()
    {
        return Ok(PaymentOutcome::AlreadyRecorded);
    }
    if current.status != InvoiceStatus::Unpaid && current.status != InvoiceStatus::Collections {
        return Err(InvoiceError::NotAllowed("Payments can be recorded on unpaid invoices only."));
    }
    let currency = stored_currency(&state.db, &current.currency_code).await?;
    let today = today(&state.db).await?;
    let mut errors = FormErrors::new();
    let amount = match Money::parse(input.amount.trim(), currency) {
        Ok(m) if m.is_positive() && m.minor() <= current.balance_minor() => Some(m),
        Ok(m) if m.is_positive() => {
            errors.add(
                "amount",
                format!(
                    "The balance is {}; record at most that.",
                    Money::from_minor(current.balance_minor(), currency)
                ),
            );
            None
        }
        _ => {
            errors.add("amount", format!("Enter the amount received, e.g. 10.00 ({}).", currency.code()));
            None
        }
    };
    let fee = match input.fee.trim() {
        "" => Some(Money::zero(currency)),
        text => Money::parse(text, currency).ok().filter(|m| !m.is_negative()).or_else(|| {
            errors.add("fee", "Enter the fee the bank charged, or leave it empty.");
            None
        }),
    };
    if !MANUAL_METHODS.iter().any(|(key, _)| *key == input.method) {
        errors.add("method", "Choose how the money arrived.");
    }
    let reference = input.reference.trim();
    if reference.chars().count() > 200 {
        errors.add("reference", "Use at most 200 characters.");
    }
    let paid_on = match input.paid_on.trim() {
        "" => Some(today),
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().filter(|d| *d <= today).or_else(|| {
            errors.add("paid_on", "Enter the date the money arrived (YYYY-MM-DD, not in the future).");
            None
        }),
    };
    let key = input.idempotency_key.trim();
    if key.len() < 16 || key.len() > 64 {
        errors.add("_form", "This form is out of date; reload the page and try again.");
    }
    let (Some(amount), Some(fee), Some(paid_on), true) = (amount, fee, paid_on, errors.is_empty()) else {
        return Err(InvoiceError::Invalid(errors));
    };
    let method = MANUAL_METHODS.iter().find(|(k, _)| *k == input.method).map_or("Other", |(_, label)| *label);
    let txn = state.db.begin().await?;
    let incoming = Incoming {
        amount,
        fee,
        method: &input.method,
        method_label: method,
        reference,
        paid_on,
        staff_id: actor.id,
        idempotency_key: manual_payment_key(id, key),
        gateway_payment_id: None,
    };
    let Some(Booked { settled: Some(settled), .. }) = receive_payment(state, &txn, actor, &current, &incoming).await?
    else {
        txn.rollback().await?;
        return Ok(PaymentOutcome::AlreadyRecorded);
    };
    let mut summary = format!(
        "Recorded {amount} by {} (ref. {})",
        input.method,
        if reference.is_empty() { "none" } else { reference }
    );
    if let Some(number) = &settled.legal_number {
        summary.push_str(&format!("; paid in full, legal number {number}"));
    } else if settled.paid_in_full {
        summary.push_str("; paid in full");
    }
    audit::record(&txn, actor, "invoice.payment_recorded", Some(("invoice", id.0)), summary).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(PaymentOutcome::Recorded { paid_in_full: settled.paid_in_full })
}

/// Money that arrived for an invoice, as [`receive_payment`] records it.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub amount: Money,
    /// What the bank or gateway kept of it.
    pub fee: Money,
    /// The stored method: a manual method's key or a gateway's key.
    pub method: &'a str,
    /// The method as the client knows it, for the receipt.
    pub method_label: &'a str,
    pub reference: &'a str,
    pub paid_on: NaiveDate,
    /// Who recorded it by hand; `None` for a gateway's payment.
    pub staff_id: Option<i64>,
    /// Unique per receipt: the same key is never recorded twice.
    pub idempotency_key: String,
    /// The gateway payment it came from.
    pub gateway_payment_id: Option<GatewayPaymentId>,
}

/// What became of money received.
#[derive(Debug)]
pub struct Booked {
    /// How the invoice was settled; `None` when nothing reached it (it was paid already).
    pub settled: Option<Settled>,
    pub to_invoice: Money,
    pub to_credit: Money,
}

/// Records `incoming` on `current` in the caller's transaction: up to the balance on the
/// invoice (the `invoice_payments` row, the invoice settled as [`receive`] does), anything
/// beyond it (or all of it, when the invoice is paid already) on the client's account
/// credit, and the receipt for the whole amount queued. `None` when a receipt with the same
/// key exists already; the transaction must then be rolled back.
pub async fn receive_payment(
    state: &AppState,
    txn: &DatabaseTransaction,
    actor: &Actor,
    current: &invoice::Model,
    incoming: &Incoming<'_>,
) -> Result<Option<Booked>, InvoiceError> {
    let currency = incoming.amount.currency();
    let payable = current.status == InvoiceStatus::Unpaid || current.status == InvoiceStatus::Collections;
    let to_invoice = if payable { std::cmp::min(incoming.amount.minor(), current.balance_minor()) } else { 0 };
    let excess = incoming.amount.minor() - to_invoice;
    let mut settled = None;
    if to_invoice > 0 {
        let inserted = payment::ActiveModel {
            invoice_id: Set(current.id),
            amount_minor: Set(to_invoice),
            fee_minor: Set(incoming.fee.minor()),
            method: Set(incoming.method.to_owned()),
            reference: Set(incoming.reference.to_owned()),
            paid_on: Set(incoming.paid_on),
            staff_id: Set(incoming.staff_id),
            idempotency_key: Set(incoming.idempotency_key.clone()),
            created_at: Set(Utc::now()),
            payment_id: Set(incoming.gateway_payment_id),
            ..Default::default()
        }
        .insert(txn)
        .await;
        match inserted {
            Ok(_) => {}
            Err(err) if crate::web::forms::is_unique_violation(&err) => return Ok(None),
            Err(err) => return Err(err.into()),
        }
        settled = Some(receive(txn, current, Received::Payment(to_invoice), incoming.paid_on).await?);
    }
    if excess > 0 {
        let reason =
            format!("Paid {} more than invoice {} owed", Money::from_minor(excess, currency), current.display_number());
        let key = match incoming.gateway_payment_id {
            Some(id) => format!("overpayment:{id}"),
            None => format!("overpayment:{}", incoming.idempotency_key),
        };
        let movement = Movement {
            client_id: current.client_id,
            currency,
            amount_minor: excess,
            kind: account_credit::OVERPAYMENT,
            reason: &reason,
            invoice_id: Some(current.id),
            credit_note_id: None,
            idempotency_key: Some(&key),
        };
        match account_credit::move_credit(txn, actor, &movement).await {
            Ok(_) | Err(MoveError::Duplicate) => {}
            Err(MoveError::Insufficient) => {
                return Err(InvoiceError::NotAllowed("account credit cannot go below zero"));
            }
            Err(MoveError::Db(err)) => return Err(err.into()),
        }
    }
    send_receipt(
        state,
        txn,
        current.client_id,
        Some(current.id),
        incoming.amount,
        incoming.method_label,
        incoming.reference,
    )
    .await
    .map_err(InvoiceError::Internal)?;
    Ok(Some(Booked {
        settled,
        to_invoice: Money::from_minor(to_invoice, currency),
        to_credit: Money::from_minor(excess, currency),
    }))
}

/// Queues the "payment received" email for money `received` by `method`, in the caller's
/// transaction, after the invoice (if any) was updated in it.
pub async fn send_receipt(
    state: &AppState,
    txn: &impl ConnectionTrait,
    client_id: ClientId,
    invoice_id: Option<InvoiceId>,
    received: Money,
    method: &str,
    reference: &str,
) -> anyhow::Result<()> {
    let Some(owner) = crate::clients::store::find(txn, client_id).await? else { return Ok(()) };
    if owner.anonymised_at.is_some() {
        return Ok(());
    }
    let invoice = match invoice_id {
        Some(id) => find(txn, id).await?,
        None => None,
    };
    let ctx = minijinja::context! {
        amount => received.to_string(),
        method => method,
        reference => reference,
        number => invoice.as_ref().map(invoice::Model::display_number),
        paid_in_full => invoice.as_ref().is_some_and(|i| i.status == InvoiceStatus::Paid),
        balance => invoice.as_ref().map(|i| Money::from_minor(std::cmp::max(i.balance_minor(), 0), received.currency()).to_string()),
        link => invoice_id.map(|id| state.settings.url(&format!("/account/invoices/{id}"))),
    };
    crate::clients::contacts::send_billing_email(state, txn, &owner, "payment_received", ctx).await
}
