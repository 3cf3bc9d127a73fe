//! Webhook endpoints: a request is verified, stored once per gateway and event id, and
//! left to the `payment.event` job queued with it; the gateway gets its answer at once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hostwright_gateways::paypal::{self, WebhookHeaders};
use hostwright_gateways::{Notice, stripe};
use sea_orm::TransactionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{OnConflict, Query};
use serde_json::json;

use super::gateways::{self, PAYPAL, STRIPE};
use super::jobs::ProcessEvent;
use super::model::event;
use crate::auth::throttle::{self, Limit};
use crate::jobs::{self, Enqueue};
use crate::state::AppState;
use crate::web::Page;
use crate::web::error::Interrupted;

/// Signature checks PayPal is asked for per sending address and minute.
const PAYPAL_CHECKS_PER_MINUTE: i64 = 120;

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A 503 the gateway retries later; when the database moved, the node first runs the request
/// again itself (the event id makes that harmless).
fn unavailable(err: &(dyn std::error::Error + 'static)) -> Response {
    let mut response = refuse(StatusCode::SERVICE_UNAVAILABLE, "try again later");
    if crate::db::interrupted(err) {
        response.extensions_mut().insert(Interrupted);
    }
    response
}

/// `POST /webhooks/stripe`.
pub async fn stripe_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let secrets = match gateways::stripe_webhook_secrets(&state).await {
        Ok(secrets) if !secrets.is_empty() => secrets,
        Ok(_) => return refuse(StatusCode::BAD_REQUEST, "Stripe webhooks are not set up here"),
        Err(err) => {
            tracing::error!(error = %err, "reading the Stripe webhook secrets");
            return unavailable(&err);
        }
    };
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let Err(err) = stripe::verify(&secrets, header, &body, Utc::now().timestamp()) {
        tracing::warn!(error = %err, "refused a Stripe webhook");
        return refuse(StatusCode::BAD_REQUEST, err.to_string());
    }
    let event = match stripe::parse_event(&body) {
        Ok(event) => event,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, err.to_string()),
    };
    if let Notice::Ignored(why) = stripe::interpret(&event) {
        return (StatusCode::OK, Json(json!({ "received": true, "ignored": why }))).into_response();
    }
    let Ok(payload) = std::str::from_utf8(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    stored_answer(&state, STRIPE, &event, payload).await
}

/// `POST /webhooks/paypal`: PayPal's own verify-webhook-signature API says whether the
/// request came from it (for the webhook id configured here); PayPal retries a 503 later.
pub async fn paypal_webhook(State(state): State<AppState>, page: Page, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signed = WebhookHeaders {
        auth_algo: header("paypal-auth-algo"),
        cert_url: header("paypal-cert-url"),
        transmission_id: header("paypal-transmission-id"),
        transmission_sig: header("paypal-transmission-sig"),
        transmission_time: header("paypal-transmission-time"),
    };
    if !signed.complete() {
        return refuse(StatusCode::BAD_REQUEST, "the PayPal signature headers are missing");
    }
    // Each check costs a call to PayPal: an address gets a bounded number of them.
    let bucket = [format!("paypal-webhook:ip:{}", throttle::address_key(&page.ip))];
    let limit = Limit { max: PAYPAL_CHECKS_PER_MINUTE, window: chrono::Duration::minutes(1) };
    match throttle::check(&state.db, &bucket).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return refuse(StatusCode::TOO_MANY_REQUESTS, "too many webhooks from this address"),
        Err(err) => return unavailable(&err),
    }
    if let Err(err) = throttle::hit(&state.db, &bucket, limit).await {
        return unavailable(&err);
    }
    let settings = match gateways::load(&state.db, PAYPAL).await {
        Ok(settings) => settings,
        Err(err) => {
            tracing::error!(error = %err, "reading the PayPal settings");
            return unavailable(&err);
        }
    };
    let webhook_id = settings.paypal_secrets(&state).map(|s| s.webhook_id).unwrap_or_default();
    let gateway = match settings.paypal(&state) {
        Ok(gateway) if !webhook_id.is_empty() => gateway,
        _ => return refuse(StatusCode::BAD_REQUEST, "PayPal webhooks are not set up here"),
    };
    match gateway.verify_webhook(&signed, &body, &webhook_id).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(transmission = %signed.transmission_id, "refused a PayPal webhook PayPal did not sign");
            return refuse(StatusCode::BAD_REQUEST, "PayPal did not confirm this webhook's signature");
        }
        Err(err) => {
            tracing::warn!(error = %err, "PayPal could not check a webhook's signature");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    }
    let event = match paypal::parse_event(&body) {
        Ok(event) => event,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, format!("the body is not a PayPal event: {err}")),
    };
    if let Notice::Ignored(why) = paypal::interpret(&event) {
        return (StatusCode::OK, Json(json!({ "received": true, "ignored": why }))).into_response();
    }
    let Ok(payload) = std::str::from_utf8(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    stored_answer(&state, PAYPAL, &event, payload).await
}

/// Stores a verified event once and answers the gateway.
async fn stored_answer(state: &AppState, gateway: &str, event: &hostwright_gateways::Event, payload: &str) -> Response {
    match store(state, gateway, &event.id, &event.kind, payload).await {
        Ok(stored) => {
            if stored {
                state.jobs_wakeup.notify_one();
            }
            (StatusCode::OK, Json(json!({ "received": true, "duplicate": !stored }))).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, event.id = %event.id, gateway, "storing a gateway event");
            unavailable(&err)
        }
    }
}

/// Stores an event and queues its job in one transaction; `false` when it was stored before.
async fn store(state: &AppState, gateway: &str, event_id: &str, kind: &str, payload: &str) -> Result<bool, DbErr> {
    let txn = state.db.begin().await?;
    let insert = Query::insert()
        .into_table(event::Entity)
        .columns([
            event::Column::Gateway,
            event::Column::EventId,
            event::Column::EventType,
            event::Column::Payload,
            event::Column::ReceivedAt,
            event::Column::Outcome,
        ])
        .values_panic([gateway.into(), event_id.into(), kind.into(), payload.into(), Utc::now().into(), "".into()])
        .on_conflict(OnConflict::columns([event::Column::Gateway, event::Column::EventId]).do_nothing().to_owned())
        .to_owned();
    if txn.execute(&insert).await?.rows_affected() != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let stored = event::Entity::find()
        .filter(event::Column::Gateway.eq(gateway))
        .filter(event::Column::EventId.eq(event_id))
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the event just stored".into()))?;
    jobs::enqueue(&txn, &ProcessEvent { event_id: stored.id }, Enqueue::unique(format!("payment.event:{}", stored.id)))
        .await?;
    txn.commit().await?;
    Ok(true)
}
