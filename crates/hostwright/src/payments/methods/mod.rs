//! Saved payment methods: a client saves a card on the gateway's own page (setup mode, where
//! the bank's confirmation happens), the gateway reports it by webhook, and the daily run may
//! then charge the default one for invoices when the client turned automatic payment on.
//!
//! Only the gateway's ids and what the client needs to recognise a card (brand, last four
//! digits, expiry) are stored; the card itself stays with the gateway.

pub mod handlers;

use chrono::Utc;
use hostwright_gateways::{PaymentGateway, SetupRequest};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{QueryOrder, TransactionTrait};

use crate::audit::{self, Actor};
use crate::clients::model::client;
use crate::ids::{ClientId, PaymentMethodId};
use crate::jobs::JobContext;
use crate::payments::PaymentError;
use crate::payments::checkout::customer_ref;
use crate::payments::gateways::{self, STRIPE};
use crate::payments::model::{customer, method};
use crate::payments::notices::Applied;
use crate::state::AppState;

/// A client's saved methods, the default first, then newest first.
pub async fn list(db: &impl ConnectionTrait, client_id: ClientId) -> Result<Vec<method::Model>, DbErr> {
    method::Entity::find()
        .filter(method::Column::ClientId.eq(client_id))
        .order_by_desc(method::Column::IsDefault)
        .order_by_desc(method::Column::Id)
        .all(db)
        .await
}

/// The method the daily run charges for `client_id` on `gateway`, if one is saved.
pub async fn default_method(
    db: &impl ConnectionTrait,
    client_id: ClientId,
    gateway: &str,
) -> Result<Option<method::Model>, DbErr> {
    method::Entity::find()
        .filter(method::Column::ClientId.eq(client_id))
        .filter(method::Column::Gateway.eq(gateway))
        .filter(method::Column::IsDefault.eq(true))
        .one(db)
        .await
}

/// How a saved card reads: "Visa ending 4242, expires 04/2030".
pub fn describe(m: &method::Model) -> String {
    let brand = match m.brand.as_str() {
        "visa" => "Visa".to_owned(),
        "mastercard" => "Mastercard".to_owned(),
        "amex" => "American Express".to_owned(),
        "" => "Card".to_owned(),
        other => {
            let mut chars = other.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    };
    if m.last4.is_empty() {
        return brand;
    }
    format!("{brand} ending {}, expires {:02}/{}", m.last4, m.exp_month, m.exp_year)
}

/// Starts saving a card on Stripe's page and returns where to send the client. One form
/// submission (`form_key`) opens one page.
pub async fn start_setup(state: &AppState, owner: &client::Model, form_key: &str) -> Result<String, PaymentError> {
    let form_key = form_key.trim();
    if form_key.len() < 16 || form_key.len() > 64 || !form_key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(PaymentError::NotAllowed("This form is out of date; reload the page and try again."));
    }
    let settings = gateways::load(&state.db, STRIPE).await?;
    if !settings.enabled {
        return Err(PaymentError::NotAllowed("Saving a card is not available."));
    }
    let stripe = settings.stripe(state)?;
    let customer = customer_ref(state, &*stripe, STRIPE, owner).await?;
    let back = |query: &str| {
        state
            .settings
            .base_url
            .join(&format!("account/payment-methods{query}"))
            .map(|u| u.to_string())
            .map_err(|e| DbErr::Custom(e.to_string()))
    };
    let request = SetupRequest {
        our_ref: format!("{}-{form_key}", owner.id),
        customer_ref: customer,
        currency: owner.currency_code.clone(),
        success_url: back("?setup=returned")?,
        cancel_url: back("?setup=cancelled")?,
    };
    let redirect = stripe.start_setup(&request).await?;
    tracing::info!(client.id = %owner.id, "sent the client to Stripe to save a card");
    Ok(redirect.url)
}

/// Records a method the gateway saved for a client (reported by webhook), once; the first one
/// a client saves becomes their default.
pub async fn saved(
    ctx: &JobContext,
    gateway: &impl PaymentGateway,
    gateway_key: &str,
    our_ref: Option<&str>,
    customer: Option<&str>,
    method_ref: &str,
) -> Result<Applied, PaymentError> {
    let state = &ctx.state;
    let by_customer = match customer {
        Some(customer) => customer::Entity::find()
            .filter(customer::Column::Gateway.eq(gateway_key))
            .filter(customer::Column::CustomerRef.eq(customer))
            .one(&state.db)
            .await?
            .map(|c| c.client_id),
        None => None,
    };
    // Our reference starts with the client's id; the customer, when known, must agree.
    let by_ref = our_ref.and_then(|r| r.split_once('-')).and_then(|(id, _)| id.parse::<ClientId>().ok());
    let client_id = match (by_customer, by_ref) {
        (Some(c), Some(r)) if c != r => {
            return Ok(Applied::nothing(format!("{method_ref} was saved for another client's customer")));
        }
        (Some(c), _) => c,
        (None, Some(r)) if customer.is_none() => r,
        _ => return Ok(Applied::nothing(format!("{method_ref} belongs to no client of ours"))),
    };
    if crate::clients::store::find(&state.db, client_id).await?.is_none() {
        return Ok(Applied::nothing(format!("client {client_id} is gone")));
    }
    let card = gateway.saved_method(method_ref).await?;
    let txn = state.db.begin().await?;
    let insert = Query::insert()
        .into_table(method::Entity)
        .columns([
            method::Column::ClientId,
            method::Column::Gateway,
            method::Column::MethodRef,
            method::Column::Brand,
            method::Column::Last4,
            method::Column::ExpMonth,
            method::Column::ExpYear,
            method::Column::IsDefault,
            method::Column::CreatedAt,
        ])
        .values_panic([
            client_id.0.into(),
            gateway_key.into(),
            method_ref.into(),
            card.brand.chars().take(50).collect::<String>().into(),
            card.last4.chars().take(4).collect::<String>().into(),
            card.exp_month.into(),
            card.exp_year.into(),
            false.into(),
            Utc::now().into(),
        ])
        .on_conflict(OnConflict::columns([method::Column::Gateway, method::Column::MethodRef]).do_nothing().to_owned())
        .to_owned();
    if txn.execute(&insert).await?.rows_affected() != 1 {
        return Ok(Applied::nothing("the method was saved already"));
    }
    let stored = method::Entity::find()
        .filter(method::Column::Gateway.eq(gateway_key))
        .filter(method::Column::MethodRef.eq(method_ref))
        .one(&txn)
        .await?
        .ok_or(PaymentError::NotFound)?;
    let made_default = default_method(&txn, client_id, gateway_key).await?.is_none();
    if made_default {
        set_default_flag(&txn, client_id, stored.id).await?;
    }
    let label = describe(&stored);
    let actor = Actor::system(gateways::label(gateway_key));
    audit::record(&txn, &actor, "payment_method.saved", Some(("client", client_id.0)), format!("Saved {label}"))
        .await?;
    ctx.fence(&txn).await?;
    txn.commit().await?;
    Ok(Applied::nothing(format!(
        "saved {label} for client {client_id}{}",
        if made_default { " as the default" } else { "" }
    )))
}

async fn set_default_flag(db: &impl ConnectionTrait, client_id: ClientId, id: PaymentMethodId) -> Result<(), DbErr> {
    method::Entity::update_many()
        .col_expr(method::Column::IsDefault, Expr::col(method::Column::Id).eq(id.0))
        .filter(method::Column::ClientId.eq(client_id))
        .exec(db)
        .await?;
    Ok(())
}

async fn owned(
    db: &impl ConnectionTrait,
    client_id: ClientId,
    id: PaymentMethodId,
) -> Result<method::Model, PaymentError> {
    method::Entity::find_by_id(id).one(db).await?.filter(|m| m.client_id == client_id).ok_or(PaymentError::NotFound)
}

/// Makes method `id` the one automatic payments use.
pub async fn make_default(
    state: &AppState,
    actor: &Actor,
    client_id: ClientId,
    id: PaymentMethodId,
) -> Result<(), PaymentError> {
    let chosen = owned(&state.db, client_id, id).await?;
    if chosen.is_default {
        return Ok(());
    }
    let txn = state.db.begin().await?;
    set_default_flag(&txn, client_id, id).await?;
    let summary = format!("Made {} the default payment method", describe(&chosen));
    audit::record(&txn, actor, "payment_method.default", Some(("client", client_id.0)), summary).await?;
    txn.commit().await?;
    Ok(())
}

/// Removes method `id` at the gateway and here; the newest other one becomes the default, and
/// automatic payment is turned off when none is left.
pub async fn remove(
    state: &AppState,
    actor: &Actor,
    client_id: ClientId,
    id: PaymentMethodId,
) -> Result<(), PaymentError> {
    let chosen = owned(&state.db, client_id, id).await?;
    if chosen.gateway == STRIPE {
        match gateways::stripe(state).await?.detach_method(&chosen.method_ref).await {
            // Detached already (here or in Stripe's dashboard): nothing left to undo there.
            Ok(()) | Err(hostwright_gateways::GatewayError::Rejected { .. }) => {}
            Err(err) => return Err(err.into()),
        }
    }
    let txn = state.db.begin().await?;
    let deleted = method::Entity::delete_many()
        .filter(method::Column::Id.eq(id))
        .filter(method::Column::ClientId.eq(client_id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected != 1 {
        return Ok(());
    }
    let rest = list(&txn, client_id).await?;
    let mut summary = format!("Removed {}", describe(&chosen));
    match rest.iter().find(|m| m.is_default).or(rest.first()) {
        Some(next) if !next.is_default => {
            set_default_flag(&txn, client_id, next.id).await?;
            summary.push_str(&format!("; {} is the default now", describe(next)));
        }
        Some(_) => {}
        None => {
            let turned_off = client::Entity::update_many()
                .col_expr(client::Column::AutoPay, Expr::value(false))
                .filter(client::Column::Id.eq(client_id))
                .filter(client::Column::AutoPay.eq(true))
                .exec(&txn)
                .await?;
            if turned_off.rows_affected > 0 {
                summary.push_str("; automatic payment is off, as no card is left");
            }
        }
    }
    audit::record(&txn, actor, "payment_method.removed", Some(("client", client_id.0)), summary).await?;
    txn.commit().await?;
    Ok(())
}

/// Turns automatic payment of invoices on or off; on needs a saved method.
pub async fn set_auto_pay(state: &AppState, actor: &Actor, client_id: ClientId, on: bool) -> Result<(), PaymentError> {
    if on && default_method(&state.db, client_id, STRIPE).await?.is_none() {
        return Err(PaymentError::NotAllowed("Save a card first; automatic payments charge your default card."));
    }
    let txn = state.db.begin().await?;
    let changed = client::Entity::update_many()
        .col_expr(client::Column::AutoPay, Expr::value(on))
        .filter(client::Column::Id.eq(client_id))
        .filter(client::Column::AutoPay.ne(on))
        .exec(&txn)
        .await?;
    if changed.rows_affected == 1 {
        let summary = if on { "Turned automatic payment on" } else { "Turned automatic payment off" };
        audit::record(&txn, actor, "client.auto_pay", Some(("client", client_id.0)), summary).await?;
    }
    txn.commit().await?;
    Ok(())
}
