//! Stripe's HTTP double and the shop most payment tests start from: a client signed in on one
//! node, staff on another, Stripe turned on with its keys, and an issued invoice; webhooks signed
//! exactly as Stripe signs them.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::NaiveDate;
use hostwright::automation::{self, Task};
use hostwright::ids::{ClientId, InvoiceId};
use hostwright_gateways::stripe::signature_header;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{body_string_contains, header as has_header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{TestApp, TestResponse, fixtures};

/// The webhook endpoint's signing secret (the second of the two staff enter).
pub const SECRET: &str = "whsec_test_endpoint_secret";

/// A client signed in on one node, staff on another, Stripe's double, and an issued
/// invoice of 11.90 EUR (10.00 and 19 % VAT) for the client.
pub struct Shop {
    pub client: TestApp,
    pub staff: TestApp,
    pub stripe: MockServer,
    pub invoice: InvoiceId,
}

/// The [`Shop`], with the client's node configured further by `change` (the staff node shares
/// its settings).
pub async fn shop_with(app: TestApp, change: impl FnOnce(&mut hostwright::config::Settings)) -> Shop {
    let stripe = MockServer::start().await;
    let base = url::Url::parse(&format!("{}/", stripe.uri())).unwrap();
    let mut client = app
        .reconfigured(|s| {
            // One double answers for Stripe and for PayPal (their paths differ).
            s.payments.stripe_api_base = base.clone();
            s.payments.paypal_api_base = base.clone();
            s.payments.paypal_sandbox_base = base;
            change(s);
        })
        .await;
    client.register_client("grace@example.com", "compass meadow 31").await;
    let mut staff = client.second_node().await;
    staff.signed_in_admin().await;
    fixtures::billing(&mut staff).set_up().await;
    let invoice = fixtures::invoice(&mut staff, ClientId(1)).taxed("Web hosting", "1", "10.00").issue().await.id;
    enable_stripe(&mut staff).await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .and(has_header("idempotency-key", "hw-customer-1"))
        .and(has_header("authorization", "Bearer sk_test_51Hostwright"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_Grace", "object": "customer"})))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(has_header("stripe-version", "2024-06-20"))
        .and(body_string_contains("mode=payment"))
        .and(body_string_contains("metadata%5Bhostwright_payment%5D=1"))
        .and(body_string_contains("payment_intent_data%5Bmetadata%5D%5Bhostwright_payment%5D=1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_1", "object": "checkout.session", "status": "open", "payment_status": "unpaid",
            "url": "https://checkout.stripe.com/c/pay/cs_test_1",
        })))
        .mount(&stripe)
        .await;
    Shop { client, staff, stripe, invoice }
}

/// Staff turn Stripe on with its keys.
pub async fn enable_stripe(staff: &mut TestApp) {
    let saved = staff
        .post_form(
            "/admin/settings/gateways/stripe",
            &[
                ("enabled", "on"),
                ("display_name", "Card"),
                ("currencies", "EUR, USD"),
                ("test_mode", "on"),
                ("secret_key", "sk_test_51Hostwright"),
                ("webhook_secrets", &format!("whsec_old_one\n{SECRET}")),
            ],
        )
        .await;
    saved.assert_redirect_to("/admin/settings/gateways/stripe");
}

impl Shop {
    /// The client presses "Pay" on the invoice and is sent to Stripe's page.
    pub async fn start_card_payment(&mut self) {
        let paid = self
            .client
            .post_form(
                &format!("/account/invoices/{}/pay", self.invoice),
                &[("gateway", "stripe"), ("key", "pay-form-key-0000000001")],
            )
            .await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
        assert_eq!(paid.location(), "https://checkout.stripe.com/c/pay/cs_test_1");
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        self.client.scalar(sql).await
    }
}

/// Stripe's `checkout.session.completed` for the shop's invoice: `amount` in `currency` paid.
pub fn checkout_completed(event_id: &str, amount: i64, currency: &str) -> String {
    json!({
        "id": event_id, "object": "event", "type": "checkout.session.completed", "created": 1_764_800_000,
        "livemode": false, "api_version": "2024-06-20",
        "data": {"object": {
            "id": "cs_test_1", "object": "checkout.session", "mode": "payment", "status": "complete",
            "payment_status": "paid", "amount_total": amount, "currency": currency, "customer": "cus_Grace",
            "payment_intent": "pi_test_1", "client_reference_id": "1",
            "metadata": {"hostwright_payment": "1", "hostwright_invoice": "1"},
        }},
    })
    .to_string()
}

/// An off-session payment intent of 11.90 EUR for payment `payment` of invoice 1, charged to
/// the saved Visa card.
pub fn intent(id: &str, payment: i64, status: &str) -> Value {
    json!({
        "id": id, "object": "payment_intent", "status": status, "amount": 1190,
        "amount_received": if status == "succeeded" { 1190 } else { 0 }, "currency": "eur",
        "customer": "cus_Grace", "payment_method": "pm_card_visa", "off_session": true,
        "metadata": {"hostwright_payment": payment.to_string(), "hostwright_invoice": "1"},
    })
}

/// Stripe's `setup_intent.succeeded` for a card `method_ref` the client saved.
pub fn setup_succeeded(event_id: &str, method_ref: &str) -> String {
    json!({
        "id": event_id, "object": "event", "type": "setup_intent.succeeded", "created": 1_764_800_000,
        "livemode": false,
        "data": {"object": {
            "id": format!("seti_{method_ref}"), "object": "setup_intent", "status": "succeeded",
            "customer": "cus_Grace", "payment_method": method_ref, "usage": "off_session",
            "metadata": {"hostwright_setup": "1-setup-form-key-00000001"},
        }},
    })
    .to_string()
}

/// The client saves `method_ref` on Stripe's page; Stripe reports it by webhook.
pub async fn save_card(shop: &mut Shop, method_ref: &str, brand: &str, last4: &str) {
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(body_string_contains("mode=setup"))
        .and(body_string_contains("customer=cus_Grace"))
        .and(has_header("idempotency-key", "hw-setup-1-setup-form-key-00000001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_setup_1", "object": "checkout.session", "mode": "setup", "status": "open",
            "url": "https://checkout.stripe.com/c/pay/cs_setup_1",
        })))
        .mount(&shop.stripe)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/payment_methods/{method_ref}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": method_ref, "object": "payment_method", "type": "card", "customer": "cus_Grace",
            "card": {"brand": brand, "last4": last4, "exp_month": 4, "exp_year": 2030},
        })))
        .mount(&shop.stripe)
        .await;
    let started = shop.client.post_form("/account/payment-methods", &[("key", "setup-form-key-00000001")]).await;
    assert_eq!(started.location(), "https://checkout.stripe.com/c/pay/cs_setup_1", "{}", started.body);
    let answer = signed(&shop.client, setup_succeeded(&format!("evt_setup_{method_ref}"), method_ref)).await;
    assert_eq!(answer.status, StatusCode::OK);
    shop.client.run_jobs().await;
}

/// The daily run's automatic charges for the day `on`; returns how many it queued.
pub async fn daily_run(app: &TestApp, on: &str) -> i64 {
    let on: NaiveDate = on.parse().unwrap();
    let wait = std::time::Duration::from_secs(30);
    let run = automation::run_now(&app.state, Some(on), &[Task::AutoCharge], false, wait).await.unwrap();
    run.reports[0].counts.get("charges").copied().unwrap_or(0)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Posts a webhook as Stripe does: the JSON body and its `Stripe-Signature` header.
pub async fn deliver(router: Router, body: String, signature: Option<String>) -> TestResponse {
    let mut request = Request::post("/webhooks/stripe").header(header::CONTENT_TYPE, "application/json");
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let mut request = request.body(Body::from(body)).unwrap();
    request.extensions_mut().insert(ConnectInfo("54.187.174.169:443".parse::<SocketAddr>().unwrap()));
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// Posts `body` as a webhook signed now with [`SECRET`].
pub async fn signed(app: &TestApp, body: String) -> TestResponse {
    let signature = signature_header(SECRET, now(), body.as_bytes());
    deliver(app.router.clone(), body, Some(signature)).await
}
