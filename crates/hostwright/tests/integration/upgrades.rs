//! Upgrades and downgrades of a client's service: priced by the money core for the rest of the
//! paid period, invoiced, applied when paid; downgrades credit the account; a cycle change
//! starts a new cycle today.

use hostwright::ids::{ProductId, ServiceId};

use crate::on_both_backends;
use crate::support::{TestApp, fixtures};

/// The store of `fixtures::store` plus "Web Pro" (2): 30.00 EUR a month, 300.00 a year, and
/// "Other" (3) that nothing upgrades to; Starter ↔ Pro allowed. Returns the buyer, signed in,
/// with one active Starter service (#1) paid monthly.
async fn active_starter(app: &mut TestApp) -> TestApp {
    active_starter_with(app, None).await
}

async fn active_starter_with(app: &mut TestApp, coupon: Option<&str>) -> TestApp {
    fixtures::store(app).open().await;
    let pro =
        fixtures::product(app, "Web Pro").taxable().price("EUR", "monthly", "30.00").price("EUR", "annually", "300");
    assert_eq!(pro.create().await, ProductId(2));
    let other = fixtures::product(app, "Other").taxable().price("EUR", "monthly", "1.00");
    assert_eq!(other.create().await, ProductId(3));
    app.post_form("/admin/catalog/products/1/upgrades", &[("upgrade", "2")]).await;
    app.post_form("/admin/catalog/products/2/upgrades", &[("upgrade", "1")]).await;

    let mut buyer = app.second_node().await;
    fixtures::shopper(&mut buyer, "uma@example.de").await;
    let mut order = fixtures::order(&mut buyer, "uma.example");
    if let Some(code) = coupon {
        app.post_form(
            "/admin/promotions",
            &[
                ("code", code),
                ("kind", "percent"),
                ("percent", "50"),
                ("product", "1"),
                ("recurrence", "once"),
                ("active", "on"),
            ],
        )
        .await
        .assert_redirect_to("/admin/promotions");
        order = order.coupon(code);
    }
    assert_eq!(order.paid(app, &"q".repeat(24)).await, ServiceId(1));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE id = 1 AND status = 'active'").await, 1);
    buyer
}

async fn an_upgrade_is_invoiced_for_the_difference_and_applied_when_paid(mut app: TestApp) {
    let mut buyer = active_starter(&mut app).await;
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(10)).to_string();
    // Ten days of a paid month are left (a month paid at the recurring amount).
    app.execute(&format!(
        "UPDATE services SET next_due_date = '{due}', paid_period_start = NULL, paid_period_minor = NULL WHERE id = 1"
    ))
    .await;

    let form = buyer.get("/account/services/1/upgrade?product=2&cycle=monthly").await;
    assert_eq!(form.status, 200, "{}", form.body);
    form.assert_contains("What the change costs");
    let key = "u".repeat(20);
    let requested =
        buyer.post_form("/account/services/1/upgrade", &[("product", "2"), ("cycle", "monthly"), ("key", &key)]).await;
    assert_eq!(requested.status, 303, "{}", requested.body);
    assert!(requested.location().starts_with("/account/invoices/"), "{}", requested.location());
    buyer.post_form("/account/services/1/upgrade", &[("product", "2"), ("cycle", "monthly"), ("key", &key)]).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM service_upgrades").await, 1, "one change per submission");

    // The invoice asks for the new price of the ten days less the unused old price, plus VAT.
    let credit = app.scalar("SELECT credit_minor FROM service_upgrades").await;
    let charge = app.scalar("SELECT charge_minor FROM service_upgrades").await;
    assert!(credit > 0 && credit < 1000 && (charge - 3 * credit).abs() <= 2, "credit {credit}, charge {charge}");
    let invoice = app.scalar("SELECT invoice_id FROM service_upgrades").await;
    assert_eq!(app.scalar(&format!("SELECT subtotal_minor FROM invoices WHERE id = {invoice}")).await, charge - credit);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoice_lines WHERE invoice_id = {invoice} AND kind = 'upgrade' AND service_id = 1"
        ))
        .await,
        1
    );
    // Nothing changes before payment, and a second change waits for this one.
    assert_eq!(app.scalar("SELECT product_id FROM services WHERE id = 1").await, 1);
    let blocked = buyer.get("/account/services/1/upgrade?product=2&cycle=annually").await;
    blocked.assert_contains("waiting for its invoice");

    let total = app.scalar(&format!("SELECT total_minor FROM invoices WHERE id = {invoice}")).await;
    let amount = format!("{}.{:02}", total / 100, total % 100);
    app.post_form(
        &format!("/admin/invoices/{invoice}/payments"),
        &[("amount", &amount), ("method", "bank_transfer"), ("key", &"r".repeat(24))],
    )
    .await;
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = 1 AND product_id = 2 AND recurring_minor = 3000 AND next_due_date = '{due}'"
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM service_upgrades WHERE status = 'applied'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.upgraded'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.change_package'").await, 1);

    // Downgrading back costs nothing now; the unused difference goes to account credit.
    let down = buyer
        .post_form("/account/services/1/upgrade", &[("product", "1"), ("cycle", "monthly"), ("key", &"d".repeat(20))])
        .await;
    down.assert_redirect_to("/account/services/1");
    assert_eq!(app.scalar("SELECT product_id FROM services WHERE id = 1").await, 1);
    let refund = app.scalar("SELECT account_credit_minor FROM service_upgrades WHERE to_product_id = 1").await;
    assert!(refund > 0);
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances").await, refund);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM client_credit_entries WHERE kind = 'downgrade'").await, 1);
}

async fn a_cycle_change_starts_a_new_cycle_paid_today(mut app: TestApp) {
    let mut buyer = active_starter(&mut app).await;
    let requested = buyer
        .post_form("/account/services/1/upgrade", &[("product", "1"), ("cycle", "annually"), ("key", &"y".repeat(20))])
        .await;
    assert!(requested.location().starts_with("/account/invoices/"), "{}", requested.body);
    // Ordered today, nothing of the month is used: the whole 10.00 is credited against 100.00.
    assert_eq!(app.scalar("SELECT credit_minor FROM service_upgrades").await, 1000);
    assert_eq!(app.scalar("SELECT charge_minor FROM service_upgrades").await, 10_000);
    let next_year = chrono::Utc::now().date_naive().checked_add_months(chrono::Months::new(12)).unwrap().to_string();
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM service_upgrades WHERE new_next_due_date = '{next_year}'")).await,
        1
    );
    // The client changes their mind: the change and its invoice are cancelled.
    buyer.post_form("/account/services/1/upgrade/cancel", &[]).await.assert_redirect_to("/account/services/1");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM service_upgrades WHERE status = 'cancelled'").await, 1);
    let invoice = app.scalar("SELECT invoice_id FROM service_upgrades").await;
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM invoices WHERE id = {invoice} AND status = 'cancelled'")).await,
        1
    );
}

async fn changes_outside_the_upgrade_paths_are_refused(mut app: TestApp) {
    let mut buyer = active_starter(&mut app).await;
    for (fields, message) in [
        (vec![("product", "3"), ("cycle", "monthly")], "cannot be changed to that product"),
        (vec![("product", "1"), ("cycle", "monthly")], "Choose something different"),
        (vec![("product", "2"), ("cycle", "quarterly")], "has no Quarterly price"),
    ] {
        let mut all = fields.clone();
        let key = "z".repeat(20);
        all.push(("key", &key));
        let refused = buyer.post_form("/account/services/1/upgrade", &all).await;
        assert_eq!(refused.status, 422, "{fields:?}");
        refused.assert_contains(message);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM service_upgrades").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices").await, 1);
    // Someone else's service does not exist for them.
    let mut stranger = app.second_node().await;
    fixtures::shopper(&mut stranger, "eve@example.com").await;
    assert_eq!(stranger.get("/account/services/1/upgrade").await.status, 404);
    // Staff may change it for the client from the admin side.
    let staff = app.get("/admin/services/1/upgrade?product=2&cycle=monthly").await;
    assert_eq!(staff.status, 200);
    staff.assert_contains("What the change costs");
}

async fn a_first_period_discount_is_credited_as_paid_not_at_full_price(mut app: TestApp) {
    let mut buyer = active_starter_with(&mut app, Some("HALF")).await;
    // The first month cost 5.00 of its 10.00; upgrading at once credits those 5.00.
    assert_eq!(app.scalar("SELECT paid_period_minor FROM services WHERE id = 1").await, 500);
    let requested = buyer
        .post_form("/account/services/1/upgrade", &[("product", "2"), ("cycle", "monthly"), ("key", &"h".repeat(20))])
        .await;
    assert!(requested.location().starts_with("/account/invoices/"), "{}", requested.body);
    assert_eq!(app.scalar("SELECT credit_minor FROM service_upgrades").await, 500);
    assert_eq!(app.scalar("SELECT charge_minor FROM service_upgrades").await, 3000);
}

on_both_backends!(
    an_upgrade_is_invoiced_for_the_difference_and_applied_when_paid,
    a_cycle_change_starts_a_new_cycle_paid_today,
    changes_outside_the_upgrade_paths_are_refused,
    a_first_period_discount_is_credited_as_paid_not_at_full_price,
);
