//! A client adding funds to their account credit: an invoice of its own, paid by card through
//! Stripe's double, whose payment puts the amount on the credit once; never paid from the
//! credit itself; the gateway's fee recorded with the payment.

use axum::http::StatusCode;

use crate::on_both_backends;
use crate::support::TestApp;
use crate::support::stripe::{checkout_completed, shop_with, signed};

async fn a_client_adds_funds_by_card_and_the_credit_arrives_once(app: TestApp) {
    let mut shop = shop_with(app, |_| {}).await;
    let staff = &mut shop.staff;
    staff
        .post_form(
            "/admin/settings/gateways/account_credit",
            &[
                ("enabled", "on"),
                ("display_name", "Account credit"),
                ("add_funds_minimum", "10"),
                ("add_funds_maximum", "500"),
            ],
        )
        .await
        .assert_redirect_to("/admin/settings/gateways/account_credit");
    let fees = [
        ("enabled", "on"),
        ("display_name", "Card"),
        ("currencies", "EUR, USD"),
        ("test_mode", "on"),
        ("fee_percent", "2.9"),
        ("fee_fixed", "0.30"),
    ];
    staff
        .post_form("/admin/settings/gateways/stripe", &fees)
        .await
        .assert_redirect_to("/admin/settings/gateways/stripe");

    shop.client.execute("UPDATE clients SET currency_code = 'EUR'").await;
    let credit = shop.client.get("/account/credit").await;
    credit.assert_contains("From 10.00 EUR to 500.00 EUR.");
    let too_little =
        shop.client.post_form("/account/credit/add-funds", &[("amount", "5"), ("key", "add-funds-key-0000001")]).await;
    too_little.assert_redirect_to("/account/credit");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices").await, 1, "nothing is invoiced for a refused amount");

    let form = [("amount", "50.00"), ("key", "add-funds-key-0000002")];
    shop.client.post_form("/account/credit/add-funds", &form).await.assert_redirect_to("/account/invoices/2");
    shop.client.post_form("/account/credit/add-funds", &form).await.assert_redirect_to("/account/invoices/2");
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices").await, 2, "one submission, one invoice");
    assert_eq!(
        shop.scalar(
            "SELECT COUNT(*) FROM invoices WHERE id = 2 AND total_minor = 5000 AND tax_minor = 0 AND status = 'unpaid'"
        )
        .await,
        1
    );
    let page = shop.client.get("/account/invoices/2").await;
    page.assert_contains("Pay 50.00 EUR by Card");
    assert!(!page.body.contains("from Account credit"));
    let from_credit = shop
        .client
        .post_form("/account/invoices/2/pay", &[("gateway", "account_credit"), ("key", "pay-from-credit-0000009")])
        .await;
    from_credit.assert_redirect_to("/account/invoices/2");
    assert_eq!(shop.scalar("SELECT credit_applied_minor FROM invoices WHERE id = 2").await, 0);

    let paid = shop
        .client
        .post_form("/account/invoices/2/pay", &[("gateway", "stripe"), ("key", "pay-form-key-0000000001")])
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER);
    signed(&shop.client, checkout_completed("evt_funds", 5000, "eur")).await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE id = 2 AND status = 'paid'").await, 1);
    assert_eq!(shop.scalar("SELECT balance_minor FROM client_credit_balances WHERE client_id = 1").await, 5000);
    // 2.9 % of 50.00 and 0.30.
    assert_eq!(shop.scalar("SELECT fee_minor FROM invoice_payments WHERE invoice_id = 2").await, 175);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM email_outbox WHERE template = 'payment_received'").await, 1);
    // The follow-up running again adds nothing.
    shop.client.execute("UPDATE jobs SET status = 'pending', run_at_ms = 0 WHERE kind = 'invoice.paid'").await;
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM client_credit_entries WHERE kind = 'funds'").await, 1);
    assert_eq!(shop.scalar("SELECT balance_minor FROM client_credit_balances WHERE client_id = 1").await, 5000);
    shop.client.get("/account/credit").await.assert_contains("Funds added");
    // Funds on the credit are not refunded with a credit note.
    let note = shop
        .staff
        .post_form(
            "/admin/invoices/2/credit-notes",
            &[
                ("amount.0", "50.00"),
                ("reason", "Changed my mind"),
                ("refund_method", "external"),
                ("key", "note-key-0000000001"),
            ],
        )
        .await;
    assert!(!note.status.is_redirection() || note.location() != "/admin/credit-notes/1", "{}", note.body);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM credit_notes").await, 0);
}

on_both_backends!(a_client_adds_funds_by_card_and_the_credit_arrives_once);
