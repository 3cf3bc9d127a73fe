//! Account credit: what a client holds with the business, per currency, and the ledger of
//! every movement (who, why, which invoice or credit note).
//!
//! The balance row is only ever changed by one conditional UPDATE (`balance + delta >= 0`),
//! so two requests spending the same credit cannot both succeed: on PostgreSQL the second
//! waits for the first's row lock and then finds too little; SQLite serialises writers.

pub mod add_funds;
pub mod handlers;

use chrono::Utc;
use hostwright_core::{Currency, Money};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect, TransactionTrait};

use crate::audit::{self, Actor};
use crate::ids::{ClientId, CreditNoteId, InvoiceId};
use crate::invoices::model::{credit_balance, credit_entry};
use crate::invoices::service::{self, InvoiceError};
use crate::invoices::status::InvoiceStatus;
use crate::state::AppState;
use crate::web::FormErrors;

/// Why credit moved.
pub const ADDED: &str = "added";
pub const REMOVED: &str = "removed";
pub const APPLIED: &str = "applied";
pub const CREDIT_NOTE: &str = "credit_note";
pub const DOWNGRADE: &str = "downgrade";
pub const OVERPAYMENT: &str = "overpayment";
pub const FUNDS: &str = "funds";

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        ADDED => "Added by staff",
        REMOVED => "Removed by staff",
        APPLIED => "Applied to an invoice",
        CREDIT_NOTE => "Refund from a credit note",
        DOWNGRADE => "Unused part of a downgraded service",
        OVERPAYMENT => "Paid more than the invoice owed",
        FUNDS => "Funds added",
        _ => "Other",
    }
}

/// One movement to write.
pub struct Movement<'a> {
    pub client_id: ClientId,
    pub currency: Currency,
    /// Positive adds credit, negative uses it.
    pub amount_minor: i64,
    pub kind: &'static str,
    pub reason: &'a str,
    pub invoice_id: Option<InvoiceId>,
    pub credit_note_id: Option<CreditNoteId>,
    pub idempotency_key: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("the client has not enough credit")]
    Insufficient,
    #[error("this form was already submitted")]
    Duplicate,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Moves credit inside the caller's transaction and writes the ledger entry; returns the
/// balance after the movement.
pub async fn move_credit(txn: &impl ConnectionTrait, actor: &Actor, movement: &Movement<'_>) -> Result<i64, MoveError> {
    let code = movement.currency.code().to_owned();
    let ensure = Query::insert()
        .into_table(credit_balance::Entity)
        .columns([
            credit_balance::Column::ClientId,
            credit_balance::Column::CurrencyCode,
            credit_balance::Column::BalanceMinor,
        ])
        .values_panic([movement.client_id.0.into(), code.clone().into(), 0_i64.into()])
        .on_conflict(
            OnConflict::columns([credit_balance::Column::ClientId, credit_balance::Column::CurrencyCode])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    txn.execute(&ensure).await?;
    let update = Query::update()
        .table(credit_balance::Entity)
        .value(
            credit_balance::Column::BalanceMinor,
            Expr::col(credit_balance::Column::BalanceMinor).add(movement.amount_minor),
        )
        .and_where(Expr::col(credit_balance::Column::ClientId).eq(movement.client_id))
        .and_where(Expr::col(credit_balance::Column::CurrencyCode).eq(code.clone()))
        .and_where(Expr::col(credit_balance::Column::BalanceMinor).add(movement.amount_minor).gte(0))
        .to_owned();
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(MoveError::Insufficient);
    }
    let after = balance(txn, movement.client_id, &code).await?;
    let inserted = credit_entry::ActiveModel {
        client_id: Set(movement.client_id),
        currency_code: Set(code),
        amount_minor: Set(movement.amount_minor),
        balance_after_minor: Set(after),
        kind: Set(movement.kind.to_owned()),
        reason: Set(movement.reason.to_owned()),
        invoice_id: Set(movement.invoice_id),
        credit_note_id: Set(movement.credit_note_id),
        staff_id: Set(if actor.kind == "staff" { actor.id } else { None }),
        staff_name: Set(if actor.kind == "staff" { actor.label.clone() } else { String::new() }),
        idempotency_key: Set(movement.idempotency_key.map(str::to_owned)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await;
    match inserted {
        Ok(_) => Ok(after),
        Err(err) if crate::web::forms::is_unique_violation(&err) => Err(MoveError::Duplicate),
        Err(err) => Err(err.into()),
    }
}

/// The client's credit in one currency (zero when they never had any).
pub async fn balance(db: &impl ConnectionTrait, client_id: ClientId, code: &str) -> Result<i64, DbErr> {
    Ok(credit_balance::Entity::find_by_id((client_id, code.to_owned()))
        .one(db)
        .await?
        .map_or(0, |row| row.balance_minor))
}

/// The client's credit in every currency they hold some in.
pub async fn balances(db: &impl ConnectionTrait, client_id: ClientId) -> Result<Vec<credit_balance::Model>, DbErr> {
    credit_balance::Entity::find()
        .filter(credit_balance::Column::ClientId.eq(client_id))
        .filter(credit_balance::Column::BalanceMinor.ne(0))
        .order_by_asc(credit_balance::Column::CurrencyCode)
        .all(db)
        .await
}

/// The latest movements, newest first.
pub async fn entries(
    db: &impl ConnectionTrait,
    client_id: ClientId,
    limit: u64,
) -> Result<Vec<credit_entry::Model>, DbErr> {
    credit_entry::Entity::find()
        .filter(credit_entry::Column::ClientId.eq(client_id))
        .order_by_desc(credit_entry::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Staff add or remove credit by hand (a goodwill gesture, a correction).
#[derive(Debug, Clone, Default)]
pub struct AdjustInput {
    pub currency_code: String,
    /// `add` or `remove`.
    pub direction: String,
    pub amount: String,
    pub reason: String,
    pub idempotency_key: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done { balance_minor: i64 },
    AlreadyDone,
}

fn form_key(key: &str, errors: &mut FormErrors) -> String {
    let key = key.trim();
    if key.len() < 16 || key.len() > 64 {
        errors.add("_form", "This form is out of date; reload the page and try again.");
    }
    key.to_owned()
}

pub async fn adjust(
    state: &AppState,
    actor: &Actor,
    client_id: ClientId,
    input: &AdjustInput,
) -> Result<Outcome, InvoiceError> {
    let c = crate::clients::store::find(&state.db, client_id).await?.ok_or(InvoiceError::NotFound)?;
    if c.anonymised_at.is_some() {
        return Err(InvoiceError::NotAllowed("This client's personal data was erased; their account is closed."));
    }
    let mut errors = FormErrors::new();
    let code = input.currency_code.trim().to_uppercase();
    let currency = service::find_currency(&state.db, &code).await?;
    if currency.is_none() {
        errors.add("currency_code", "Choose one of the currencies set up under Currencies.");
    }
    let sign = match input.direction.as_str() {
        "add" => 1,
        "remove" => -1,
        _ => {
            errors.add("direction", "Choose whether to add or remove credit.");
            0
        }
    };
    let amount = currency.and_then(|currency| match Money::parse(input.amount.trim(), currency) {
        Ok(m) if m.is_positive() => Some(m),
        _ => {
            errors.add("amount", format!("Enter an amount above zero, e.g. 10.00 ({}).", currency.code()));
            None
        }
    });
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.add("reason", "Say why (up to 500 characters): the client sees it in their credit history.");
    }
    let key = form_key(&input.idempotency_key, &mut errors);
    let (Some(currency), Some(amount), true) = (currency, amount, errors.is_empty()) else {
        return Err(InvoiceError::Invalid(errors));
    };
    let txn = state.db.begin().await?;
    let movement = Movement {
        client_id,
        currency,
        amount_minor: sign * amount.minor(),
        kind: if sign > 0 { ADDED } else { REMOVED },
        reason,
        invoice_id: None,
        credit_note_id: None,
        idempotency_key: Some(&key),
    };
    let after = match move_credit(&txn, actor, &movement).await {
        Ok(after) => after,
        Err(MoveError::Duplicate) => return Ok(Outcome::AlreadyDone),
        Err(MoveError::Insufficient) => {
            let held = balance(&state.db, client_id, currency.code()).await?;
            let mut errors = FormErrors::new();
            errors
                .add("amount", format!("The client holds {}; remove at most that.", Money::from_minor(held, currency)));
            return Err(InvoiceError::Invalid(errors));
        }
        Err(MoveError::Db(err)) => return Err(err.into()),
    };
    let verb = if sign > 0 { "Added" } else { "Removed" };
    audit::record(
        &txn,
        actor,
        if sign > 0 { "credit.added" } else { "credit.removed" },
        Some(("client", client_id.0)),
        format!("{verb} {amount} of account credit: {reason}"),
    )
    .await?;
    txn.commit().await?;
    Ok(Outcome::Done { balance_minor: after })
}

/// Pays (part of) an unpaid invoice from the client's account credit in its currency.
pub async fn apply_to_invoice(
    state: &AppState,
    actor: &Actor,
    invoice_id: InvoiceId,
    amount_text: &str,
    idempotency_key: &str,
) -> Result<Outcome, InvoiceError> {
    let current = service::find(&state.db, invoice_id).await?.ok_or(InvoiceError::NotFound)?;
    if current.status != InvoiceStatus::Unpaid && current.status != InvoiceStatus::Collections {
        return Err(InvoiceError::NotAllowed("Credit can be applied to unpaid invoices only."));
    }
    if crate::invoices::account_credit::add_funds::is_funds_invoice(&state.db, invoice_id).await? {
        return Err(InvoiceError::NotAllowed("Funds are added with a payment, not with account credit."));
    }
    let currency = service::stored_currency(&state.db, &current.currency_code).await?;
    let held = balance(&state.db, current.client_id, currency.code()).await?;
    let mut errors = FormErrors::new();
    let most = std::cmp::min(held, current.balance_minor());
    let amount = match amount_text.trim() {
        "" => Some(Money::from_minor(most, currency)).filter(Money::is_positive),
        text => Money::parse(text, currency).ok().filter(|m| m.is_positive() && m.minor() <= most),
    };
    if amount.is_none() {
        errors.add(
            "credit_amount",
            format!(
                "Enter an amount above zero and at most {} (the client's credit, and the invoice's balance).",
                Money::from_minor(most, currency)
            ),
        );
    }
    let key = form_key(idempotency_key, &mut errors);
    let (Some(amount), true) = (amount, errors.is_empty()) else {
        return Err(InvoiceError::Invalid(errors));
    };
    let txn = state.db.begin().await?;
    let reason = format!("Applied to invoice {}", current.display_number());
    let movement = Movement {
        client_id: current.client_id,
        currency,
        amount_minor: -amount.minor(),
        kind: APPLIED,
        reason: &reason,
        invoice_id: Some(invoice_id),
        credit_note_id: None,
        idempotency_key: Some(&key),
    };
    let after = match move_credit(&txn, actor, &movement).await {
        Ok(after) => after,
        Err(MoveError::Duplicate) => return Ok(Outcome::AlreadyDone),
        Err(MoveError::Insufficient) => {
            return Err(InvoiceError::NotAllowed("The client's credit changed meanwhile; reload and try again."));
        }
        Err(MoveError::Db(err)) => return Err(err.into()),
    };
    let settled =
        service::receive(&txn, &current, service::Received::Credit(amount.minor()), service::today(&state.db).await?)
            .await?;
    let mut summary = format!("Applied {amount} of account credit");
    if let Some(number) = settled.legal_number {
        summary.push_str(&format!("; paid in full, legal number {number}"));
    } else if settled.paid_in_full {
        summary.push_str("; paid in full");
    }
    audit::record(&txn, actor, "invoice.credit_applied", Some(("invoice", invoice_id.0)), summary).await?;
    txn.commit().await?;
    Ok(Outcome::Done { balance_minor: after })
}
