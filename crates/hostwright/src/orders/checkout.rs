//! Placing an order. In one transaction: the order with its number, stock taken, the coupon's
//! use counted, the services (pending) with their options and add-ons, the first invoice
//! issued with each line linked to what it bills, account credit applied when the client pays
//! with it, the confirmation email queued, the cart emptied, and an audit record. Any failure
//! leaves nothing behind.
//!
//! The prices come from [`cart::quote`] at this moment: the browser sends only the choice of
//! payment method, the terms checkbox and the form's idempotency key. A repeated submission
//! finds the order its key already placed.

use chrono::{Days, Utc};
use hostwright_core::{Currency, Money};
use minijinja::context;
use rand::Rng;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, TransactionTrait};

use super::cart::{self, CartError, Quote};
use super::coupons;
use super::manage::{AcceptOrder, accept_automatically};
use super::model::{cart as cart_model, order};
use crate::audit::{self, Actor};
use crate::catalog::service as catalog;
use crate::clients::contacts::send_billing_email;
use crate::clients::model::client;
use crate::invoices::account_credit::{self, MoveError, Movement};
use crate::invoices::drafts::BilledLine;
use crate::invoices::service::{self as invoices, InvoiceError, Received};
use crate::invoices::settings as billing_settings;
use crate::orders::status::OrderStatus;
use crate::services::status::Status;
use crate::services::store::{self as services, NewAddon, NewService};
use crate::site_settings::ordering as order_settings;
use crate::state::AppState;
use crate::web::AppError;

/// How an order says it is paid: the gateway's name staff know it by.
pub fn payment_method_label(key: &str) -> &'static str {
    crate::payments::gateways::label(key)
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Cart(#[from] CartError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<CheckoutError> for AppError {
    fn from(err: CheckoutError) -> Self {
        match err {
            CheckoutError::Cart(err) => err.into(),
            CheckoutError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for CheckoutError {
    fn from(err: DbErr) -> Self {
        CheckoutError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<InvoiceError> for CheckoutError {
    fn from(err: InvoiceError) -> Self {
        CheckoutError::Cart(err.into())
    }
}

impl From<coupons::CouponError> for CheckoutError {
    fn from(err: coupons::CouponError) -> Self {
        match err {
            coupons::CouponError::Internal(err) => CheckoutError::Internal(err),
            other => CheckoutError::Invalid(other.to_string()),
        }
    }
}

/// What the client submits at checkout.
#[derive(Debug, Clone, Default)]
pub struct PlaceOrder {
    pub payment_method: String,
    pub accept_terms: bool,
    /// Identifies one rendering of the checkout form.
    pub idempotency_key: String,
}

#[derive(Debug)]
pub enum Placed {
    New(order::Model),
    /// This submission was placed before.
    Already(order::Model),
}

impl Placed {
    pub fn order(&self) -> &order::Model {
        match self {
            Placed::New(o) | Placed::Already(o) => o,
        }
    }
}

async fn by_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find().filter(order::Column::IdempotencyKey.eq(key)).one(db).await
}

/// Ten random digits that no order has yet.
async fn new_number(db: &impl ConnectionTrait) -> Result<String, DbErr> {
    loop {
        let number = format!("{:010}", rand::thread_rng().gen_range(1_000_000_000_u64..10_000_000_000));
        if order::Entity::find().filter(order::Column::Number.eq(number.as_str())).one(db).await?.is_none() {
            return Ok(number);
        }
    }
}

/// Places the order for the cart's contents (see the module documentation).
pub async fn place(
    state: &AppState,
    actor: &Actor,
    client: &client::Model,
    cart: &cart_model::Model,
    input: &PlaceOrder,
    ip: &str,
) -> Result<Placed, CheckoutError> {
    let key = input.idempotency_key.trim();
    if !(16..=64).contains(&key.len()) {
        return Err(CheckoutError::Invalid("This form is out of date; reload the page and try again.".into()));
    }
    if let Some(existing) = by_key(&state.db, key).await? {
        return Ok(Placed::Already(existing));
    }
    let settings = order_settings::load(&state.db).await?;
    let terms_url = settings.terms_url.trim().to_owned();
    if !terms_url.is_empty() && !input.accept_terms {
        return Err(CheckoutError::Invalid("Accept the terms of service to place your order.".into()));
    }
    if client.anonymised_at.is_some() {
        return Err(CheckoutError::Invalid("This account is closed.".into()));
    }
    let billing = billing_settings::load(&state.db).await?;
    let quote = cart::quote(&state.db, &billing, cart, Some(client)).await?;
    if let Some((item, problem)) = quote.problems.first() {
        let _ = item;
        return Err(CheckoutError::Invalid(format!("{problem} Change your cart, then place the order.")));
    }
    if let Some(problem) = &quote.coupon_error {
        return Err(CheckoutError::Invalid(format!("{problem} Remove the code to order without it.")));
    }
    let Some(totals) = quote.totals.clone() else {
        return Err(CheckoutError::Invalid("Your cart is empty.".into()));
    };
    let offered = crate::payments::gateways::offered(&state.db, quote.currency.code()).await?;
    if !offered.iter().any(|g| g.key == input.payment_method) {
        return Err(CheckoutError::Invalid("Choose how you will pay.".into()));
    }

    let number = new_number(&state.db).await?;
    // The order's INSERT is the transaction's first statement: on SQLite a transaction must
    // write before it reads to queue behind other writers instead of failing.
    let txn = state.db.begin().await?;
    let today = billing.today();
    let now = Utc::now();
    let created = order::ActiveModel {
        number: Set(number),
        client_id: Set(client.id),
        status: Set(OrderStatus::Pending),
        currency_code: Set(quote.currency.code().to_owned()),
        invoice_id: Set(None),
        coupon_id: Set(quote.coupon.as_ref().map(|c| c.id)),
        subtotal_minor: Set(totals.subtotal.minor()),
        discount_minor: Set(totals.discount_total.minor()),
        tax_minor: Set(totals.tax_total.minor()),
        total_minor: Set(totals.grand_total.minor()),
        payment_method: Set(input.payment_method.clone()),
        ip: Set(ip.to_owned()),
        idempotency_key: Set(key.to_owned()),
        notes: Set(String::new()),
        terms_accepted_at: Set((!terms_url.is_empty()).then_some(now)),
        terms_accepted_url: Set(terms_url),
        accepted_at: Set(None),
        cancelled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let created = match created {
        Ok(created) => created,
        Err(err) if crate::web::forms::is_unique_violation(&err) => {
            drop(txn);
            let existing = by_key(&state.db, key).await?.ok_or_else(|| anyhow::anyhow!("order key vanished"))?;
            return Ok(Placed::Already(existing));
        }
        Err(err) => return Err(err.into()),
    };

    take_stock(&txn, &quote).await?;
    // A client's first order fixes the currency they are billed in.
    let fix_currency = Query::update()
        .table(client::Entity)
        .value(client::Column::CurrencyCode, quote.currency.code())
        .and_where(Expr::col(client::Column::Id).eq(client.id))
        .and_where(Expr::col(client::Column::CurrencyCode).eq(""))
        .to_owned();
    txn.execute(&fix_currency).await?;
    if let Some(coupon) = &quote.coupon {
        coupons::record_use(&txn, coupon, client.id, created.id).await?;
    }
    let renewals = quote.coupon.as_ref().and_then(|c| coupons::renewals(c).map(|left| (c.id, left)));

    // Services and add-ons, and the invoice lines linked to them, in the quote's order so the
    // invoice's totals are the quote's.
    let mut billed = Vec::with_capacity(quote.lines.len());
    let mut position = 0;
    let mut service_names = Vec::new();
    for q in &quote.items {
        let password = match &q.item.password_enc {
            Some(stored) => {
                Some(String::from_utf8(state.key.decrypt(stored)?).map_err(|_| anyhow::anyhow!("cart item password"))?)
            }
            None => None,
        };
        for _ in 0..q.item.quantity {
            let unit_lines = &totals.lines[position..position + q.lines.len()];
            let first_payment =
                Money::sum(quote.currency, unit_lines.iter().map(charged)).map_err(anyhow::Error::from)?;
            let service = services::insert(
                &txn,
                &state.key,
                &NewService {
                    client_id: client.id,
                    order_id: Some(created.id),
                    product_id: q.product.id,
                    status: Status::Pending,
                    cycle: q.cycle,
                    recurring: q.recurring,
                    first_payment,
                    registration_date: today,
                    next_due_date: q.next_due,
                    billing_day: q.product.billing_day_on(today),
                    domain: &q.item.domain,
                    hostname: &q.item.hostname,
                    password: password.as_deref(),
                    choices: &q.choices,
                    coupon: renewals,
                },
            )
            .await?;
            // What this unit pays for its first period (after discounts): an upgrade later
            // credits the unused part of exactly this.
            let period_start = q.lines.iter().find(|l| l.kind == "service").and_then(|l| l.period).map(|p| p.start);
            if let Some(start) = period_start {
                let paid = Money::sum(
                    quote.currency,
                    q.lines.iter().zip(unit_lines).filter(|(l, _)| l.kind == "service").map(|(_, t)| charged(t)),
                )
                .map_err(anyhow::Error::from)?;
                services::set_paid_period(&txn, service.id, start, paid).await?;
            }
            service_names.push(if q.item.domain.is_empty() {
                q.product.name.clone()
            } else {
                format!("{} — {}", q.product.name, q.item.domain)
            });
            let mut addon_rows = Vec::new();
            for (addon_id, addon_cycle, recurring) in &q.addons {
                let next_due = q
                    .lines
                    .iter()
                    .find(|l| l.addon_id == Some(*addon_id) && l.period.is_some())
                    .and_then(|l| l.period.map(|p| p.end));
                let row = services::insert_addon(
                    &txn,
                    &NewAddon {
                        service_id: service.id,
                        addon_id: *addon_id,
                        order_id: Some(created.id),
                        status: Status::Pending,
                        cycle: *addon_cycle,
                        recurring: *recurring,
                        registration_date: today,
                        next_due_date: next_due,
                    },
                )
                .await?;
                addon_rows.push((*addon_id, row.id));
            }
            for l in &q.lines {
                let service_addon_id =
                    l.addon_id.and_then(|a| addon_rows.iter().find(|(id, _)| *id == a).map(|(_, row)| *row));
                billed.push(BilledLine {
                    line: l.line.clone(),
                    kind: l.kind,
                    service_id: Some(service.id),
                    service_addon_id,
                    period: l.period,
                });
            }
            position += q.lines.len();
        }
    }

    let mut invoice = None;
    if totals.grand_total.is_positive() {
        let due = today.checked_add_days(Days::new(u64::from(settings.first_invoice_due_days))).unwrap_or(today);
        let draft = crate::invoices::drafts::insert_draft(
            &txn,
            client,
            due,
            &format!("Order {}", created.number),
            &billed,
            &totals,
        )
        .await?;
        let issued = crate::invoices::issuing::issue_in(state, &txn, actor, &billing, client, draft.id).await?;
        let link = Query::update()
            .table(order::Entity)
            .value(order::Column::InvoiceId, issued.id)
            .and_where(Expr::col(order::Column::Id).eq(created.id))
            .to_owned();
        txn.execute(&link).await?;
        if input.payment_method == "account_credit" {
            pay_with_credit(&txn, actor, &issued, quote.currency, today).await?;
        }
        invoice = invoices::find(&txn, issued.id).await?;
    }

    let confirmation = context! {
        number => created.number.clone(),
        items => service_names,
        total => totals.grand_total.to_string(),
        payment_method => payment_method_label(&input.payment_method),
        invoice_number => invoice.as_ref().map(|i| i.display_number()),
        link => state.settings.url(&format!("/account/orders/{}", created.id)),
    };
    send_billing_email(state, &txn, client, "order_confirmation", confirmation).await?;
    cart::delete(&txn, cart.id).await?;
    audit::record(
        &txn,
        actor,
        "order.placed",
        Some(("order", created.id.0)),
        format!(
            "Order {} of {} service(s) for {}{}",
            created.number,
            position_count(&quote),
            totals.grand_total,
            quote.coupon.as_ref().map(|c| format!(" with code {}", c.code)).unwrap_or_default()
        ),
    )
    .await?;
    if invoice.is_none() && settings.auto_accept_paid {
        AcceptOrder::enqueue(&txn, created.id).await?;
    }
    txn.commit().await?;
    state.outbox_wakeup.notify_one();

    // A paid first invoice queued its own follow-up (`invoices::paid`); an order with
    // nothing to pay is accepted here, and by the job queued with it if this fails.
    if invoice.is_none()
        && settings.auto_accept_paid
        && let Err(err) = accept_automatically(state, created.id).await
    {
        tracing::warn!(order = %created.id, error = %err, "accepting the order failed; its job will retry");
    }
    state.jobs_wakeup.notify_one();
    let placed = order::Entity::find_by_id(created.id).one(&state.db).await?.unwrap_or(created);
    Ok(Placed::New(placed))
}

/// What a line charges on the catalog's price basis (net, or gross when prices include tax),
/// after its discount: comparable with recurring amounts.
fn charged(line: &hostwright_core::LineTotal) -> Money {
    line.amount.checked_sub(line.discount).unwrap_or(line.amount)
}

fn position_count(quote: &Quote) -> i32 {
    quote.items.iter().map(|q| q.item.quantity).sum()
}

/// Takes the ordered units from stock; refuses when another order took them meanwhile.
async fn take_stock(txn: &impl ConnectionTrait, quote: &Quote) -> Result<(), CheckoutError> {
    for (product_id, units) in cart::units_per_product(&quote.items) {
        if !catalog::take_stock(txn, product_id, units).await? {
            let name = quote.items.iter().find(|q| q.product.id == product_id).map(|q| q.product.name.clone());
            return Err(CartError::OutOfStock { product: name.unwrap_or_default() }.into());
        }
    }
    Ok(())
}

/// Pays the new invoice from the client's account credit, as far as the credit goes.
async fn pay_with_credit(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    issued: &crate::invoices::model::invoice::Model,
    currency: Currency,
    today: chrono::NaiveDate,
) -> Result<(), CheckoutError> {
    let held = account_credit::balance(txn, issued.client_id, currency.code()).await?;
    let amount = std::cmp::min(held, issued.balance_minor());
    if amount <= 0 {
        return Ok(());
    }
    let reason = format!("Applied to invoice {}", issued.display_number());
    let movement = Movement {
        client_id: issued.client_id,
        currency,
        amount_minor: -amount,
        kind: account_credit::APPLIED,
        reason: &reason,
        invoice_id: Some(issued.id),
        credit_note_id: None,
        idempotency_key: None,
    };
    match account_credit::move_credit(txn, actor, &movement).await {
        Ok(_) => {}
        Err(MoveError::Db(err)) => return Err(err.into()),
        Err(MoveError::Insufficient | MoveError::Duplicate) => {
            return Err(CheckoutError::Invalid("Your credit changed meanwhile; try again.".into()));
        }
    }
    invoices::receive(txn, issued, Received::Credit(amount), today).await?;
    audit::record(
        txn,
        actor,
        "invoice.credit_applied",
        Some(("invoice", issued.id.0)),
        format!("Applied {} of account credit at checkout", Money::from_minor(amount, currency)),
    )
    .await?;
    Ok(())
}
