//! Payment records and what moves them: a client starting a payment on the gateway's page,
//! and the gateway's notices (success, failure, refund, expiry) applied once each.
//!
//! The record is written before the gateway is called, so every request to the gateway can
//! name it (idempotency key, metadata) and every answer finds it again. Applying a success
//! is one transaction: the guarded move to `succeeded` decides which notice books the money,
//! whichever of several arrives first (decision 0020).

use chrono::Utc;
use hostwright_core::{Currency, Money};
use hostwright_gateways::{Amount, CheckoutRequest, GatewayError, Notice, PaymentGateway, RemoteStatus};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, QueryOrder, TransactionTrait};

use super::PaymentError;
use super::gateways::{self, STRIPE};
use super::model::{customer, payment};
use crate::audit::{self, Actor};
use crate::clients::model::client;
use crate::ids::{ClientId, GatewayPaymentId, InvoiceId};
use crate::invoices::model::invoice;
use crate::invoices::receipts::{self, Incoming};
use crate::invoices::service::{self as invoices, COLLECTIONS, InvoiceError, PAID, UNPAID};
use crate::jobs::JobContext;
use crate::state::AppState;

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
/// The gateway did not answer; a job asks it later.
pub const UNKNOWN: &str = "unknown";
pub const EXPIRED: &str = "expired";
pub const PARTIALLY_REFUNDED: &str = "partially_refunded";
pub const REFUNDED: &str = "refunded";

/// The client paid on the gateway's page.
pub const CHECKOUT: &str = "checkout";
/// A saved method charged without the client present.
pub const AUTOMATIC: &str = "automatic";

pub fn status_label(status: &str) -> &'static str {
    match status {
        PENDING => "Pending",
        SUCCEEDED => "Succeeded",
        FAILED => "Failed",
        UNKNOWN => "Unknown (being checked)",
        EXPIRED => "Expired",
        PARTIALLY_REFUNDED => "Partially refunded",
        REFUNDED => "Refunded",
        _ => "Other",
    }
}

pub async fn find(db: &impl ConnectionTrait, id: GatewayPaymentId) -> Result<Option<payment::Model>, DbErr> {
    payment::Entity::find_by_id(id).one(db).await
}

async fn by_gateway_ref(
    db: &impl ConnectionTrait,
    gateway: &str,
    gateway_ref: &str,
) -> Result<Option<payment::Model>, DbErr> {
    payment::Entity::find()
        .filter(payment::Column::Gateway.eq(gateway))
        .filter(payment::Column::GatewayRef.eq(gateway_ref))
        .one(db)
        .await
}

/// The payments made for invoice `id`, newest first.
pub async fn for_invoice(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<payment::Model>, DbErr> {
    payment::Entity::find().filter(payment::Column::InvoiceId.eq(id)).order_by_desc(payment::Column::Id).all(db).await
}

/// Whether an automatic charge of invoice `id` is under way (so the client must not pay it
/// a second way at the same moment).
pub async fn automatic_in_flight(db: &impl ConnectionTrait, id: InvoiceId) -> Result<bool, DbErr> {
    Ok(payment::Entity::find()
        .filter(payment::Column::InvoiceId.eq(id))
        .filter(payment::Column::Kind.eq(AUTOMATIC))
        .filter(payment::Column::Status.is_in([PENDING, UNKNOWN]))
        .one(db)
        .await?
        .is_some())
}

/// The gateway's customer for `client`, created at the gateway the first time.
pub async fn customer_ref(
    state: &AppState,
    gateway: &impl PaymentGateway,
    gateway_key: &str,
    client: &client::Model,
) -> Result<String, PaymentError> {
    let existing = customer::Entity::find_by_id((client.id, gateway_key.to_owned())).one(&state.db).await?;
    if let Some(existing) = existing {
        return Ok(existing.customer_ref);
    }
    let created = gateway.ensure_customer(&client.id.to_string(), &client.email, &client.full_name()).await?;
    let insert = Query::insert()
        .into_table(customer::Entity)
        .columns([
            customer::Column::ClientId,
            customer::Column::Gateway,
            customer::Column::CustomerRef,
            customer::Column::CreatedAt,
        ])
        .values_panic([client.id.0.into(), gateway_key.into(), created.clone().into(), Utc::now().into()])
        .on_conflict(
            OnConflict::columns([customer::Column::ClientId, customer::Column::Gateway]).do_nothing().to_owned(),
        )
        .to_owned();
    state.db.execute(&insert).await?;
    // The gateway made the customer once (its idempotency key is the client's id), so a
    // racing request stored the same one.
    Ok(created)
}

/// Starts paying the balance of invoice `invoice_id` on gateway `gateway_key`'s hosted page
/// (Stripe Checkout, PayPal's approval page) and returns the address to send the client to.
/// One form submission (`form_key`) makes one payment; the same submission again leads to the
/// same page.
pub async fn start_checkout(
    state: &AppState,
    owner: &client::Model,
    invoice_id: InvoiceId,
    gateway_key: &str,
    form_key: &str,
) -> Result<String, PaymentError> {
    let form_key = form_key.trim();
    if form_key.len() < 16 || form_key.len() > 64 {
        return Err(PaymentError::NotAllowed("This form is out of date; reload the page and try again."));
    }
    let invoice = invoices::find(&state.db, invoice_id)
        .await?
        .filter(|i| i.client_id == owner.id)
        .ok_or(PaymentError::NotFound)?;
    if invoice.status != UNPAID && invoice.status != COLLECTIONS || invoice.balance_minor() <= 0 {
        return Err(PaymentError::NotAllowed("This invoice has nothing left to pay."));
    }
    let settings = gateways::load(&state.db, gateway_key).await?;
    if !gateways::is_online(gateway_key) || !settings.takes(&invoice.currency_code) {
        return Err(PaymentError::NotAllowed("This way of paying is not available for this invoice."));
    }
    let gateway = gateways::online(state, gateway_key).await?;
    let attempt = format!("checkout:{gateway_key}:{form_key}");
    let record = insert_pending(state, owner.id, invoice_id, gateway_key, CHECKOUT, &attempt).await?;
    let customer = match gateway_key {
        STRIPE => Some(customer_ref(state, &gateway, STRIPE, owner).await?),
        _ => None,
    };
    let number = invoice.display_number();
    let base = &state.settings.base_url;
    let back = |path: &str| {
        base.join(&format!("account/invoices/{invoice_id}{path}"))
            .map(|u| u.to_string())
            .map_err(|e| DbErr::Custom(e.to_string()))
    };
    let request = CheckoutRequest {
        our_ref: record.id.to_string(),
        invoice_ref: invoice_id.to_string(),
        description: format!("Invoice {number}"),
        amount: Amount { minor: record.amount_minor, currency: record.currency_code.clone() },
        customer_ref: customer,
        email: owner.email.clone(),
        // PayPal's payer comes back to have the approved order captured.
        success_url: back(if gateway_key == gateways::PAYPAL { "/paypal-return" } else { "?payment=returned" })?,
        cancel_url: back("?payment=cancelled")?,
        save_method: false,
    };
    match gateway.start_checkout(&request).await {
        Ok(redirect) => {
            payment::Entity::update_many()
                .col_expr(payment::Column::SessionRef, Expr::value(redirect.session_ref.clone()))
                .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(payment::Column::Id.eq(record.id))
                .exec(&state.db)
                .await?;
            tracing::info!(payment.id = %record.id, invoice.id = %invoice_id, gateway = gateway_key, "sent the client to the gateway's page");
            Ok(redirect.url)
        }
        Err(err) => {
            // Nobody was sent to a page, so nothing can be paid on this record.
            set_failed(&state.db, record.id, &err.to_string()).await?;
            Err(err.into())
        }
    }
}

/// The client came back from approving PayPal order `order_ref`: its capture is queued (once,
/// however often they come back, and also when PayPal reports the approval). Returns the
/// invoice the payment is for, if the order is one of this client's.
pub async fn returned_from_approval(
    state: &AppState,
    owner: ClientId,
    gateway_key: &str,
    order_ref: &str,
) -> Result<Option<InvoiceId>, PaymentError> {
    let record = payment::Entity::find()
        .filter(payment::Column::Gateway.eq(gateway_key))
        .filter(payment::Column::SessionRef.eq(order_ref))
        .one(&state.db)
        .await?
        .filter(|p| p.client_id == owner);
    let Some(record) = record else { return Ok(None) };
    if record.status == PENDING {
        let txn = state.db.begin().await?;
        queue_capture(&txn, record.id, CaptureCause::Return).await?;
        txn.commit().await?;
        state.jobs_wakeup.notify_one();
    }
    Ok(record.invoice_id)
}

/// Captures approved payment `id` at its gateway and books what was captured.
pub async fn capture(ctx: &JobContext, id: GatewayPaymentId) -> Result<String, PaymentError> {
    let state = &ctx.state;
    let Some(record) = find(&state.db, id).await? else { return Ok("no such payment".into()) };
    if record.status != PENDING {
        return Ok(format!("already {}", record.status));
    }
    let Some(order) = record.session_ref.clone() else { return Ok("no approved order".into()) };
    if record.gateway != gateways::PAYPAL {
        return Ok("this gateway completes payments by itself".into());
    }
    // Under the invoice's row: paid another way meanwhile (a bank transfer, a card) or changed,
    // the approval lapses uncaptured rather than charging the payer twice; an automatic charge
    // under way is waited for. The automatic charge, in turn, waits for a capture under way.
    let txn = state.db.begin().await?;
    let current = match record.invoice_id {
        Some(invoice_id) => lock_invoice(&txn, invoice_id).await?,
        None => None,
    };
    let owed = current
        .as_ref()
        .is_some_and(|i| (i.status == UNPAID || i.status == COLLECTIONS) && i.balance_minor() == record.amount_minor);
    if !owed {
        payment::Entity::update_many()
            .col_expr(payment::Column::Status, Expr::value(EXPIRED))
            .col_expr(payment::Column::Error, Expr::value("The invoice was settled or changed before the capture."))
            .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(payment::Column::Id.eq(record.id))
            .filter(payment::Column::Status.eq(PENDING))
            .exec(&txn)
            .await?;
        ctx.fence(&txn).await?;
        txn.commit().await?;
        return Ok("not captured: the invoice is settled or changed".into());
    }
    if let Some(invoice_id) = record.invoice_id
        && automatic_in_flight(&txn, invoice_id).await?
    {
        return Err(PaymentError::Conflict("an automatic charge of the invoice is under way"));
    }
    txn.commit().await?;
    let paypal = gateways::paypal(state).await?;
    match paypal.capture(&record.id.to_string(), &order).await {
        Ok(remote) => match remote.status {
            RemoteStatus::Succeeded => Ok(succeed(ctx, &record, &remote.payment_ref, &remote.amount).await?.outcome),
            RemoteStatus::Failed { code, message } => {
                let failure = Failure { code, message, needs_authentication: false };
                fail(ctx, &record, Some(&remote.payment_ref), &failure).await?;
                Ok(format!("declined: {}", failure.message))
            }
            // Pending at PayPal (an eCheck, a review): its completion event books it.
            _ => {
                payment::Entity::update_many()
                    .col_expr(payment::Column::GatewayRef, Expr::value(remote.payment_ref.clone()))
                    .filter(payment::Column::Id.eq(record.id))
                    .filter(payment::Column::GatewayRef.is_null())
                    .exec(&state.db)
                    .await?;
                Ok(format!("captured as {}, pending at the gateway", remote.payment_ref))
            }
        },
        Err(GatewayError::Declined { code, message, .. }) => {
            let failure = Failure { code, message, needs_authentication: false };
            fail(ctx, &record, None, &failure).await?;
            Ok(format!("declined: {}", failure.message))
        }
        // Not approved (yet): nothing to book; PayPal's approval event queues another try.
        Err(GatewayError::Rejected { message, .. }) if message.contains("ORDER_NOT_APPROVED") => {
            Ok(format!("not captured: {message}"))
        }
        // Refused for another reason (credentials, a passing fault): tried again later.
        Err(GatewayError::Rejected { message, .. }) => {
            tracing::warn!(payment.id = %record.id, error = %message, "PayPal refused a capture");
            Err(PaymentError::Conflict("PayPal refused the capture; trying again later"))
        }
        Err(other) => Err(other.into()),
    }
}

/// What queued a capture: the payer coming back, or the gateway reporting the approval.
#[derive(Debug, Clone, Copy)]
pub enum CaptureCause {
    Return,
    Event,
}

/// Queues the capture of approved payment `id`, once per cause (a capture is idempotent at
/// the gateway and booked once here, so the second finds it done).
pub async fn queue_capture(
    db: &impl ConnectionTrait,
    id: GatewayPaymentId,
    cause: CaptureCause,
) -> Result<bool, DbErr> {
    let job = super::jobs::CapturePayment { payment_id: id };
    crate::jobs::enqueue(db, &job, crate::jobs::Enqueue::unique(capture_key(id, cause))).await
}

pub(super) fn capture_key(id: GatewayPaymentId, cause: CaptureCause) -> String {
    let cause = match cause {
        CaptureCause::Return => "return",
        CaptureCause::Event => "event",
    };
    format!("payment.capture:{id}:{cause}")
}

/// Holds invoice `id`'s row for the rest of `txn` (so the two ways of paying it, the client's
/// page and the automatic charge, take turns) and returns it as it is now.
pub(super) async fn lock_invoice(txn: &DatabaseTransaction, id: InvoiceId) -> Result<Option<invoice::Model>, DbErr> {
    let hold = Query::update()
        .table(invoice::Entity)
        .value(invoice::Column::UpdatedAt, Expr::col(invoice::Column::UpdatedAt))
        .and_where(Expr::col(invoice::Column::Id).eq(id))
        .to_owned();
    txn.execute(&hold).await?;
    invoices::find(txn, id).await
}

/// Writes the payment record of one form submission (`attempt_key`) for the invoice's
/// balance; the same submission again finds the same record while it is pending.
async fn insert_pending(
    state: &AppState,
    client_id: ClientId,
    invoice_id: InvoiceId,
    gateway: &str,
    kind: &str,
    attempt_key: &str,
) -> Result<payment::Model, PaymentError> {
    let txn = state.db.begin().await?;
    let invoice = lock_invoice(&txn, invoice_id).await?.ok_or(PaymentError::NotFound)?;
    if let Some(earlier) = payment::Entity::find().filter(payment::Column::AttemptKey.eq(attempt_key)).one(&txn).await?
    {
        return if earlier.status == PENDING {
            Ok(earlier)
        } else {
            Err(PaymentError::NotAllowed("This payment was already started; reload the invoice."))
        };
    }
    if invoice.status != UNPAID && invoice.status != COLLECTIONS || invoice.balance_minor() <= 0 {
        return Err(PaymentError::NotAllowed("This invoice has nothing left to pay."));
    }
    if automatic_in_flight(&txn, invoice_id).await? {
        return Err(PaymentError::NotAllowed(
            "An automatic payment of this invoice is being processed; check back in a few minutes.",
        ));
    }
    let now = Utc::now();
    let record = payment::ActiveModel {
        client_id: Set(client_id),
        invoice_id: Set(Some(invoice.id)),
        gateway: Set(gateway.to_owned()),
        kind: Set(kind.to_owned()),
        status: Set(PENDING.to_owned()),
        amount_minor: Set(invoice.balance_minor()),
        currency_code: Set(invoice.currency_code.clone()),
        refunded_minor: Set(0),
        attempt_key: Set(attempt_key.to_owned()),
        flag: Set(String::new()),
        error: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(record)
}

async fn set_failed(db: &impl ConnectionTrait, id: GatewayPaymentId, error: &str) -> Result<bool, DbErr> {
    let done = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(FAILED))
        .col_expr(payment::Column::Error, Expr::value(truncate(error, 500)))
        .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payment::Column::Id.eq(id))
        .filter(payment::Column::Status.is_in([PENDING, UNKNOWN]))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// What applying a notice did, for the event's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub payment_id: Option<GatewayPaymentId>,
    pub outcome: String,
}

impl Applied {
    pub(super) fn to(payment_id: GatewayPaymentId, outcome: impl Into<String>) -> Self {
        Applied { payment_id: Some(payment_id), outcome: outcome.into() }
    }

    pub(super) fn nothing(outcome: impl Into<String>) -> Self {
        Applied { payment_id: None, outcome: outcome.into() }
    }
}

/// Applies what gateway `gateway_key` told us, once: a repeat, or a notice that arrives
/// after a later one, changes nothing.
pub async fn apply_notice(
    ctx: &JobContext,
    gateway: &impl PaymentGateway,
    gateway_key: &str,
    notice: &Notice,
) -> Result<Applied, PaymentError> {
    let state = &ctx.state;
    match notice {
        Notice::PaymentSucceeded { our_ref, payment_ref, session_ref, amount, .. } => {
            let Some(record) = locate(state, gateway_key, our_ref.as_deref(), payment_ref).await? else {
                return Ok(Applied::nothing(format!("{payment_ref} is not a payment Hostwright started")));
            };
            if let (Some(ours), Some(theirs)) = (&record.session_ref, session_ref)
                && ours != theirs
            {
                return Ok(Applied::to(record.id, format!("paid on page {theirs}, not this payment's page {ours}")));
            }
            succeed(ctx, &record, payment_ref, amount).await
        }
        Notice::PaymentFailed { our_ref, payment_ref, code, message, needs_authentication } => {
            let Some(record) = locate(state, gateway_key, our_ref.as_deref(), payment_ref).await? else {
                return Ok(Applied::nothing(format!("{payment_ref} is not a payment Hostwright started")));
            };
            let failure =
                Failure { code: code.clone(), message: message.clone(), needs_authentication: *needs_authentication };
            let failed = fail(ctx, &record, Some(payment_ref), &failure).await?;
            Ok(Applied::to(record.id, if failed { "failed" } else { "already settled; the failure changes nothing" }))
        }
        Notice::Refunded { payment_ref, refunded_minor, .. } => {
            let record = match by_gateway_ref(&state.db, gateway_key, payment_ref).await? {
                Some(record) => record,
                None => {
                    // The refund came first: the payment intent names our payment, and says
                    // whether it succeeded, so the success is booked before the refund.
                    let remote = gateway.payment(payment_ref).await?;
                    let Some(record) = locate(state, gateway_key, remote.our_ref.as_deref(), payment_ref).await? else {
                        return Ok(Applied::nothing(format!("{payment_ref} is not a payment Hostwright started")));
                    };
                    if remote.status == RemoteStatus::Succeeded {
                        succeed(ctx, &record, payment_ref, &remote.amount).await?;
                    }
                    find(&state.db, record.id).await?.ok_or(PaymentError::NotFound)?
                }
            };
            refunded(ctx, &record, *refunded_minor).await
        }
        Notice::Approved { our_ref, session_ref } => {
            let by_page = payment::Entity::find()
                .filter(payment::Column::Gateway.eq(gateway_key))
                .filter(payment::Column::SessionRef.eq(session_ref.as_str()))
                .one(&state.db)
                .await?;
            let record = match by_page {
                Some(record) => Some(record),
                None => locate(state, gateway_key, our_ref.as_deref(), session_ref).await?,
            };
            let Some(record) = record else {
                return Ok(Applied::nothing(format!("{session_ref} is not a payment Hostwright started")));
            };
            if record.status != PENDING {
                return Ok(Applied::to(record.id, "settled already"));
            }
            let txn = state.db.begin().await?;
            let queued = queue_capture(&txn, record.id, CaptureCause::Event).await?;
            ctx.fence(&txn).await?;
            txn.commit().await?;
            Ok(Applied::to(
                record.id,
                if queued { "approved: capturing it" } else { "approved: its capture is queued already" },
            ))
        }
        Notice::SessionExpired { session_ref, .. } => {
            let expired = payment::Entity::update_many()
                .col_expr(payment::Column::Status, Expr::value(EXPIRED))
                .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(payment::Column::Gateway.eq(gateway_key))
                .filter(payment::Column::SessionRef.eq(session_ref.as_str()))
                .filter(payment::Column::Status.eq(PENDING))
                .exec(&state.db)
                .await?;
            Ok(Applied::nothing(if expired.rows_affected > 0 {
                "the page expired unpaid"
            } else {
                "nothing was waiting on that page"
            }))
        }
        Notice::MethodSaved { our_ref, customer_ref, method_ref } => {
            super::methods::saved(ctx, gateway, gateway_key, our_ref.as_deref(), customer_ref.as_deref(), method_ref)
                .await
        }
        Notice::Ignored(why) => Ok(Applied::nothing(why.clone())),
    }
}

/// Why a charge did not go through.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub code: String,
    pub message: String,
    /// The bank wants the card holder to confirm the payment themselves.
    pub needs_authentication: bool,
}

impl Failure {
    pub fn authentication() -> Self {
        Failure {
            code: "authentication_required".into(),
            message: "The bank asks the card holder to confirm this payment.".into(),
            needs_authentication: true,
        }
    }
}

/// Records that a payment failed, once (a later success still wins); the client of an
/// automatic charge gets an email with a link to pay, or to confirm with their bank.
/// Returns whether this call recorded it.
pub async fn fail(
    ctx: &JobContext,
    record: &payment::Model,
    payment_ref: Option<&str>,
    failure: &Failure,
) -> Result<bool, PaymentError> {
    let state = &ctx.state;
    let txn = state.db.begin().await?;
    let mut update = Query::update();
    update
        .table(payment::Entity)
        .value(payment::Column::Status, FAILED)
        .value(payment::Column::Error, truncate(&failure.message, 500))
        .value(payment::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(payment::Column::Id).eq(record.id))
        .and_where(Expr::col(payment::Column::Status).is_in([PENDING, UNKNOWN]));
    if let Some(payment_ref) = payment_ref.filter(|_| record.gateway_ref.is_none()) {
        update.value(payment::Column::GatewayRef, payment_ref);
    }
    match txn.execute(&update).await {
        Ok(done) if done.rows_affected() == 1 => {}
        Ok(_) => return Ok(false),
        Err(err) if crate::web::forms::is_unique_violation(&err) => return Ok(false),
        Err(err) => return Err(err.into()),
    }
    let amount = amount_text(&txn, record.amount_minor, &record.currency_code).await?;
    let summary = format!(
        "{} payment of {amount} failed: {} ({})",
        if record.kind == AUTOMATIC { "Automatic" } else { "Card" },
        failure.message,
        failure.code
    );
    let actor = Actor::system(gateways::label(&record.gateway));
    audit::record(&txn, &actor, "payment.failed", Some(("payment", record.id.0)), summary).await?;
    if record.kind == AUTOMATIC {
        failure_email(state, &txn, record, failure, &amount).await?;
    }
    ctx.fence(&txn).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(true)
}

/// Tells the client an automatic charge failed: what to do, and when it is tried again.
async fn failure_email(
    state: &AppState,
    txn: &DatabaseTransaction,
    record: &payment::Model,
    failure: &Failure,
    amount: &str,
) -> Result<(), PaymentError> {
    let Some(invoice_id) = record.invoice_id else { return Ok(()) };
    let Some(i) = invoices::find(txn, invoice_id).await? else { return Ok(()) };
    let Some(owner) = crate::clients::store::find(txn, record.client_id).await? else { return Ok(()) };
    let card = match record.method_id {
        Some(id) => super::model::method::Entity::find_by_id(id).one(txn).await?.map(|m| super::methods::describe(&m)),
        None => None,
    };
    let settings = crate::site_settings::automation::load(txn).await?;
    let next = super::autopay::next_attempt(&settings, i.due_date, &record.attempt_key);
    let ctx = minijinja::context! {
        number => i.display_number(),
        amount => amount,
        card => card.unwrap_or_else(|| "your saved card".into()),
        reason => failure.message,
        needs_authentication => failure.needs_authentication,
        next_attempt => next.map(|d| d.to_string()),
        link => state.settings.url(&format!("/account/invoices/{invoice_id}")),
        methods_link => state.settings.url("/account/payment-methods"),
    };
    crate::clients::contacts::send_billing_email(state, txn, &owner, "payment_failed", ctx)
        .await
        .map_err(PaymentError::Internal)
}

/// Our payment for a notice: by the gateway's id once we know it, else by our own id.
async fn locate(
    state: &AppState,
    gateway_key: &str,
    our_ref: Option<&str>,
    payment_ref: &str,
) -> Result<Option<payment::Model>, DbErr> {
    if let Some(found) = by_gateway_ref(&state.db, gateway_key, payment_ref).await? {
        return Ok(Some(found));
    }
    let Some(id) = our_ref.and_then(|r| r.parse::<GatewayPaymentId>().ok()) else {
        return Ok(None);
    };
    Ok(find(&state.db, id).await?.filter(|p| p.gateway == gateway_key))
}

/// Books a succeeded payment, once.
pub(super) async fn succeed(
    ctx: &JobContext,
    record: &payment::Model,
    payment_ref: &str,
    amount: &Amount,
) -> Result<Applied, PaymentError> {
    let state = &ctx.state;
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let moved = Query::update()
        .table(payment::Entity)
        .value(payment::Column::Status, SUCCEEDED)
        .value(payment::Column::GatewayRef, payment_ref)
        .value(payment::Column::Error, "")
        .value(payment::Column::UpdatedAt, now)
        .and_where(Expr::col(payment::Column::Id).eq(record.id))
        .and_where(Expr::col(payment::Column::Status).is_in([PENDING, UNKNOWN, FAILED, EXPIRED]))
        .to_owned();
    match txn.execute(&moved).await {
        Ok(done) if done.rows_affected() == 1 => {}
        Ok(_) => return Ok(Applied::to(record.id, "already booked")),
        Err(err) if crate::web::forms::is_unique_violation(&err) => {
            return Ok(Applied::to(record.id, format!("{payment_ref} is booked on another payment")));
        }
        Err(err) => return Err(err.into()),
    }
    let actor = Actor::system(gateways::label(&record.gateway));
    let received = Money::from_minor(amount.minor, currency(&txn, &amount.currency).await?);
    let booking = book(state, &txn, &actor, record, payment_ref, amount, received).await?;
    let mut update = Query::update();
    update
        .table(payment::Entity)
        .value(payment::Column::AmountMinor, amount.minor)
        .value(payment::Column::CurrencyCode, amount.currency.clone())
        .value(payment::Column::Flag, truncate(&booking.flag, 500))
        .and_where(Expr::col(payment::Column::Id).eq(record.id));
    if booking.applied {
        update.value(payment::Column::AppliedAt, now);
    }
    txn.execute(&update).await?;
    let outcome = booking.outcome;
    let summary = format!("Received {received} by {} ({payment_ref}): {outcome}", gateways::label(&record.gateway));
    audit::record(&txn, &actor, "payment.received", Some(("payment", record.id.0)), summary).await?;
    ctx.fence(&txn).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(Applied::to(record.id, outcome))
}

/// An amount in a payment's currency, as people read it.
pub(super) async fn amount_text(db: &impl ConnectionTrait, minor: i64, code: &str) -> Result<String, PaymentError> {
    Ok(Money::from_minor(minor, currency(db, code).await?).to_string())
}

/// A gateway may report money in a currency the business does not use (it is flagged for
/// staff): its ISO decimals are then the right ones; a code nobody knows is an error.
pub(super) async fn currency(db: &impl ConnectionTrait, code: &str) -> Result<Currency, PaymentError> {
    let found = invoices::find_currency(db, code).await?.or_else(|| Currency::from_code(code).ok());
    Ok(crate::catalog::service::known_currency(found, code).map_err(InvoiceError::Internal)?)
}

/// What became of money received.
struct Booking {
    outcome: String,
    /// Why staff should look at it; empty when nothing is odd.
    flag: String,
    /// Whether it reached the invoice or the account credit.
    applied: bool,
}

impl Booking {
    fn held(flag: String) -> Self {
        Booking { outcome: flag.clone(), flag, applied: false }
    }
}

/// Puts money received on its invoice, any excess on the client's account credit (both
/// through `invoices::receipts`, which also sends the receipt); or, when it must not be
/// applied, holds it and says why.
async fn book(
    state: &AppState,
    txn: &DatabaseTransaction,
    actor: &Actor,
    record: &payment::Model,
    payment_ref: &str,
    amount: &Amount,
    received: Money,
) -> Result<Booking, PaymentError> {
    if amount.currency != record.currency_code {
        return Ok(Booking::held(format!(
            "Paid in {} but the payment was for {}: not applied.",
            amount.currency, record.currency_code
        )));
    }
    if amount.minor != record.amount_minor {
        let asked = Money::from_minor(record.amount_minor, received.currency());
        return Ok(Booking::held(format!("Received {received} but {asked} was asked for: not applied.")));
    }
    let Some(invoice_id) = record.invoice_id else {
        return Ok(Booking::held("A payment without an invoice: not applied.".into()));
    };
    let current = invoices::find(txn, invoice_id).await?.ok_or(PaymentError::NotFound)?;
    let payable = current.status == UNPAID || current.status == COLLECTIONS;
    if !payable && current.status != PAID {
        return Ok(Booking::held(format!("Invoice {} is {}: not applied.", current.display_number(), current.status)));
    }
    let gateway = gateways::load(txn, &record.gateway).await?;
    let incoming = Incoming {
        amount: received,
        fee: gateway.options.fee(received),
        method: &record.gateway,
        // The name clients know the gateway by.
        method_label: &gateway.display_name,
        reference: payment_ref,
        paid_on: invoices::today(txn).await?,
        staff_id: None,
        idempotency_key: format!("{}:{payment_ref}", record.gateway),
        gateway_payment_id: Some(record.id),
    };
    let booked = match receipts::receive_payment(state, txn, actor, &current, &incoming).await {
        Ok(Some(booked)) => booked,
        Ok(None) => return Err(PaymentError::Conflict("this payment was received on its invoice already")),
        // Another receipt changed the invoice meanwhile: the job tries again.
        Err(InvoiceError::NotAllowed(why)) => return Err(PaymentError::Conflict(why)),
        Err(other) => return Err(other.into()),
    };
    let mut outcome = String::new();
    if let Some(settled) = booked.settled {
        outcome = format!(
            "{} on invoice {}",
            booked.to_invoice,
            settled.legal_number.unwrap_or_else(|| current.display_number())
        );
        if settled.paid_in_full {
            outcome.push_str(", paid in full");
        }
    }
    let mut flag = String::new();
    if booked.to_credit.is_positive() {
        if !outcome.is_empty() {
            outcome.push_str("; ");
        }
        outcome.push_str(&format!("{} to account credit", booked.to_credit));
        if !payable {
            flag =
                format!("Invoice {} was paid already: the payment went to account credit.", current.display_number());
        }
    }
    Ok(Booking { outcome, flag, applied: true })
}

/// Records the payment's refunds reaching `refunded_minor` in all, once.
async fn refunded(ctx: &JobContext, record: &payment::Model, refunded_minor: i64) -> Result<Applied, PaymentError> {
    let state = &ctx.state;
    let status = if refunded_minor >= record.amount_minor { REFUNDED } else { PARTIALLY_REFUNDED };
    // Read before the transaction: on SQLite a transaction that reads before it writes may
    // find another writer's commit in its way.
    let ours = super::refunds::ours(&state.db, record.id).await?;
    let txn = state.db.begin().await?;
    let mut update = Query::update();
    update
        .table(payment::Entity)
        .value(payment::Column::RefundedMinor, refunded_minor)
        .value(payment::Column::Status, status)
        .value(payment::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(payment::Column::Id).eq(record.id))
        .and_where(Expr::col(payment::Column::Status).is_in([SUCCEEDED, PARTIALLY_REFUNDED]))
        .and_where(Expr::col(payment::Column::RefundedMinor).lt(refunded_minor));
    // Beyond the refunds Hostwright asked for, someone refunded in the gateway's dashboard.
    if refunded_minor > ours {
        update.value(
            payment::Column::Flag,
            "Refunded at the gateway: issue a credit note for it if the invoice should be corrected.",
        );
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Ok(Applied::to(record.id, "refund already recorded"));
    }
    let c = currency(&txn, &record.currency_code).await?;
    let summary = format!(
        "Refunded at {} ({}): {} of {} in all",
        gateways::label(&record.gateway),
        record.gateway_ref.as_deref().unwrap_or("-"),
        Money::from_minor(refunded_minor, c),
        Money::from_minor(record.amount_minor, c)
    );
    audit::record(
        &txn,
        &Actor::system(gateways::label(&record.gateway)),
        "payment.refunded",
        Some(("payment", record.id.0)),
        summary,
    )
    .await?;
    ctx.fence(&txn).await?;
    txn.commit().await?;
    Ok(Applied::to(record.id, format!("refunded {} in all", Money::from_minor(refunded_minor, c))))
}
