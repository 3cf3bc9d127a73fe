//! Configurable options, add-ons, upgrade paths and the provisioning module of products:
//! staff build them on the admin pages, `catalog::pricing` turns choices into exact lines.

use hostwright::catalog::pricing::{Choice, PricedSelection, PricingError, Sale, price_addon, price_selection};
use hostwright::ids::{AddonId, ConfigOptionId, ConfigOptionValueId, ProductId};
use hostwright_core::BillingCycle;
use sea_orm::{ConnectionTrait, Statement};

use crate::on_both_backends;
use crate::support::TestApp;

/// A product group and three recurring products, "Starter" (1), "Pro" (2) and "Legacy" (3);
/// Starter costs 10.00 USD a month plus 5.00 setup, 100.00 a year, 9.00 EUR a month.
async fn products(app: &mut TestApp) {
    app.post_form("/admin/currencies", &[("code", "EUR"), ("rate", "0.9")])
        .await
        .assert_redirect_to("/admin/currencies");
    app.post_form("/admin/catalog/groups", &[("name", "VPS"), ("visible", "on")]).await;
    for (id, name) in [(1, "Starter"), (2, "Pro"), (3, "Legacy")] {
        app.post_form(
            "/admin/catalog/products",
            &[
                ("group_id", "1"),
                ("name", name),
                ("product_type", "vps"),
                ("payment_type", "recurring"),
                ("taxable", "on"),
            ],
        )
        .await
        .assert_redirect_to(&format!("/admin/catalog/products/{id}"));
    }
    app.post_form(
        "/admin/catalog/products/1/prices",
        &[
            ("price.USD.monthly", "10.00"),
            ("setup.USD.monthly", "5"),
            ("price.USD.annually", "100"),
            ("price.EUR.monthly", "9"),
        ],
    )
    .await
    .assert_redirect_to("/admin/catalog/products/1");
}

/// Option group 1 "VPS resources", offered with Starter:
/// - option 1 "Operating system" (dropdown): value 1 "Debian 12" free, value 2 "Windows
///   Server" 15.00 a month + 10.00 setup, 150.00 a year;
/// - option 2 "Daily backups" (yes/no): value 3 "Yes", 4.50 a month;
/// - option 3 "Extra RAM" (quantity 0 to 16 GB by 2): value 4, 2.25 per GB a month + 1.00 setup.
async fn option_group(app: &mut TestApp) {
    app.post_form("/admin/catalog/option-groups", &[("name", "VPS resources"), ("description", "Sizes")])
        .await
        .assert_redirect_to("/admin/catalog/option-groups/1");
    app.post_form("/admin/catalog/option-groups/1/options", &[("name", "Operating system"), ("kind", "dropdown")])
        .await
        .assert_redirect_to("/admin/catalog/options/1");
    app.post_form("/admin/catalog/options/1/values", &[("label", "Debian 12"), ("sort_order", "1")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/1");
    app.post_form("/admin/catalog/options/1/values", &[("label", "Windows Server"), ("sort_order", "2")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/2");
    app.post_form("/admin/catalog/option-values/1/prices", &[("price.USD.monthly", "0"), ("price.USD.annually", "0")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/1");
    app.post_form(
        "/admin/catalog/option-values/2/prices",
        &[("price.USD.monthly", "15"), ("setup.USD.monthly", "10.00"), ("price.USD.annually", "150")],
    )
    .await
    .assert_redirect_to("/admin/catalog/option-values/2");
    // A yes/no option gets its one value at once, and staff go straight to its prices.
    app.post_form("/admin/catalog/option-groups/1/options", &[("name", "Daily backups"), ("kind", "yesno")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/3");
    app.post_form("/admin/catalog/option-values/3/prices", &[("price.USD.monthly", "4.50")])
        .await
        .assert_redirect_to("/admin/catalog/option-values/3");
    app.post_form(
        "/admin/catalog/option-groups/1/options",
        &[
            ("name", "Extra RAM"),
            ("kind", "quantity"),
            ("quantity_min", "0"),
            ("quantity_max", "16"),
            ("quantity_step", "2"),
            ("unit_label", "GB"),
        ],
    )
    .await
    .assert_redirect_to("/admin/catalog/option-values/4");
    app.post_form(
        "/admin/catalog/option-values/4/prices",
        &[("price.USD.monthly", "2.25"), ("setup.USD.monthly", "1")],
    )
    .await
    .assert_redirect_to("/admin/catalog/option-values/4");
    app.post_form("/admin/catalog/option-groups/1/products", &[("product", "1")])
        .await
        .assert_redirect_to("/admin/catalog/option-groups/1");
}

/// (description, unit price, quantity) of each line.
fn lines(priced: &[hostwright_core::Line]) -> Vec<(String, String, String)> {
    priced.iter().map(|l| (l.description.clone(), l.unit_price.to_string(), l.quantity.to_string())).collect()
}

fn line(description: &str, price: &str, quantity: &str) -> (String, String, String) {
    (description.to_owned(), price.to_owned(), quantity.to_owned())
}

async fn monthly_usd(app: &TestApp, choices: &[(i64, Choice)], sale: Sale) -> Result<PricedSelection, PricingError> {
    let choices: Vec<(ConfigOptionId, Choice)> = choices.iter().map(|(o, c)| (ConfigOptionId(*o), *c)).collect();
    price_selection(&app.state.db, ProductId(1), BillingCycle::Monthly, "USD", &choices, sale).await
}

fn value(id: i64) -> Choice {
    Choice::Value(ConfigOptionValueId(id))
}

#[track_caller]
fn refused(result: Result<PricedSelection, PricingError>, message: &str) {
    match result {
        Err(err) => assert_eq!(err.to_string(), message),
        Ok(priced) => panic!("expected {message:?}, got {:?}", lines(&priced.lines())),
    }
}

async fn staff_build_options_and_a_selection_is_priced_to_the_cent(mut app: TestApp) {
    app.signed_in_admin().await;
    products(&mut app).await;
    option_group(&mut app).await;

    let group = app.get("/admin/catalog/option-groups/1").await;
    for text in ["Operating system", "Daily backups", "Extra RAM", "0 to 16 GB, in steps of 2", "Starter"] {
        group.assert_contains(text);
    }
    app.get("/admin/catalog/option-values/2").await.assert_contains("value=\"150.00\"");
    app.get("/admin/catalog/products/1").await.assert_contains("name=\"option_group\" value=\"1\" checked");

    let priced = monthly_usd(&app, &[(1, value(2)), (2, value(3)), (3, Choice::Quantity(4))], Sale::New).await.unwrap();
    assert_eq!(
        lines(&priced.charges),
        vec![
            line("Starter", "10.00 USD", "1"),
            line("Operating system: Windows Server", "15.00 USD", "1"),
            line("Daily backups: Yes", "4.50 USD", "1"),
            line("Extra RAM: 4 GB", "2.25 USD", "4"),
        ]
    );
    assert_eq!(
        lines(&priced.setup_fees),
        vec![
            line("Starter setup fee", "5.00 USD", "1"),
            line("Operating system: Windows Server setup fee", "10.00 USD", "1"),
            line("Extra RAM: 4 GB setup fee", "1.00 USD", "4"),
        ]
    );
    assert!(priced.charges.iter().all(|l| l.taxable), "options are taxed like their product");
    assert_eq!(priced.total().unwrap().to_string(), "57.50 USD");

    // Unchosen: no backups, and the RAM takes its minimum (0, so no line).
    let priced = monthly_usd(&app, &[(1, value(1))], Sale::New).await.unwrap();
    assert_eq!(
        lines(&priced.charges),
        vec![line("Starter", "10.00 USD", "1"), line("Operating system: Debian 12", "0.00 USD", "1")]
    );
    assert_eq!(priced.total().unwrap().to_string(), "15.00 USD");
    let yearly = price_selection(
        &app.state.db,
        ProductId(1),
        BillingCycle::Annually,
        "USD",
        &[(ConfigOptionId(1), value(2))],
        Sale::New,
    )
    .await
    .unwrap();
    assert_eq!(yearly.total().unwrap().to_string(), "250.00 USD");

    // Attaching from the product page works the same way.
    app.post_form("/admin/catalog/products/2/option-groups", &[("option_group", "1")])
        .await
        .assert_redirect_to("/admin/catalog/products/2");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM config_option_group_products").await, 2);

    assert_eq!(app.scalar("SELECT COUNT(*) FROM config_option_prices").await, 6);
    for (action, count) in [
        ("option_group.created", 1),
        ("option_group.products_updated", 1),
        ("config_option.created", 3),
        ("config_option_value.created", 2),
        ("config_option_value.prices_updated", 4),
        ("product.option_groups_updated", 1),
    ] {
        let sql = format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'");
        assert_eq!(app.scalar(&sql).await, count, "{action}");
    }
    // Option changes are told in the group's history.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE entity_type = 'option_group' AND entity_id = 1").await,
        11
    );
}

async fn every_choice_is_checked_against_the_catalog(mut app: TestApp) {
    app.signed_in_admin().await;
    products(&mut app).await;
    option_group(&mut app).await;
    app.post_form("/admin/catalog/option-groups", &[("name", "Elsewhere")]).await;
    app.post_form("/admin/catalog/option-groups/2/options", &[("name", "Panel"), ("kind", "dropdown")]).await;

    let full = [(1, value(1))];
    refused(monthly_usd(&app, &[(2, value(3))], Sale::New).await, "Choose a value for Operating system.");
    refused(monthly_usd(&app, &[(1, value(3))], Sale::New).await, "That is not a value of Operating system.");
    refused(
        monthly_usd(&app, &[(1, value(1)), (1, value(2))], Sale::New).await,
        "Operating system was chosen more than once.",
    );
    refused(monthly_usd(&app, &[(1, value(1)), (4, value(1))], Sale::New).await, "Panel is not an option of Starter.");
    refused(monthly_usd(&app, &[(1, value(1)), (99, value(1))], Sale::New).await, "There is no option #99.");
    refused(
        monthly_usd(&app, &[(1, value(1)), (3, Choice::Quantity(5))], Sale::New).await,
        "Extra RAM: choose 0 plus a multiple of 2.",
    );
    refused(
        monthly_usd(&app, &[(1, value(1)), (3, Choice::Quantity(18))], Sale::New).await,
        "Extra RAM: choose a quantity from 0 to 16.",
    );
    refused(
        monthly_usd(&app, &[(1, value(1)), (3, Choice::Quantity(-2))], Sale::New).await,
        "Extra RAM: choose a quantity from 0 to 16.",
    );
    refused(monthly_usd(&app, &[(1, value(1)), (3, value(4))], Sale::New).await, "Extra RAM takes a quantity.");
    refused(
        monthly_usd(&app, &[(1, Choice::Quantity(1))], Sale::New).await,
        "Operating system takes one of its values, not a quantity.",
    );
    // Backups have no yearly price, and nothing is priced in EUR or in an unknown currency.
    let db = app.state.db.clone();
    let yearly = |choices: Vec<(ConfigOptionId, Choice)>| {
        let db = db.clone();
        async move { price_selection(&db, ProductId(1), BillingCycle::Annually, "USD", &choices, Sale::New).await }
    };
    refused(
        yearly(vec![(ConfigOptionId(1), value(1)), (ConfigOptionId(2), value(3))]).await,
        "Daily backups: Yes has no Annually price in USD.",
    );
    let eur = price_selection(&app.state.db, ProductId(1), BillingCycle::Monthly, "EUR", &[], Sale::New).await;
    refused(eur, "Choose a value for Operating system.");
    let eur = price_selection(
        &app.state.db,
        ProductId(1),
        BillingCycle::Monthly,
        "EUR",
        &[(ConfigOptionId(1), value(1))],
        Sale::New,
    )
    .await;
    refused(eur, "Operating system: Debian 12 has no Monthly price in EUR.");
    refused(
        price_selection(&app.state.db, ProductId(1), BillingCycle::Monthly, "XTS", &[], Sale::New).await,
        "XTS is not a currency set up here.",
    );
    refused(
        price_selection(&app.state.db, ProductId(1), BillingCycle::OneTime, "USD", &[], Sale::New).await,
        "Starter is not sold with the One time billing cycle.",
    );
    refused(
        price_selection(&app.state.db, ProductId(2), BillingCycle::Monthly, "USD", &[], Sale::New).await,
        "Pro has no Monthly price in USD.",
    );
    refused(
        price_selection(&app.state.db, ProductId(42), BillingCycle::Monthly, "USD", &[], Sale::New).await,
        "There is no such product.",
    );

    // Hidden values and options are not sold any more, but what a client has still renews.
    app.post_form(
        "/admin/catalog/option-values/2",
        &[("label", "Windows Server"), ("sort_order", "2"), ("hidden", "on")],
    )
    .await
    .assert_redirect_to("/admin/catalog/option-values/2");
    refused(
        monthly_usd(&app, &[(1, value(2))], Sale::New).await,
        "Operating system: Windows Server is no longer offered.",
    );
    assert_eq!(
        monthly_usd(&app, &[(1, value(2))], Sale::Renewal).await.unwrap().total().unwrap().to_string(),
        "40.00 USD"
    );
    app.post_form("/admin/catalog/options/2", &[("name", "Daily backups"), ("hidden", "on")])
        .await
        .assert_redirect_to("/admin/catalog/options/2");
    refused(monthly_usd(&app, &[(1, value(1)), (2, value(3))], Sale::New).await, "Daily backups is no longer offered.");
    assert!(monthly_usd(&app, &[(1, value(1)), (2, value(3))], Sale::Renewal).await.is_ok());
    app.post_form(
        "/admin/catalog/products/1",
        &[
            ("group_id", "1"),
            ("name", "Starter"),
            ("product_type", "vps"),
            ("payment_type", "recurring"),
            ("retired", "on"),
        ],
    )
    .await
    .assert_redirect_to("/admin/catalog/products/1");
    refused(monthly_usd(&app, &full, Sale::New).await, "Starter is retired and no longer sold.");
    let renewal = monthly_usd(&app, &full, Sale::Renewal).await.unwrap();
    assert!(renewal.charges.iter().all(|l| !l.taxable), "Starter is no longer taxable, nor are its options");
}

async fn bad_option_input_is_refused_with_messages_and_changes_nothing(mut app: TestApp) {
    app.signed_in_admin().await;
    products(&mut app).await;
    option_group(&mut app).await;
    let audit_before = app.scalar("SELECT COUNT(*) FROM audit_log").await;

    let nameless = app.post_form("/admin/catalog/option-groups", &[("name", "  ")]).await;
    assert_eq!(nameless.status, 422);
    nameless.assert_contains("Enter a name.");

    let prices = app
        .post_form(
            "/admin/catalog/option-values/2/prices",
            &[("price.USD.monthly", "-15"), ("price.XYZ.monthly", "1"), ("price.USD.annually", "1.234")],
        )
        .await;
    assert_eq!(prices.status, 422);
    prices.assert_contains("Prices cannot be negative.");
    prices.assert_contains("Unknown currency: XYZ.");
    prices.assert_contains("USD has 2 decimals.");
    prices.assert_contains("value=\"-15\"");
    assert_eq!(
        app.scalar("SELECT price_minor FROM config_option_prices WHERE value_id = 2 AND cycle = 'monthly'").await,
        1500
    );
    let absurd =
        app.post_form("/admin/catalog/option-values/2/prices", &[("price.USD.monthly", "99999999999999")]).await;
    assert_eq!(absurd.status, 422);
    absurd.assert_contains("That price is too large.");

    let quantity = |min: &'static str, max: &'static str, step: &'static str| {
        vec![
            ("name", "Extra IPs"),
            ("kind", "quantity"),
            ("quantity_min", min),
            ("quantity_max", max),
            ("quantity_step", step),
        ]
    };
    for (fields, message) in [
        (quantity("10", "5", "1"), "The maximum must be at least the minimum."),
        (quantity("0", "5", "2"), "The maximum must be the minimum plus a whole number of steps."),
        (quantity("-1", "5", "1"), "Enter a whole number of 0 or more."),
        (quantity("0", "", "1"), "Enter the largest quantity a client may choose, from 1 to 1,000,000."),
        (quantity("0", "4", "0"), "Enter a step of 1 or more."),
        (vec![("name", "Panel"), ("kind", "slider")], "Choose how clients pick this option."),
    ] {
        let response = app.post_form("/admin/catalog/option-groups/1/options", &fields).await;
        assert_eq!(response.status, 422, "{message}");
        response.assert_contains(message);
    }
    let edit = app
        .post_form(
            "/admin/catalog/options/3",
            &[("name", "Extra RAM"), ("quantity_min", "8"), ("quantity_max", "4"), ("quantity_step", "2")],
        )
        .await;
    assert_eq!(edit.status, 422);
    edit.assert_contains("The maximum must be at least the minimum.");
    assert_eq!(app.scalar("SELECT quantity_max FROM config_options WHERE id = 3").await, 16);
    let single = app.post_form("/admin/catalog/options/2/values", &[("label", "No")]).await;
    assert_eq!(single.status, 422);
    single.assert_contains("This option has exactly one value");

    assert_eq!(app.scalar("SELECT COUNT(*) FROM config_options").await, 3);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM config_option_values").await, 4);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log").await, audit_before, "nothing refused is audited");
}

async fn things_on_sale_are_hidden_or_detached_before_they_are_deleted(mut app: TestApp) {
    app.signed_in_admin().await;
    products(&mut app).await;
    option_group(&mut app).await;

    for path in ["/admin/catalog/option-groups/1", "/admin/catalog/options/1", "/admin/catalog/option-values/1"] {
        let refused = app.post_form(&format!("{path}/delete"), &[]).await;
        refused.assert_redirect_to(path);
        let page = app.get(path).await;
        page.assert_contains("offered with 1 product");
    }
    let single = app.post_form("/admin/catalog/option-values/3/delete", &[]).await;
    single.assert_redirect_to("/admin/catalog/option-values/3");
    app.get("/admin/catalog/option-values/3").await.assert_contains("Delete the option instead.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM config_option_values").await, 4);

    app.post_form("/admin/catalog/option-groups/1/products", &[]).await;
    app.post_form("/admin/catalog/option-values/2/delete", &[]).await.assert_redirect_to("/admin/catalog/options/1");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM config_option_prices WHERE value_id = 2").await, 0);
    app.post_form("/admin/catalog/option-groups/1/delete", &[])
        .await
        .assert_redirect_to("/admin/catalog/option-groups");
    for table in ["config_option_groups", "config_options", "config_option_values", "config_option_prices"] {
        assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE '%.deleted'").await, 2);
}

async fn add_ons_are_priced_in_their_own_cycles_for_their_products(mut app: TestApp) {
    app.signed_in_admin().await;
    products(&mut app).await;

    let bad = app
        .post_form("/admin/catalog/addons", &[("name", ""), ("payment_type", "sometimes"), ("welcome_email", "loud")])
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("Enter a name.");
    bad.assert_contains("Choose how the add-on is paid for.");
    bad.assert_contains("Choose an email.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM addons").await, 0);

    app.post_form(
        "/admin/catalog/addons",
        &[("name", "Extra backups"), ("payment_type", "recurring"), ("taxable", "on"), ("welcome_email", "welcome")],
    )
    .await
    .assert_redirect_to("/admin/catalog/addons/1");
    let prices = app
        .post_form("/admin/catalog/addons/1/prices", &[("price.USD.monthly", "-3"), ("price.USD.one_time", "5")])
        .await;
    assert_eq!(prices.status, 422);
    prices.assert_contains("Prices cannot be negative.");
    prices.assert_contains("This add-on is not sold in that cycle.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM addon_prices").await, 0);
    app.post_form(
        "/admin/catalog/addons/1/prices",
        &[("price.USD.monthly", "3"), ("setup.USD.monthly", "1.50"), ("price.USD.annually", "30")],
    )
    .await
    .assert_redirect_to("/admin/catalog/addons/1");
    app.post_form("/admin/catalog/addons/1/products", &[("product", "1"), ("product", "3")])
        .await
        .assert_redirect_to("/admin/catalog/addons/1");
    app.get("/admin/catalog/products/1").await.assert_contains("href=\"/admin/catalog/addons/1\"");

    let db = app.state.db.clone();
    let addon = |product: i64, cycle: BillingCycle, sale: Sale| {
        let db = db.clone();
        async move { price_addon(&db, AddonId(1), ProductId(product), cycle, "USD", sale).await }
    };
    let priced = addon(1, BillingCycle::Monthly, Sale::New).await.unwrap();
    assert_eq!(lines(&priced.charges), vec![line("Extra backups", "3.00 USD", "1")]);
    assert_eq!(lines(&priced.setup_fees), vec![line("Extra backups setup fee", "1.50 USD", "1")]);
    assert_eq!(priced.total().unwrap().to_string(), "4.50 USD");
    assert_eq!(addon(3, BillingCycle::Annually, Sale::New).await.unwrap().total().unwrap().to_string(), "30.00 USD");
    refused(addon(2, BillingCycle::Monthly, Sale::New).await, "Extra backups is not offered with Pro.");
    refused(addon(1, BillingCycle::Quarterly, Sale::New).await, "Extra backups has no Quarterly price in USD.");
    refused(
        addon(1, BillingCycle::OneTime, Sale::New).await,
        "Extra backups is not sold with the One time billing cycle.",
    );
    refused(
        price_addon(&app.state.db, AddonId(9), ProductId(1), BillingCycle::Monthly, "USD", Sale::New).await,
        "There is no such add-on.",
    );

    app.post_form(
        "/admin/catalog/addons/1",
        &[("name", "Extra backups"), ("payment_type", "recurring"), ("retired", "on"), ("welcome_email", "welcome")],
    )
    .await
    .assert_redirect_to("/admin/catalog/addons/1");
    refused(addon(1, BillingCycle::Monthly, Sale::New).await, "Extra backups is retired and no longer sold.");
    let renewal = addon(1, BillingCycle::Monthly, Sale::Renewal).await.unwrap();
    assert!(renewal.charges.iter().all(|l| !l.taxable));

    app.post_form("/admin/catalog/addons/1/delete", &[]).await.assert_redirect_to("/admin/catalog/addons/1");
    app.get("/admin/catalog/addons/1").await.assert_contains("is offered with 2 products");
    app.post_form("/admin/catalog/addons/1/products", &[]).await;
    app.post_form("/admin/catalog/addons/1/delete", &[]).await.assert_redirect_to("/admin/catalog/addons");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM addons").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM addon_prices").await, 0);
    for (action, count) in [
        ("addon.created", 1),
        ("addon.prices_updated", 1),
        ("addon.products_updated", 2),
        ("addon.updated", 1),
        ("addon.deleted", 1),
    ] {
        let sql = format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND entity_type = 'addon'");
        assert_eq!(app.scalar(&sql).await, count, "{action}");
    }
}

async fn upgrades_are_saved_and_a_product_never_upgrades_to_itself(mut app: TestApp) {
    app.signed_in_admin().await;
    products(&mut app).await;

    app.post_form("/admin/catalog/products/1/upgrades", &[("upgrade", "2"), ("upgrade", "3"), ("upgrade", "2")])
        .await
        .assert_redirect_to("/admin/catalog/products/1");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM product_upgrades WHERE product_id = 1").await, 2);
    let page = app.get("/admin/catalog/products/1").await;
    page.assert_contains("name=\"upgrade\" value=\"2\" checked");
    assert!(!page.body.contains("name=\"upgrade\" value=\"1\""), "a product is not offered as its own upgrade");

    for (fields, message) in [
        (vec![("upgrade", "2"), ("upgrade", "1")], "A product cannot be upgraded to itself."),
        (vec![("upgrade", "99")], "Choose from the list."),
        (vec![("upgrade", "two")], "Choose from the list."),
    ] {
        app.post_form("/admin/catalog/products/1/upgrades", &fields)
            .await
            .assert_redirect_to("/admin/catalog/products/1");
        app.get("/admin/catalog/products/1").await.assert_contains(message);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM product_upgrades").await, 2, "{message}");
    }
    app.post_form("/admin/catalog/products/1/upgrades", &[("upgrade", "3")]).await;
    assert_eq!(app.scalar("SELECT target_product_id FROM product_upgrades").await, 3);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'product.upgrades_updated'").await, 2);

    // The database refuses it too.
    let backend = app.state.db.get_database_backend();
    let itself = app
        .state
        .db
        .execute_raw(Statement::from_string(
            backend,
            "INSERT INTO product_upgrades (product_id, target_product_id) VALUES (2, 2)",
        ))
        .await;
    assert!(itself.is_err());
}

async fn a_product_names_an_installed_module_and_another_module_starts_without_settings(mut app: TestApp) {
    app.signed_in_admin().await;
    products(&mut app).await;
    let page = app.get("/admin/catalog/products/1").await;
    page.assert_contains("None (set up by hand)");
    page.assert_contains("<option value=\"none\" selected>");
    page.assert_contains("/admin/catalog/products/1/module");
    let fields = |module: &'static str| {
        vec![
            ("group_id", "1"),
            ("name", "Starter"),
            ("product_type", "vps"),
            ("payment_type", "recurring"),
            ("module", module),
        ]
    };
    let unknown = app.post_form("/admin/catalog/products/1", &fields("solusvm")).await;
    assert_eq!(unknown.status, 422);
    unknown.assert_contains("Choose a provisioning module.");
    app.post_form("/admin/catalog/products/1", &fields("cpanel")).await.assert_redirect_to("/admin/catalog/products/1");
    // The module's own settings: a package, and the group a server is taken from.
    let missing = app.post_form("/admin/catalog/products/1/module", &[("setting.package", "gold")]).await;
    assert_eq!(missing.status, 422);
    missing.assert_contains("Choose the group whose servers take this product");
    app.post_form("/admin/server-groups/new", &[("name", "Shared"), ("fill_strategy", "fill")]).await;
    app.post_form("/admin/catalog/products/1/module", &[("server_group_id", "1"), ("setting.package", "gold")])
        .await
        .assert_redirect_to("/admin/catalog/products/1/module");
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM products WHERE id = 1 AND module = 'cpanel' AND module_settings LIKE '%gold%'"
        )
        .await,
        1
    );
    // Back to set up by hand: the cPanel settings do not follow.
    app.post_form("/admin/catalog/products/1", &fields("none")).await.assert_redirect_to("/admin/catalog/products/1");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM products WHERE module = 'none' AND module_settings = '{}'").await, 3);
}

async fn only_staff_with_the_catalog_permission_manage_options_and_add_ons(mut app: TestApp) {
    app.create_first_admin("ada@hostwright.test", "orchid lantern 42").await;
    app.create_staff("sam@hostwright.test", "Support", "harbour crane 77").await;
    app.post_staff_login("sam@hostwright.test", "harbour crane 77").await;
    for path in ["/admin/catalog/option-groups", "/admin/catalog/addons"] {
        assert_eq!(app.get(path).await.status, 403, "{path}");
        assert_eq!(app.post_form(path, &[("name", "Sneaky"), ("payment_type", "free")]).await.status, 403, "{path}");
    }
    assert_eq!(app.post_form("/admin/catalog/products/1/upgrades", &[("upgrade", "2")]).await.status, 403);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM config_option_groups").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM addons").await, 0);
}

on_both_backends!(
    staff_build_options_and_a_selection_is_priced_to_the_cent,
    every_choice_is_checked_against_the_catalog,
    bad_option_input_is_refused_with_messages_and_changes_nothing,
    things_on_sale_are_hidden_or_detached_before_they_are_deleted,
    add_ons_are_priced_in_their_own_cycles_for_their_products,
    upgrades_are_saved_and_a_product_never_upgrades_to_itself,
    a_product_names_an_installed_module_and_another_module_starts_without_settings,
    only_staff_with_the_catalog_permission_manage_options_and_add_ons,
);
