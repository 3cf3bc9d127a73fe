//! Automatic payment: the daily run charges the default saved card of clients who turned it
//! on, for their unpaid invoices, from the due date (or the set days before) — never when an
//! invoice is made — and tries a failed charge again on the retry days.
//!
//! Each invoice is charged at most once per attempt slot: the slot's payment record is
//! claimed under the unique `auto:{invoice}:{slot}` before Stripe is called, and its id is the
//! charge's idempotency key, so a repeated job resumes the same charge rather than making a
//! second. A client paying the same invoice on Stripe's page at the same moment is handled by
//! closing that page first: a page already paid ends the automatic attempt uncharged.

use chrono::{Days, NaiveDate, Utc};
use hostwright_gateways::{ChargeRequest, ExpireOutcome, GatewayError, PaymentGateway, RemoteStatus};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, PaginatorTrait, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::PaymentError;
use super::gateways::{self, STRIPE};
use super::methods;
use super::model::payment;
use super::store::{self, AUTOMATIC, CHECKOUT};
use super::{checkout, notices};
use crate::ids::{GatewayPaymentId, InvoiceId};
use crate::invoices::model::invoice;
use crate::invoices::service as invoices;
use crate::invoices::status::InvoiceStatus;
use crate::jobs::{self, Enqueue, Job, JobContext, JobError};
use crate::payments::status::PaymentStatus;
use crate::site_settings::automation::AutomationSettings;
use crate::state::AppState;

/// The attempt slot of an invoice due `due` on business date `date`: 0 for the first charge
/// (`days_before` the due date), then one more for each retry day passed since; `None`
/// before the first.
pub fn slot_on(due: NaiveDate, date: NaiveDate, days_before: u32, retries: &[u32]) -> Option<u32> {
    let first = due.checked_sub_days(Days::new(u64::from(days_before)))?;
    let elapsed = (date - first).num_days();
    if elapsed < 0 {
        return None;
    }
    Some(retries.iter().filter(|r| i64::from(**r) <= elapsed).count() as u32)
}

/// The business date of slot `slot` of an invoice due `due`, if the schedule has it.
pub fn slot_date(due: NaiveDate, slot: u32, days_before: u32, retries: &[u32]) -> Option<NaiveDate> {
    let first = due.checked_sub_days(Days::new(u64::from(days_before)))?;
    match slot {
        0 => Some(first),
        n => {
            let mut sorted = retries.to_vec();
            sorted.sort_unstable();
            sorted.get(n as usize - 1).and_then(|d| first.checked_add_days(Days::new(u64::from(*d))))
        }
    }
}

/// An invoice the daily run should charge now.
#[derive(Debug, Clone)]
pub struct Due {
    pub invoice_id: InvoiceId,
    pub number: String,
    pub slot: u32,
}

/// The invoices to charge on business date `date`: unpaid, of clients with automatic payment
/// on and a default card, in a currency Stripe takes, whose current slot was not tried yet
/// and with no automatic charge still under way. Invoices a client asked for to add funds
/// are theirs to pay as they chose.
pub async fn due(state: &AppState, settings: &AutomationSettings, date: NaiveDate) -> Result<Vec<Due>, DbErr> {
    let stripe = gateways::load(&state.db, STRIPE).await?;
    if !stripe.enabled {
        return Ok(Vec::new());
    }
    let latest_due = date.checked_add_days(Days::new(u64::from(settings.auto_charge_days_before))).unwrap_or(date);
    let backend = state.db.get_database_backend();
    let (unpaid, collections) = (InvoiceStatus::Unpaid.key(), InvoiceStatus::Collections.key());
    let sql = format!(
        "SELECT i.id FROM invoices i JOIN clients c ON c.id = i.client_id \
         WHERE i.status IN ('{unpaid}', '{collections}') AND i.due_date <= ? AND c.auto_pay = ? \
         AND EXISTS (SELECT 1 FROM payment_methods m WHERE m.client_id = i.client_id AND m.gateway = ? \
           AND m.is_default = ?) \
         AND NOT EXISTS (SELECT 1 FROM invoice_lines l WHERE l.invoice_id = i.id AND l.kind = 'funds') \
         ORDER BY i.id"
    );
    let values = vec![latest_due.into(), true.into(), STRIPE.into(), true.into()];
    let rows = state.db.query_all_raw(crate::db::clock_statement(backend, &sql, values)).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.try_get("", "id")).collect::<Result<_, _>>()?;
    let mut found = Vec::new();
    for chunk in ids.chunks(500) {
        let invoices = invoice::Entity::find().filter(invoice::Column::Id.is_in(chunk.to_vec())).all(&state.db).await?;
        let attempts = payment::Entity::find()
            .filter(payment::Column::Kind.eq(AUTOMATIC))
            .filter(payment::Column::InvoiceId.is_in(chunk.to_vec()))
            .all(&state.db)
            .await?;
        for i in invoices {
            if i.balance_minor() <= 0 || !stripe.takes(&i.currency_code) {
                continue;
            }
            let Some(slot) =
                slot_on(i.due_date, date, settings.auto_charge_days_before, &settings.auto_charge_retry_days)
            else {
                continue;
            };
            let mine: Vec<_> = attempts.iter().filter(|p| p.invoice_id == Some(i.id)).collect();
            let key = attempt_key(i.id, slot);
            if mine.iter().any(|p| {
                p.attempt_key == key || p.status == PaymentStatus::Pending || p.status == PaymentStatus::Unknown
            }) {
                continue;
            }
            found.push(Due { invoice_id: i.id, number: i.display_number(), slot });
        }
    }
    Ok(found)
}

fn attempt_key(invoice_id: InvoiceId, slot: u32) -> String {
    format!("auto:{invoice_id}:{slot}")
}

/// Charges invoice `invoice_id`'s balance to its client's default card, once for `slot`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeInvoice {
    pub invoice_id: InvoiceId,
    pub slot: u32,
}

impl Job for ChargeInvoice {
    const KIND: &'static str = "payment.charge";
    const MAX_ATTEMPTS: i32 = 6;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let outcome = charge(ctx, self.invoice_id, self.slot).await?;
        tracing::info!(invoice.id = %self.invoice_id, slot = self.slot, outcome = %outcome, "automatic charge");
        Ok(())
    }
}

/// Asks the gateway what became of a payment whose outcome we do not know, after 5 minutes,
/// 1 hour and 1 day; only its answer settles the payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolvePayment {
    pub payment_id: GatewayPaymentId,
    /// 0, 1, 2: which of the checks this is.
    pub step: u32,
}

/// When each check runs, after the one before (the first after the charge).
const RESOLVE_DELAYS: [std::time::Duration; 3] = [
    std::time::Duration::from_secs(5 * 60),
    std::time::Duration::from_secs(60 * 60),
    std::time::Duration::from_secs(24 * 60 * 60),
];

/// Queues check `step` of payment `id`, in the caller's transaction.
pub async fn queue_resolve(db: &impl ConnectionTrait, id: GatewayPaymentId, step: u32) -> Result<bool, DbErr> {
    let delay = RESOLVE_DELAYS.get(step as usize).copied().unwrap_or(RESOLVE_DELAYS[2]);
    let how = Enqueue { delay, ..Enqueue::unique(format!("payment.resolve:{id}:{step}")) };
    jobs::enqueue(db, &ResolvePayment { payment_id: id, step }, how).await
}

/// Staff ask for the gateway's word on an unknown payment now, rather than at the next
/// scheduled check. Asked a minute from now (the gateway's search may lag that much), as the
/// last check: found, it is settled; never seen, it ends uncharged; still undecided, it stays
/// flagged. One such check waits at a time.
pub async fn check_now(
    state: &AppState,
    actor: &crate::audit::Actor,
    id: GatewayPaymentId,
) -> Result<bool, PaymentError> {
    let record = store::find(&state.db, id).await?.ok_or(PaymentError::NotFound)?;
    if record.status != PaymentStatus::Unknown {
        return Err(PaymentError::NotAllowed("Only a payment whose outcome is unknown is checked again."));
    }
    let prefix = format!("payment.resolve:{id}:staff:");
    let waiting = crate::jobs::store::Entity::find()
        .filter(crate::jobs::store::Column::UniqueKey.starts_with(&prefix))
        .filter(crate::jobs::store::Column::Status.is_in(["pending", "running"]))
        .count(&state.db)
        .await?;
    if waiting > 0 {
        return Ok(false);
    }
    let how = Enqueue {
        delay: std::time::Duration::from_secs(60),
        ..Enqueue::unique(format!("{prefix}{}", Utc::now().timestamp_millis()))
    };
    let last = (RESOLVE_DELAYS.len() - 1) as u32;
    let txn = state.db.begin().await?;
    let queued = jobs::enqueue(&txn, &ResolvePayment { payment_id: id, step: last }, how).await?;
    if queued {
        crate::audit::record(
            &txn,
            actor,
            "payment.check_requested",
            Some(("payment", id.0)),
            "Asked the gateway again",
        )
        .await?;
    }
    txn.commit().await?;
    Ok(queued)
}

impl Job for ResolvePayment {
    const KIND: &'static str = "payment.resolve";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let outcome = resolve(ctx, self.payment_id, self.step).await?;
        tracing::info!(payment.id = %self.payment_id, step = self.step, outcome = %outcome, "checked an unknown payment");
        Ok(())
    }
}

fn payable(i: &invoice::Model) -> bool {
    (i.status == InvoiceStatus::Unpaid || i.status == InvoiceStatus::Collections) && i.balance_minor() > 0
}

/// What claiming the slot found.
enum Claim {
    /// Ours to charge (new, or a charge a crashed attempt began: the same idempotency key
    /// makes Stripe answer with that charge).
    Charge(Box<payment::Model>),
    /// The slot was tried already.
    Done,
    /// The client is being sent to Stripe's page this very moment; look again shortly.
    Busy,
}

/// Claims slot `slot` of the invoice for an automatic charge of its balance, in one
/// transaction that holds the invoice's row, so a card payment being started at the same
/// moment is either seen here or sees this.
async fn claim(
    ctx: &JobContext,
    invoice_id: InvoiceId,
    method: &super::model::method::Model,
    slot: u32,
) -> Result<Claim, PaymentError> {
    let state = &ctx.state;
    let txn = state.db.begin().await?;
    let Some(current) = store::lock_invoice(&txn, invoice_id).await? else { return Ok(Claim::Done) };
    let key = attempt_key(invoice_id, slot);
    if let Some(existing) = payment::Entity::find().filter(payment::Column::AttemptKey.eq(&key)).one(&txn).await? {
        return Ok(if existing.status == PaymentStatus::Pending {
            Claim::Charge(Box::new(existing))
        } else {
            Claim::Done
        });
    }
    if !payable(&current) {
        return Ok(Claim::Done);
    }
    let starting = payment::Entity::find()
        .filter(payment::Column::InvoiceId.eq(invoice_id))
        .filter(payment::Column::Kind.eq(CHECKOUT))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending))
        .filter(payment::Column::SessionRef.is_null())
        .filter(payment::Column::CreatedAt.gt(Utc::now() - chrono::Duration::minutes(2)))
        .one(&txn)
        .await?;
    if starting.is_some() || capturing(&txn, invoice_id).await? {
        return Ok(Claim::Busy);
    }
    let now = Utc::now();
    let record = payment::ActiveModel {
        client_id: Set(current.client_id),
        invoice_id: Set(Some(invoice_id)),
        gateway: Set(method.gateway.clone()),
        kind: Set(AUTOMATIC.to_owned()),
        status: Set(PaymentStatus::Pending.to_owned()),
        amount_minor: Set(current.balance_minor()),
        currency_code: Set(current.currency_code.clone()),
        refunded_minor: Set(0),
        method_id: Set(Some(method.id)),
        attempt_key: Set(key),
        flag: Set(String::new()),
        error: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    // Should this job never finish (a crash past its last attempt), the check still settles
    // the record from what Stripe knows, so it cannot block the invoice for good.
    queue_resolve(&txn, record.id, 0).await?;
    ctx.fence(&txn).await?;
    txn.commit().await?;
    Ok(Claim::Charge(Box::new(record)))
}

/// Whether an approved PayPal payment of the invoice is being captured right now.
async fn capturing(txn: &DatabaseTransaction, invoice_id: InvoiceId) -> Result<bool, DbErr> {
    let pending = payment::Entity::find()
        .filter(payment::Column::InvoiceId.eq(invoice_id))
        .filter(payment::Column::Gateway.eq(gateways::PAYPAL))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending))
        .all(txn)
        .await?;
    for p in pending {
        let keys: Vec<String> = [notices::CaptureCause::Return, notices::CaptureCause::Event]
            .into_iter()
            .map(|cause| notices::capture_key(p.id, cause))
            .collect();
        let live = crate::jobs::store::Entity::find()
            .filter(crate::jobs::store::Column::UniqueKey.is_in(keys))
            .filter(crate::jobs::store::Column::Status.is_in(["pending", "running"]))
            .count(txn)
            .await?;
        if live > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Ends an automatic attempt that charged nothing.
async fn abandon(db: &impl ConnectionTrait, id: GatewayPaymentId, why: &str) -> Result<(), DbErr> {
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(PaymentStatus::Expired))
        .col_expr(payment::Column::Error, Expr::value(why))
        .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payment::Column::Id.eq(id))
        .filter(payment::Column::Status.is_in([PaymentStatus::Pending, PaymentStatus::Unknown]))
        .exec(db)
        .await?;
    Ok(())
}

async fn charge(ctx: &JobContext, invoice_id: InvoiceId, slot: u32) -> Result<String, PaymentError> {
    let state = &ctx.state;
    let Some(invoice) = invoices::find(&state.db, invoice_id).await? else { return Ok("no such invoice".into()) };
    if !payable(&invoice) {
        return Ok("nothing left to pay".into());
    }
    let Some(owner) = crate::clients::store::find(&state.db, invoice.client_id).await? else {
        return Ok("no such client".into());
    };
    if !owner.auto_pay {
        return Ok("automatic payment is off".into());
    }
    let Some(card) = methods::default_method(&state.db, owner.id, STRIPE).await? else {
        return Ok("no saved card".into());
    };
    let settings = gateways::load(&state.db, STRIPE).await?;
    if !settings.takes(&invoice.currency_code) {
        return Ok("card payments are off for this currency".into());
    }
    let stripe = settings.stripe(state)?;
    let record = match claim(ctx, invoice_id, &card, slot).await? {
        Claim::Charge(record) => record,
        Claim::Done => return Ok("this attempt was made already".into()),
        Claim::Busy => return Err(PaymentError::Conflict("the client is paying this invoice another way right now")),
    };
    // A resumed attempt charges the card it began with: its idempotency key promised Stripe
    // the same request.
    let card = match record.method_id {
        Some(id) if id != card.id => match super::model::method::Entity::find_by_id(id).one(&state.db).await? {
            Some(began_with) => began_with,
            None => {
                abandon(&state.db, record.id, "The card this attempt began with was removed: not charged.").await?;
                return Ok("its card was removed; not charged".into());
            }
        },
        _ => card,
    };
    // A page the client may still pay on is closed first; one paid already ends this attempt.
    let open = payment::Entity::find()
        .filter(payment::Column::InvoiceId.eq(invoice_id))
        .filter(payment::Column::Kind.eq(CHECKOUT))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending))
        .filter(payment::Column::SessionRef.is_not_null())
        .all(&state.db)
        .await?;
    // PayPal orders cannot be closed; their capture checks the invoice is still owed first.
    for page in open.into_iter().filter(|p| p.gateway == STRIPE) {
        let session = page.session_ref.clone().unwrap_or_default();
        match stripe.expire_checkout(&session).await {
            Ok(ExpireOutcome::Expired) => {
                abandon(&state.db, page.id, "Closed before an automatic charge of the invoice.").await?;
            }
            Ok(ExpireOutcome::AlreadyCompleted) => {
                abandon(&state.db, record.id, "The client paid on the card page meanwhile: not charged.").await?;
                return Ok(format!("page {session} was paid; not charged"));
            }
            Err(err) => {
                let why = format!("Not charged: the open card page {session} could not be closed ({err}).");
                abandon(&state.db, record.id, &why).await?;
                return Ok(why);
            }
        }
    }
    let Some(invoice) = invoices::find(&state.db, invoice_id).await?.filter(payable) else {
        abandon(&state.db, record.id, "The invoice was paid meanwhile: not charged.").await?;
        return Ok("paid meanwhile; not charged".into());
    };
    if invoice.balance_minor() != record.amount_minor {
        abandon(&state.db, record.id, "The invoice changed before the charge: not charged.").await?;
        return Ok("the invoice changed; not charged".into());
    }
    let customer = checkout::customer_ref(state, &*stripe, STRIPE, &owner).await?;
    let request = ChargeRequest {
        our_ref: record.id.to_string(),
        invoice_ref: invoice_id.to_string(),
        description: format!("Invoice {}", invoice.display_number()),
        amount: hostwright_gateways::Amount { minor: record.amount_minor, currency: record.currency_code.clone() },
        customer_ref: customer,
        method_ref: card.method_ref.clone(),
    };
    let answer = stripe.charge_saved(&request).await;
    settle(ctx, &record, answer).await
}

/// Applies the gateway's answer to a charge (or to a later lookup of it).
async fn settle(
    ctx: &JobContext,
    record: &payment::Model,
    answer: Result<hostwright_gateways::RemotePayment, GatewayError>,
) -> Result<String, PaymentError> {
    let state = &ctx.state;
    match answer {
        Ok(remote) => match remote.status {
            RemoteStatus::Succeeded => {
                Ok(notices::succeed(ctx, record, &remote.payment_ref, &remote.amount).await?.outcome)
            }
            RemoteStatus::Failed { code, message } => {
                let failure = notices::Failure { code, message, needs_authentication: false };
                notices::fail(ctx, record, Some(&remote.payment_ref), &failure).await?;
                Ok(format!("declined: {}", failure.message))
            }
            RemoteStatus::RequiresAction => {
                let failure = notices::Failure::authentication();
                notices::fail(ctx, record, Some(&remote.payment_ref), &failure).await?;
                Ok("the bank asks the card holder to confirm".into())
            }
            RemoteStatus::Canceled => {
                let failure = notices::Failure {
                    code: "canceled".into(),
                    message: "The charge was cancelled.".into(),
                    ..Default::default()
                };
                notices::fail(ctx, record, Some(&remote.payment_ref), &failure).await?;
                Ok("cancelled".into())
            }
            RemoteStatus::Processing => {
                // The bank answers later; the webhook, or the check, settles it.
                let txn = state.db.begin().await?;
                note_unknown(&txn, record.id, Some(&remote.payment_ref), PaymentStatus::Pending).await?;
                queue_resolve(&txn, record.id, 0).await?;
                ctx.fence(&txn).await?;
                txn.commit().await?;
                Ok("processing at the bank".into())
            }
        },
        Err(GatewayError::Declined { code, message, payment_ref }) => {
            let failure = notices::Failure { code, message, needs_authentication: false };
            notices::fail(ctx, record, payment_ref.as_deref(), &failure).await?;
            Ok(format!("declined: {}", failure.message))
        }
        Err(GatewayError::AuthenticationRequired { payment_ref }) => {
            notices::fail(ctx, record, payment_ref.as_deref(), &notices::Failure::authentication()).await?;
            Ok("the bank asks the card holder to confirm".into())
        }
        Err(GatewayError::Rejected { message, .. }) => {
            let failure = notices::Failure { code: "rejected".into(), message, needs_authentication: false };
            notices::fail(ctx, record, None, &failure).await?;
            Ok(format!("refused by the gateway: {}", failure.message))
        }
        Err(GatewayError::Unsupported) => {
            abandon(&state.db, record.id, "The gateway cannot charge saved methods.").await?;
            Ok("unsupported".into())
        }
        Err(err) => {
            // No answer: it may or may not have been charged. Only the gateway can say.
            let txn = state.db.begin().await?;
            note_unknown(&txn, record.id, None, PaymentStatus::Unknown).await?;
            let error = format!("{err}; asking the gateway again in 5 minutes");
            payment::Entity::update_many()
                .col_expr(payment::Column::Error, Expr::value(error.clone()))
                .filter(payment::Column::Id.eq(record.id))
                .exec(&txn)
                .await?;
            queue_resolve(&txn, record.id, 0).await?;
            ctx.fence(&txn).await?;
            txn.commit().await?;
            state.jobs_wakeup.notify_one();
            Ok(error)
        }
    }
}

/// Marks a payment as waiting on the gateway (`status` pending or unknown), keeping its
/// gateway id when one is known.
async fn note_unknown(
    db: &impl ConnectionTrait,
    id: GatewayPaymentId,
    payment_ref: Option<&str>,
    status: PaymentStatus,
) -> Result<(), DbErr> {
    let mut update = Query::update();
    update
        .table(payment::Entity)
        .value(payment::Column::Status, status)
        .value(payment::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(payment::Column::Id).eq(id))
        .and_where(Expr::col(payment::Column::Status).is_in([PaymentStatus::Pending, PaymentStatus::Unknown]));
    if let Some(payment_ref) = payment_ref {
        update.value(payment::Column::GatewayRef, payment_ref);
    }
    db.execute(&update).await?;
    Ok(())
}

async fn resolve(ctx: &JobContext, id: GatewayPaymentId, step: u32) -> Result<String, PaymentError> {
    let state = &ctx.state;
    let Some(record) = store::find(&state.db, id).await? else { return Ok("no such payment".into()) };
    if record.status != PaymentStatus::Unknown && record.status != PaymentStatus::Pending {
        return Ok(format!("settled meanwhile ({})", record.status));
    }
    let stripe = gateways::stripe(state).await?;
    let found = match &record.gateway_ref {
        Some(payment_ref) => stripe.payment(payment_ref).await.map(Some),
        None => stripe.find_payment(&record.id.to_string()).await,
    };
    let later = |why: String| async move {
        let txn = state.db.begin().await?;
        let next = step + 1;
        let outcome = if (next as usize) < RESOLVE_DELAYS.len() {
            queue_resolve(&txn, id, next).await?;
            format!("{why}; asking again later")
        } else {
            payment::Entity::update_many()
                .col_expr(
                    payment::Column::Flag,
                    Expr::value(
                        "The gateway never confirmed this payment either way: check it in the gateway's dashboard.",
                    ),
                )
                .filter(payment::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            format!("{why}; left for staff")
        };
        ctx.fence(&txn).await?;
        txn.commit().await?;
        Ok::<String, PaymentError>(outcome)
    };
    match found {
        Ok(Some(remote)) if remote.status == RemoteStatus::Processing => {
            later("the bank has not answered yet".into()).await
        }
        Ok(Some(remote)) => settle(ctx, &record, Ok(remote)).await,
        // Stripe's search can lag a minute behind; only a later check may conclude that
        // nothing was charged.
        Ok(None) if step == 0 => later("the gateway has no such payment yet".into()).await,
        Ok(None) => {
            abandon(&state.db, id, "The charge never reached the gateway; the next attempt tries again.").await?;
            Ok("never reached the gateway".into())
        }
        Err(err) => later(format!("the gateway did not answer ({err})")).await,
    }
}

/// The "payment failed" email's wording of the next attempt, if the schedule has one.
pub fn next_attempt(settings: &AutomationSettings, due: NaiveDate, attempt_key: &str) -> Option<NaiveDate> {
    let slot: u32 = attempt_key.rsplit(':').next()?.parse().ok()?;
    slot_date(due, slot + 1, settings.auto_charge_days_before, &settings.auto_charge_retry_days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn slots_follow_the_first_charge_and_the_retry_days() {
        let due = d("2027-03-10");
        let retries = [1, 3, 5];
        assert_eq!(slot_on(due, d("2027-03-09"), 0, &retries), None);
        assert_eq!(slot_on(due, d("2027-03-10"), 0, &retries), Some(0));
        assert_eq!(slot_on(due, d("2027-03-11"), 0, &retries), Some(1));
        assert_eq!(slot_on(due, d("2027-03-12"), 0, &retries), Some(1));
        assert_eq!(slot_on(due, d("2027-03-13"), 0, &retries), Some(2));
        assert_eq!(slot_on(due, d("2027-04-13"), 0, &retries), Some(3));
        assert_eq!(slot_on(due, d("2027-03-07"), 3, &retries), Some(0));
        assert_eq!(slot_on(due, d("2027-03-20"), 0, &[]), Some(0));
        assert_eq!(slot_date(due, 0, 3, &retries), Some(d("2027-03-07")));
        assert_eq!(slot_date(due, 2, 0, &retries), Some(d("2027-03-13")));
        assert_eq!(slot_date(due, 4, 0, &retries), None);
        assert_eq!(next_attempt(&AutomationSettings::default(), due, "auto:7:0"), Some(d("2027-03-11")));
        assert_eq!(next_attempt(&AutomationSettings::default(), due, "auto:7:3"), None);
    }
}
