//! Promotion codes: staff create, edit, deactivate and delete them; `orders::coupons` decides
//! whether a client may use one, what it takes off each line, and counts uses so concurrent
//! checkouts never exceed a coupon's limit.

use chrono::{NaiveDate, Utc};
use hostwright::ids::{AddonId, ClientId, CouponId, OrderId, ProductId};
use hostwright::orders::coupons::{self, CouponError, LineTarget};
use hostwright::orders::model::{coupon, order};
use hostwright::orders::status::OrderStatus;
use hostwright_core::{BillingCycle, Currency, Discount, Line, Money};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, TransactionTrait};

use crate::on_both_backends;
use crate::support::{TestApp, fixtures};

/// EUR next to the default USD; products "Starter" (1) and "Pro" (2); add-ons "Backups" (1)
/// and "Dedicated IP" (2).
async fn catalog(app: &mut TestApp) {
    app.post_form("/admin/currencies", &[("code", "EUR"), ("rate", "0.9")])
        .await
        .assert_redirect_to("/admin/currencies");
    app.post_form("/admin/catalog/groups", &[("name", "Hosting"), ("visible", "on")]).await;
    for (id, name) in [(1, "Starter"), (2, "Pro")] {
        app.post_form(
            "/admin/catalog/products",
            &[("group_id", "1"), ("name", name), ("product_type", "shared_hosting"), ("payment_type", "recurring")],
        )
        .await
        .assert_redirect_to(&format!("/admin/catalog/products/{id}"));
    }
    for (id, name) in [(1, "Backups"), (2, "Dedicated IP")] {
        app.post_form("/admin/catalog/addons", &[("name", name), ("payment_type", "recurring")])
            .await
            .assert_redirect_to(&format!("/admin/catalog/addons/{id}"));
    }
}

const SPRING: [(&str, &str); 18] = [
    ("code", " spring-26 "),
    ("kind", "percent"),
    ("percent", "12.5"),
    ("amount", ""),
    ("currency_code", "USD"),
    ("product", "1"),
    ("cycle", "monthly"),
    ("cycle", "annually"),
    ("addon", "1"),
    ("applies_to_setup", "on"),
    ("recurrence", "recurring"),
    ("recurring_limit", "3"),
    ("starts_on", "2026-03-01"),
    ("expires_on", "2026-05-31"),
    ("max_uses", "10"),
    ("max_uses_per_client", "1"),
    ("active", "on"),
    ("notes", "Spring campaign"),
];

/// `base` with the fields named in `changes` replaced; an empty value leaves the field out.
fn with(
    base: &[(&'static str, &'static str)],
    changes: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut fields: Vec<(&str, &str)> =
        base.iter().filter(|(k, _)| !changes.iter().any(|(c, _)| c == k)).copied().collect();
    fields.extend(changes.iter().filter(|(_, v)| !v.is_empty()).copied());
    fields
}

async fn staff_create_edit_deactivate_and_delete_promotion_codes(mut app: TestApp) {
    app.signed_in_admin().await;
    catalog(&mut app).await;
    app.get("/admin/promotions").await.assert_contains("There are no promotion codes yet.");
    let new = app.get("/admin/promotions/new").await;
    assert_eq!(new.status, 200);
    for text in ["Starter", "Pro", "Backups", "Dedicated IP", "Semi-annually", "EUR"] {
        new.assert_contains(text);
    }

    app.post_form("/admin/promotions", &SPRING).await.assert_redirect_to("/admin/promotions");
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM coupons WHERE code = 'SPRING-26' AND kind = 'percent' AND percent = '12.5' \
             AND product_ids = '[1]' AND cycles = '[\"monthly\",\"annually\"]' AND addon_ids = '[1]' \
             AND applies_to_setup AND recurrence = 'recurring' AND recurring_limit = 3 \
             AND starts_on = '2026-03-01' AND expires_on = '2026-05-31' AND max_uses = 10 \
             AND max_uses_per_client = 1 AND uses = 0 AND NOT new_clients_only AND active \
             AND notes = 'Spring campaign'"
        )
        .await,
        1
    );
    let fixed = [
        ("code", "welcome5"),
        ("kind", "fixed"),
        ("percent", ""),
        ("amount", "5"),
        ("currency_code", "EUR"),
        ("recurrence", "once"),
        ("recurring_limit", "7"),
        ("new_clients_only", "on"),
        ("active", "on"),
    ];
    app.post_form("/admin/promotions", &fixed).await.assert_redirect_to("/admin/promotions");
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM coupons WHERE code = 'WELCOME5' AND kind = 'fixed' AND amount_minor = 500 \
             AND currency_code = 'EUR' AND product_ids = '[]' AND cycles = '[]' AND addon_ids = '[]' \
             AND recurrence = 'once' AND recurring_limit IS NULL AND max_uses IS NULL AND new_clients_only"
        )
        .await,
        1,
        "a one-time coupon keeps no renewal limit"
    );

    let list = app.get("/admin/promotions").await;
    for text in [
        "SPRING-26",
        "12.5 %",
        "Starter; setup fees; add-ons: Backups; billed monthly, annually",
        "First invoice and 3 renewals",
        "0 / 10",
        "2026-03-01 to 2026-05-31",
        "WELCOME5",
        "5.00 EUR",
        "All products",
        "New clients only",
        "First invoice only",
    ] {
        list.assert_contains(text);
    }

    let edit = app.get("/admin/promotions/1").await;
    for text in [
        "value=\"SPRING-26\"",
        "name=\"product\" value=\"1\" checked",
        "name=\"cycle\" value=\"annually\" checked",
        "name=\"addon\" value=\"1\" checked",
        "value=\"2026-05-31\"",
        "Delete promotion code",
    ] {
        edit.assert_contains(text);
    }
    app.get("/admin/promotions/2").await.assert_contains("value=\"5.00\"");

    // Deactivated: "active" is not ticked.
    let changed = with(&SPRING, &[("percent", "20"), ("active", "")]);
    app.post_form("/admin/promotions/1", &changed).await.assert_redirect_to("/admin/promotions");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM coupons WHERE id = 1 AND percent = '20' AND NOT active").await, 1);
    app.get("/admin/promotions").await.assert_contains("Inactive");
    // The same code saved again is not "taken" by itself.
    app.post_form("/admin/promotions/1", &with(&SPRING, &[("code", "SPRING-26")]))
        .await
        .assert_redirect_to("/admin/promotions");

    // A used code cannot be deleted, only deactivated.
    app.execute("UPDATE coupons SET uses = 1 WHERE id = 1").await;
    app.post_form("/admin/promotions/1/delete", &[]).await.assert_redirect_to("/admin/promotions/1");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM coupons WHERE id = 1").await, 1);
    let used = app.get("/admin/promotions/1").await;
    used.assert_contains("has been used, so it cannot be deleted");
    assert!(!used.body.contains("Delete promotion code"), "no delete button for a used code");

    app.post_form("/admin/promotions/2/delete", &[]).await.assert_redirect_to("/admin/promotions");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM coupons").await, 1);
    assert_eq!(app.get("/admin/promotions/2").await.status, 404);
    for (action, count) in [("coupon.created", 2), ("coupon.updated", 2), ("coupon.deleted", 1)] {
        let sql = format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND entity_type = 'coupon'");
        assert_eq!(app.scalar(&sql).await, count, "{action}");
    }
}

async fn bad_promotion_codes_are_refused_with_field_messages_and_change_nothing(mut app: TestApp) {
    app.signed_in_admin().await;
    catalog(&mut app).await;
    app.post_form("/admin/promotions", &SPRING).await.assert_redirect_to("/admin/promotions");
    let fixed = |amount: &'static str, currency: &'static str| {
        vec![
            ("code", "FIXED"),
            ("kind", "fixed"),
            ("amount", amount),
            ("currency_code", currency),
            ("recurrence", "once"),
        ]
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (with(&SPRING, &[("code", "ab")]), "Use 3 to 40 characters."),
        (with(&SPRING, &[("code", "two words")]), "Use only letters A to Z, digits, - and _."),
        (with(&SPRING, &[("code", "Spring-26")]), "That code is taken."),
        (with(&SPRING, &[("code", "NEW"), ("kind", "")]), "Choose a percentage or a fixed amount."),
        (with(&SPRING, &[("code", "NEW"), ("percent", "0")]), "above 0 and at most 100, with at most 2 decimals."),
        (with(&SPRING, &[("code", "NEW"), ("percent", "100.5")]), "above 0 and at most 100, with at most 2 decimals."),
        (with(&SPRING, &[("code", "NEW"), ("percent", "12.345")]), "above 0 and at most 100, with at most 2 decimals."),
        (fixed("0", "EUR"), "Enter an amount above 0."),
        (fixed("-5", "EUR"), "Enter an amount above 0."),
        (fixed("5.001", "EUR"), "EUR has 2 decimals."),
        (fixed("five", "EUR"), "Enter an amount like 5.00."),
        (fixed("5", "GBP"), "Choose a currency that is set up."),
        (with(&SPRING, &[("code", "NEW"), ("product", "99")]), "Choose from the list."),
        (with(&SPRING, &[("code", "NEW"), ("addon", "99")]), "Choose from the list."),
        (with(&SPRING, &[("code", "NEW"), ("cycle", "weekly")]), "Choose from the list."),
        (with(&SPRING, &[("code", "NEW"), ("recurrence", "sometimes")]), "Choose which invoices are discounted."),
        (
            with(&SPRING, &[("code", "NEW"), ("starts_on", "2026-06-01"), ("expires_on", "2026-05-31")]),
            "The code cannot expire before it starts.",
        ),
        (with(&SPRING, &[("code", "NEW"), ("expires_on", "31/05/2026")]), "Enter a date like 2026-12-31."),
        (
            with(&SPRING, &[("code", "NEW"), ("max_uses", "0")]),
            "Enter a whole number of at least 1, or leave it empty.",
        ),
        (
            with(&SPRING, &[("code", "NEW"), ("max_uses_per_client", "-1")]),
            "Enter a whole number of at least 1, or leave it empty.",
        ),
        (
            with(&SPRING, &[("code", "NEW"), ("recurring_limit", "0")]),
            "Enter a whole number of at least 1, or leave it empty.",
        ),
    ];
    for (fields, message) in &cases {
        let response = app.post_form("/admin/promotions", fields).await;
        assert_eq!(response.status, 422, "{fields:?}");
        response.assert_contains(message);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM coupons").await, 1, "{fields:?}");
    }
    // The form comes back with what was typed.
    let typed = app.post_form("/admin/promotions", &with(&SPRING, &[("code", "ab")])).await;
    typed.assert_contains("value=\"ab\"");
    typed.assert_contains("name=\"cycle\" value=\"annually\" checked");

    app.post_form("/admin/promotions", &fixed("5", "EUR")).await.assert_redirect_to("/admin/promotions");
    let before = app.scalar("SELECT COUNT(*) FROM audit_log").await;
    for (fields, message) in [
        (with(&SPRING, &[("code", "FIXED")]), "That code is taken."),
        (with(&SPRING, &[("percent", "101")]), "above 0 and at most 100"),
    ] {
        let response = app.post_form("/admin/promotions/1", &fields).await;
        assert_eq!(response.status, 422);
        response.assert_contains(message);
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM coupons WHERE id = 1 AND code = 'SPRING-26' AND percent = '12.5'").await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log").await, before, "nothing audited");
    assert_eq!(app.post_form("/admin/promotions/99", &SPRING).await.status, 404);
}

async fn only_staff_allowed_to_manage_promotions_see_them(mut app: TestApp) {
    app.create_first_admin("ada@hostwright.test", "orchid lantern 42").await;
    app.create_staff("sam@hostwright.test", "Support", "harbour crane 77").await;
    app.post_staff_login("sam@hostwright.test", "harbour crane 77").await;
    for path in ["/admin/promotions", "/admin/promotions/new", "/admin/promotions/1"] {
        assert_eq!(app.get(path).await.status, 403, "{path}");
    }
    assert_eq!(app.post_form("/admin/promotions", &SPRING).await.status, 403);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM coupons").await, 0);
}

// --- the library the cart and checkout call ------------------------------------------------

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A stored coupon: 10 % off everything, no limits, unless `change` says otherwise.
fn model(code: &str) -> coupon::Model {
    let now = Utc::now();
    coupon::Model {
        id: CouponId(0),
        code: code.to_owned(),
        kind: "percent".into(),
        percent: "10".into(),
        amount_minor: 0,
        currency_code: String::new(),
        product_ids: "[]".into(),
        cycles: "[]".into(),
        addon_ids: "[]".into(),
        applies_to_setup: false,
        recurrence: "once".into(),
        recurring_limit: None,
        starts_on: None,
        expires_on: None,
        max_uses: None,
        max_uses_per_client: None,
        uses: 0,
        new_clients_only: false,
        active: true,
        notes: String::new(),
        created_at: now,
        updated_at: now,
    }
}

async fn insert(app: &TestApp, coupon: coupon::Model) -> coupon::Model {
    let mut active = coupon::ActiveModel::from(coupon).reset_all();
    active.id = sea_orm::ActiveValue::NotSet;
    active.insert(&app.state.db).await.unwrap()
}

async fn client(app: &mut TestApp, email: &str) -> ClientId {
    fixtures::client(app, email).create().await
}

async fn order(app: &TestApp, client_id: ClientId, status: &str) -> OrderId {
    order_in(&app.state.db, client_id, status).await
}

async fn order_in(db: &impl ConnectionTrait, client_id: ClientId, status: &str) -> OrderId {
    let now = Utc::now();
    let number = uuid::Uuid::new_v4().simple().to_string();
    order::ActiveModel {
        number: Set(number[..10].to_owned()),
        client_id: Set(client_id),
        status: Set(OrderStatus::parse(status).expect("an order status")),
        currency_code: Set("USD".into()),
        invoice_id: Set(None),
        coupon_id: Set(None),
        subtotal_minor: Set(0),
        discount_minor: Set(0),
        tax_minor: Set(0),
        total_minor: Set(0),
        payment_method: Set("bank_transfer".into()),
        ip: Set(String::new()),
        idempotency_key: Set(number),
        notes: Set(String::new()),
        accepted_at: Set(None),
        cancelled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
    .id
}

async fn usable(app: &TestApp, code: &str, client: Option<ClientId>, currency: Currency) -> Result<String, String> {
    coupons::find_usable(&app.state.db, code, client, currency, day("2026-06-15"))
        .await
        .map(|c| c.code)
        .map_err(|e| e.to_string())
}

async fn record(app: &TestApp, coupon: &coupon::Model, client: ClientId, order: OrderId) -> Result<(), CouponError> {
    let txn = app.state.db.begin().await.unwrap();
    let result = coupons::record_use(&txn, coupon, client, order).await;
    if result.is_ok() {
        txn.commit().await.unwrap()
    } else {
        txn.rollback().await.unwrap()
    }
    result
}

const NOT_VALID: &str = "That promotion code is not valid.";

async fn a_code_is_refused_for_each_reason_with_a_message_for_the_client(mut app: TestApp) {
    app.signed_in_admin().await;
    let zoe = client(&mut app, "zoe@example.de").await;
    let max = client(&mut app, "max@example.de").await;
    let usd = Currency::USD;

    insert(&app, model("SPRING")).await;
    assert_eq!(usable(&app, " spring ", Some(zoe), usd).await, Ok("SPRING".into()), "any case, spaces trimmed");
    assert_eq!(usable(&app, "NOPE", Some(zoe), usd).await, Err(NOT_VALID.into()));
    assert_eq!(usable(&app, "  ", None, usd).await, Err(NOT_VALID.into()));
    insert(&app, coupon::Model { active: false, ..model("ASLEEP") }).await;
    assert_eq!(usable(&app, "asleep", Some(zoe), usd).await, Err(NOT_VALID.into()), "inactive looks unknown");

    // Dates are inclusive, in the business's calendar.
    insert(&app, coupon::Model { starts_on: Some(day("2026-06-16")), ..model("SOON") }).await;
    assert_eq!(usable(&app, "SOON", None, usd).await, Err("That promotion code is not valid yet.".into()));
    insert(&app, coupon::Model { expires_on: Some(day("2026-06-14")), ..model("GONE") }).await;
    assert_eq!(usable(&app, "GONE", None, usd).await, Err("That promotion code has expired.".into()));
    let today = Some(day("2026-06-15"));
    insert(&app, coupon::Model { starts_on: today, expires_on: today, ..model("TODAY") }).await;
    assert_eq!(usable(&app, "TODAY", Some(zoe), usd).await, Ok("TODAY".into()));

    insert(&app, coupon::Model { max_uses: Some(2), uses: 2, ..model("FULL") }).await;
    assert_eq!(usable(&app, "FULL", None, usd).await, Err("That promotion code has been used up.".into()));
    insert(&app, coupon::Model { max_uses: Some(2), uses: 1, ..model("ONE-LEFT") }).await;
    assert_eq!(usable(&app, "ONE-LEFT", Some(zoe), usd).await, Ok("ONE-LEFT".into()));

    let once = insert(&app, coupon::Model { max_uses_per_client: Some(1), ..model("ONCE") }).await;
    let first = order(&app, zoe, "active").await;
    record(&app, &once, zoe, first).await.unwrap();
    assert_eq!(usable(&app, "ONCE", Some(zoe), usd).await, Err("You have already used that promotion code.".into()));
    assert_eq!(usable(&app, "ONCE", Some(max), usd).await, Ok("ONCE".into()));
    assert_eq!(usable(&app, "ONCE", None, usd).await, Ok("ONCE".into()), "a visitor is checked at checkout");

    // Only pending and active orders make a client an existing one.
    insert(&app, coupon::Model { new_clients_only: true, ..model("HELLO") }).await;
    assert_eq!(usable(&app, "HELLO", Some(zoe), usd).await, Err("That promotion code is for new clients only.".into()));
    order(&app, max, "cancelled").await;
    order(&app, max, "fraud").await;
    assert_eq!(usable(&app, "HELLO", Some(max), usd).await, Ok("HELLO".into()));
    order(&app, max, "pending").await;
    assert_eq!(usable(&app, "HELLO", Some(max), usd).await, Err("That promotion code is for new clients only.".into()));

    let eur = coupon::Model { kind: "fixed".into(), amount_minor: 500, currency_code: "EUR".into(), ..model("FIVE") };
    insert(&app, eur).await;
    assert_eq!(usable(&app, "FIVE", None, usd).await, Err("That promotion code applies to orders in EUR only.".into()));
    assert_eq!(usable(&app, "FIVE", None, Currency::EUR).await, Ok("FIVE".into()));
    assert_eq!(usable(&app, "SPRING", None, Currency::EUR).await, Ok("SPRING".into()), "percentages fit any currency");
    assert_eq!(CouponError::NothingApplies.to_string(), "That promotion code does not apply to anything in your cart.");
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn product(id: i64, cycle: BillingCycle) -> LineTarget {
    LineTarget::Product { product_id: ProductId(id), cycle }
}

fn setup(id: i64, cycle: BillingCycle) -> LineTarget {
    LineTarget::Setup { product_id: ProductId(id), cycle }
}

fn addon(id: i64, cycle: BillingCycle) -> LineTarget {
    LineTarget::Addon { addon_id: AddonId(id), cycle }
}

#[test]
fn a_coupon_applies_to_the_products_cycles_setup_fees_and_add_ons_it_names() {
    use BillingCycle::{Annually, Monthly};
    let line = Line::new("x", eur(1000), 1);
    let ten = Some(Discount::Percent(10.into()));
    let limited = coupon::Model {
        product_ids: "[1]".into(),
        cycles: "[\"monthly\"]".into(),
        addon_ids: "[5]".into(),
        ..model("LIMITED")
    };
    let with_setup = coupon::Model { applies_to_setup: true, ..limited.clone() };
    let open = model("OPEN");
    let cases = [
        (&limited, product(1, Monthly), ten),
        (&limited, product(2, Monthly), None),
        (&limited, product(1, Annually), None),
        (&limited, setup(1, Monthly), None),
        (&with_setup, setup(1, Monthly), ten),
        (&with_setup, setup(2, Monthly), None),
        (&with_setup, setup(1, Annually), None),
        (&limited, addon(5, Monthly), ten),
        (&limited, addon(6, Monthly), None),
        (&limited, addon(5, Annually), None),
        (&open, product(2, Annually), ten),
        (&open, setup(2, Monthly), None),
        // Add-ons are opt-in: an empty list discounts none.
        (&open, addon(5, Monthly), None),
    ];
    for (index, (coupon, target, expected)) in cases.into_iter().enumerate() {
        assert_eq!(coupons::discount_for(coupon, target, &line), expected, "case {index}: {target:?}");
    }
    let damaged = coupon::Model { product_ids: "oops".into(), ..model("DAMAGED") };
    assert_eq!(coupons::discount_for(&damaged, product(1, Monthly), &line), None, "a damaged list applies to nothing");

    // A fixed amount comes off the whole line, at most the line, in its own currency only.
    let five = coupon::Model { kind: "fixed".into(), amount_minor: 500, currency_code: "EUR".into(), ..model("FIVE") };
    let fixed = |price: Money, quantity: i64| {
        coupons::discount_for(&five, product(1, Monthly), &Line::new("x", price, quantity))
    };
    assert_eq!(fixed(eur(999), 1), Some(Discount::Amount(eur(500))));
    assert_eq!(fixed(eur(300), 1), Some(Discount::Amount(eur(300))));
    assert_eq!(fixed(eur(200), 2), Some(Discount::Amount(eur(400))));
    assert_eq!(fixed(eur(0), 1), None, "nothing to take off a free line");
    assert_eq!(fixed(Money::from_minor(999, Currency::USD), 1), None);
    assert_eq!(coupons::discount_for(&open, product(1, Monthly), &Line::new("x", eur(0), 1)), None);
    let tiny = coupon::Model { percent: "0.5".into(), ..model("TINY") };
    assert_eq!(coupons::discount_for(&tiny, product(1, Monthly), &Line::new("x", eur(1), 1)), None, "rounds to zero");

    assert_eq!(coupons::renewals(&open), None);
    let recurring = coupon::Model { recurrence: "recurring".into(), ..model("R") };
    assert_eq!(coupons::renewals(&recurring), Some(None));
    assert_eq!(coupons::renewals(&coupon::Model { recurring_limit: Some(3), ..recurring }), Some(Some(3)));
}

/// Runs `record_use` for each order at once, each in its own transaction; returns how many
/// succeeded and the errors of the others.
async fn race(app: &TestApp, coupon: &coupon::Model, uses: &[(ClientId, OrderId)]) -> (usize, Vec<String>) {
    let mut tasks = Vec::new();
    for (client_id, order_id) in uses.iter().copied() {
        let db = app.state.db.clone();
        let coupon = coupon.clone();
        tasks.push(tokio::spawn(async move {
            let txn = db.begin().await.unwrap();
            let result = coupons::record_use(&txn, &coupon, client_id, order_id).await;
            match result {
                Ok(()) => txn.commit().await.map_err(|e| e.to_string()),
                Err(err) => {
                    txn.rollback().await.unwrap();
                    Err(err.to_string())
                }
            }
        }));
    }
    let mut succeeded = 0;
    let mut errors = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => succeeded += 1,
            Err(err) => errors.push(err),
        }
    }
    (succeeded, errors)
}

async fn concurrent_checkouts_never_use_a_coupon_beyond_its_limits(mut app: TestApp) {
    app.signed_in_admin().await;
    let mut uses = Vec::new();
    for n in 0..8 {
        let c = client(&mut app, &format!("client{n}@example.de")).await;
        uses.push((c, order(&app, c, "pending").await));
    }
    let three = insert(&app, coupon::Model { max_uses: Some(3), ..model("THREE") }).await;
    let (succeeded, errors) = race(&app, &three, &uses).await;
    assert_eq!(succeeded, 3, "{errors:?}");
    assert!(errors.iter().all(|e| e == "That promotion code has been used up."), "{errors:?}");
    assert_eq!(app.scalar("SELECT uses FROM coupons WHERE code = 'THREE'").await, 3);
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM coupon_uses WHERE coupon_id = {}", three.id)).await, 3);

    // One client, four checkouts at once, a limit of one per client.
    let zoe = client(&mut app, "zoe@example.de").await;
    let mut mine = Vec::new();
    for _ in 0..4 {
        mine.push((zoe, order(&app, zoe, "pending").await));
    }
    let once = insert(&app, coupon::Model { max_uses_per_client: Some(1), ..model("ONCE") }).await;
    let (succeeded, errors) = race(&app, &once, &mine).await;
    assert_eq!(succeeded, 1, "{errors:?}");
    assert!(errors.iter().all(|e| e == "You have already used that promotion code."), "{errors:?}");
    assert_eq!(app.scalar("SELECT uses FROM coupons WHERE code = 'ONCE'").await, 1);

    // A new client checking out twice at once, each checkout inserting its order first: the
    // first to commit makes the client an existing one for the other.
    let ana = client(&mut app, "ana@example.de").await;
    let hello = insert(&app, coupon::Model { new_clients_only: true, ..model("HELLO") }).await;
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let db = app.state.db.clone();
        let hello = hello.clone();
        tasks.push(tokio::spawn(async move {
            let txn = db.begin().await.unwrap();
            let order_id = order_in(&txn, ana, "pending").await;
            match coupons::record_use(&txn, &hello, ana, order_id).await {
                Ok(()) => txn.commit().await.map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            }
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| e == "That promotion code is for new clients only."),
        "{outcomes:?}"
    );
    assert_eq!(app.scalar("SELECT uses FROM coupons WHERE code = 'HELLO'").await, 1);

    // Deactivated between the cart and the checkout.
    let asleep = insert(&app, coupon::Model { active: false, ..model("ASLEEP") }).await;
    let late = order(&app, zoe, "pending").await;
    let refused = record(&app, &asleep, zoe, late).await.unwrap_err();
    assert_eq!(refused.to_string(), NOT_VALID);
    assert_eq!(app.scalar("SELECT uses FROM coupons WHERE code = 'ASLEEP'").await, 0);
}

async fn cancelling_an_order_gives_its_coupon_use_back(mut app: TestApp) {
    app.signed_in_admin().await;
    let zoe = client(&mut app, "zoe@example.de").await;
    let two = insert(&app, coupon::Model { max_uses: Some(2), ..model("TWO") }).await;
    let (first, second, plain) =
        (order(&app, zoe, "pending").await, order(&app, zoe, "pending").await, order(&app, zoe, "pending").await);
    record(&app, &two, zoe, first).await.unwrap();
    record(&app, &two, zoe, second).await.unwrap();
    assert_eq!(
        usable(&app, "TWO", Some(zoe), Currency::USD).await,
        Err("That promotion code has been used up.".into())
    );

    let release = |order_id: OrderId| {
        let db = app.state.db.clone();
        async move {
            let txn = db.begin().await.unwrap();
            coupons::release_use(&txn, order_id).await.unwrap();
            txn.commit().await.unwrap();
        }
    };
    release(first).await;
    assert_eq!(app.scalar("SELECT uses FROM coupons WHERE code = 'TWO'").await, 1);
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM coupon_uses WHERE order_id = {first}")).await, 0);
    assert_eq!(usable(&app, "TWO", Some(zoe), Currency::USD).await, Ok("TWO".into()));
    release(first).await;
    release(plain).await;
    assert_eq!(app.scalar("SELECT uses FROM coupons WHERE code = 'TWO'").await, 1, "released once only");

    // Never below zero, even if the count was corrected by hand meanwhile.
    app.execute("UPDATE coupons SET uses = 0").await;
    release(second).await;
    assert_eq!(app.scalar("SELECT uses FROM coupons WHERE code = 'TWO'").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM coupon_uses").await, 0);
}

on_both_backends!(
    staff_create_edit_deactivate_and_delete_promotion_codes,
    bad_promotion_codes_are_refused_with_field_messages_and_change_nothing,
    only_staff_allowed_to_manage_promotions_see_them,
    a_code_is_refused_for_each_reason_with_a_message_for_the_client,
    concurrent_checkouts_never_use_a_coupon_beyond_its_limits,
    cancelling_an_order_gives_its_coupon_use_back,
);
