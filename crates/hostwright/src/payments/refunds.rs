//! Money given back through the gateway it came from.
//!
//! A refund of money that reached an invoice goes with a credit note (decision 0008: the
//! invoice is corrected by a legal document), whose third refund method is "to the card it
//! was paid with": the note's transaction writes one refund row per payment it draws on and
//! queues a `payment.refund` job for each. Money that was never applied (held for staff) is
//! refunded from the payment's page without a note, or moved to the client's account credit.
//! Each refund row's id is the gateway's idempotency key, so a retried job refunds once.

use chrono::Utc;
use hostwright_core::Money;
use hostwright_gateways::{GatewayError, PaymentGateway};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, QueryOrder, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::PaymentError;
use super::gateways;
use super::model::{payment, refund};
use super::store;
use crate::audit::{self, Actor};
use crate::ids::{CreditNoteId, GatewayPaymentId, InvoiceId, PaymentRefundId};
use crate::invoices::account_credit::{self, MoveError, Movement};
use crate::jobs::{self, Enqueue, Job, JobContext, JobError};
use crate::payments::status::PaymentStatus;
use crate::state::AppState;
use crate::web::FormErrors;

pub const PENDING: &str = "pending";
pub const DONE: &str = "succeeded";
pub const FAILED: &str = "failed";

/// The refunds of payment `id`, oldest first.
pub async fn for_payment(db: &impl ConnectionTrait, id: GatewayPaymentId) -> Result<Vec<refund::Model>, DbErr> {
    refund::Entity::find().filter(refund::Column::PaymentId.eq(id)).order_by_asc(refund::Column::Id).all(db).await
}

/// The card refunds credit note `id` asked for.
pub async fn of_credit_note(db: &impl ConnectionTrait, id: CreditNoteId) -> Result<Vec<refund::Model>, DbErr> {
    refund::Entity::find().filter(refund::Column::CreditNoteId.eq(id)).order_by_asc(refund::Column::Id).all(db).await
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        PENDING => "Under way",
        DONE => "Refunded",
        FAILED => "Failed",
        _ => "Other",
    }
}

/// What is left to refund of a payment: what it brought, less what was refunded and what our
/// refunds under way will take.
pub async fn refundable(db: &impl ConnectionTrait, p: &payment::Model) -> Result<i64, DbErr> {
    Ok(left_of(p, &for_payment(db, p.id).await?))
}

/// [`refundable`] from the payment's refunds, read already.
fn left_of(p: &payment::Model, ours: &[refund::Model]) -> i64 {
    if p.status != PaymentStatus::Succeeded && p.status != PaymentStatus::PartiallyRefunded
        || !gateways::is_online(&p.gateway)
    {
        return 0;
    }
    let asked: i64 = ours.iter().filter(|r| r.status != FAILED).map(|r| r.amount_minor).sum();
    let done: i64 = ours.iter().filter(|r| r.status == DONE).map(|r| r.amount_minor).sum();
    // What the gateway reports refunded includes ours that succeeded, and may already include
    // one still marked pending here for a moment: counted twice then, which only ever
    // refunds less, never more.
    std::cmp::max(p.amount_minor - std::cmp::max(p.refunded_minor, done) - (asked - done), 0)
}

/// The invoice's gateway payments, newest first, with what can still go back through each for
/// this invoice: no more than the payment brought to the invoice (excess on account credit,
/// or held money moved there, stays out), less what credit notes already sent back through it.
pub async fn refundable_for_invoice(
    db: &impl ConnectionTrait,
    invoice_id: InvoiceId,
) -> Result<Vec<(payment::Model, i64)>, DbErr> {
    use crate::invoices::model::payment as invoice_payment;
    let reached = invoice_payment::Entity::find()
        .filter(invoice_payment::Column::InvoiceId.eq(invoice_id))
        .filter(invoice_payment::Column::PaymentId.is_not_null())
        .all(db)
        .await?;
    let mut found = Vec::new();
    for p in store::for_invoice(db, invoice_id).await? {
        let brought: i64 = reached.iter().filter(|r| r.payment_id == Some(p.id)).map(|r| r.amount_minor).sum();
        if brought == 0 {
            continue;
        }
        let ours = for_payment(db, p.id).await?;
        let noted: i64 =
            ours.iter().filter(|r| r.credit_note_id.is_some() && r.status != FAILED).map(|r| r.amount_minor).sum();
        let left = std::cmp::min(left_of(&p, &ours), brought - noted);
        if left > 0 {
            found.push((p, left));
        }
    }
    Ok(found)
}

/// Refunds `amount_minor` of invoice `invoice_id` to the cards it was paid with, newest
/// payment first, for credit note `note`; in the note's transaction. `Err` names what can be
/// refunded that way when it is less.
pub async fn for_credit_note(
    txn: &DatabaseTransaction,
    actor: &Actor,
    invoice_id: InvoiceId,
    note: CreditNoteId,
    amount_minor: i64,
) -> Result<Result<(), i64>, DbErr> {
    let available = refundable_for_invoice(txn, invoice_id).await?;
    let total: i64 = available.iter().map(|(_, left)| left).sum();
    if total < amount_minor {
        return Ok(Err(total));
    }
    let mut rest = amount_minor;
    for (p, left) in available {
        if rest == 0 {
            break;
        }
        let take = std::cmp::min(rest, left);
        rest -= take;
        let reason = format!("Credit note {note}");
        insert(txn, actor, &p, Some(note), take, &reason, &format!("credit-note:{note}:{}", p.id)).await?;
    }
    Ok(Ok(()))
}

/// Writes one refund and queues its job.
async fn insert(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    p: &payment::Model,
    note: Option<CreditNoteId>,
    amount_minor: i64,
    reason: &str,
    key: &str,
) -> Result<refund::Model, DbErr> {
    let now = Utc::now();
    let row = refund::ActiveModel {
        payment_id: Set(p.id),
        credit_note_id: Set(note),
        amount_minor: Set(amount_minor),
        status: Set(PENDING.to_owned()),
        refund_ref: Set(None),
        reason: Set(reason.chars().take(500).collect()),
        error: Set(String::new()),
        staff_id: Set(actor.id.filter(|_| actor.kind == "staff")),
        idempotency_key: Set(key.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    jobs::enqueue(txn, &RefundPayment { refund_id: row.id }, Enqueue::unique(format!("payment.refund:{}", row.id)))
        .await?;
    let amount =
        store::amount_text(txn, amount_minor, &p.currency_code).await.map_err(|e| DbErr::Custom(e.to_string()))?;
    let summary = format!("Refund of {amount} to {} asked: {reason}", gateways::label(&p.gateway));
    audit::record(txn, actor, "payment.refund_requested", Some(("payment", p.id.0)), summary).await?;
    Ok(row)
}

/// Where staff send money held on a payment that was never applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Gateway,
    AccountCredit,
}

/// Staff give back `amount` of a payment that was held (never applied to an invoice): to the
/// card, or onto the client's account credit. One submission (`key`) does it once.
pub async fn settle_held(
    state: &AppState,
    actor: &Actor,
    id: GatewayPaymentId,
    amount: &str,
    reason: &str,
    destination: Destination,
    key: &str,
) -> Result<(), PaymentError> {
    let key = key.trim();
    let full_key = format!("held:{key}");
    if refund::Entity::find().filter(refund::Column::IdempotencyKey.eq(&full_key)).one(&state.db).await?.is_some() {
        return Ok(());
    }
    let p = store::find(&state.db, id).await?.ok_or(PaymentError::NotFound)?;
    if p.applied_at.is_some() {
        return Err(PaymentError::NotAllowed(
            "This payment was applied already: refund it with a credit note on its invoice.",
        ));
    }
    let currency = store::currency(&state.db, &p.currency_code).await?;
    let left = refundable(&state.db, &p).await?;
    let mut errors = FormErrors::new();
    let parsed = Money::parse(amount.trim(), currency).ok().filter(|m| m.minor() > 0);
    match parsed {
        None => errors.add("amount", format!("Enter an amount like 9.99 ({}).", currency.code())),
        Some(m) if m.minor() > left => {
            errors.add("amount", format!("At most {} is left on this payment.", Money::from_minor(left, currency)))
        }
        Some(_) => {}
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.add("reason", "Say why (up to 500 characters).");
    }
    if key.len() < 16 || key.len() > 64 {
        errors.add("_form", "This form is out of date; reload the page and try again.");
    }
    let Some(amount) = parsed.filter(|_| errors.is_empty()) else {
        return Err(PaymentError::Invalid(errors));
    };
    // Hold the payment's row, then check again what is left: two forms sent at once give back
    // the money once.
    let txn = state.db.begin().await?;
    let held = payment::Entity::update_many()
        .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payment::Column::Id.eq(id))
        .filter(payment::Column::AppliedAt.is_null())
        .exec(&txn)
        .await?;
    let fresh = store::find(&txn, id).await?.ok_or(PaymentError::NotFound)?;
    if held.rows_affected != 1 || amount.minor() > refundable(&txn, &fresh).await? {
        return Err(PaymentError::Conflict("This payment changed meanwhile; reload it and try again."));
    }
    match destination {
        Destination::Gateway => {
            insert(&txn, actor, &p, None, amount.minor(), reason, &full_key).await?;
        }
        Destination::AccountCredit => {
            // The money stays with us, on the client's account: the payment counts as applied.
            let applied = payment::Entity::update_many()
                .col_expr(payment::Column::AppliedAt, Expr::value(Utc::now()))
                .col_expr(payment::Column::Flag, Expr::value(format!("Moved to account credit: {reason}")))
                .filter(payment::Column::Id.eq(id))
                .filter(payment::Column::AppliedAt.is_null())
                .exec(&txn)
                .await?;
            if applied.rows_affected != 1 {
                return Err(PaymentError::Conflict("This payment changed meanwhile; reload it."));
            }
            let why = format!("Payment #{id} ({}): {reason}", p.gateway_ref.as_deref().unwrap_or("-"));
            let movement = Movement {
                client_id: p.client_id,
                currency,
                amount_minor: amount.minor(),
                kind: account_credit::OVERPAYMENT,
                reason: &why,
                invoice_id: p.invoice_id,
                credit_note_id: None,
                idempotency_key: Some(&full_key),
            };
            match account_credit::move_credit(&txn, actor, &movement).await {
                Ok(_) => {}
                Err(MoveError::Duplicate) => return Ok(()),
                Err(MoveError::Insufficient) => return Err(PaymentError::Conflict("account credit cannot go below 0")),
                Err(MoveError::Db(err)) => return Err(err.into()),
            }
            let summary = format!("Moved {amount} held on the payment to account credit: {reason}");
            audit::record(&txn, actor, "payment.to_credit", Some(("payment", id.0)), summary).await?;
        }
    }
    txn.commit().await?;
    state.jobs_wakeup.notify_one();
    Ok(())
}

/// Asks the gateway for one refund.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundPayment {
    pub refund_id: PaymentRefundId,
}

impl Job for RefundPayment {
    const KIND: &'static str = "payment.refund";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let outcome = run_refund(ctx, self.refund_id).await?;
        tracing::info!(refund.id = %self.refund_id, outcome = %outcome, "refund");
        Ok(())
    }
}

async fn run_refund(ctx: &JobContext, id: PaymentRefundId) -> Result<String, PaymentError> {
    let state = &ctx.state;
    let Some(row) = refund::Entity::find_by_id(id).one(&state.db).await? else { return Ok("no such refund".into()) };
    if row.status != PENDING {
        return Ok(format!("already {}", row.status));
    }
    let p = store::find(&state.db, row.payment_id).await?.ok_or(PaymentError::NotFound)?;
    let Some(payment_ref) = p.gateway_ref.clone() else {
        return finish(ctx, &row, &p, Err("the payment has no gateway id".into())).await;
    };
    let gateway = gateways::online(state, &p.gateway).await?;
    match gateway.refund(&row.id.to_string(), &payment_ref, row.amount_minor).await {
        Ok(done) if done.succeeded => finish(ctx, &row, &p, Ok(done.refund_ref)).await,
        Ok(done) => finish(ctx, &row, &p, Err(format!("the gateway did not refund it ({})", done.refund_ref))).await,
        Err(err @ (GatewayError::Declined { .. } | GatewayError::Rejected { .. } | GatewayError::Unsupported)) => {
            finish(ctx, &row, &p, Err(err.to_string())).await
        }
        // No answer, or none yet: the same idempotency key makes a retry the same refund.
        Err(err) => Err(err.into()),
    }
}

/// Records a refund's end: the payment's refunded total when it went through; a flag for
/// staff when it did not, since the client is still owed the money.
async fn finish(
    ctx: &JobContext,
    row: &refund::Model,
    p: &payment::Model,
    result: Result<String, String>,
) -> Result<String, PaymentError> {
    let state = &ctx.state;
    let txn = state.db.begin().await?;
    let (status, refund_ref, error) = match &result {
        Ok(reference) => (DONE, Some(reference.clone()), String::new()),
        Err(why) => (FAILED, None, why.clone()),
    };
    let moved = refund::Entity::update_many()
        .col_expr(refund::Column::Status, Expr::value(status))
        .col_expr(refund::Column::RefundRef, Expr::value(refund_ref))
        .col_expr(refund::Column::Error, Expr::value(error.chars().take(500).collect::<String>()))
        .col_expr(refund::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(refund::Column::Id.eq(row.id))
        .filter(refund::Column::Status.eq(PENDING))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Ok("settled meanwhile".into());
    }
    let amount = store::amount_text(&txn, row.amount_minor, &p.currency_code).await?;
    let actor = Actor::system(gateways::label(&p.gateway));
    let outcome = match result {
        Ok(reference) => {
            let done: i64 = for_payment(&txn, p.id)
                .await?
                .iter()
                .filter(|r| r.status == DONE || r.id == row.id)
                .map(|r| r.amount_minor)
                .sum();
            let status =
                if done >= p.amount_minor { PaymentStatus::Refunded } else { PaymentStatus::PartiallyRefunded };
            let update = Query::update()
                .table(payment::Entity)
                .value(payment::Column::RefundedMinor, done)
                .value(payment::Column::Status, status)
                .value(payment::Column::UpdatedAt, Utc::now())
                .and_where(Expr::col(payment::Column::Id).eq(p.id))
                .and_where(Expr::col(payment::Column::RefundedMinor).lt(done))
                .to_owned();
            txn.execute(&update).await?;
            let summary = format!("Refunded {amount} ({reference})");
            audit::record(&txn, &actor, "payment.refunded", Some(("payment", p.id.0)), summary.clone()).await?;
            summary
        }
        Err(why) => {
            let flag = format!("A refund of {amount} failed ({why}): the client is still owed it.");
            payment::Entity::update_many()
                .col_expr(payment::Column::Flag, Expr::value(flag.chars().take(500).collect::<String>()))
                .filter(payment::Column::Id.eq(p.id))
                .exec(&txn)
                .await?;
            audit::record(&txn, &actor, "payment.refund_failed", Some(("payment", p.id.0)), flag.clone()).await?;
            flag
        }
    };
    ctx.fence(&txn).await?;
    txn.commit().await?;
    Ok(outcome)
}

/// The refunds under way or made by us for payment `p`, for a webhook's cumulative total to
/// be compared with: what the gateway reports beyond them was refunded elsewhere.
pub async fn ours(db: &impl ConnectionTrait, id: GatewayPaymentId) -> Result<i64, DbErr> {
    Ok(for_payment(db, id).await?.iter().filter(|r| r.status != FAILED).map(|r| r.amount_minor).sum())
}
