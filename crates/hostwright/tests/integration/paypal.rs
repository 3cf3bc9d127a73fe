//! PayPal through an HTTP double that answers as PayPal's REST API documents: an order
//! created for the invoice, approved by the payer, captured once however the approval is
//! reported, webhooks accepted only when PayPal's verify-webhook-signature API confirms them,
//! and a refund of the capture.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{body_string_contains, header as has_header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::on_both_backends;
use crate::support::TestApp;
use crate::support::stripe::{Shop, daily_run, intent, save_card, shop_with};

const ORDER: &str = "5O190127TN364715T";
const CAPTURE: &str = "3C679366HH908993F";
/// The day the invoice is due, and the card charged.
const DUE: &str = "2027-03-10";

/// Staff turn PayPal on; the double answers the token, order, capture, refund and
/// verification requests.
async fn with_paypal(app: TestApp) -> Shop {
    let mut shop = shop_with(app, |_| {}).await;
    let saved = shop
        .staff
        .post_form(
            "/admin/settings/gateways/paypal",
            &[
                ("enabled", "on"),
                ("display_name", "PayPal"),
                ("test_mode", "on"),
                ("client_id", "AbCdClientId"),
                ("paypal_secret", "EFgh-secret-value"),
                ("webhook_id", "1JE4291016473214C"),
            ],
        )
        .await;
    saved.assert_redirect_to("/admin/settings/gateways/paypal");
    let stripe = &shop.stripe;
    Mock::given(method("POST"))
        .and(path("/v1/oauth2/token"))
        // Basic base64("AbCdClientId:EFgh-secret-value")
        .and(has_header("authorization", "Basic QWJDZENsaWVudElkOkVGZ2gtc2VjcmV0LXZhbHVl"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "scope": "https://uri.paypal.com/services/payments/payment", "access_token": "A21AAFake",
            "token_type": "Bearer", "app_id": "APP-80W284485P519543T", "expires_in": 32400,
        })))
        .mount(stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/checkout/orders"))
        .and(has_header("authorization", "Bearer A21AAFake"))
        .and(has_header("paypal-request-id", "hw-payment-1-order"))
        .and(body_string_contains("\"custom_id\":\"1\""))
        .and(body_string_contains("\"value\":\"11.90\""))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": ORDER, "status": "PAYER_ACTION_REQUIRED",
            "payment_source": {"paypal": {}},
            "links": [
                {"href": format!("https://api-m.sandbox.paypal.com/v2/checkout/orders/{ORDER}"), "rel": "self", "method": "GET"},
                {"href": format!("https://www.sandbox.paypal.com/checkoutnow?token={ORDER}"), "rel": "payer-action", "method": "GET"},
            ],
        })))
        .mount(stripe)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/checkout/orders/{ORDER}/capture")))
        .and(has_header("paypal-request-id", "hw-capture-1"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": ORDER, "status": "COMPLETED",
            "purchase_units": [{"reference_id": "1", "payments": {"captures": [capture("COMPLETED")]}}],
        })))
        .mount(stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/notifications/verify-webhook-signature"))
        .and(body_string_contains("\"webhook_id\":\"1JE4291016473214C\""))
        .and(body_string_contains("\"transmission_sig\":\"genuine-signature\""))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"verification_status": "SUCCESS"})))
        .mount(stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/notifications/verify-webhook-signature"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"verification_status": "FAILURE"})))
        .mount(stripe)
        .await;
    shop
}

fn capture(status: &str) -> Value {
    json!({
        "id": CAPTURE, "status": status, "custom_id": "1", "final_capture": true,
        "amount": {"currency_code": "EUR", "value": "11.90"},
        "supplementary_data": {"related_ids": {"order_id": ORDER}},
    })
}

fn webhook(id: &str, kind: &str, resource: Value) -> String {
    json!({
        "id": id, "event_version": "1.0", "create_time": "2026-12-04T10:00:00.000Z",
        "resource_type": "capture", "event_type": kind, "summary": "x", "resource": resource,
    })
    .to_string()
}

/// Posts a webhook with PayPal's transmission headers.
async fn deliver(app: &TestApp, body: String, signature: &str) -> crate::support::TestResponse {
    let request = Request::post("/webhooks/paypal")
        .header(header::CONTENT_TYPE, "application/json")
        .header("paypal-auth-algo", "SHA256withRSA")
        .header("paypal-cert-url", "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42")
        .header("paypal-transmission-id", "69cd13f0-d67a-11e5-baa3-778b53f4ae55")
        .header("paypal-transmission-sig", signature)
        .header("paypal-transmission-time", "2026-12-04T10:00:01Z")
        .body(Body::from(body))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    crate::support::TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

async fn a_client_pays_with_paypal_and_the_capture_is_booked_once(app: TestApp) {
    let mut shop = with_paypal(app).await;
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payment_gateways WHERE secrets LIKE '%secret-value%'").await,
        0,
        "the PayPal secret is stored encrypted"
    );
    let invoice = shop.client.get("/account/invoices/1").await;
    invoice.assert_contains("Pay 11.90 EUR by PayPal");
    let sent = shop
        .client
        .post_form("/account/invoices/1/pay", &[("gateway", "paypal"), ("key", "paypal-form-key-000001")])
        .await;
    assert_eq!(sent.location(), format!("https://www.sandbox.paypal.com/checkoutnow?token={ORDER}"), "{}", sent.body);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE gateway = 'paypal' AND status = 'pending'").await, 1);

    // The payer comes back and the order is captured; PayPal then reports the approval and
    // the capture (twice), all at once. (PayPal completes a capture only after it was asked
    // for, so the capture runs first, as it would.)
    let back = shop.client.get(&format!("/account/invoices/1/paypal-return?token={ORDER}&PayerID=FSMVU44LF3YUS")).await;
    back.assert_redirect_to("/account/invoices/1?payment=returned");
    shop.client.run_jobs().await;
    let approved = webhook(
        "WH-APPROVED",
        "CHECKOUT.ORDER.APPROVED",
        json!({
            "id": ORDER, "status": "APPROVED", "intent": "CAPTURE",
            "purchase_units": [{"reference_id": "1", "custom_id": "1", "amount": {"currency_code": "EUR", "value": "11.90"}}],
        }),
    );
    let completed = webhook("WH-COMPLETED", "PAYMENT.CAPTURE.COMPLETED", capture("COMPLETED"));
    let (a, b, c) = tokio::join!(
        deliver(&shop.client, approved, "genuine-signature"),
        deliver(&shop.client, completed.clone(), "genuine-signature"),
        deliver(&shop.client, completed.clone(), "genuine-signature"),
    );
    assert!([a.status, b.status, c.status].iter().all(|s| *s == StatusCode::OK), "{} {} {}", a.body, b.body, c.body);
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_events WHERE gateway = 'paypal'").await, 2);
    assert_eq!(
        shop.scalar(&format!("SELECT COUNT(*) FROM payments WHERE status = 'succeeded' AND gateway_ref = '{CAPTURE}'"))
            .await,
        1
    );
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
    // However many captures were asked, they were one request to PayPal (one request id).
    let requests = shop.stripe.received_requests().await.unwrap();
    let captures: Vec<_> = requests.iter().filter(|r| r.url.path().ends_with("/capture")).collect();
    assert!(!captures.is_empty());
    assert!(captures.iter().all(|r| r.headers.get("paypal-request-id").unwrap() == "hw-capture-1"));

    // A webhook PayPal does not vouch for, or without its headers, changes nothing.
    let forged = deliver(&shop.client, webhook("WH-FORGED", "PAYMENT.CAPTURE.REFUNDED", json!({})), "forged").await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let bare = Request::post("/webhooks/paypal")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"id": "WH-BARE"}).to_string()))
        .unwrap();
    assert_eq!(shop.client.router.clone().oneshot(bare).await.unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_events").await, 2);

    // Staff refund it to PayPal with a credit note.
    Mock::given(method("GET"))
        .and(path(format!("/v2/payments/captures/{CAPTURE}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(capture("COMPLETED")))
        .mount(&shop.stripe)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/payments/captures/{CAPTURE}/refund")))
        .and(has_header("paypal-request-id", "hw-refund-1"))
        .and(body_string_contains("\"value\":\"11.90\""))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "1JU08902781691411", "status": "COMPLETED", "amount": {"currency_code": "EUR", "value": "11.90"},
        })))
        .expect(1)
        .mount(&shop.stripe)
        .await;
    let note = shop
        .staff
        .post_form(
            "/admin/invoices/1/credit-notes",
            &[
                ("amount.0", "10.00"),
                ("reason", "Cancelled"),
                ("refund_method", "gateway"),
                ("key", "note-key-paypal-0001"),
            ],
        )
        .await;
    note.assert_redirect_to("/admin/credit-notes/1");
    shop.client.run_jobs().await;
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'refunded' AND refunded_minor = 1190").await,
        1
    );
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_refunds WHERE refund_ref = '1JU08902781691411'").await, 1);
}

async fn paypal_needs_its_credentials_and_its_connection_is_tested(app: TestApp) {
    let mut shop = shop_with(app, |_| {}).await;
    let refused =
        shop.staff.post_form("/admin/settings/gateways/paypal", &[("enabled", "on"), ("display_name", "PayPal")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.assert_contains("client id and secret");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_gateways WHERE key = 'paypal'").await, 0);
    let shop = with_paypal_on(shop).await;
    let mut staff = shop.staff;
    staff
        .post_form("/admin/settings/gateways/paypal/test", &[])
        .await
        .assert_redirect_to("/admin/settings/gateways/paypal");
    staff.get("/admin/settings/gateways/paypal").await.assert_contains("Connected: PayPal app AbCdClientId");
}

async fn with_paypal_on(shop: Shop) -> Shop {
    // `with_paypal` sets everything up on a fresh app; here the shop exists already.
    let mut shop = shop;
    shop.staff
        .post_form(
            "/admin/settings/gateways/paypal",
            &[
                ("enabled", "on"),
                ("display_name", "PayPal"),
                ("test_mode", "on"),
                ("client_id", "AbCdClientId"),
                ("paypal_secret", "EFgh-secret-value"),
                ("webhook_id", "1JE4291016473214C"),
            ],
        )
        .await
        .assert_redirect_to("/admin/settings/gateways/paypal");
    Mock::given(method("POST"))
        .and(path("/v1/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"access_token": "A21AAFake", "expires_in": 32400})),
        )
        .mount(&shop.stripe)
        .await;
    shop
}

async fn an_approval_for_an_invoice_paid_meanwhile_is_not_captured(app: TestApp) {
    let mut shop = with_paypal(app).await;
    let sent = shop
        .client
        .post_form("/account/invoices/1/pay", &[("gateway", "paypal"), ("key", "paypal-form-key-000002")])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    // While the payer is on PayPal's page, the money arrives by bank transfer.
    let recorded = shop
        .staff
        .post_form(
            "/admin/invoices/1/payments",
            &[
                ("amount", "11.90"),
                ("method", "bank_transfer"),
                ("reference", "SEPA"),
                ("paid_on", ""),
                ("key", "bank-transfer-key-0002"),
            ],
        )
        .await;
    assert!(recorded.status.is_redirection(), "{}", recorded.body);
    shop.client.get(&format!("/account/invoices/1/paypal-return?token={ORDER}")).await;
    shop.client.run_jobs().await;
    let requests = shop.stripe.received_requests().await.unwrap();
    assert_eq!(requests.iter().filter(|r| r.url.path().ends_with("/capture")).count(), 0, "not captured");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'expired'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
}

async fn a_paypal_capture_waits_for_an_automatic_charge_under_way(app: TestApp) {
    let mut shop = with_paypal(app).await;
    save_card(&mut shop, "pm_card_visa", "visa", "4242").await;
    shop.client.post_form("/account/auto-pay", &[("auto_pay", "on")]).await;
    shop.client.execute(&format!("UPDATE invoices SET due_date = '{DUE}'")).await;
    // The client opened PayPal's page; then the daily run charges the card, and Stripe's
    // answer is lost (a 500).
    let sent = shop
        .client
        .post_form("/account/invoices/1/pay", &[("gateway", "paypal"), ("key", "paypal-form-key-000003")])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error"}})))
        .mount(&shop.stripe)
        .await;
    assert_eq!(daily_run(&shop.staff, DUE).await, 1);
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE kind = 'automatic' AND status = 'unknown'").await, 1);
    // The payer comes back from PayPal: the capture waits rather than take the money too.
    shop.client.get(&format!("/account/invoices/1/paypal-return?token={ORDER}")).await;
    shop.client.run_jobs().await;
    let requests = shop.stripe.received_requests().await.unwrap();
    assert_eq!(requests.iter().filter(|r| r.url.path().ends_with("/capture")).count(), 0);
    // Stripe, asked later, says the card was charged; the capture then finds nothing owed.
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "search_result", "has_more": false, "data": [intent("pi_auto_9", 2, "succeeded")],
        })))
        .mount(&shop.stripe)
        .await;
    shop.client.execute("UPDATE jobs SET run_at_ms = 0 WHERE status = 'pending'").await;
    shop.client.run_jobs().await;
    shop.client.execute("UPDATE jobs SET run_at_ms = 0 WHERE status = 'pending'").await;
    shop.client.run_jobs().await;
    let requests = shop.stripe.received_requests().await.unwrap();
    assert_eq!(requests.iter().filter(|r| r.url.path().ends_with("/capture")).count(), 0, "PayPal never charged");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE gateway = 'paypal' AND status = 'expired'").await, 1);
}

on_both_backends!(
    a_paypal_capture_waits_for_an_automatic_charge_under_way,
    an_approval_for_an_invoice_paid_meanwhile_is_not_captured,
    a_client_pays_with_paypal_and_the_capture_is_booked_once,
    paypal_needs_its_credentials_and_its_connection_is_tested,
);
