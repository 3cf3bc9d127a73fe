//! The catalog: currencies and rates, product groups, products and their price matrix.

use crate::on_both_backends;
use crate::support::TestApp;

async fn currencies_are_added_rebased_and_rounded_per_currency(mut app: TestApp) {
    app.signed_in_admin().await;
    app.get("/admin/currencies").await.assert_contains("USD");
    let unknown = app.post_form("/admin/currencies", &[("code", "XYZ"), ("rate", "1")]).await;
    assert_eq!(unknown.status, 422);
    unknown.assert_contains("Choose an ISO 4217 currency.");
    let bad_rate = app.post_form("/admin/currencies", &[("code", "EUR"), ("rate", "-2")]).await;
    assert_eq!(bad_rate.status, 422);
    app.post_form("/admin/currencies", &[("code", "eur"), ("rate", "0.92")])
        .await
        .assert_redirect_to("/admin/currencies");
    let twice = app.post_form("/admin/currencies", &[("code", "EUR"), ("rate", "0.9")]).await;
    assert_eq!(twice.status, 422);
    app.post_form("/admin/currencies/EUR/default", &[]).await.assert_redirect_to("/admin/currencies");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM currencies WHERE is_default AND code = 'EUR' AND rate = '1'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM currencies WHERE code = 'USD' AND rate = '1.0869565217'").await, 1);
    app.post_form("/admin/currencies", &[("code", "CHF"), ("rate", "0.95")]).await;
    app.post_form(
        "/admin/currencies/CHF",
        &[("rate", "0.95"), ("rounding_mode", "half_up"), ("rounding_increment", "5")],
    )
    .await;
    assert_eq!(app.scalar("SELECT rounding_increment FROM currencies WHERE code = 'CHF'").await, 5);
    let refused = app
        .post_form(
            "/admin/currencies/CHF",
            &[("rate", "0.95"), ("rounding_mode", "sideways"), ("rounding_increment", "0")],
        )
        .await;
    assert!(refused.status.is_redirection());
    assert_eq!(app.scalar("SELECT rounding_increment FROM currencies WHERE code = 'CHF'").await, 5);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'currency.%'").await, 4);
}

async fn create_group_and_product(app: &mut TestApp) -> String {
    app.post_form(
        "/admin/catalog/groups",
        &[("name", "Shared hosting"), ("headline", "Fast sites"), ("visible", "on")],
    )
    .await
    .assert_redirect_to("/admin/catalog");
    let created = app
        .post_form(
            "/admin/catalog/products",
            &[
                ("group_id", "1"),
                ("name", "Starter"),
                ("product_type", "shared_hosting"),
                ("payment_type", "recurring"),
                ("taxable", "on"),
            ],
        )
        .await;
    assert!(created.location().starts_with("/admin/catalog/products/"), "{}", created.body);
    created.location().to_owned()
}

async fn a_product_gets_a_price_matrix_checked_by_the_money_core(mut app: TestApp) {
    app.signed_in_admin().await;
    app.post_form("/admin/currencies", &[("code", "JPY"), ("rate", "150")]).await;
    let invalid = app
        .post_form(
            "/admin/catalog/products",
            &[
                ("group_id", "7"),
                ("name", ""),
                ("product_type", "toaster"),
                ("payment_type", "one_time"),
                ("prorata_enabled", "on"),
                ("prorata_day", "32"),
            ],
        )
        .await;
    assert_eq!(invalid.status, 422);
    for message in [
        "Choose a product group.",
        "Choose a product type.",
        "Pro-rata billing applies to recurring products only.",
        "from 1 to 31",
    ] {
        invalid.assert_contains(message);
    }
    let path = create_group_and_product(&mut app).await;
    let prices = format!("{path}/prices");
    let bad = app
        .post_form(
            &prices,
            &[
                ("price.USD.monthly", "9.999"),
                ("price.USD.annually", "-5"),
                ("price.JPY.monthly", "100.5"),
                ("setup.USD.quarterly", "5"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("USD has 2 decimals.");
    bad.assert_contains("Prices cannot be negative.");
    bad.assert_contains("JPY has 0 decimals.");
    bad.assert_contains("value=\"9.999\"");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM product_prices").await, 0);
    app.post_form(
        &prices,
        &[
            ("price.USD.monthly", "9.99"),
            ("price.USD.annually", "99"),
            ("setup.USD.annually", "5.00"),
            ("price.JPY.monthly", "1500"),
            ("price.USD.one_time", ""),
        ],
    )
    .await
    .assert_redirect_to(&path);
    assert_eq!(
        app.scalar("SELECT price_minor FROM product_prices WHERE currency_code = 'USD' AND cycle = 'monthly'").await,
        999
    );
    assert_eq!(app.scalar("SELECT setup_fee_minor FROM product_prices WHERE cycle = 'annually'").await, 500);
    assert_eq!(app.scalar("SELECT price_minor FROM product_prices WHERE currency_code = 'JPY'").await, 1500);
    let page = app.get(&path).await;
    page.assert_contains("value=\"9.99\"");
    page.assert_contains("value=\"99.00\"");
    // Making it a one-time product drops the recurring prices it can no longer be sold at.
    app.post_form(
        &path,
        &[("group_id", "1"), ("name", "Starter"), ("product_type", "shared_hosting"), ("payment_type", "one_time")],
    )
    .await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM product_prices").await, 0);
    app.get("/admin/catalog").await.assert_contains("Starter");
}

async fn only_staff_with_the_catalog_permission_edit_it(mut app: TestApp) {
    app.create_first_admin("ada@hostwright.test", "orchid lantern 42").await;
    app.create_staff("sam@hostwright.test", "Support", "harbour crane 77").await;
    app.post_staff_login("sam@hostwright.test", "harbour crane 77").await;
    for path in ["/admin/catalog", "/admin/currencies", "/admin/catalog/products/new"] {
        assert_eq!(app.get(path).await.status, 403, "{path}");
    }
    assert_eq!(app.post_form("/admin/currencies", &[("code", "EUR"), ("rate", "1")]).await.status, 403);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM currencies").await, 1);
}

on_both_backends!(
    currencies_are_added_rebased_and_rounded_per_currency,
    a_product_gets_a_price_matrix_checked_by_the_money_core,
    only_staff_with_the_catalog_permission_edit_it,
);
