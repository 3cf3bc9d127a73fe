//! Payments through Stripe against an HTTP double that answers as Stripe's API documents,
//! with webhooks signed exactly as Stripe signs them: a card payment started from the
//! client's invoice, applied once however often and in whatever order the events arrive;
//! refused webhooks that change nothing; money that does not match, flagged.

use axum::http::StatusCode;
use hostwright_gateways::stripe::signature_header;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header as has_header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::on_both_backends;
use crate::support::stripe::{SECRET, Shop, checkout_completed, deliver, enable_stripe, now, shop_with, signed};
use crate::support::{TestApp, fixtures, snapshot};

async fn shop(app: TestApp) -> Shop {
    shop_with(app, |_| {}).await
}

fn intent_succeeded(event_id: &str, amount: i64) -> String {
    json!({
        "id": event_id, "object": "event", "type": "payment_intent.succeeded", "created": 1_764_800_001,
        "livemode": false,
        "data": {"object": payment_intent(amount, 0)},
    })
    .to_string()
}

fn payment_intent(amount: i64, refunded: i64) -> Value {
    json!({
        "id": "pi_test_1", "object": "payment_intent", "status": "succeeded", "amount": amount,
        "amount_received": amount, "currency": "eur", "customer": "cus_Grace", "payment_method": "pm_card_visa",
        "metadata": {"hostwright_payment": "1", "hostwright_invoice": "1"},
        "latest_charge": {"id": "ch_test_1", "object": "charge", "amount_refunded": refunded},
    })
}

fn charge_refunded(event_id: &str, refunded: i64) -> String {
    json!({
        "id": event_id, "object": "event", "type": "charge.refunded", "created": 1_764_800_100, "livemode": false,
        "data": {"object": {
            "id": "ch_test_1", "object": "charge", "amount": 1190, "amount_refunded": refunded, "currency": "eur",
            "payment_intent": "pi_test_1", "refunded": refunded == 1190, "metadata": {},
        }},
    })
    .to_string()
}

async fn a_card_payment_is_applied_once_however_often_the_webhooks_come(app: TestApp) {
    let mut shop = shop(app).await;
    let unpaid = shop.client.get(&format!("/account/invoices/{}", shop.invoice)).await;
    crate::assert_redacted_snapshot!("client_invoice_page_unpaid", snapshot::page(&unpaid));
    shop.start_card_payment().await;
    // The same press of the button again leads to the same page and the same payment.
    shop.start_card_payment().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments").await, 1);
    let requests = shop.stripe.received_requests().await.unwrap();
    let sessions: Vec<_> = requests.iter().filter(|r| r.url.path() == "/v1/checkout/sessions").collect();
    assert!(sessions.iter().all(|r| r.headers.get("idempotency-key").unwrap() == "hw-payment-1-checkout"));
    let form = String::from_utf8_lossy(&sessions[0].body).into_owned();
    assert!(form.contains("line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=1190"), "{form}");
    assert!(form.contains("line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=eur"), "{form}");

    // Stripe delivers the same event fifty times at once, and the payment intent's own event.
    let body = checkout_completed("evt_completed_1", 1190, "eur");
    let signature = signature_header(SECRET, now(), body.as_bytes());
    let deliveries = (0..50).map(|_| deliver(shop.client.router.clone(), body.clone(), Some(signature.clone())));
    let answers = futures::future::join_all(deliveries).await;
    assert!(
        answers.iter().all(|a| a.status == StatusCode::OK),
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    assert_eq!(answers.iter().filter(|a| a.body.contains("\"duplicate\":false")).count(), 1);
    assert_eq!(signed(&shop.client, intent_succeeded("evt_intent_1", 1190)).await.status, StatusCode::OK);
    shop.client.run_jobs().await;

    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_events").await, 2);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_events WHERE processed_at IS NOT NULL").await, 2);
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'succeeded' AND applied_at IS NOT NULL").await,
        1
    );
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    assert_eq!(shop.scalar("SELECT amount_minor FROM invoice_payments WHERE payment_id = 1").await, 1190);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.received'").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'invoice.paid'").await, 1);
    let page = shop.client.get(&format!("/account/invoices/{}?payment=returned", shop.invoice)).await;
    page.assert_contains("pi_test_1");
    assert!(!page.body.contains("Pay 11.90 EUR"), "a paid invoice offers no payment");

    // Staff see it with its raw events.
    let list = shop.staff.get("/admin/payments?gateway=stripe&status=succeeded").await;
    list.assert_contains("/admin/payments/1");
    let detail = shop.staff.get("/admin/payments/1").await;
    detail.assert_contains("checkout.session.completed");
    detail.assert_contains("payment_intent.succeeded");
    detail.assert_contains("already booked");
}

async fn refused_webhooks_change_nothing(app: TestApp) {
    let mut shop = shop(app).await;
    shop.start_card_payment().await;
    let body = checkout_completed("evt_completed_2", 1190, "eur");
    let router = || shop.client.router.clone();
    // Signed with a secret that is not ours, no signature, a changed body, an old timestamp.
    let forged = signature_header("whsec_someone_else", now(), body.as_bytes());
    assert_eq!(deliver(router(), body.clone(), Some(forged)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(deliver(router(), body.clone(), None).await.status, StatusCode::BAD_REQUEST);
    let genuine = signature_header(SECRET, now(), body.as_bytes());
    let changed = body.replace("1190", "9999");
    assert_eq!(deliver(router(), changed, Some(genuine)).await.status, StatusCode::BAD_REQUEST);
    let old = signature_header(SECRET, now() - 301, body.as_bytes());
    let refused = deliver(router(), body.clone(), Some(old)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    refused.assert_contains("300 seconds");
    // Signed, but not a Stripe event; signed, but a type Hostwright does not act on.
    assert_eq!(signed(&shop.client, "{\"hello\": ".into()).await.status, StatusCode::BAD_REQUEST);
    let other = json!({"id": "evt_customer", "type": "customer.created", "data": {"object": {"id": "cus_X"}}});
    let ignored = signed(&shop.client, other.to_string()).await;
    assert_eq!(ignored.status, StatusCode::OK);
    ignored.assert_contains("not an event Hostwright acts on");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_events").await, 0);
    assert_eq!(shop.client.run_jobs().await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'pending'").await, 1);

    // The genuine event, then the same event replayed later (a valid new signature).
    assert_eq!(signed(&shop.client, body.clone()).await.status, StatusCode::OK);
    shop.client.run_jobs().await;
    let replayed = signed(&shop.client, body).await;
    assert_eq!(replayed.status, StatusCode::OK);
    replayed.assert_contains("\"duplicate\":true");
    assert_eq!(shop.client.run_jobs().await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
}

async fn money_that_does_not_match_is_flagged_and_not_applied(app: TestApp) {
    let mut shop = shop(app).await;
    shop.start_card_payment().await;
    // Stripe reports less than we asked for.
    signed(&shop.client, checkout_completed("evt_short", 1000, "eur")).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'succeeded' AND flag <> ''").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE applied_at IS NOT NULL").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'unpaid'").await, 1);
    shop.staff.get("/admin/payments?flagged=1").await.assert_contains("Needs attention");
    shop.staff.get("/admin/payments/1").await.assert_contains("but 11.90 EUR was asked for: not applied");
}

async fn a_payment_for_an_invoice_cancelled_meanwhile_is_held_for_staff(app: TestApp) {
    let mut shop = shop(app).await;
    shop.start_card_payment().await;
    let cancelled = shop.staff.post_form(&format!("/admin/invoices/{}/cancel", shop.invoice), &[]).await;
    assert!(cancelled.status.is_redirection());
    signed(&shop.client, checkout_completed("evt_late", 1190, "eur")).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM client_credit_entries").await, 0);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payments WHERE flag LIKE '%cancelled: not applied%'").await, 1);
}

async fn paying_more_than_is_owed_puts_the_rest_on_account_credit(app: TestApp) {
    let mut shop = shop(app).await;
    shop.start_card_payment().await;
    // While the client is on Stripe's page, staff record 5.00 received by bank transfer.
    let recorded = shop
        .staff
        .post_form(
            &format!("/admin/invoices/{}/payments", shop.invoice),
            &[
                ("amount", "5.00"),
                ("method", "bank_transfer"),
                ("reference", "SEPA"),
                ("paid_on", ""),
                ("key", "bank-transfer-key-0001"),
            ],
        )
        .await;
    assert!(recorded.status.is_redirection(), "{}", recorded.body);
    shop.staff.deliver_email().await;
    let receipts: Vec<_> =
        shop.staff.smtp.to("grace@example.com").into_iter().filter(|m| m.subject().starts_with("Payment")).collect();
    assert_eq!(receipts.len(), 1, "one receipt for the part paid");
    crate::assert_redacted_snapshot!("payment_received_in_part_email", snapshot::email(&receipts[0]));
    signed(&shop.client, checkout_completed("evt_full", 1190, "eur")).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
    assert_eq!(shop.scalar("SELECT amount_minor FROM invoice_payments WHERE payment_id = 1").await, 690);
    assert_eq!(shop.scalar("SELECT balance_minor FROM client_credit_balances WHERE client_id = 1").await, 500);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM client_credit_entries WHERE kind = 'overpayment'").await, 1);
}

async fn a_refund_reported_before_the_success_is_booked_after_it(app: TestApp) {
    let mut shop = shop(app).await;
    shop.start_card_payment().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_test_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(payment_intent(1190, 500)))
        .expect(1)
        .mount(&shop.stripe)
        .await;
    // The refund's event arrives first; then the success; then the refund's event again.
    signed(&shop.client, charge_refunded("evt_refund_1", 500)).await;
    shop.client.run_jobs().await;
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'partially_refunded' AND refunded_minor = 500").await,
        1
    );
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    signed(&shop.client, checkout_completed("evt_completed_3", 1190, "eur")).await;
    signed(&shop.client, charge_refunded("evt_refund_1_again", 500)).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    assert_eq!(shop.scalar("SELECT refunded_minor FROM payments WHERE id = 1").await, 500);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.refunded'").await, 1);
    // The rest is refunded later.
    signed(&shop.client, charge_refunded("evt_refund_2", 1190)).await;
    shop.client.run_jobs().await;
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM payments WHERE status = 'refunded' AND refunded_minor = 1190").await,
        1
    );
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_events WHERE processed_at IS NULL").await, 0);
}

async fn gateway_keys_are_encrypted_and_checked(app: TestApp) {
    let shop = shop(app).await;
    let mut staff = shop.staff;
    let stored = staff
        .scalar("SELECT COUNT(*) FROM payment_gateways WHERE secrets LIKE '%sk_test%' OR secrets LIKE '%whsec%'")
        .await;
    assert_eq!(stored, 0, "secrets are stored encrypted");
    let form = staff.get("/admin/settings/gateways/stripe").await;
    assert!(!form.body.contains("sk_test_51Hostwright") && !form.body.contains(SECRET), "keys are never shown again");
    // Enabling Stripe without keys is refused, and changes nothing.
    let refused = staff
        .post_form(
            "/admin/settings/gateways/bank_transfer",
            &[("enabled", "on"), ("display_name", ""), ("currencies", "EURO")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM payment_gateways WHERE key = 'bank_transfer'").await, 0);
    // "Test connection" asks Stripe whose account the key opens.
    Mock::given(method("GET"))
        .and(path("/v1/account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "acct_1Hostwright", "object": "account", "settings": {"dashboard": {"display_name": "Acme Hosting"}},
        })))
        .mount(&shop.stripe)
        .await;
    let tested = staff.post_form("/admin/settings/gateways/stripe/test", &[]).await;
    tested.assert_redirect_to("/admin/settings/gateways/stripe");
    staff
        .get("/admin/settings/gateways/stripe")
        .await
        .assert_contains("Connected: Acme Hosting, acct_1Hostwright (test mode)");
}

async fn a_client_pays_from_account_credit_once(app: TestApp) {
    let mut shop = shop(app).await;
    let added = [
        ("currency_code", "EUR"),
        ("direction", "add"),
        ("amount", "5.00"),
        ("reason", "Goodwill"),
        ("key", "credit-key-000000000001"),
    ];
    shop.staff.post_form("/admin/clients/1/credit", &added).await.assert_redirect_to("/admin/clients/1?tab=credit");
    let invoice_page = format!("/account/invoices/{}", shop.invoice);
    shop.client.get(&invoice_page).await.assert_contains("Pay 5.00 EUR from Account credit");
    shop.staff
        .post_form("/admin/settings/gateways/account_credit", &[("display_name", "Account credit")])
        .await
        .assert_redirect_to("/admin/settings/gateways/account_credit");
    assert!(!shop.client.get(&invoice_page).await.body.contains("from Account credit"), "offered only when enabled");
    shop.staff
        .post_form("/admin/settings/gateways/account_credit", &[("enabled", "on"), ("display_name", "Account credit")])
        .await
        .assert_redirect_to("/admin/settings/gateways/account_credit");
    shop.client.get(&invoice_page).await.assert_contains("Pay 5.00 EUR from Account credit");
    let pay = [("gateway", "account_credit"), ("key", "pay-from-credit-0000001")];
    let paid = shop.client.post_form(&format!("{invoice_page}/pay"), &pay).await;
    paid.assert_redirect_to(&invoice_page);
    shop.client.post_form(&format!("{invoice_page}/pay"), &pay).await.assert_redirect_to(&invoice_page);
    assert_eq!(shop.scalar("SELECT credit_applied_minor FROM invoices").await, 500);
    assert_eq!(shop.scalar("SELECT balance_minor FROM client_credit_balances WHERE client_id = 1").await, 0);
    assert_eq!(
        shop.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.credit_applied' AND actor_kind = 'client'")
            .await,
        1
    );
    let page = shop.client.get(&invoice_page).await;
    page.assert_contains("Pay 6.90 EUR by Card");
    assert!(!page.body.contains("from Account credit"), "no credit left to offer");
}

async fn a_client_chooses_the_card_at_checkout_and_goes_straight_to_stripe(app: TestApp) {
    let stripe = MockServer::start().await;
    let base = url::Url::parse(&format!("{}/", stripe.uri())).unwrap();
    let mut staff = app.reconfigured(|s| s.payments.stripe_api_base = base).await;
    fixtures::store(&mut staff).open().await;
    let mut buyer = staff.second_node().await;
    fixtures::shopper(&mut buyer, "dora@example.de").await;
    buyer
        .post_form(
            "/cart/items",
            &[("product_id", "1"), ("cycle", "monthly"), ("quantity", "1"), ("domain", "dora.example")],
        )
        .await;
    let before = buyer.get("/checkout").await;
    assert!(!before.body.contains("value=\"stripe\""), "no card payments before Stripe is set up");
    before.assert_contains("value=\"bank_transfer\"");
    enable_stripe(&mut staff).await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_Dora", "object": "customer"})))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(has_header("idempotency-key", "hw-payment-1-checkout"))
        .and(body_string_contains("unit_amount%5D=1785"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_order_1", "object": "checkout.session", "status": "open",
            "url": "https://checkout.stripe.com/c/pay/cs_order_1",
        })))
        .mount(&stripe)
        .await;
    buyer.get("/checkout").await.assert_contains("<label for=\"pay-stripe\">Card</label>");
    let key = "order-key-0000000000001";
    let placed = buyer.post_form("/checkout", &[("payment_method", "stripe"), ("key", key)]).await;
    assert_eq!(placed.location(), "https://checkout.stripe.com/c/pay/cs_order_1", "{}", placed.body);
    // Pressing "Place order" again leads to the same order and the same card page.
    let again = buyer.post_form("/checkout", &[("payment_method", "stripe"), ("key", key)]).await;
    assert_eq!(again.location(), "https://checkout.stripe.com/c/pay/cs_order_1");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM orders WHERE payment_method = 'stripe'").await, 1);
    assert_eq!(
        staff.scalar("SELECT COUNT(*) FROM payments WHERE status = 'pending' AND session_ref = 'cs_order_1'").await,
        1
    );
    buyer.get("/account/orders/1").await.assert_contains("Card (Stripe)");
    // A method the cart's currency does not offer is refused.
    staff.post_form("/admin/settings/gateways/bank_transfer", &[("display_name", "Bank transfer")]).await;
    buyer
        .post_form(
            "/cart/items",
            &[("product_id", "1"), ("cycle", "monthly"), ("quantity", "1"), ("domain", "dora2.example")],
        )
        .await;
    let refused =
        buyer.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", "order-key-0000000000002")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.assert_contains("Choose how you will pay.");
}

on_both_backends!(
    a_client_chooses_the_card_at_checkout_and_goes_straight_to_stripe,
    a_client_pays_from_account_credit_once,
    a_card_payment_is_applied_once_however_often_the_webhooks_come,
    refused_webhooks_change_nothing,
    money_that_does_not_match_is_flagged_and_not_applied,
    a_payment_for_an_invoice_cancelled_meanwhile_is_held_for_staff,
    paying_more_than_is_owed_puts_the_rest_on_account_credit,
    a_refund_reported_before_the_success_is_booked_after_it,
    gateway_keys_are_encrypted_and_checked,
);
