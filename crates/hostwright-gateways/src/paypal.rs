//! PayPal, over its REST API: Orders v2 (create an order, send the payer to approve it, then
//! capture it), refunds of captures, and webhooks checked by PayPal's own
//! verify-webhook-signature API.
//!
//! Requests authenticate with an OAuth access token from the app's client id and secret
//! (cached until shortly before it expires). Every POST that moves money carries a
//! `PayPal-Request-Id` built from our own record, PayPal's idempotency header, so a retried
//! create, capture or refund is the same one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hostwright_core::{Currency, Money};
use serde_json::{Value, json};

use crate::{
    Amount, Capabilities, ChargeRequest, CheckoutRequest, ExpireOutcome, GatewayError, Notice, PaymentGateway,
    Redirect, Refund, RemotePayment, RemoteStatus, SavedMethod, Secret, SetupRequest,
};

#[derive(Debug, Clone)]
pub struct PayPalConfig {
    pub client_id: String,
    pub secret: Secret,
    /// `https://api-m.paypal.com` live, `https://api-m.sandbox.paypal.com` for the sandbox.
    pub api_base: url::Url,
    pub timeout: Duration,
    /// The name the payer sees on PayPal's pages.
    pub brand_name: String,
}

pub struct PayPal {
    http: reqwest::Client,
    config: PayPalConfig,
    token: Mutex<Option<(String, Instant)>>,
}

/// The headers PayPal signs a webhook with, as received.
#[derive(Debug, Clone, Default)]
pub struct WebhookHeaders {
    pub auth_algo: String,
    pub cert_url: String,
    pub transmission_id: String,
    pub transmission_sig: String,
    pub transmission_time: String,
}

impl WebhookHeaders {
    pub fn complete(&self) -> bool {
        [&self.auth_algo, &self.cert_url, &self.transmission_id, &self.transmission_sig, &self.transmission_time]
            .iter()
            .all(|h| !h.is_empty())
    }
}

impl PayPal {
    pub fn new(config: PayPalConfig) -> Result<Self, GatewayError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Hostwright/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GatewayError::Unreachable(e.to_string()))?;
        Ok(PayPal { http, config, token: Mutex::new(None) })
    }

    fn url(&self, path: &str) -> Result<url::Url, GatewayError> {
        self.config.api_base.join(path).map_err(|e| GatewayError::Rejected { status: 0, message: e.to_string() })
    }

    /// An access token, fetched again when the cached one is about to expire.
    async fn token(&self) -> Result<String, GatewayError> {
        if let Ok(cached) = self.token.lock()
            && let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let request = self
            .http
            .post(self.url("/v1/oauth2/token")?)
            .basic_auth(&self.config.client_id, Some(self.config.secret.expose()))
            .form(&[("grant_type", "client_credentials")]);
        let answer = send(request).await?;
        let token = answer["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GatewayError::Protocol("no access_token in the token answer".into()))?
            .to_owned();
        let lifetime = answer["expires_in"].as_u64().unwrap_or(300).saturating_sub(60).max(30);
        if let Ok(mut cached) = self.token.lock() {
            *cached = Some((token.clone(), Instant::now() + Duration::from_secs(lifetime)));
        }
        Ok(token)
    }

    async fn post(&self, path: &str, body: &Value, request_id: Option<&str>) -> Result<Value, GatewayError> {
        let mut request = self.http.post(self.url(path)?).bearer_auth(self.token().await?).json(body);
        if let Some(id) = request_id {
            request = request.header("PayPal-Request-Id", id);
        }
        send(request.header("Prefer", "return=representation")).await
    }

    async fn get(&self, path: &str) -> Result<Value, GatewayError> {
        send(self.http.get(self.url(path)?).bearer_auth(self.token().await?)).await
    }

    /// Captures approved order `order_ref`, made for our payment `our_ref`: the money moves
    /// now. Capturing twice answers with the first capture.
    pub async fn capture(&self, our_ref: &str, order_ref: &str) -> Result<RemotePayment, GatewayError> {
        let path = format!("/v2/checkout/orders/{order_ref}/capture");
        match self.post(&path, &json!({}), Some(&format!("hw-capture-{our_ref}"))).await {
            Ok(order) => captured(&order),
            Err(GatewayError::Rejected { message, .. }) if message.contains("ORDER_ALREADY_CAPTURED") => {
                captured(&self.get(&format!("/v2/checkout/orders/{order_ref}")).await?)
            }
            Err(GatewayError::Rejected { message, .. }) if message.contains("INSTRUMENT_DECLINED") => {
                Err(GatewayError::Declined { code: "INSTRUMENT_DECLINED".into(), message, payment_ref: None })
            }
            Err(other) => Err(other),
        }
    }

    /// Asks PayPal whether a webhook with these headers and exactly this body came from it,
    /// for the webhook `webhook_id` configured in the app.
    pub async fn verify_webhook(
        &self,
        headers: &WebhookHeaders,
        body: &[u8],
        webhook_id: &str,
    ) -> Result<bool, GatewayError> {
        let Ok(event) = std::str::from_utf8(body) else { return Ok(false) };
        if serde_json::from_str::<Value>(event).is_err() {
            return Ok(false);
        }
        // The event goes back byte for byte: re-serialising it could change what was signed.
        let fields = json!({
            "auth_algo": headers.auth_algo,
            "cert_url": headers.cert_url,
            "transmission_id": headers.transmission_id,
            "transmission_sig": headers.transmission_sig,
            "transmission_time": headers.transmission_time,
            "webhook_id": webhook_id,
        })
        .to_string();
        let request_body = format!("{},\"webhook_event\":{event}}}", fields.trim_end_matches('}'));
        let request = self
            .http
            .post(self.url("/v1/notifications/verify-webhook-signature")?)
            .bearer_auth(self.token().await?)
            .header("content-type", "application/json")
            .body(request_body);
        let answer = send(request).await?;
        Ok(answer["verification_status"] == "SUCCESS")
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<Value, GatewayError> {
    let (status, parsed) = match crate::exchange(request).await? {
        Ok(answer) => return Ok(answer),
        Err(refused) => refused,
    };
    // Orders and payments: {name, message, details: [{issue, description}]}; OAuth: {error,
    // error_description}.
    let issue = parsed["details"][0]["issue"].as_str().unwrap_or_default();
    let message = parsed["details"][0]["description"]
        .as_str()
        .or_else(|| parsed["message"].as_str())
        .or_else(|| parsed["error_description"].as_str())
        .unwrap_or("no message");
    let name = parsed["name"].as_str().or_else(|| parsed["error"].as_str()).unwrap_or("ERROR");
    let message = if issue.is_empty() { format!("{name}: {message}") } else { format!("{issue}: {message}") };
    Err(GatewayError::Rejected { status, message })
}

/// PayPal writes amounts as decimal strings in the currency's ISO decimals.
fn to_minor(value: &Value) -> Result<Amount, GatewayError> {
    let code = value["currency_code"].as_str().unwrap_or_default().to_uppercase();
    let currency = Currency::from_code(&code).map_err(|e| GatewayError::Protocol(e.to_string()))?;
    let money = Money::parse(value["value"].as_str().unwrap_or_default(), currency)
        .map_err(|e| GatewayError::Protocol(e.to_string()))?;
    Ok(Amount { minor: money.minor(), currency: code })
}

fn to_value(amount: &Amount) -> Result<Value, GatewayError> {
    let currency = Currency::from_code(&amount.currency)
        .map_err(|e| GatewayError::Rejected { status: 0, message: format!("PayPal cannot take this currency: {e}") })?;
    Ok(json!({
        "currency_code": amount.currency,
        "value": Money::from_minor(amount.minor, currency).to_decimal_string(),
    }))
}

/// A capture (from a capture answer, an order, or an event) as a [`RemotePayment`].
fn capture_payment(capture: &Value) -> Result<RemotePayment, GatewayError> {
    let status = match capture["status"].as_str().unwrap_or_default() {
        "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED" => RemoteStatus::Succeeded,
        "PENDING" => RemoteStatus::Processing,
        other => RemoteStatus::Failed {
            code: other.to_owned(),
            message: capture["status_details"]["reason"].as_str().unwrap_or("The payment was declined.").to_owned(),
        },
    };
    Ok(RemotePayment {
        payment_ref: capture["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| GatewayError::Protocol("a capture without an id".into()))?,
        our_ref: capture["custom_id"].as_str().map(str::to_owned),
        status,
        amount: to_minor(&capture["amount"])?,
        refunded_minor: 0,
        customer_ref: None,
        method_ref: None,
    })
}

/// The capture of a captured order.
fn captured(order: &Value) -> Result<RemotePayment, GatewayError> {
    let capture = &order["purchase_units"][0]["payments"]["captures"][0];
    if !capture.is_object() {
        return Err(GatewayError::Protocol(format!("order {} has no capture", order["id"])));
    }
    let mut payment = capture_payment(capture)?;
    if payment.our_ref.is_none() {
        payment.our_ref = order["purchase_units"][0]["custom_id"].as_str().map(str::to_owned);
    }
    Ok(payment)
}

impl PaymentGateway for PayPal {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            redirect_payment: true,
            saved_methods: false,
            refunds: true,
            webhooks: true,
            test_mode: true,
            test_connection: true,
        }
    }

    async fn test_connection(&self) -> Result<String, GatewayError> {
        self.token().await?;
        let mode = if self.config.api_base.as_str().contains("sandbox") { "sandbox" } else { "live" };
        Ok(format!("PayPal app {} ({mode})", self.config.client_id))
    }

    async fn ensure_customer(&self, _: &str, _: &str, _: &str) -> Result<String, GatewayError> {
        Err(GatewayError::Unsupported)
    }

    async fn start_checkout(&self, request: &CheckoutRequest) -> Result<Redirect, GatewayError> {
        let body = json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": request.invoice_ref,
                "custom_id": request.our_ref,
                "description": request.description,
                "amount": to_value(&request.amount)?,
            }],
            "payment_source": {"paypal": {"experience_context": {
                "brand_name": self.config.brand_name,
                "shipping_preference": "NO_SHIPPING",
                "user_action": "PAY_NOW",
                "return_url": request.success_url,
                "cancel_url": request.cancel_url,
            }}},
        });
        let order =
            self.post("/v2/checkout/orders", &body, Some(&format!("hw-payment-{}-order", request.our_ref))).await?;
        let id = order["id"].as_str().ok_or_else(|| GatewayError::Protocol("an order without an id".into()))?;
        let links = order["links"].as_array().cloned().unwrap_or_default();
        let approve = links
            .iter()
            .find(|l| l["rel"] == "payer-action" || l["rel"] == "approve")
            .and_then(|l| l["href"].as_str())
            .ok_or_else(|| GatewayError::Protocol("the order has no approval link".into()))?;
        Ok(Redirect { url: approve.to_owned(), session_ref: id.to_owned() })
    }

    async fn start_setup(&self, _: &SetupRequest) -> Result<Redirect, GatewayError> {
        Err(GatewayError::Unsupported)
    }

    async fn expire_checkout(&self, _: &str) -> Result<ExpireOutcome, GatewayError> {
        // An order nobody approved simply lapses; nothing to close.
        Ok(ExpireOutcome::Expired)
    }

    async fn charge_saved(&self, _: &ChargeRequest) -> Result<RemotePayment, GatewayError> {
        Err(GatewayError::Unsupported)
    }

    async fn refund(&self, our_ref: &str, payment_ref: &str, amount_minor: i64) -> Result<Refund, GatewayError> {
        let capture = self.get(&format!("/v2/payments/captures/{payment_ref}")).await?;
        let currency = to_minor(&capture["amount"])?.currency;
        let body = json!({ "amount": to_value(&Amount { minor: amount_minor, currency })? });
        let path = format!("/v2/payments/captures/{payment_ref}/refund");
        let refund = self.post(&path, &body, Some(&format!("hw-refund-{our_ref}"))).await?;
        Ok(Refund {
            refund_ref: refund["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| GatewayError::Protocol("a refund without an id".into()))?,
            amount_minor: to_minor(&refund["amount"]).map(|a| a.minor).unwrap_or(amount_minor),
            succeeded: matches!(refund["status"].as_str(), Some("COMPLETED" | "PENDING")),
        })
    }

    async fn payment(&self, payment_ref: &str) -> Result<RemotePayment, GatewayError> {
        capture_payment(&self.get(&format!("/v2/payments/captures/{payment_ref}")).await?)
    }

    async fn find_payment(&self, _: &str) -> Result<Option<RemotePayment>, GatewayError> {
        Err(GatewayError::Unsupported)
    }

    async fn saved_method(&self, _: &str) -> Result<SavedMethod, GatewayError> {
        Err(GatewayError::Unsupported)
    }

    async fn detach_method(&self, _: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Unsupported)
    }
}

/// A webhook body PayPal sent (already verified): its event id and type.
pub fn parse_event(payload: &[u8]) -> Result<crate::Event, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    let id = value["id"].as_str().filter(|i| !i.is_empty() && i.len() <= 255).ok_or("no event id")?.to_owned();
    let kind =
        value["event_type"].as_str().filter(|t| !t.is_empty() && t.len() <= 100).ok_or("no event_type")?.to_owned();
    let object = value["resource"].clone();
    if !object.is_object() {
        return Err("no resource".into());
    }
    Ok(crate::Event { id, kind, created: 0, livemode: true, object })
}

/// The id after `/captures/` in a refund's `up` link.
fn refunded_capture(refund: &Value) -> Option<String> {
    refund["links"].as_array()?.iter().find_map(|l| {
        let href = l["href"].as_str()?;
        (l["rel"] == "up").then(|| href.rsplit_once("/captures/").map(|(_, id)| id.trim_end_matches('/').to_owned()))?
    })
}

/// What a PayPal event tells us.
pub fn interpret(event: &crate::Event) -> Notice {
    let o = &event.object;
    match event.kind.as_str() {
        "CHECKOUT.ORDER.APPROVED" => match o["id"].as_str() {
            Some(order) => Notice::Approved {
                our_ref: o["purchase_units"][0]["custom_id"].as_str().map(str::to_owned),
                session_ref: order.to_owned(),
            },
            None => Notice::Ignored("an approved order without an id".into()),
        },
        "PAYMENT.CAPTURE.COMPLETED" => match capture_payment(o) {
            Ok(payment) => Notice::PaymentSucceeded {
                our_ref: payment.our_ref,
                payment_ref: payment.payment_ref,
                session_ref: o["supplementary_data"]["related_ids"]["order_id"].as_str().map(str::to_owned),
                amount: payment.amount,
                customer_ref: None,
                method_ref: None,
            },
            Err(err) => Notice::Ignored(format!("an unreadable capture: {err}")),
        },
        "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED" => match o["id"].as_str() {
            Some(capture) => Notice::PaymentFailed {
                our_ref: o["custom_id"].as_str().map(str::to_owned),
                payment_ref: capture.to_owned(),
                code: event.kind.clone(),
                message: "PayPal did not complete the payment.".into(),
                needs_authentication: false,
            },
            None => Notice::Ignored("a denied capture without an id".into()),
        },
        "PAYMENT.CAPTURE.REFUNDED" => {
            let total = &o["seller_payable_breakdown"]["total_refunded_amount"];
            match (refunded_capture(o), to_minor(if total.is_object() { total } else { &o["amount"] })) {
                (Some(capture), Ok(refunded)) => {
                    Notice::Refunded { payment_ref: capture, refunded_minor: refunded.minor, amount: refunded }
                }
                _ => Notice::Ignored("a refund that names no capture".into()),
            }
        }
        other => Notice::Ignored(format!("{other} is not an event Hostwright acts on")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, resource: Value) -> crate::Event {
        let body = json!({"id": "WH-1", "event_type": kind, "resource": resource}).to_string();
        match parse_event(body.as_bytes()) {
            Ok(event) => event,
            Err(err) => panic!("{err}"),
        }
    }

    #[test]
    fn a_completed_capture_names_our_payment_and_its_order() {
        let notice = interpret(&event(
            "PAYMENT.CAPTURE.COMPLETED",
            json!({
                "id": "CAP1", "status": "COMPLETED", "custom_id": "7",
                "amount": {"currency_code": "EUR", "value": "11.90"},
                "supplementary_data": {"related_ids": {"order_id": "ORDER1"}},
            }),
        ));
        assert_eq!(
            notice,
            Notice::PaymentSucceeded {
                our_ref: Some("7".into()),
                payment_ref: "CAP1".into(),
                session_ref: Some("ORDER1".into()),
                amount: Amount { minor: 1190, currency: "EUR".into() },
                customer_ref: None,
                method_ref: None,
            }
        );
    }

    #[test]
    fn a_refund_counts_what_was_refunded_of_its_capture_in_all() {
        let notice = interpret(&event(
            "PAYMENT.CAPTURE.REFUNDED",
            json!({
                "id": "REF2", "status": "COMPLETED", "amount": {"currency_code": "JPY", "value": "500"},
                "seller_payable_breakdown": {"total_refunded_amount": {"currency_code": "JPY", "value": "800"}},
                "links": [{"rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/CAP9"}],
            }),
        ));
        assert_eq!(
            notice,
            Notice::Refunded {
                payment_ref: "CAP9".into(),
                refunded_minor: 800,
                amount: Amount { minor: 800, currency: "JPY".into() },
            }
        );
    }

    #[test]
    fn other_events_and_bodies_without_a_resource_are_not_acted_on() {
        assert!(matches!(interpret(&event("BILLING.PLAN.CREATED", json!({"id": "P"}))), Notice::Ignored(_)));
        assert!(parse_event(br#"{"id":"WH-2","event_type":"X"}"#).is_err());
        assert!(parse_event(b"nonsense").is_err());
    }
}
