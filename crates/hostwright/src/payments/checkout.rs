//! A client paying on the gateway's page: the gateway's customer for the client, the checkout
//! session started for an invoice, and the return from the gateway.
//!
//! The record is written before the gateway is called, so every request to the gateway can
//! name it (idempotency key, metadata) and every answer finds it again.

use chrono::Utc;
use hostwright_gateways::{Amount, CheckoutRequest, PaymentGateway};
use sea_orm::TransactionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict, Query};

use super::PaymentError;
use super::gateways::{self, STRIPE};
use super::model::{customer, payment};
use super::notices;
use super::store::{CHECKOUT, insert_pending, set_failed};
use crate::clients::model::client;
use crate::ids::{ClientId, InvoiceId};
use crate::invoices::service as invoices;
use crate::invoices::status::InvoiceStatus;
use crate::payments::status::PaymentStatus;
use crate::state::AppState;

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
    if invoice.status != InvoiceStatus::Unpaid && invoice.status != InvoiceStatus::Collections
        || invoice.balance_minor() <= 0
    {
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
    if record.status == PaymentStatus::Pending {
        let txn = state.db.begin().await?;
        notices::queue_capture(&txn, record.id, notices::CaptureCause::Return).await?;
        txn.commit().await?;
        state.jobs_wakeup.notify_one();
    }
    Ok(record.invoice_id)
}
