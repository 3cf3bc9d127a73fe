//! Credit notes: the only way to correct an issued invoice. A note credits some or all of
//! the invoice's lines (the taxes follow from the invoice's own tax lines, computed by
//! `hostwright_core::credit_totals`), takes its number from its own gapless series, first
//! reduces what the invoice still owes and gives any money already received back, to the
//! client's account credit or as a refund made outside Hostwright.

pub mod handlers;

use std::collections::HashMap;

use chrono::Utc;
use hostwright_core::{CreditError, Currency, InvoicedLine, InvoicedTax, Money, credit_totals};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, QueryOrder, TransactionTrait};

use crate::audit::{self, Actor};
use crate::clients::contacts::send_billing_email;
use crate::ids::{CreditNoteId, InvoiceId, InvoiceLineId};
use crate::invoices::account_credit::{self, MoveError, Movement};
use crate::invoices::drafts;
use crate::invoices::model::{credit_note, credit_note_line, credit_note_tax_line, invoice};
use crate::invoices::numbering::{self, Pattern};
use crate::invoices::payments_port::PaymentsPort;
use crate::invoices::service::{self, InvoiceError};
use crate::invoices::settings;
use crate::invoices::status::InvoiceStatus;
use crate::state::AppState;
use crate::web::FormErrors;

/// Where money already received goes when a note credits more than the invoice still owes.
pub const REFUND_METHODS: [(&str, &str); 3] = [
    ("account_credit", "Add it to the client's account credit"),
    (GATEWAY, "Refund it the way it was paid (card or PayPal)"),
    ("external", "I refund it outside Hostwright"),
];

/// The refund method that gives money back through the payment gateway it came from.
pub const GATEWAY: &str = "gateway";

/// A credit note as staff ask for it.
#[derive(Debug, Clone, Default)]
pub struct CreditNoteInput {
    /// The net to credit per invoice line, by position (empty means nothing).
    pub amounts: Vec<String>,
    pub reason: String,
    pub refund_method: String,
    pub idempotency_key: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum IssueOutcome {
    Issued(CreditNoteId),
    AlreadyIssued(CreditNoteId),
}

/// One invoice line with what may still be credited of it.
#[derive(Debug, Clone)]
pub struct CreditableLine {
    pub id: InvoiceLineId,
    pub description: String,
    pub taxed: bool,
    pub net_minor: i64,
    pub credited_minor: i64,
}

impl CreditableLine {
    pub fn remaining_minor(&self) -> i64 {
        self.net_minor - self.credited_minor
    }
}

/// The invoice's lines with what earlier notes credited of each, in the invoice's order.
pub async fn creditable_lines(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<CreditableLine>, DbErr> {
    let lines = service::lines(db, id).await?;
    let mut credited: HashMap<InvoiceLineId, i64> = HashMap::new();
    for row in credit_note_line::Entity::find()
        .filter(credit_note_line::Column::InvoiceLineId.is_in(lines.iter().map(|l| l.id)))
        .all(db)
        .await?
    {
        *credited.entry(row.invoice_line_id).or_default() += row.net_minor;
    }
    Ok(lines
        .into_iter()
        .map(|l| CreditableLine {
            id: l.id,
            credited_minor: credited.get(&l.id).copied().unwrap_or(0),
            description: l.description,
            taxed: l.taxed,
            net_minor: l.amount_minor,
        })
        .collect())
}

pub async fn find(db: &impl ConnectionTrait, id: CreditNoteId) -> Result<Option<credit_note::Model>, DbErr> {
    credit_note::Entity::find_by_id(id).one(db).await
}

pub async fn for_invoice(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<credit_note::Model>, DbErr> {
    credit_note::Entity::find()
        .filter(credit_note::Column::InvoiceId.eq(id))
        .order_by_asc(credit_note::Column::Id)
        .all(db)
        .await
}

pub async fn for_client(
    db: &impl ConnectionTrait,
    client_id: crate::ids::ClientId,
) -> Result<Vec<credit_note::Model>, DbErr> {
    credit_note::Entity::find()
        .filter(credit_note::Column::ClientId.eq(client_id))
        .order_by_desc(credit_note::Column::Id)
        .all(db)
        .await
}

pub async fn lines(db: &impl ConnectionTrait, id: CreditNoteId) -> Result<Vec<credit_note_line::Model>, DbErr> {
    credit_note_line::Entity::find()
        .filter(credit_note_line::Column::CreditNoteId.eq(id))
        .order_by_asc(credit_note_line::Column::Position)
        .all(db)
        .await
}

pub async fn tax_lines(db: &impl ConnectionTrait, id: CreditNoteId) -> Result<Vec<credit_note_tax_line::Model>, DbErr> {
    credit_note_tax_line::Entity::find()
        .filter(credit_note_tax_line::Column::CreditNoteId.eq(id))
        .order_by_asc(credit_note_tax_line::Column::Level)
        .all(db)
        .await
}

/// Why an invoice cannot be credited at all, if it cannot.
pub fn refusal(i: &invoice::Model) -> Option<&'static str> {
    if i.status == InvoiceStatus::Draft {
        Some("A draft can still be edited or cancelled; credit notes correct issued invoices.")
    } else if i.status == InvoiceStatus::Cancelled {
        Some("A cancelled invoice owes nothing; there is nothing to credit.")
    } else if i.number.is_none() {
        Some("A proforma is not a tax document: cancel it, or record its payment first.")
    } else if i.credited_minor >= i.total_minor {
        Some("This invoice is credited in full already.")
    } else {
        None
    }
}

/// Issues a credit note against an issued invoice.
pub async fn issue<P: PaymentsPort>(
    state: &AppState,
    actor: &Actor,
    invoice_id: InvoiceId,
    input: &CreditNoteInput,
) -> Result<IssueOutcome, InvoiceError> {
    let key = input.idempotency_key.trim();
    if let Some(existing) =
        credit_note::Entity::find().filter(credit_note::Column::IdempotencyKey.eq(key)).one(&state.db).await?
    {
        return Ok(IssueOutcome::AlreadyIssued(existing.id));
    }
    let current = service::find(&state.db, invoice_id).await?.ok_or(InvoiceError::NotFound)?;
    if let Some(message) = refusal(&current) {
        return Err(InvoiceError::NotAllowed(message));
    }
    if current.received_minor() > 0
        && crate::invoices::account_credit::add_funds::is_funds_invoice(&state.db, invoice_id).await?
    {
        return Err(InvoiceError::NotAllowed(
            "These funds are on the client's account credit: take them back from there, then refund them.",
        ));
    }
    let currency = service::stored_currency(&state.db, &current.currency_code).await?;
    let lines = creditable_lines(&state.db, invoice_id).await?;
    let taxes = service::tax_lines(&state.db, invoice_id).await?;
    let mut credited_taxes: HashMap<i64, (i64, i64)> = HashMap::new();
    for row in credit_note_tax_line::Entity::find()
        .filter(credit_note_tax_line::Column::InvoiceTaxLineId.is_in(taxes.iter().map(|t| t.id)))
        .all(&state.db)
        .await?
    {
        let entry = credited_taxes.entry(row.invoice_tax_line_id).or_default();
        entry.0 += row.base_minor;
        entry.1 += row.amount_minor;
    }

    let mut errors = FormErrors::new();
    let mut amounts = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let text = input.amounts.get(i).map(|s| s.trim()).unwrap_or_default();
        let amount = match text {
            "" => Money::zero(currency),
            text => Money::parse(text, currency).unwrap_or_else(|_| {
                errors.add(&format!("amount.{i}"), format!("Enter an amount like 9.99 ({}).", currency.code()));
                Money::zero(currency)
            }),
        };
        if amount.is_negative() {
            errors.add(&format!("amount.{i}"), "Enter the amount to credit as a positive number.");
        } else if amount.minor() > line.remaining_minor() {
            errors.add(
                &format!("amount.{i}"),
                format!("At most {} can still be credited.", Money::from_minor(line.remaining_minor(), currency)),
            );
        }
        amounts.push(amount);
    }
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        errors.add("reason", "Say why the invoice is corrected (up to 1,000 characters); it is printed on the note.");
    }
    if key.len() < 16 || key.len() > 64 {
        errors.add("_form", "This form is out of date; reload the page and try again.");
    }
    if !errors.is_empty() {
        return Err(InvoiceError::Invalid(errors));
    }
    let invoiced: Vec<InvoicedLine> = lines
        .iter()
        .map(|l| InvoicedLine {
            net: Money::from_minor(l.net_minor, currency),
            taxable: l.taxed,
            credited: Money::from_minor(l.credited_minor, currency),
        })
        .collect();
    let invoiced_taxes: Vec<InvoicedTax> = taxes
        .iter()
        .map(|t| {
            let (base, amount) = credited_taxes.get(&t.id).copied().unwrap_or_default();
            InvoicedTax {
                base: Money::from_minor(t.base_minor, currency),
                amount: Money::from_minor(t.amount_minor, currency),
                credited_base: Money::from_minor(base, currency),
                credited_amount: Money::from_minor(amount, currency),
            }
        })
        .collect();
    let totals = credit_totals(currency, &invoiced, &invoiced_taxes, &amounts).map_err(|err| {
        let mut errors = FormErrors::new();
        match err {
            CreditError::Nothing => errors.add("_form", "Enter an amount to credit on at least one line."),
            other => errors.add("_form", format!("This credit note cannot be issued: {other}.")),
        }
        InvoiceError::Invalid(errors)
    })?;

    // The note first reduces what is still owed; anything beyond that was received already
    // and goes back to the client.
    let settled = std::cmp::min(totals.total.minor(), std::cmp::max(current.balance_minor(), 0));
    let refunded = totals.total.minor() - settled;
    let refund_method = if refunded > 0 {
        match REFUND_METHODS.iter().find(|(k, _)| *k == input.refund_method) {
            Some((k, _)) => *k,
            None => {
                let mut errors = FormErrors::new();
                errors.add(
                    "refund_method",
                    format!(
                        "{} of this note was paid already: choose how it goes back to the client.",
                        Money::from_minor(refunded, currency)
                    ),
                );
                return Err(InvoiceError::Invalid(errors));
            }
        }
    } else {
        ""
    };

    if refund_method == GATEWAY {
        let available = P::card_refundable(&state.db, invoice_id).await?;
        if available < refunded {
            let mut errors = FormErrors::new();
            errors.add(
                "refund_method",
                format!(
                    "Only {} of this invoice's card payments can be refunded to the card; choose another way.",
                    Money::from_minor(available, currency)
                ),
            );
            return Err(InvoiceError::Invalid(errors));
        }
    }

    let billing = settings::load(&state.db).await?;
    let pattern =
        Pattern::parse(&billing.credit_note_pattern, billing.invoice_yearly_reset).map_err(InvoiceError::NotAllowed)?;
    let c = crate::clients::store::find(&state.db, current.client_id).await?.ok_or(InvoiceError::NotFound)?;
    let txn = state.db.begin().await?;
    let date = billing.today();
    let seq = numbering::next(&txn, "credit_note", &pattern.period(date)).await?;
    let number = pattern.format(date, seq);
    let now = Utc::now();
    let inserted = credit_note::ActiveModel {
        number: Set(number.clone()),
        invoice_id: Set(invoice_id),
        client_id: Set(current.client_id),
        currency_code: Set(current.currency_code.clone()),
        issue_date: Set(date),
        reason: Set(reason.to_owned()),
        net_minor: Set(totals.net_total.minor()),
        tax_minor: Set(totals.tax_total.minor()),
        total_minor: Set(totals.total.minor()),
        settled_minor: Set(settled),
        refunded_minor: Set(refunded),
        refund_method: Set(refund_method.to_owned()),
        reverse_charge: Set(current.reverse_charge),
        buyer: Set(current.buyer.clone()),
        seller: Set(serde_json::to_string(&drafts::seller_snapshot(&billing)).unwrap_or_default()),
        pdf_key: Set(None),
        staff_id: Set(actor.id),
        idempotency_key: Set(key.to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let note = match inserted {
        Ok(note) => note,
        Err(err) if crate::web::forms::is_unique_violation(&err) => {
            txn.rollback().await?;
            let existing = credit_note::Entity::find()
                .filter(credit_note::Column::IdempotencyKey.eq(key))
                .one(&state.db)
                .await?
                .ok_or(InvoiceError::NotFound)?;
            return Ok(IssueOutcome::AlreadyIssued(existing.id));
        }
        Err(err) => return Err(err.into()),
    };
    let mut position = 0;
    for (line, credited) in lines.iter().zip(&totals.lines) {
        if credited.net.is_zero() {
            continue;
        }
        credit_note_line::ActiveModel {
            credit_note_id: Set(note.id),
            invoice_line_id: Set(line.id),
            position: Set(position),
            description: Set(line.description.clone()),
            net_minor: Set(credited.net.minor()),
            tax_minor: Set(credited.tax.minor()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        position += 1;
    }
    for (tax, credited) in taxes.iter().zip(&totals.taxes) {
        credit_note_tax_line::ActiveModel {
            credit_note_id: Set(note.id),
            invoice_tax_line_id: Set(tax.id),
            name: Set(tax.name.clone()),
            rate: Set(tax.rate.clone()),
            level: Set(tax.level),
            base_minor: Set(credited.base.minor()),
            amount_minor: Set(credited.amount.minor()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }

    // The invoice: what was credited and given back, and its status once nothing is owed.
    let credited_after = current.credited_minor + totals.total.minor();
    let received_before = current.credit_applied_minor + current.amount_paid_minor;
    let status = if credited_after >= current.total_minor {
        if received_before > 0 { InvoiceStatus::Refunded } else { InvoiceStatus::Cancelled }
    } else if current.balance_minor() - settled == 0 && current.status != InvoiceStatus::Paid {
        InvoiceStatus::Paid
    } else {
        current.status
    };
    let mut update = Query::update();
    update
        .table(invoice::Entity)
        .value(invoice::Column::CreditedMinor, Expr::col(invoice::Column::CreditedMinor).add(totals.total.minor()))
        .value(invoice::Column::RefundedMinor, Expr::col(invoice::Column::RefundedMinor).add(refunded))
        .value(invoice::Column::Status, status)
        .value(invoice::Column::UpdatedAt, now)
        .and_where(Expr::col(invoice::Column::Id).eq(invoice_id))
        .and_where(Expr::col(invoice::Column::Status).eq(current.status))
        .and_where(Expr::col(invoice::Column::CreditedMinor).eq(current.credited_minor))
        .and_where(Expr::col(invoice::Column::AmountPaidMinor).eq(current.amount_paid_minor))
        .and_where(Expr::col(invoice::Column::CreditAppliedMinor).eq(current.credit_applied_minor));
    if status == InvoiceStatus::Paid && current.status != InvoiceStatus::Paid {
        update.value(invoice::Column::PaidDate, date);
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        txn.rollback().await?;
        return Err(InvoiceError::NotAllowed("The invoice changed meanwhile; reload it and try again."));
    }
    if status == InvoiceStatus::Paid && current.status != InvoiceStatus::Paid {
        super::paid::enqueue(&txn, invoice_id).await?;
    }
    if refund_method == "account_credit" {
        let why = format!("Credit note {number} for invoice {}", current.display_number());
        let movement = Movement {
            client_id: current.client_id,
            currency,
            amount_minor: refunded,
            kind: account_credit::CREDIT_NOTE,
            reason: &why,
            invoice_id: Some(invoice_id),
            credit_note_id: Some(note.id),
            idempotency_key: None,
        };
        match account_credit::move_credit(&txn, actor, &movement).await {
            Ok(_) => {}
            Err(MoveError::Db(err)) => return Err(err.into()),
            Err(other) => return Err(InvoiceError::Internal(anyhow::anyhow!("crediting the account: {other}"))),
        }
    }
    if refund_method == GATEWAY && P::refund_to_cards(&txn, actor, invoice_id, note.id, refunded).await?.is_err() {
        txn.rollback().await?;
        return Err(InvoiceError::NotAllowed(
            "The invoice's card payments changed meanwhile; reload it and try again.",
        ));
    }
    if c.anonymised_at.is_none() {
        send_billing_email(state, &txn, &c, "credit_note_issued", credit_note_email(state, &note, &current, currency))
            .await?;
    }
    let mut summary = format!("Credit note {number} over {}: {reason}", totals.total);
    if refunded > 0 {
        let how = match refund_method {
            "account_credit" => "to account credit",
            GATEWAY => "the way it was paid",
            _ => "outside Hostwright",
        };
        summary.push_str(&format!("; {} refunded {how}", Money::from_minor(refunded, currency)));
    }
    audit::record(&txn, actor, "invoice.credited", Some(("invoice", invoice_id.0)), summary).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(IssueOutcome::Issued(note.id))
}

fn credit_note_email(
    state: &AppState,
    note: &credit_note::Model,
    i: &invoice::Model,
    currency: Currency,
) -> minijinja::Value {
    minijinja::context! {
        number => note.number.clone(),
        invoice_number => i.display_number(),
        total => Money::from_minor(note.total_minor, currency).to_string(),
        refunded => (note.refunded_minor > 0).then(|| Money::from_minor(note.refunded_minor, currency).to_string()),
        to_account_credit => note.refund_method == "account_credit",
        to_card => note.refund_method == GATEWAY,
        reason => note.reason.clone(),
        link => state.settings.url("/account/credit"),
    }
}
