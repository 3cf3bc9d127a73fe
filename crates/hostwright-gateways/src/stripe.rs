//! Stripe, over its REST API: Checkout Sessions (payment and setup mode), off-session
//! PaymentIntents, refunds, customers, and webhook signatures.
//!
//! Requests are form-encoded with Stripe's bracket notation, authenticated with the secret
//! key as a bearer token, and pinned to one API version so the shapes read here do not
//! change under us. Every POST carries an `Idempotency-Key` built from our own record.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::{
    Amount, Capabilities, ChargeRequest, CheckoutRequest, Event, ExpireOutcome, GatewayError, Notice, PaymentGateway,
    Redirect, Refund, RemotePayment, RemoteStatus, SavedMethod, Secret, SetupRequest,
};

/// The API version every request asks for.
pub const API_VERSION: &str = "2024-06-20";
/// The metadata key naming our payment record on a session and its payment intent.
pub const PAYMENT_KEY: &str = "hostwright_payment";
/// The metadata key naming our saved-method request on a setup session and its intent.
pub const SETUP_KEY: &str = "hostwright_setup";
/// How old a signed webhook may be, in seconds (Stripe's own libraries' default).
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    /// `https://api.stripe.com` in production.
    pub api_base: url::Url,
    pub timeout: Duration,
}

pub struct Stripe {
    http: reqwest::Client,
    config: StripeConfig,
}

type Form = Vec<(String, String)>;

fn field(form: &mut Form, key: &str, value: impl ToString) {
    form.push((key.to_owned(), value.to_string()));
}

impl Stripe {
    pub fn new(config: StripeConfig) -> Result<Self, GatewayError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Hostwright/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GatewayError::Unreachable(e.to_string()))?;
        Ok(Stripe { http, config })
    }

    /// Whether the key is a test-mode key.
    pub fn test_mode(&self) -> bool {
        self.config.secret_key.expose().starts_with("sk_test_")
            || self.config.secret_key.expose().starts_with("rk_test_")
    }

    fn url(&self, path: &str) -> Result<url::Url, GatewayError> {
        self.config.api_base.join(path).map_err(|e| GatewayError::Rejected { status: 0, message: e.to_string() })
    }

    async fn post(&self, path: &str, form: &Form, idempotency_key: &str) -> Result<Value, GatewayError> {
        let request = self
            .http
            .post(self.url(path)?)
            .bearer_auth(self.config.secret_key.expose())
            .header("Stripe-Version", API_VERSION)
            .header("Idempotency-Key", idempotency_key)
            .form(form);
        send(request).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, GatewayError> {
        let request = self
            .http
            .get(self.url(path)?)
            .bearer_auth(self.config.secret_key.expose())
            .header("Stripe-Version", API_VERSION)
            .query(query);
        send(request).await
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<Value, GatewayError> {
    let (status, parsed) = match crate::exchange(request).await? {
        Ok(answer) => return Ok(answer),
        Err(refused) => refused,
    };
    let error = &parsed["error"];
    let message = text(error, "message").unwrap_or_else(|| format!("HTTP {status}"));
    if error["type"] == "card_error" || status == 402 {
        let payment_ref = text(&error["payment_intent"], "id");
        let code = text(error, "decline_code").or_else(|| text(error, "code")).unwrap_or_else(|| "card_error".into());
        if code == "authentication_required" || text(error, "code").as_deref() == Some("authentication_required") {
            return Err(GatewayError::AuthenticationRequired { payment_ref });
        }
        return Err(GatewayError::Declined { code, message, payment_ref });
    }
    Err(GatewayError::Rejected { status, message })
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn int(value: &Value, key: &str) -> i64 {
    value.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// An id that may arrive as a string or, when expanded, as an object with an `id`.
fn id_of(value: &Value, key: &str) -> Option<String> {
    match value.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(object @ Value::Object(_)) => text(object, "id"),
        _ => None,
    }
}

fn amount(minor: i64, value: &Value) -> Amount {
    Amount { minor, currency: text(value, "currency").unwrap_or_default().to_uppercase() }
}

fn metadata(value: &Value, key: &str) -> Option<String> {
    text(&value["metadata"], key)
}

fn need_str(value: &Value, key: &str) -> Result<String, GatewayError> {
    text(value, key).ok_or_else(|| GatewayError::Protocol(format!("the answer has no {key}")))
}

/// A payment intent (with `latest_charge` expanded, when it was) as a [`RemotePayment`].
pub fn remote_payment(pi: &Value) -> Result<RemotePayment, GatewayError> {
    let status = match pi["status"].as_str().unwrap_or_default() {
        "succeeded" => RemoteStatus::Succeeded,
        "processing" => RemoteStatus::Processing,
        "requires_action" | "requires_confirmation" | "requires_capture" => RemoteStatus::RequiresAction,
        "canceled" => RemoteStatus::Canceled,
        _ => {
            let error = &pi["last_payment_error"];
            if error.is_object() {
                RemoteStatus::Failed {
                    code: text(error, "decline_code").or_else(|| text(error, "code")).unwrap_or_default(),
                    message: text(error, "message").unwrap_or_default(),
                }
            } else {
                RemoteStatus::RequiresAction
            }
        }
    };
    let received = int(pi, "amount_received");
    Ok(RemotePayment {
        payment_ref: need_str(pi, "id")?,
        our_ref: metadata(pi, PAYMENT_KEY),
        amount: amount(if received > 0 { received } else { int(pi, "amount") }, pi),
        refunded_minor: int(&pi["latest_charge"], "amount_refunded"),
        status,
        customer_ref: id_of(pi, "customer"),
        method_ref: id_of(pi, "payment_method"),
    })
}

impl PaymentGateway for Stripe {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            redirect_payment: true,
            saved_methods: true,
            refunds: true,
            webhooks: true,
            test_mode: true,
            test_connection: true,
        }
    }

    async fn test_connection(&self) -> Result<String, GatewayError> {
        let account = self.get("/v1/account", &[]).await?;
        let name = text(&account["settings"]["dashboard"], "display_name")
            .or_else(|| text(&account["business_profile"], "name"))
            .or_else(|| text(&account, "email"))
            .unwrap_or_default();
        let id = need_str(&account, "id")?;
        let mode = if self.test_mode() { "test mode" } else { "live mode" };
        Ok(if name.is_empty() { format!("Stripe account {id} ({mode})") } else { format!("{name}, {id} ({mode})") })
    }

    async fn ensure_customer(&self, client_ref: &str, email: &str, name: &str) -> Result<String, GatewayError> {
        let mut form = Form::new();
        field(&mut form, "email", email);
        field(&mut form, "name", name);
        field(&mut form, "metadata[hostwright_client]", client_ref);
        let customer = self.post("/v1/customers", &form, &format!("hw-customer-{client_ref}")).await?;
        need_str(&customer, "id")
    }

    async fn start_checkout(&self, request: &CheckoutRequest) -> Result<Redirect, GatewayError> {
        let mut form = Form::new();
        field(&mut form, "mode", "payment");
        field(&mut form, "line_items[0][quantity]", 1);
        field(&mut form, "line_items[0][price_data][currency]", request.amount.currency.to_lowercase());
        field(&mut form, "line_items[0][price_data][unit_amount]", request.amount.minor);
        field(&mut form, "line_items[0][price_data][product_data][name]", &request.description);
        field(&mut form, "success_url", &request.success_url);
        field(&mut form, "cancel_url", &request.cancel_url);
        field(&mut form, "client_reference_id", &request.invoice_ref);
        for prefix in ["metadata", "payment_intent_data[metadata]"] {
            field(&mut form, &format!("{prefix}[{PAYMENT_KEY}]"), &request.our_ref);
            field(&mut form, &format!("{prefix}[hostwright_invoice]"), &request.invoice_ref);
        }
        field(&mut form, "payment_intent_data[description]", &request.description);
        match &request.customer_ref {
            Some(customer) => field(&mut form, "customer", customer),
            None => field(&mut form, "customer_email", &request.email),
        }
        if request.save_method {
            field(&mut form, "payment_intent_data[setup_future_usage]", "off_session");
        }
        let session =
            self.post("/v1/checkout/sessions", &form, &format!("hw-payment-{}-checkout", request.our_ref)).await?;
        Ok(Redirect { url: need_str(&session, "url")?, session_ref: need_str(&session, "id")? })
    }

    async fn start_setup(&self, request: &SetupRequest) -> Result<Redirect, GatewayError> {
        let mut form = Form::new();
        field(&mut form, "mode", "setup");
        field(&mut form, "customer", &request.customer_ref);
        if !request.currency.is_empty() {
            field(&mut form, "currency", request.currency.to_lowercase());
        }
        field(&mut form, "payment_method_types[0]", "card");
        field(&mut form, "success_url", &request.success_url);
        field(&mut form, "cancel_url", &request.cancel_url);
        field(&mut form, &format!("metadata[{SETUP_KEY}]"), &request.our_ref);
        field(&mut form, &format!("setup_intent_data[metadata][{SETUP_KEY}]"), &request.our_ref);
        let session = self.post("/v1/checkout/sessions", &form, &format!("hw-setup-{}", request.our_ref)).await?;
        Ok(Redirect { url: need_str(&session, "url")?, session_ref: need_str(&session, "id")? })
    }

    async fn expire_checkout(&self, session_ref: &str) -> Result<ExpireOutcome, GatewayError> {
        let path = format!("/v1/checkout/sessions/{session_ref}/expire");
        match self.post(&path, &Form::new(), &format!("hw-expire-{session_ref}")).await {
            Ok(_) => Ok(ExpireOutcome::Expired),
            // Only an open session can be expired: ask what became of it.
            Err(GatewayError::Rejected { .. }) => {
                let session = self.get(&format!("/v1/checkout/sessions/{session_ref}"), &[]).await?;
                match session["status"].as_str() {
                    Some("complete") => Ok(ExpireOutcome::AlreadyCompleted),
                    Some("expired") => Ok(ExpireOutcome::Expired),
                    other => Err(GatewayError::Protocol(format!("a session that cannot be expired is {other:?}"))),
                }
            }
            Err(other) => Err(other),
        }
    }

    async fn charge_saved(&self, request: &ChargeRequest) -> Result<RemotePayment, GatewayError> {
        let mut form = Form::new();
        field(&mut form, "amount", request.amount.minor);
        field(&mut form, "currency", request.amount.currency.to_lowercase());
        field(&mut form, "customer", &request.customer_ref);
        field(&mut form, "payment_method", &request.method_ref);
        field(&mut form, "off_session", "true");
        field(&mut form, "confirm", "true");
        field(&mut form, "description", &request.description);
        field(&mut form, &format!("metadata[{PAYMENT_KEY}]"), &request.our_ref);
        field(&mut form, "metadata[hostwright_invoice]", &request.invoice_ref);
        let pi = self.post("/v1/payment_intents", &form, &format!("hw-payment-{}", request.our_ref)).await?;
        remote_payment(&pi)
    }

    async fn refund(&self, our_ref: &str, payment_ref: &str, amount_minor: i64) -> Result<Refund, GatewayError> {
        let mut form = Form::new();
        field(&mut form, "payment_intent", payment_ref);
        field(&mut form, "amount", amount_minor);
        field(&mut form, "metadata[hostwright_refund]", our_ref);
        let refund = self.post("/v1/refunds", &form, &format!("hw-refund-{our_ref}")).await?;
        Ok(Refund {
            refund_ref: need_str(&refund, "id")?,
            amount_minor: int(&refund, "amount"),
            succeeded: matches!(refund["status"].as_str(), Some("succeeded" | "pending")),
        })
    }

    async fn payment(&self, payment_ref: &str) -> Result<RemotePayment, GatewayError> {
        let pi = self.get(&format!("/v1/payment_intents/{payment_ref}"), &[("expand[]", "latest_charge")]).await?;
        remote_payment(&pi)
    }

    async fn find_payment(&self, our_ref: &str) -> Result<Option<RemotePayment>, GatewayError> {
        let query = format!("metadata['{PAYMENT_KEY}']:'{our_ref}'");
        let found = self
            .get("/v1/payment_intents/search", &[("query", query.as_str()), ("expand[]", "data.latest_charge")])
            .await?;
        match found["data"].as_array().and_then(|all| all.first()) {
            Some(pi) => remote_payment(pi).map(Some),
            None => Ok(None),
        }
    }

    async fn saved_method(&self, method_ref: &str) -> Result<SavedMethod, GatewayError> {
        let pm = self.get(&format!("/v1/payment_methods/{method_ref}"), &[]).await?;
        let card = &pm["card"];
        Ok(SavedMethod {
            method_ref: need_str(&pm, "id")?,
            brand: text(card, "brand").or_else(|| text(&pm, "type")).unwrap_or_default(),
            last4: text(card, "last4").unwrap_or_default(),
            exp_month: int(card, "exp_month") as i32,
            exp_year: int(card, "exp_year") as i32,
        })
    }

    async fn detach_method(&self, method_ref: &str) -> Result<(), GatewayError> {
        let path = format!("/v1/payment_methods/{method_ref}/detach");
        self.post(&path, &Form::new(), &format!("hw-detach-{method_ref}")).await.map(|_| ())
    }
}

/// Why a webhook request was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the Stripe-Signature header is missing or unreadable")]
    MissingSignature,
    #[error("no signature matches any configured webhook secret")]
    BadSignature,
    #[error("the signature's timestamp is more than {TOLERANCE_SECONDS} seconds from now")]
    TooOld,
    #[error("the body is not a Stripe event: {0}")]
    Malformed(String),
}

/// The HMAC-SHA256 of `timestamp.payload` under `secret`, as Stripe signs a webhook.
fn signed_payload(secret: &str, timestamp: i64, payload: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    Some(mac)
}

/// The `v1` signature of `payload` sent at `timestamp`, as Stripe computes it.
pub fn signature(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    signed_payload(secret, timestamp, payload).map(|mac| hex::encode(mac.finalize().into_bytes())).unwrap_or_default()
}

/// A `Stripe-Signature` header for `payload`, signed with `secret` at `timestamp`, as
/// Stripe sends it.
pub fn signature_header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, payload))
}

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…]`) against every configured secret,
/// in constant time, and that its timestamp is within the tolerance of `now`.
pub fn verify(secrets: &[Secret], header: &str, payload: &[u8], now: i64) -> Result<(), WebhookError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(WebhookError::MissingSignature);
    };
    if signatures.is_empty() {
        return Err(WebhookError::MissingSignature);
    }
    let matches = secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .filter_map(|secret| signed_payload(secret.expose(), timestamp, payload))
        .any(|mac| signatures.iter().any(|candidate| mac.clone().verify_slice(candidate).is_ok()));
    if !matches {
        return Err(WebhookError::BadSignature);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(WebhookError::TooOld);
    }
    Ok(())
}

/// Reads a verified body as an event.
pub fn parse_event(payload: &[u8]) -> Result<Event, WebhookError> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let id = text(&value, "id").filter(|id| id.len() <= 255).ok_or(WebhookError::Malformed("no event id".into()))?;
    let kind =
        text(&value, "type").filter(|t| t.len() <= 100).ok_or(WebhookError::Malformed("no event type".into()))?;
    let object = value["data"]["object"].clone();
    if !object.is_object() {
        return Err(WebhookError::Malformed("no data.object".into()));
    }
    Ok(Event { id, kind, created: int(&value, "created"), livemode: value["livemode"] == true, object })
}

/// What an event tells us.
pub fn interpret(event: &Event) -> Notice {
    let o = &event.object;
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if o["mode"] != "payment" {
                return Notice::Ignored("a setup session; its setup intent's event saves the method".into());
            }
            if o["payment_status"] != "paid" {
                return Notice::Ignored("the payment has not arrived yet".into());
            }
            let Some(payment_ref) = id_of(o, "payment_intent") else {
                return Notice::Ignored("a paid session without a payment intent".into());
            };
            Notice::PaymentSucceeded {
                our_ref: metadata(o, PAYMENT_KEY),
                payment_ref,
                session_ref: text(o, "id"),
                amount: amount(int(o, "amount_total"), o),
                customer_ref: id_of(o, "customer"),
                method_ref: None,
            }
        }
        "checkout.session.async_payment_failed" => match id_of(o, "payment_intent") {
            Some(payment_ref) => Notice::PaymentFailed {
                our_ref: metadata(o, PAYMENT_KEY),
                payment_ref,
                code: "async_payment_failed".into(),
                message: "The payment did not go through.".into(),
                needs_authentication: false,
            },
            None => Notice::Ignored("a failed session without a payment intent".into()),
        },
        "checkout.session.expired" => match text(o, "id") {
            Some(session_ref) => Notice::SessionExpired { our_ref: metadata(o, PAYMENT_KEY), session_ref },
            None => Notice::Ignored("an expired session without an id".into()),
        },
        "payment_intent.succeeded" => match text(o, "id") {
            Some(payment_ref) => Notice::PaymentSucceeded {
                our_ref: metadata(o, PAYMENT_KEY),
                payment_ref,
                session_ref: None,
                amount: amount(int(o, "amount_received"), o),
                customer_ref: id_of(o, "customer"),
                method_ref: id_of(o, "payment_method"),
            },
            None => Notice::Ignored("a payment intent without an id".into()),
        },
        "payment_intent.payment_failed" => {
            let error = &o["last_payment_error"];
            let code = text(error, "decline_code").or_else(|| text(error, "code")).unwrap_or_else(|| "failed".into());
            match text(o, "id") {
                Some(payment_ref) => Notice::PaymentFailed {
                    our_ref: metadata(o, PAYMENT_KEY),
                    payment_ref,
                    needs_authentication: text(error, "code").as_deref() == Some("authentication_required"),
                    code,
                    message: text(error, "message").unwrap_or_else(|| "The payment was declined.".into()),
                },
                None => Notice::Ignored("a payment intent without an id".into()),
            }
        }
        "charge.refunded" => match id_of(o, "payment_intent") {
            Some(payment_ref) => Notice::Refunded {
                payment_ref,
                refunded_minor: int(o, "amount_refunded"),
                amount: amount(int(o, "amount"), o),
            },
            None => Notice::Ignored("a refunded charge without a payment intent".into()),
        },
        "setup_intent.succeeded" => match id_of(o, "payment_method") {
            Some(method_ref) => {
                Notice::MethodSaved { our_ref: metadata(o, SETUP_KEY), customer_ref: id_of(o, "customer"), method_ref }
            }
            None => Notice::Ignored("a setup intent without a payment method".into()),
        },
        other => Notice::Ignored(format!("{other} is not an event Hostwright acts on")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn a_signature_made_as_stripe_makes_it_verifies() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}"#;
        let header = signature_header(SECRET, 1_700_000_000, body);
        assert_eq!(verify(&[Secret::new(SECRET)], &header, body, 1_700_000_100), Ok(()));
    }

    #[test]
    fn any_of_several_signatures_and_secrets_may_match() {
        let body = b"{}";
        let good = signature(SECRET, 10, body);
        let header = format!("t=10,v1={},v0=abc,v1={good}", "00".repeat(32));
        let secrets = [Secret::new("whsec_old"), Secret::new(SECRET)];
        assert_eq!(verify(&secrets, &header, body, 10), Ok(()));
    }

    #[test]
    fn a_changed_body_a_wrong_secret_or_an_old_timestamp_is_refused() {
        let body = b"{\"a\":1}";
        let header = signature_header(SECRET, 1_000, body);
        assert_eq!(verify(&[Secret::new(SECRET)], &header, b"{\"a\":2}", 1_000), Err(WebhookError::BadSignature));
        assert_eq!(verify(&[Secret::new("whsec_other")], &header, body, 1_000), Err(WebhookError::BadSignature));
        assert_eq!(verify(&[Secret::new(SECRET)], &header, body, 1_000 + 301), Err(WebhookError::TooOld));
        assert_eq!(verify(&[Secret::new(SECRET)], "garbage", body, 1_000), Err(WebhookError::MissingSignature));
        assert_eq!(verify(&[], &header, body, 1_000), Err(WebhookError::BadSignature));
    }

    #[test]
    fn a_paid_checkout_session_names_our_payment_and_its_intent() {
        let event = parse_event(
            br#"{"id":"evt_2","type":"checkout.session.completed","created":1,"livemode":false,
                "data":{"object":{"id":"cs_1","mode":"payment","payment_status":"paid","amount_total":1250,
                "currency":"eur","customer":"cus_1","payment_intent":"pi_1","metadata":{"hostwright_payment":"7"}}}}"#,
        )
        .map_err(|e| e.to_string());
        let Ok(event) = event else { panic!("{event:?}") };
        assert_eq!(
            interpret(&event),
            Notice::PaymentSucceeded {
                our_ref: Some("7".into()),
                payment_ref: "pi_1".into(),
                session_ref: Some("cs_1".into()),
                amount: Amount { minor: 1250, currency: "EUR".into() },
                customer_ref: Some("cus_1".into()),
                method_ref: None,
            }
        );
    }

    #[test]
    fn an_unpaid_session_and_an_unknown_type_are_ignored() {
        let unpaid = Event {
            id: "evt_3".into(),
            kind: "checkout.session.completed".into(),
            created: 0,
            livemode: false,
            object: serde_json::json!({"mode": "payment", "payment_status": "unpaid", "payment_intent": "pi_2"}),
        };
        assert!(matches!(interpret(&unpaid), Notice::Ignored(_)));
        let other = Event { kind: "customer.created".into(), ..unpaid };
        assert!(matches!(interpret(&other), Notice::Ignored(_)));
    }

    #[test]
    fn a_body_without_an_id_or_object_is_malformed() {
        assert!(matches!(parse_event(b"not json"), Err(WebhookError::Malformed(_))));
        assert!(matches!(parse_event(br#"{"type":"x","data":{"object":{}}}"#), Err(WebhookError::Malformed(_))));
        assert!(matches!(parse_event(br#"{"id":"evt","type":"x","data":{}}"#), Err(WebhookError::Malformed(_))));
    }
}
