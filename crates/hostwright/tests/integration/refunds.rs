//! Refunds to the card through Stripe's HTTP double: a credit note whose refund goes back to
//! the card it was paid with, a refund Stripe refuses (flagged, the client still owed), and
//! money held on a payment that never reached its invoice, given back or kept as credit.

use axum::http::StatusCode;
use serde_json::json;
use wiremock::matchers::{body_string_contains, header as has_header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::on_both_backends;
use crate::support::TestApp;
use crate::support::stripe::{Shop, checkout_completed, shop_with, signed};

/// A shop whose client paid the invoice (11.90 EUR) by card.
async fn paid_by_card(app: TestApp) -> Shop {
    let mut shop = shop_with(app, |_| {}).await;
    shop.start_card_payment().await;
    signed(&shop.client, checkout_completed("evt_paid", 1190, "eur")).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
    shop
}

fn refund_answer(id: &str, amount: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": id, "object": "refund", "amount": amount, "currency": "eur", "payment_intent": "pi_test_1",
        "status": "succeeded",
    }))
}

async fn credit_note(shop: &mut Shop, net: &str, key: &str) -> crate::support::TestResponse {
    let fields =
        [("amount.0", net), ("reason", "Service outage in November"), ("refund_method", "gateway"), ("key", key)];
    shop.staff.post_form(&format!("/admin/invoices/{}/credit-notes", shop.invoice), &fields).await
}

async fn staff_refund_a_card_payment_to_the_card_with_a_credit_note(app: TestApp) {
    let mut shop = paid_by_card(app).await;
    let page = shop.staff.get("/admin/payments/1").await;
    page.assert_contains("/admin/invoices/1/credit-notes/new?refund_method=gateway");
    let form = shop.staff.get("/admin/invoices/1/credit-notes/new?refund_method=gateway").await;
    form.assert_contains(
        "Refund it the way it was paid (card or PayPal) <span class=\"muted\">(up to 11.90 EUR)</span>",
    );
    form.assert_contains("value=\"gateway\" checked");
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(has_header("idempotency-key", "hw-refund-1"))
        .and(body_string_contains("payment_intent=pi_test_1"))
        .and(body_string_contains("amount=1190"))
        .respond_with(refund_answer("re_full", 1190))
        .expect(1)
        .mount(&shop.stripe)
        .await;
    let issued = credit_note(&mut shop, "10.00", "credit-note-key-000001").await;
    issued.assert_redirect_to("/admin/credit-notes/1");
    // The same form again issues nothing more.
    credit_note(&mut shop, "10.00", "credit-note-key-000001").await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_refunds WHERE status = 'pending'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'refunded'").await, 1);
    shop.client.run_jobs().await;
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payment_refunds WHERE status = 'succeeded' AND refund_ref = 're_full'").await,
        1
    );
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'refunded' AND refunded_minor = 1190 AND flag = ''")
            .await,
        1
    );
    // Stripe's event for the refund we asked for is no news, and raises no flag.
    let refunded = json!({
        "id": "evt_refund_full", "object": "event", "type": "charge.refunded", "created": 1, "livemode": false,
        "data": {"object": {
            "id": "ch_test_1", "object": "charge", "amount": 1190, "amount_refunded": 1190, "currency": "eur",
            "payment_intent": "pi_test_1", "refunded": true,
        }},
    });
    assert_eq!(signed(&shop.client, refunded.to_string()).await.status, StatusCode::OK);
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE flag <> ''").await, 0);
    shop.staff.get("/admin/credit-notes/1").await.assert_contains("refunded the way it was paid");
    shop.staff.get("/admin/payments/1").await.assert_contains("re_full");
    assert_eq!(
        shop.scalar(
            "SELECT COUNT(*) FROM email_outbox WHERE template = 'credit_note_issued' \
             AND body_text LIKE '%refunded the way you paid%'"
        )
        .await,
        1
    );
}

async fn a_refund_stripe_refuses_is_flagged_for_staff(app: TestApp) {
    let mut shop = paid_by_card(app).await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "type": "invalid_request_error", "code": "charge_disputed",
            "message": "Charge ch_test_1 has been charged back; cannot issue a refund.",
        }})))
        .mount(&shop.stripe)
        .await;
    // 5.00 net and its 19 % VAT: 5.95 back.
    credit_note(&mut shop, "5.00", "credit-note-key-000002").await.assert_redirect_to("/admin/credit-notes/1");
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_refunds WHERE status = 'failed'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'succeeded' AND refunded_minor = 0").await, 1);
    let page = shop.staff.get("/admin/payments/1").await;
    page.assert_contains("A refund of 5.95 EUR failed");
    page.assert_contains("charged back");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.refund_failed'").await, 1);
    // A refund larger than the card payments can give is refused, and changes nothing.
    let too_much = credit_note(&mut shop, "6.00", "credit-note-key-000003").await;
    assert_eq!(too_much.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", too_much.body);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM credit_notes").await, 1);
}

async fn money_held_on_a_payment_goes_back_to_the_card_or_to_credit(app: TestApp) {
    let mut shop = shop_with(app, |_| {}).await;
    shop.start_card_payment().await;
    // Stripe reports 10.00 where 11.90 was asked for: held for staff.
    signed(&shop.client, checkout_completed("evt_short", 1000, "eur")).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE applied_at IS NULL AND flag <> ''").await, 1);
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(has_header("idempotency-key", "hw-refund-1"))
        .and(body_string_contains("amount=600"))
        .respond_with(refund_answer("re_part", 600))
        .expect(1)
        .mount(&shop.stripe)
        .await;
    let page = shop.staff.get("/admin/payments/1").await;
    page.assert_contains("Refund through Card (Stripe)");
    let refund = |amount: &'static str, destination: &'static str, key: &'static str| {
        vec![("amount", amount), ("reason", "Paid the wrong amount"), ("destination", destination), ("key", key)]
    };
    let too_much =
        shop.staff.post_form("/admin/payments/1/refund", &refund("20.00", "gateway", "held-key-00000001")).await;
    too_much.assert_redirect_to("/admin/payments/1");
    shop.staff.get("/admin/payments/1").await.assert_contains("At most 10.00 EUR is left on this payment.");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_refunds").await, 0);

    let back = refund("6.00", "gateway", "held-key-00000002");
    shop.staff.post_form("/admin/payments/1/refund", &back).await.assert_redirect_to("/admin/payments/1");
    shop.staff.post_form("/admin/payments/1/refund", &back).await;
    shop.client.run_jobs().await;
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'partially_refunded' AND refunded_minor = 600").await,
        1
    );
    let rest = refund("4.00", "account_credit", "held-key-00000003");
    shop.staff.post_form("/admin/payments/1/refund", &rest).await.assert_redirect_to("/admin/payments/1");
    assert_eq!(shop.scalar("SELECT balance_minor FROM client_credit_balances WHERE client_id = 1").await, 400);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE applied_at IS NOT NULL").await, 1);
    // Money kept on account credit never reached the invoice: a credit note cannot send it
    // back to the card as well.
    let form = shop.staff.get("/admin/invoices/1/credit-notes/new").await;
    assert!(!form.body.contains("value=\"gateway\""), "no refund to the card offered");
    // Nothing is held any more.
    let again = refund("1.00", "gateway", "held-key-00000004");
    shop.staff.post_form("/admin/payments/1/refund", &again).await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_refunds").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.to_credit'").await, 1);
}

on_both_backends!(
    staff_refund_a_card_payment_to_the_card_with_a_credit_note,
    a_refund_stripe_refuses_is_flagged_for_staff,
    money_held_on_a_payment_goes_back_to_the_card_or_to_credit,
);
