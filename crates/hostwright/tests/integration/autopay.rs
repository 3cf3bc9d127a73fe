//! Saved cards and automatic payment, against Stripe's HTTP double: a client saves a card on
//! Stripe's page, turns automatic payment on, and the daily run charges the due invoice once
//! (whatever else pays it at the same moment), retries a declined card on the schedule with
//! an email, and leaves a charge nobody answered "unknown" until Stripe is asked again.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header as has_header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::on_both_backends;
use crate::support::stripe::{
    Shop, checkout_completed, daily_run, intent, save_card, setup_succeeded, shop_with, signed,
};
use crate::support::{TestApp, snapshot};

const DUE: &str = "2027-03-10";

fn intent_event(event_id: &str, pi: Value) -> String {
    json!({
        "id": event_id, "object": "event", "type": "payment_intent.succeeded", "created": 1_764_800_001,
        "livemode": false, "data": {"object": pi},
    })
    .to_string()
}

fn card_error(code: &str, decline_code: &str, message: &str, pi: &str) -> ResponseTemplate {
    ResponseTemplate::new(402).set_body_json(json!({"error": {
        "type": "card_error", "code": code, "decline_code": decline_code, "message": message,
        "payment_intent": {"id": pi, "object": "payment_intent", "status": "requires_payment_method"},
    }}))
}

/// A shop whose client has a Visa card saved and automatic payment on, the invoice due on
/// [`DUE`].
async fn paying_automatically(app: TestApp) -> Shop {
    let mut shop = shop_with(app, |s| s.payments.gateway_timeout_seconds = 1).await;
    save_card(&mut shop, "pm_card_visa", "visa", "4242").await;
    shop.client
        .post_form("/account/auto-pay", &[("auto_pay", "on")])
        .await
        .assert_redirect_to("/account/payment-methods");
    shop.client.execute(&format!("UPDATE invoices SET due_date = '{DUE}'")).await;
    shop
}

async fn charges_sent(shop: &Shop) -> usize {
    let requests = shop.stripe.received_requests().await.unwrap();
    requests.iter().filter(|r| r.method.as_str() == "POST" && r.url.path() == "/v1/payment_intents").count()
}

async fn a_client_saves_cards_and_chooses_automatic_payment(app: TestApp) {
    let mut shop = shop_with(app, |_| {}).await;
    let page = shop.client.get("/account/payment-methods").await;
    page.assert_contains("You have no saved cards.");
    let refused = shop.client.post_form("/account/auto-pay", &[("auto_pay", "on")]).await;
    refused.assert_redirect_to("/account/payment-methods");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM clients WHERE auto_pay = true").await, 0, "no card, no auto-pay");

    save_card(&mut shop, "pm_card_visa", "visa", "4242").await;
    // Stripe repeats the event: the card is saved once.
    let repeated = signed(&shop.client, setup_succeeded("evt_setup_pm_card_visa", "pm_card_visa")).await;
    let answer: Value = serde_json::from_str(&repeated.body).expect("a JSON answer");
    assert_eq!(answer, json!({ "received": true, "duplicate": true }), "the repeat is acknowledged as a duplicate");
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_methods WHERE is_default = true").await, 1);
    shop.client
        .get("/account/payment-methods?setup=returned")
        .await
        .assert_contains("Visa ending 4242, expires 04&#x2f;2030");

    save_card(&mut shop, "pm_card_mastercard", "mastercard", "4444").await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_methods").await, 2);
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payment_methods WHERE is_default = true AND method_ref = 'pm_card_visa'")
            .await,
        1,
        "the first card stays the default"
    );
    let second = shop.scalar("SELECT id FROM payment_methods WHERE method_ref = 'pm_card_mastercard'").await;
    shop.client
        .post_form(&format!("/account/payment-methods/{second}/default"), &[])
        .await
        .assert_redirect_to("/account/payment-methods");
    assert_eq!(
        shop.scalar(
            "SELECT COUNT(*) FROM payment_methods WHERE is_default = true AND method_ref = 'pm_card_mastercard'"
        )
        .await,
        1
    );
    shop.client
        .post_form("/account/auto-pay", &[("auto_pay", "on")])
        .await
        .assert_redirect_to("/account/payment-methods");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM clients WHERE auto_pay = true").await, 1);

    // Removing a card detaches it at Stripe; the last one gone turns automatic payment off.
    for pm in ["pm_card_mastercard", "pm_card_visa"] {
        Mock::given(method("POST"))
            .and(path(format!("/v1/payment_methods/{pm}/detach")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": pm, "customer": null})))
            .expect(1)
            .mount(&shop.stripe)
            .await;
    }
    shop.client
        .post_form(&format!("/account/payment-methods/{second}/remove"), &[])
        .await
        .assert_redirect_to("/account/payment-methods");
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payment_methods WHERE is_default = true AND method_ref = 'pm_card_visa'")
            .await,
        1,
        "the other card becomes the default"
    );
    let first = shop.scalar("SELECT id FROM payment_methods").await;
    shop.client.post_form(&format!("/account/payment-methods/{first}/remove"), &[]).await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_methods").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM clients WHERE auto_pay = true").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'payment_method.%'").await, 5);
    // Another client's card cannot be touched.
    let foreign = shop.client.post_form("/account/payment-methods/999/remove", &[]).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

async fn the_daily_run_charges_the_saved_card_once_on_the_due_date(app: TestApp) {
    let mut shop = paying_automatically(app).await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(has_header("idempotency-key", "hw-payment-1"))
        .and(body_string_contains("off_session=true"))
        .and(body_string_contains("confirm=true"))
        .and(body_string_contains("amount=1190"))
        .and(body_string_contains("payment_method=pm_card_visa"))
        .and(body_string_contains("customer=cus_Grace"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("pi_auto_1", 1, "succeeded")))
        .mount(&shop.stripe)
        .await;
    shop.client
        .get("/account/invoices/1")
        .await
        .assert_contains("this invoice is charged to Visa ending 4242, expires 04&#x2f;2030 on 2027-03-10.");
    // Not when the invoice is made, nor the day before it is due.
    assert_eq!(daily_run(&shop.staff, "2027-03-09").await, 0);
    assert_eq!(shop.client.run_jobs().await, 0);
    assert_eq!(daily_run(&shop.staff, DUE).await, 1);
    // The charge's job and Stripe's webhook for the same payment intent, at once.
    let (ran, answer) = tokio::join!(
        shop.staff.run_jobs(),
        signed(&shop.client, intent_event("evt_auto_1", intent("pi_auto_1", 1, "succeeded")))
    );
    assert!(ran >= 1);
    assert_eq!(answer.status, StatusCode::OK);
    shop.client.run_jobs().await;
    assert_eq!(charges_sent(&shop).await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    assert_eq!(
        shop.scalar(
            "SELECT COUNT(*) FROM payments WHERE kind = 'automatic' AND status = 'succeeded' AND method_id = 1"
        )
        .await,
        1
    );
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
    // The check queued with the attempt, in case its job had died, finds it settled.
    shop.client.execute("UPDATE jobs SET run_at_ms = 0 WHERE kind = 'payment.resolve'").await;
    assert_eq!(shop.client.run_jobs().await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'").await, 1);
    assert_eq!(
        shop.scalar(
            "SELECT COUNT(*) FROM email_outbox WHERE template = 'payment_received' \
             AND body_text LIKE '%received 11.90 EUR by Card (reference pi_auto_1)%'"
        )
        .await,
        1
    );
    // Running again, that day or the next, charges nothing more.
    assert_eq!(daily_run(&shop.staff, DUE).await, 0);
    assert_eq!(daily_run(&shop.staff, "2027-03-11").await, 0);
    shop.client.run_jobs().await;
    assert_eq!(charges_sent(&shop).await, 1);
}

async fn a_webhook_and_the_daily_charge_at_the_same_moment_charge_once(app: TestApp) {
    let mut shop = paying_automatically(app).await;
    // The client opened Stripe's page for the invoice and paid there; Stripe reports it just
    // as the daily run charges the invoice.
    shop.start_card_payment().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions/cs_test_1/expire"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "type": "invalid_request_error",
            "message": "Only Checkout Sessions with a status in [\"open\"] can be expired.",
        }})))
        .mount(&shop.stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_test_1", "object": "checkout.session", "status": "complete", "payment_status": "paid",
        })))
        .mount(&shop.stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("pi_auto_2", 2, "succeeded")))
        .mount(&shop.stripe)
        .await;
    let webhook = async {
        let answer = signed(&shop.client, checkout_completed("evt_paid_on_page", 1190, "eur")).await;
        shop.client.run_jobs().await;
        answer
    };
    let charge = async {
        let queued = daily_run(&shop.staff, DUE).await;
        shop.staff.run_jobs().await;
        queued
    };
    let (answer, _) = tokio::join!(webhook, charge);
    assert_eq!(answer.status, StatusCode::OK);
    shop.client.run_jobs().await;
    assert_eq!(charges_sent(&shop).await, 0, "the card is not charged a second time");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE kind = 'automatic' AND status <> 'expired'").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
}

async fn a_declined_card_is_tried_again_on_the_schedule_with_an_email(app: TestApp) {
    let shop = paying_automatically(app).await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(has_header("idempotency-key", "hw-payment-1"))
        .respond_with(card_error("card_declined", "insufficient_funds", "Your card has insufficient funds.", "pi_d1"))
        .mount(&shop.stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(has_header("idempotency-key", "hw-payment-2"))
        .respond_with(card_error(
            "authentication_required",
            "authentication_required",
            "This payment requires authentication.",
            "pi_d2",
        ))
        .mount(&shop.stripe)
        .await;
    assert_eq!(daily_run(&shop.staff, DUE).await, 1);
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'failed' AND gateway_ref = 'pi_d1'").await, 1);
    assert_eq!(
        shop.scalar(
            "SELECT COUNT(*) FROM email_outbox WHERE template = 'payment_failed' \
             AND body_text LIKE '%insufficient funds%' AND body_text LIKE '%again on 2027-03-11%' \
             AND body_text LIKE '%/account/invoices/1%'"
        )
        .await,
        1
    );
    shop.client.deliver_email().await;
    let declined = shop.client.smtp.to("grace@example.com").into_iter().find(|m| m.subject().contains("did not go"));
    crate::assert_redacted_snapshot!("card_declined_email", snapshot::email(&declined.expect("the email")));
    // The same day again: that attempt was made. The first retry day: one more attempt.
    assert_eq!(daily_run(&shop.staff, DUE).await, 0);
    assert_eq!(daily_run(&shop.staff, "2027-03-11").await, 1);
    shop.client.run_jobs().await;
    assert_eq!(daily_run(&shop.staff, "2027-03-12").await, 0);
    assert_eq!(charges_sent(&shop).await, 2);
    assert_eq!(
        shop.scalar(
            "SELECT COUNT(*) FROM email_outbox WHERE template = 'payment_failed' \
             AND subject LIKE 'Please confirm%' AND body_text LIKE '%again on 2027-03-13%'"
        )
        .await,
        1
    );
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'unpaid'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.failed'").await, 2);
    // Stripe's own failure event for the first charge changes nothing more.
    let failed = json!({
        "id": "evt_failed_1", "object": "event", "type": "payment_intent.payment_failed", "created": 1,
        "data": {"object": {
            "id": "pi_d1", "object": "payment_intent", "status": "requires_payment_method",
            "metadata": {"hostwright_payment": "1"},
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds", "message": "x"},
        }},
    });
    signed(&shop.client, failed.to_string()).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM email_outbox WHERE template = 'payment_failed'").await, 2);
}

async fn a_charge_nobody_answered_stays_unknown_until_stripe_is_asked(app: TestApp) {
    let mut shop = paying_automatically(app).await;
    // Stripe takes longer than the timeout (1 s here) to answer.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(intent("pi_slow", 1, "succeeded"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&shop.stripe)
        .await;
    assert_eq!(daily_run(&shop.staff, DUE).await, 1);
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'unknown'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'payment.resolve' AND status = 'pending'").await, 1);
    // Meanwhile nobody may pay it another way, and the daily run does not charge it again.
    let page = shop.client.get("/account/invoices/1").await;
    page.assert_contains("An automatic payment of this invoice is being processed");
    let refused = shop
        .client
        .post_form("/account/invoices/1/pay", &[("gateway", "stripe"), ("key", "pay-form-key-0000000002")])
        .await;
    refused.assert_redirect_to("/account/invoices/1");
    assert_eq!(daily_run(&shop.staff, "2027-03-11").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments").await, 1);

    // Five minutes later the job asks Stripe, which knows the payment by our id.
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .and(wiremock::matchers::query_param("query", "metadata['hostwright_payment']:'1'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "search_result", "has_more": false, "data": [intent("pi_slow", 1, "succeeded")],
        })))
        .mount(&shop.stripe)
        .await;
    shop.client.execute("UPDATE jobs SET run_at_ms = 0 WHERE kind = 'payment.resolve'").await;
    shop.client.run_jobs().await;
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'succeeded' AND gateway_ref = 'pi_slow'").await,
        1
    );
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
    assert_eq!(charges_sent(&shop).await, 1);
}

async fn a_charge_stripe_never_saw_is_given_up_only_after_a_second_look(app: TestApp) {
    let mut shop = paying_automatically(app).await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error"}})))
        .mount(&shop.stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/search"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "search_result", "has_more": false, "data": []})),
        )
        .mount(&shop.stripe)
        .await;
    daily_run(&shop.staff, DUE).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'unknown'").await, 1);
    // The first look finds nothing (Stripe's search may lag): it looks again an hour later.
    shop.client.execute("UPDATE jobs SET run_at_ms = 0 WHERE kind = 'payment.resolve'").await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'unknown'").await, 1);
    // Staff need not wait the hour: they ask the gateway now (within a minute).
    shop.staff.get("/admin/payments/1").await.assert_contains("Ask the gateway now");
    shop.staff.post_form("/admin/payments/1/check", &[]).await.assert_redirect_to("/admin/payments/1");
    shop.staff.post_form("/admin/payments/1/check", &[]).await.assert_redirect_to("/admin/payments/1");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.check_requested'").await, 1);
    shop.client
        .execute("UPDATE jobs SET run_at_ms = 0 WHERE kind = 'payment.resolve' AND unique_key LIKE '%staff%'")
        .await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'payment.resolve' AND status = 'done'").await, 2);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'expired'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM email_outbox WHERE template = 'payment_failed'").await, 0);
    // The next retry day charges it again.
    assert_eq!(daily_run(&shop.staff, "2027-03-11").await, 1);
}

on_both_backends!(
    a_client_saves_cards_and_chooses_automatic_payment,
    the_daily_run_charges_the_saved_card_once_on_the_due_date,
    a_webhook_and_the_daily_charge_at_the_same_moment_charge_once,
    a_declined_card_is_tried_again_on_the_schedule_with_an_email,
    a_charge_nobody_answered_stays_unknown_until_stripe_is_asked,
    a_charge_stripe_never_saw_is_given_up_only_after_a_second_look,
);
