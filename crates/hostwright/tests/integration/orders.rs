//! The storefront, the cart and checkout: a visitor's cart in the database, prices computed
//! on the server, the order with its services and first invoice in one transaction, stock that
//! never goes below zero, staff accepting, cancelling and deleting orders.

use chrono::Datelike;

use crate::on_both_backends;
use crate::support::fixtures::{self, order_path};
use crate::support::{TestApp, snapshot};

/// The hidden idempotency key of the checkout form.
fn form_key(page: &str) -> String {
    let marker = "name=\"key\" value=\"";
    let start = page.find(marker).map(|i| i + marker.len()).expect("a key field");
    page[start..].split('"').next().unwrap_or_default().to_owned()
}

async fn a_visitor_fills_a_cart_then_signs_up_and_the_invoice_matches_it(mut app: TestApp) {
    fixtures::store(&mut app).open().await;
    let mut visitor = app.second_node().await;

    let store = visitor.get("/store").await;
    assert_eq!(store.status, 200);
    store.assert_contains("Web Starter");
    store.assert_contains("10.00");
    visitor.get("/store/products/1").await.assert_contains("Domain");

    let added = visitor
        .post_form(
            "/cart/items",
            &[
                ("product_id", "1"),
                ("cycle", "monthly"),
                ("quantity", "2"),
                ("domain", "Example.COM"),
                ("addon_1", "on"),
            ],
        )
        .await;
    added.assert_redirect_to("/cart");
    assert!(visitor.cookies.contains_key("hw_cart"), "the cart lives under its own cookie");
    // The cart is in the database: another node shows it to the same browser.
    let mut other_node = app.second_node().await;
    other_node.cookies = visitor.cookies.clone();
    let cart = other_node.get("/cart").await;
    // Two units of (10.00 + 5.00 setup + 2.50 add-on) = 35.00 net; a visitor is taxed by the
    // seller's country until they say otherwise: 19 % = 6.65.
    crate::assert_redacted_snapshot!("cart_page", snapshot::page(&cart));
    other_node.post_form("/cart/country", &[("country", "US")]).await.assert_redirect_to("/cart");
    let untaxed = other_node.get("/cart").await;
    untaxed.assert_contains("35.00");
    assert!(!untaxed.body.contains("41.65"), "no German VAT for a visitor in the US");

    // Checkout asks a visitor to sign in or to register right there, then carries on.
    let checkout = visitor.get("/checkout").await;
    checkout.assert_contains(r#"action="/checkout/register""#);
    checkout.assert_contains("Sign in to order");
    let password = "correct horse battery 9";
    let mismatched = visitor
        .post_form(
            "/checkout/register",
            &[
                ("first_name", "Grace"),
                ("last_name", ""),
                ("email", "grace@example.de"),
                ("password", password),
                ("password_confirm", "another one"),
            ],
        )
        .await;
    assert_eq!(mismatched.status, 422);
    mismatched.assert_contains("The two passwords are not the same.");
    mismatched.assert_contains("Enter your last name.");
    mismatched.assert_contains(r#"value="grace@example.de""#);
    mismatched.assert_contains("35.00");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients").await, 0);
    visitor
        .post_form(
            "/checkout/register",
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("email", "grace@example.de"),
                ("password", password),
                ("password_confirm", password),
                ("next", "/somewhere-else"),
            ],
        )
        .await
        .assert_redirect_to("/register/check-email");
    // The emailed link signs the new client in and goes back to checkout, cart and all, even
    // in another browser.
    let mut other_browser = app.second_node().await;
    other_browser.finish_sign_up("grace@example.de").await.assert_redirect_to("/checkout");
    let mut visitor = other_browser;
    let checkout = visitor.get("/checkout").await;
    crate::assert_redacted_snapshot!("checkout_page", snapshot::page(&checkout));
    let key = form_key(&checkout.body);
    let placed = visitor.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", &key)]).await;
    let path = order_path(&placed);
    // The same submission again finds the same order.
    visitor.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", &key)]).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM orders").await, 1);

    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM orders WHERE status = 'pending' AND subtotal_minor = 3500 AND tax_minor = 665 \
             AND total_minor = 4165 AND payment_method = 'bank_transfer' AND invoice_id IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM services WHERE status = 'pending' AND domain = 'example.com' \
             AND recurring_minor = 1000 AND billing_cycle = 'monthly' AND next_due_date IS NOT NULL"
        )
        .await,
        2
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM service_addons WHERE recurring_minor = 250").await, 2);
    // The invoice is the cart: same totals, every line linked to the service it bills.
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM invoices i JOIN orders o ON o.invoice_id = i.id \
             WHERE i.status = 'unpaid' AND i.total_minor = o.total_minor AND i.tax_minor = 665 AND i.number IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoice_lines WHERE service_id IS NOT NULL").await, 6);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoice_lines WHERE service_addon_id IS NOT NULL").await, 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoice_lines WHERE kind = 'setup' AND period_start IS NULL").await, 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM carts").await, 0, "the cart is emptied by the order");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE template = 'order_confirmation'").await, 1);
    app.deliver_email().await;
    let confirmation = app.smtp.to("grace@example.de").into_iter().find(|m| m.subject().starts_with("Your order"));
    crate::assert_redacted_snapshot!("order_confirmation_email", snapshot::email(&confirmation.expect("the email")));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'order.placed'").await, 1);

    let page = visitor.get(&path).await;
    assert_eq!(page.status, 200);
    page.assert_contains("example.com");
    page.assert_contains("View the invoice");
    // Another client cannot see it.
    let mut stranger = app.second_node().await;
    fixtures::shopper(&mut stranger, "mallory@example.com").await;
    assert_eq!(stranger.get(&path).await.status, 404);

    // Staff see the order and accept it: the services are set up (by hand: no module).
    let id = path.trim_start_matches("/account/orders/");
    let admin_page = app.get(&format!("/admin/orders/{id}")).await;
    admin_page.assert_contains("grace@example.de");
    app.post_form(&format!("/admin/orders/{id}/accept"), &[]).await.assert_redirect_to(&format!("/admin/orders/{id}"));
    app.post_form(&format!("/admin/orders/{id}/accept"), &[]).await;
    app.run_jobs().await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM orders WHERE status = 'active' AND accepted_at IS NOT NULL").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE status = 'active'").await, 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM service_addons WHERE status = 'active'").await, 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'order.accepted'").await, 1);
}

async fn bad_choices_are_refused_and_change_nothing(mut app: TestApp) {
    fixtures::store(&mut app).stock(1).open().await;
    app.post_form(
        "/admin/catalog/products",
        &[
            ("group_id", "1"),
            ("name", "Old plan"),
            ("product_type", "other"),
            ("payment_type", "recurring"),
            ("retired", "on"),
        ],
    )
    .await;
    app.post_form("/admin/catalog/products/2/prices", &[("price.EUR.monthly", "1.00")]).await;
    let mut visitor = app.second_node().await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("product_id", "1"), ("cycle", "monthly"), ("quantity", "1"), ("domain", "not a domain")],
            "Enter the domain",
        ),
        (
            vec![("product_id", "1"), ("cycle", "quarterly"), ("quantity", "1"), ("domain", "ok.example")],
            "has no Quarterly price in EUR",
        ),
        (
            vec![("product_id", "1"), ("cycle", "monthly"), ("quantity", "2"), ("domain", "ok.example")],
            "Only 1 of Web Starter",
        ),
        (vec![("product_id", "1"), ("cycle", "monthly"), ("quantity", "0"), ("domain", "ok.example")], "Order 1 to 20"),
        (
            vec![
                ("product_id", "1"),
                ("cycle", "monthly"),
                ("quantity", "1"),
                ("domain", "ok.example"),
                ("addon_99", "on"),
            ],
            "no such add-on",
        ),
        (
            vec![
                ("product_id", "1"),
                ("cycle", "monthly"),
                ("quantity", "1"),
                ("domain", "ok.example"),
                ("opt_5", "3"),
            ],
            "no option #5",
        ),
    ];
    for (form, message) in cases {
        let response = visitor.post_form("/cart/items", &form).await;
        assert_eq!(response.status, 422, "{form:?}: {}", response.body);
        response.assert_contains(message);
    }
    // A retired, made-up or garbled product is not for sale: back to the store with a message.
    for (id, message) in [
        ("2", "Old plan is no longer sold"),
        ("77", "That product is not in the store."),
        ("1; DROP TABLE products", "That product is not in the store."),
    ] {
        visitor
            .post_form("/cart/items", &[("product_id", id), ("cycle", "monthly"), ("quantity", "1")])
            .await
            .assert_redirect_to("/store");
        visitor.get("/store").await.assert_contains(message);
    }
    visitor.get("/store/products/2").await.assert_redirect_to("/store");
    visitor.get("/store").await.assert_contains("Old plan is no longer sold");
    assert_eq!(visitor.get("/store/products/77").await.status, 404);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cart_items").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM carts").await, 0, "a refused first item starts no cart");

    // A price typed into the form is not a choice: it is ignored.
    visitor
        .post_form(
            "/cart/items",
            &[
                ("product_id", "1"),
                ("cycle", "monthly"),
                ("quantity", "1"),
                ("domain", "ok.example"),
                ("price", "0.01"),
                ("total", "0"),
            ],
        )
        .await
        .assert_redirect_to("/cart");
    visitor.get("/cart").await.assert_contains("17.85");

    // Placing the order needs a signed-in client, accepted terms when there are some, and a
    // known payment method.
    app.post_form(
        "/admin/settings/ordering",
        &[("terms_url", "https://acme.test/terms"), ("auto_accept_paid", "on"), ("first_invoice_due_days", "0")],
    )
    .await
    .assert_redirect_to("/admin/settings/ordering");
    assert_eq!(
        visitor
            .post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", "k".repeat(20).as_str())])
            .await
            .status,
        303
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM orders").await, 0);
    fixtures::shopper(&mut visitor, "ken@example.de").await;
    let key = "x".repeat(24);
    let no_terms = visitor.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", &key)]).await;
    assert_eq!(no_terms.status, 422);
    no_terms.assert_contains("Accept the terms of service");
    let bad_method =
        visitor.post_form("/checkout", &[("payment_method", "gold"), ("accept_terms", "on"), ("key", &key)]).await;
    assert_eq!(bad_method.status, 422);
    bad_method.assert_contains("Choose how you will pay.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 1);

    // Stock sold out between cart and checkout: refused, nothing written.
    app.execute("UPDATE products SET stock_quantity = 0 WHERE id = 1").await;
    let sold_out = visitor
        .post_form("/checkout", &[("payment_method", "bank_transfer"), ("accept_terms", "on"), ("key", &key)])
        .await;
    assert_eq!(sold_out.status, 422);
    sold_out.assert_contains("out of stock");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cart_items").await, 1, "the cart is kept to be changed");
}

/// Options for "Web Starter": group 1 with "Location" (option 1: Berlin = value 1 free, Paris
/// = value 2 at 3.00 EUR a month + 1.00 setup) and "Extra disk" (option 2, quantity 0 to 10,
/// value 3 at 1.50 EUR per unit); group 2, not offered with it, with "Panel" (option 3,
/// value 4). A hidden add-on "Migration service" (id 2) is attached to the product.
async fn starter_options(app: &mut TestApp) {
    app.post_form("/admin/catalog/option-groups", &[("name", "Hosting extras")]).await;
    app.post_form("/admin/catalog/option-groups/1/options", &[("name", "Location"), ("kind", "dropdown")]).await;
    app.post_form("/admin/catalog/options/1/values", &[("label", "Berlin"), ("sort_order", "1")]).await;
    app.post_form("/admin/catalog/options/1/values", &[("label", "Paris"), ("sort_order", "2")]).await;
    app.post_form("/admin/catalog/option-values/1/prices", &[("price.EUR.monthly", "0")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/1");
    app.post_form("/admin/catalog/option-values/2/prices", &[("price.EUR.monthly", "3"), ("setup.EUR.monthly", "1")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/2");
    app.post_form(
        "/admin/catalog/option-groups/1/options",
        &[
            ("name", "Extra disk"),
            ("kind", "quantity"),
            ("quantity_min", "0"),
            ("quantity_max", "10"),
            ("quantity_step", "1"),
            ("unit_label", "GB"),
        ],
    )
    .await
    .assert_redirect_to("/admin/catalog/option-values/3");
    app.post_form("/admin/catalog/option-values/3/prices", &[("price.EUR.monthly", "1.50")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/3");
    app.post_form("/admin/catalog/option-groups/1/products", &[("product", "1")])
        .await
        .assert_redirect_to("/admin/catalog/option-groups/1");
    app.post_form("/admin/catalog/option-groups", &[("name", "Elsewhere")]).await;
    app.post_form("/admin/catalog/option-groups/2/options", &[("name", "Panel"), ("kind", "dropdown")]).await;
    app.post_form("/admin/catalog/options/3/values", &[("label", "cPanel")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/4");
    app.post_form(
        "/admin/catalog/addons",
        &[("name", "Migration service"), ("payment_type", "one_time"), ("hidden", "on"), ("welcome_email", "none")],
    )
    .await
    .assert_redirect_to("/admin/catalog/addons/2");
    app.post_form("/admin/catalog/addons/2/prices", &[("price.EUR.one_time", "20")])
        .await
        .assert_redirect_to("/admin/catalog/addons/2");
    app.post_form("/admin/catalog/addons/2/products", &[("product", "1")]).await;
}

async fn options_codes_and_cart_changes_are_checked_over_http(mut app: TestApp) {
    fixtures::store(&mut app).stock(5).open().await;
    starter_options(&mut app).await;
    let mut visitor = app.second_node().await;

    // The product page tells what each choice adds in the chosen cycle, and hides the hidden
    // add-on.
    let page = visitor.get("/store/products/1").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in ["Paris: <span", "+3.00 EUR + 1.00 EUR setup", "+1.50 EUR per GB", "Daily backups <span", "2.50 EUR"] {
        page.assert_contains(shown);
    }
    assert!(!page.body.contains("Migration service"), "a hidden add-on is not offered");

    // `quantity` of Web Starter in `location` (an option value id) with `extra` fields.
    let item = |location: &'static str, quantity: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("product_id", "1"),
            ("cycle", "monthly"),
            ("domain", "shop.example"),
            ("opt_1", location),
            ("quantity", quantity),
        ];
        form.extend_from_slice(extra);
        form
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (item("4", "1", &[]), "That is not a value of Location."),
        (item("1", "1", &[("opt_3", "4")]), "Panel is not an option of Web Starter."),
        (item("1", "1", &[("opt_2", "11")]), "Extra disk: choose a quantity from 0 to 10."),
        (item("1", "1", &[("opt_2", "-1")]), "Extra disk: choose a quantity from 0 to 10."),
        (item("1", "1", &[("opt_2", "lots")]), "Extra disk: enter a number."),
        (item("1", "1", &[("addon_2", "on")]), "There is no such add-on."),
        (item("1", "6", &[]), "Only 5 of Web Starter are left."),
    ];
    for (form, message) in cases {
        let response = visitor.post_form("/cart/items", &form).await;
        assert_eq!(response.status, 422, "{form:?}: {}", response.body);
        response.assert_contains(message);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM carts").await, 0, "refused items start no cart");

    // A good item: Paris and 2 GB, 10.00 + 3.00 + 3.00 a month.
    visitor.post_form("/cart/items", &item("2", "1", &[("opt_2", "2")])).await.assert_redirect_to("/cart");
    let before = "SELECT quantity * 1000 + (SELECT COUNT(*) FROM cart_items) FROM cart_items WHERE id = 1";
    assert_eq!(app.scalar(before).await, 1001);
    for quantity in ["0", "21", "-3", "two", "", "6"] {
        visitor.post_form("/cart/items/1/quantity", &[("quantity", quantity)]).await.assert_redirect_to("/cart");
        assert_eq!(app.scalar(before).await, 1001, "quantity {quantity:?} is refused");
    }
    visitor.get("/cart").await.assert_contains("Only 5 of Web Starter are left.");
    visitor.post_form("/cart/items/1/quantity", &[("quantity", "2")]).await.assert_redirect_to("/cart");
    assert_eq!(app.scalar(before).await, 2001);

    // Promotion codes that do not apply leave the cart without one, each with its reason.
    let code = |code: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("code", code),
            ("kind", "percent"),
            ("percent", "10"),
            ("amount", ""),
            ("currency_code", "EUR"),
            ("recurrence", "once"),
            ("active", "on"),
            ("notes", ""),
        ];
        form.extend_from_slice(extra);
        form
    };
    for form in [
        code("OLD", &[("expires_on", "2026-01-31")]),
        code("LATER", &[("starts_on", "2099-01-01")]),
        code("GONE", &[("max_uses", "1")]),
        code("OTHER", &[("cycle", "annually")]),
    ] {
        app.post_form("/admin/promotions", &form).await.assert_redirect_to("/admin/promotions");
    }
    app.execute("UPDATE coupons SET uses = 1 WHERE code = 'GONE'").await;
    for (typed, message) in [
        ("old", "That promotion code has expired."),
        ("later", "That promotion code is not valid yet."),
        ("gone", "That promotion code has been used up."),
        ("other", "That promotion code does not apply to anything in your cart."),
        ("nope", "That promotion code is not valid."),
    ] {
        visitor.post_form("/cart/coupon", &[("code", typed)]).await.assert_redirect_to("/cart");
        visitor.get("/cart").await.assert_contains(message);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM carts WHERE coupon_code = ''").await, 1, "{typed}");
    }

    // A line of someone else's cart cannot be changed or removed from this one.
    let mut other = app.second_node().await;
    other.post_form("/cart/items", &item("1", "1", &[])).await.assert_redirect_to("/cart");
    other.post_form("/cart/items/1/remove", &[]).await.assert_redirect_to("/cart");
    other.get("/cart").await.assert_contains("That is not in your cart.");
    other.post_form("/cart/items/1/quantity", &[("quantity", "1")]).await.assert_redirect_to("/cart");
    assert_eq!(app.scalar(before).await, 2002);
    visitor.post_form("/cart/items/1/remove", &[]).await.assert_redirect_to("/cart");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cart_items").await, 1);
}

async fn stock_never_goes_below_zero_under_concurrent_checkouts(mut app: TestApp) {
    fixtures::store(&mut app).stock(3).open().await;
    let mut buyers = Vec::new();
    for n in 0..8 {
        let mut buyer = app.second_node().await;
        fixtures::shopper(&mut buyer, &format!("buyer{n}@example.de")).await;
        buyer
            .post_form(
                "/cart/items",
                &[("product_id", "1"), ("cycle", "monthly"), ("quantity", "1"), ("domain", "race.example")],
            )
            .await
            .assert_redirect_to("/cart");
        buyers.push(buyer);
    }
    let checkouts = buyers.into_iter().enumerate().map(|(n, mut buyer)| async move {
        let key = format!("race-key-{n:0>16}");
        buyer.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", &key)]).await.status.as_u16()
    });
    let statuses = futures::future::join_all(checkouts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 5, "{statuses:?}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM orders").await, 3);
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services").await, 3);
}

async fn cancelling_gives_stock_back_and_paying_accepts_the_order(mut app: TestApp) {
    fixtures::store(&mut app).stock(5).open().await;
    let mut buyer = app.second_node().await;
    fixtures::shopper(&mut buyer, "paula@example.de").await;
    let place = async |buyer: &mut TestApp, key: &str| {
        buyer
            .post_form(
                "/cart/items",
                &[("product_id", "1"), ("cycle", "annually"), ("quantity", "2"), ("domain", "paula.example")],
            )
            .await
            .assert_redirect_to("/cart");
        order_path(&buyer.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", key)]).await)
    };
    let first = place(&mut buyer, &"a".repeat(20)).await;
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 3);
    let id = first.trim_start_matches("/account/orders/");
    app.post_form(&format!("/admin/orders/{id}/cancel"), &[]).await.assert_redirect_to(&format!("/admin/orders/{id}"));
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 5);
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM orders WHERE id = {id} AND status = 'cancelled'")).await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE status = 'cancelled'").await, 2);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'cancelled'").await,
        1,
        "its unpaid invoice too"
    );
    // A cancelled order cannot be accepted.
    let refused = app.post_form(&format!("/admin/orders/{id}/accept"), &[]).await;
    assert_eq!(refused.status, 303);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE status = 'active'").await, 0);

    // The second order is paid in full by bank transfer: with auto-accept on (the default),
    // its services are set up.
    let second = place(&mut buyer, &"b".repeat(20)).await;
    let second_id = second.trim_start_matches("/account/orders/");
    let invoice_id = app.scalar(&format!("SELECT invoice_id FROM orders WHERE id = {second_id}")).await;
    let total = app.scalar(&format!("SELECT total_minor FROM invoices WHERE id = {invoice_id}")).await;
    assert_eq!(total, 2 * (10_000 + 1_900), "two years at 100.00 + 19 % VAT, no setup fee annually");
    app.post_form(
        &format!("/admin/invoices/{invoice_id}/payments"),
        &[("amount", "238.00"), ("method", "bank_transfer"), ("key", &"p".repeat(24))],
    )
    .await;
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM orders WHERE id = {second_id} AND status = 'active'")).await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE status = 'active'").await, 2);

    // A third order is marked fraud, a fourth deleted: stock comes back both times.
    let third = place(&mut buyer, &"c".repeat(20)).await;
    let third_id = third.trim_start_matches("/account/orders/");
    app.post_form(&format!("/admin/orders/{third_id}/fraud"), &[]).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE status = 'fraud'").await, 2);
    let fourth = place(&mut buyer, &"d".repeat(20)).await;
    let fourth_id = fourth.trim_start_matches("/account/orders/");
    app.post_form(&format!("/admin/orders/{fourth_id}/delete"), &[]).await.assert_redirect_to("/admin/orders");
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM orders WHERE id = {fourth_id}")).await, 0);
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 3, "2 active units remain sold");
    // An active order cannot be deleted.
    app.post_form(&format!("/admin/orders/{second_id}/delete"), &[]).await;
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM orders WHERE id = {second_id}")).await, 1);
    for action in ["order.cancelled", "order.fraud", "order.deleted"] {
        assert_eq!(
            app.scalar(&format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")).await,
            1,
            "{action}"
        );
    }
}

async fn account_credit_pays_at_checkout(mut app: TestApp) {
    fixtures::store(&mut app).open().await;
    let mut buyer = app.second_node().await;
    fixtures::shopper(&mut buyer, "carla@example.de").await;
    let client_id = app.scalar("SELECT id FROM clients WHERE email = 'carla@example.de'").await;
    app.execute(&format!("UPDATE clients SET currency_code = 'EUR' WHERE id = {client_id}")).await;
    app.post_form(
        &format!("/admin/clients/{client_id}/credit"),
        &[
            ("direction", "add"),
            ("currency_code", "EUR"),
            ("amount", "500"),
            ("reason", "Prepaid"),
            ("key", &"c".repeat(24)),
        ],
    )
    .await;
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances").await, 50_000);
    buyer
        .post_form(
            "/cart/items",
            &[("product_id", "1"), ("cycle", "monthly"), ("quantity", "1"), ("domain", "carla.example")],
        )
        .await;
    let key = "k".repeat(30);
    let placed = buyer.post_form("/checkout", &[("payment_method", "account_credit"), ("key", &key)]).await;
    app.run_jobs().await;
    order_path(&placed);
    // 15.00 + 19 % = 17.85 from the credit; the invoice is paid and the order accepted.
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances").await, 50_000 - 1_785);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid' AND credit_applied_minor = 1785").await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM orders WHERE status = 'active'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE status = 'active'").await, 1);
}

async fn a_promotion_code_discounts_the_cart_and_the_invoice_alike(mut app: TestApp) {
    fixtures::store(&mut app).open().await;
    let code = [
        ("code", "launch20"),
        ("kind", "percent"),
        ("percent", "20"),
        ("amount", ""),
        ("currency_code", "EUR"),
        ("product", "1"),
        ("recurrence", "recurring"),
        ("recurring_limit", "2"),
        ("max_uses", "5"),
        ("active", "on"),
        ("notes", ""),
    ];
    app.post_form("/admin/promotions", &code).await.assert_redirect_to("/admin/promotions");
    let mut buyer = app.second_node().await;
    fixtures::shopper(&mut buyer, "olga@example.de").await;
    buyer
        .post_form(
            "/cart/items",
            &[
                ("product_id", "1"),
                ("cycle", "monthly"),
                ("quantity", "1"),
                ("domain", "olga.example"),
                ("addon_1", "on"),
            ],
        )
        .await
        .assert_redirect_to("/cart");
    // A made-up code is refused and the cart keeps none.
    buyer.post_form("/cart/coupon", &[("code", "FREE-STUFF")]).await.assert_redirect_to("/cart");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM carts WHERE coupon_code = ''").await, 1);
    buyer.get("/cart").await.assert_contains("That promotion code is not valid.");

    buyer.post_form("/cart/coupon", &[("code", "Launch20")]).await.assert_redirect_to("/cart");
    // 20 % off the product's 10.00 only (not its setup fee, not the add-on): 15.50 net,
    // VAT 2.95, 18.45.
    let cart = buyer.get("/cart").await;
    cart.assert_contains("2.00");
    cart.assert_contains("18.45");
    let checkout = buyer.get("/checkout").await;
    checkout.assert_contains("18.45");
    let key = form_key(&checkout.body);
    order_path(&buyer.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", &key)]).await);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM orders WHERE discount_minor = 200 AND total_minor = 1845 AND coupon_id = 1")
            .await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE discount_minor = 200 AND total_minor = 1845").await, 1);
    assert_eq!(app.scalar("SELECT uses FROM coupons WHERE id = 1").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM coupon_uses WHERE coupon_id = 1").await, 1);
    // The renewals it still discounts travel with the service.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE coupon_id = 1 AND coupon_renewals_left = 2").await, 1);
}

async fn a_pro_rata_product_is_charged_up_to_its_billing_day(mut app: TestApp) {
    fixtures::store(&mut app).open().await;
    app.execute("UPDATE products SET prorata_enabled = true, prorata_day = 1 WHERE id = 1").await;
    let mut buyer = app.second_node().await;
    fixtures::shopper(&mut buyer, "pia@example.de").await;
    buyer
        .post_form(
            "/cart/items",
            &[("product_id", "1"), ("cycle", "monthly"), ("quantity", "1"), ("domain", "pia.example")],
        )
        .await
        .assert_redirect_to("/cart");
    order_path(&buyer.post_form("/checkout", &[("payment_method", "bank_transfer"), ("key", &"p".repeat(20))]).await);
    // Due on the 1st; the first invoice charges the days up to it (the whole month when
    // ordered on the 1st itself), and its line's period ends there.
    let today = chrono::Utc::now().date_naive();
    let next_first = if today.day() == 1 {
        today.checked_add_months(chrono::Months::new(1)).unwrap()
    } else {
        let start = today.with_day(1).unwrap();
        start.checked_add_months(chrono::Months::new(1)).unwrap()
    };
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE next_due_date = '{next_first}' AND recurring_minor = 1000"
        ))
        .await,
        1
    );
    let charged = app.scalar("SELECT unit_price_minor FROM invoice_lines WHERE kind = 'service'").await;
    assert!(charged > 0 && charged <= 1000, "{charged}");
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoice_lines WHERE kind = 'service' AND period_end = '{next_first}'"
        ))
        .await,
        1
    );
}

on_both_backends!(
    a_visitor_fills_a_cart_then_signs_up_and_the_invoice_matches_it,
    bad_choices_are_refused_and_change_nothing,
    options_codes_and_cart_changes_are_checked_over_http,
    stock_never_goes_below_zero_under_concurrent_checkouts,
    cancelling_gives_stock_back_and_paying_accepts_the_order,
    account_credit_pays_at_checkout,
    a_promotion_code_discounts_the_cart_and_the_invoice_alike,
    a_pro_rata_product_is_charged_up_to_its_billing_day,
);
