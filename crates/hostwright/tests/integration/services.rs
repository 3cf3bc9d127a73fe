//! Services: staff add one to a client (priced by the catalog, with its first invoice issued in
//! the same transaction, once per form submission), edit it with an audited record of every
//! change, drive its lifecycle through the provisioning module; clients see their own services
//! and ask for (or withdraw) a cancellation that staff act on.

use hostwright::ids::ClientId;

use crate::on_both_backends;
use crate::support::fixtures::{self, key};
use crate::support::{TestApp, snapshot};

const GRACE: (&str, &str) = ("grace@example.com", "compass meadow 31");

/// Posts the add-service form for `client`: Cloud VPS, monthly, plus `extra` fields.
async fn post_service(app: &mut TestApp, client: ClientId, extra: &[(&str, &str)]) -> crate::support::TestResponse {
    let mut fields: Vec<(&str, &str)> = vec![("product_id", "1"), ("billing_cycle", "monthly"), ("option.1", "1")];
    for (name, value) in extra {
        fields.retain(|(n, _)| n != name);
        fields.push((name, value));
    }
    app.post_form(&format!("/admin/clients/{client}/services/new"), &fields).await
}

async fn staff_add_a_service_with_its_first_invoice_and_the_module_creates_it(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let client = fixtures::client(&mut app, "zoe@example.de").currency("EUR").create().await;

    let form = app.get(&format!("/admin/clients/{client}/services/new")).await;
    assert_eq!(form.status, 200);
    form.assert_contains("Cloud VPS");
    assert!(!form.body.contains("Old plan"), "retired products are not offered");
    let chosen = app.get(&format!("/admin/clients/{client}/services/new?product=1")).await;
    for text in ["Operating system", "Windows", "Monthly", "Annually", "name=\"key\""] {
        chosen.assert_contains(text);
    }

    let k = key('a');
    let fields = [
        ("option.1", "2"),
        ("domain", " Example.COM "),
        ("create_invoice", "on"),
        ("run_create", "on"),
        ("key", k.as_str()),
    ];
    let added = post_service(&mut app, client, &fields).await;
    added.assert_redirect_to("/admin/services/1");
    app.run_jobs().await;
    // 10.00 + Windows 15.00 a month; the first payment adds the 5.00 setup fee.
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = 1 AND client_id = {client} AND status = 'active' \
             AND currency_code = 'EUR' AND billing_cycle = 'monthly' AND recurring_minor = 2500 \
             AND first_payment_minor = 3000 AND domain = 'example.com' AND next_due_date > registration_date"
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM service_options WHERE service_id = 1 AND value_id = 2").await, 1);
    // Issued in the same transaction: 30.00 + 19 % VAT.
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoices WHERE client_id = {client} AND status = 'unpaid' \
             AND number IS NOT NULL AND total_minor = 3570"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM invoice_lines WHERE service_id = 1 AND period_start IS NOT NULL \
             AND period_end IS NOT NULL"
        )
        .await,
        3
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoice_lines WHERE service_id = 1 AND kind = 'service'").await, 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoice_lines WHERE service_id = 1 AND kind = 'setup'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.added'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.create'").await, 1);

    let page = app.get("/admin/services/1").await;
    page.assert_contains("Service added.");
    for text in ["Cloud VPS", "Operating system", "Windows", "25.00 EUR", "example.com", "35.70 EUR", "service.added"] {
        page.assert_contains(text);
    }
    let number = app.scalar("SELECT COUNT(*) FROM invoices").await;
    assert_eq!(number, 1);

    // The same submission again adds nothing.
    let again = post_service(&mut app, client, &fields).await;
    again.assert_redirect_to("/admin/services/1");
    app.get("/admin/services/1").await.assert_contains("This service was already added.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.added'").await, 1);

    // Without "create" and without an invoice, a service waits, pending.
    let pending = post_service(&mut app, client, &[("key", &key('b'))]).await;
    pending.assert_redirect_to("/admin/services/2");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE id = 2 AND status = 'pending'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices").await, 1);

    let tab = app.get(&format!("/admin/clients/{client}?tab=services")).await;
    tab.assert_contains("/admin/services/1");
    tab.assert_contains("/admin/services/2");
    tab.assert_contains("Add service");
    let list = app.get("/admin/services?q=EXAMPLE&status=active").await;
    list.assert_contains("/admin/services/1");
    assert!(!list.body.contains("/admin/services/2\""), "filtered out");
}

async fn bad_input_adding_a_service_is_refused_and_changes_nothing(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let client = fixtures::client(&mut app, "zoe@example.de").currency("EUR").create().await;
    let k = key('k');
    for (fields, message) in [
        (vec![("product_id", "3")], "Old plan is retired and no longer sold."),
        (vec![("billing_cycle", "one_time")], "Choose one of the billing cycles Cloud VPS is sold in."),
        (vec![("option.1", "3")], "That is not a value of Operating system."),
        (vec![("option.2", "3")], "Daily backups is not an option of Cloud VPS."),
        (vec![("recurring_amount", "-5.00")], "The amount cannot be negative."),
        (vec![("recurring_amount", "1.234")], "EUR has 2 decimals."),
        (vec![("next_due_date", "2001-01-01")], "The next due date must be after today."),
    ] {
        let mut all = fields.clone();
        all.extend([("create_invoice", "on"), ("run_create", "on"), ("key", k.as_str())]);
        let refused = post_service(&mut app, client, &all).await;
        assert_eq!(refused.status, 422, "{fields:?}: {}", refused.body);
        refused.assert_contains(message);
    }
    let stale = post_service(&mut app, client, &[("key", "short")]).await;
    assert_eq!(stale.status, 422);
    stale.assert_contains("This form is out of date");
    for table in ["services", "service_options", "invoices", "invoice_lines"] {
        assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'service.%'").await, 0);
}

async fn staff_suspend_unsuspend_and_terminate_and_refused_commands_change_nothing(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let client = fixtures::client(&mut app, "zoe@example.de").currency("EUR").create().await;
    let id = fixtures::active_service(&mut app, client, 'a').await;
    let path = format!("/admin/services/{id}");
    let command = format!("{path}/command");

    app.post_form(&command, &[("command", "suspend"), ("reason", "")]).await.assert_redirect_to(&path);
    app.run_jobs().await;
    app.get(&path).await.assert_contains("Give the reason for the suspension");
    app.post_form(&command, &[("command", "suspend"), ("reason", "Abuse report #42")]).await.assert_redirect_to(&path);
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'suspended' \
             AND suspend_reason = 'Abuse report #42' AND suspended_on IS NOT NULL"
        ))
        .await,
        1
    );
    app.get(&path).await.assert_contains("Abuse report #42");
    app.post_form(&command, &[("command", "unsuspend")]).await.assert_redirect_to(&path);
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'active' AND suspend_reason = ''"
        ))
        .await,
        1
    );

    // Unsuspending an active service is refused with a message; nothing changes.
    let audited = app.scalar("SELECT COUNT(*) FROM audit_log").await;
    let refused = app.post_form(&command, &[("command", "unsuspend")]).await;
    app.run_jobs().await;
    refused.assert_redirect_to(&path);
    let page = app.get(&path).await;
    assert_eq!(page.status, 200);
    page.assert_contains("Unsuspend is not possible for a");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log").await, audited);
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'active'")).await, 1);
    app.post_form(&command, &[("command", "reboot")]).await.assert_redirect_to(&path);
    app.run_jobs().await;
    app.get(&path).await.assert_contains("Choose a command to run.");

    app.post_form(&command, &[("command", "terminate")]).await.assert_redirect_to(&path);
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'terminated' AND terminated_on IS NOT NULL"
        ))
        .await,
        1
    );
    for action in ["service.create", "service.suspend", "service.unsuspend", "service.terminate"] {
        assert_eq!(
            app.scalar(&format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")).await,
            1,
            "{action}"
        );
    }
    app.post_form(&command, &[("command", "suspend"), ("reason", "Again")]).await.assert_redirect_to(&path);
    app.run_jobs().await;
    app.get(&path).await.assert_contains("Suspend is not possible for a terminated service.");

    // Staff who may only look cannot run commands.
    app.create_staff("viewer@hostwright.test", "Support", "orchid lantern 43").await;
    let mut viewer = app.second_node().await;
    viewer.post_staff_login("viewer@hostwright.test", "orchid lantern 43").await;
    let seen = viewer.get(&path).await;
    if seen.status == 200 {
        assert!(!seen.body.contains("/command\""), "no command forms without services.manage");
    }
    assert_eq!(viewer.post_form(&command, &[("command", "create")]).await.status, 403);
    app.run_jobs().await;
}

async fn edits_are_audited_field_by_field_and_the_password_never_shows(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let client = fixtures::client(&mut app, "zoe@example.de").currency("EUR").create().await;
    let id = fixtures::active_service(&mut app, client, 'a').await;
    let path = format!("/admin/services/{id}");
    let secret = "correct horse battery staple";

    app.post_form(&format!("{path}/command"), &[("command", "change_password"), ("password", "short")])
        .await
        .assert_redirect_to(&path);
    app.get(&path).await.assert_contains("Use a password of 10 to 128 characters.");
    app.post_form(&format!("{path}/command"), &[("command", "change_password"), ("password", secret)])
        .await
        .assert_redirect_to(&path);
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND password_enc IS NOT NULL")).await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE password_enc LIKE '%horse%'").await, 0, "encrypted");
    let page = app.get(&path).await;
    page.assert_contains("Set (stored encrypted)");
    assert!(!page.body.contains(secret));

    let registered = app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id}")).await;
    assert_eq!(registered, 1);
    let edit = |amount: &'static str, cycle: &'static str, due: &'static str| {
        vec![
            ("registration_date", "2026-01-15"),
            ("next_due_date", due),
            ("billing_cycle", cycle),
            ("recurring_amount", amount),
            ("domain", "new.example.com"),
            ("hostname", "vps1.example.com"),
            ("username", "zoe"),
            ("notes", "Moved to the new rack"),
        ]
    };
    app.post_form(&path, &edit("99.50", "annually", "2027-01-15")).await.assert_redirect_to(&path);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {id} AND recurring_minor = 9950 AND billing_cycle = 'annually' \
             AND domain = 'new.example.com' AND username = 'zoe' AND next_due_date = next_invoice_date"
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.updated'").await, 1);
    let history = app.get(&path).await;
    for text in [
        "recurring amount: 10.00 EUR → 99.50 EUR",
        "billing cycle: Monthly → Annually",
        "domain: (empty) → new.example.com",
        "next due date:",
        "notes: (empty) → Moved to the new rack",
    ] {
        history.assert_contains(text);
    }
    assert!(!history.body.contains(secret));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE summary LIKE '%horse%'").await, 0);

    // Bad input: 422 with the field's message, nothing changed.
    for (fields, message) in [
        (edit("-1", "annually", "2027-01-15"), "The amount cannot be negative."),
        (edit("10", "one_time", "2027-01-15"), "Choose one of the billing cycles the product is sold in."),
        (edit("10", "monthly", ""), "A recurring service needs its next due date."),
        (edit("10", "monthly", "2025-01-01"), "The next due date cannot be before the registration date."),
    ] {
        let refused = app.post_form(&path, &fields).await;
        assert_eq!(refused.status, 422, "{fields:?}");
        refused.assert_contains(message);
    }
    assert_eq!(app.scalar(&format!("SELECT recurring_minor FROM services WHERE id = {id}")).await, 9950);
    app.post_form(&path, &edit("99.50", "annually", "2027-01-15")).await.assert_redirect_to(&path);
    app.get(&path).await.assert_contains("Nothing was changed.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.updated'").await, 1);
}

async fn staff_correct_the_product_status_and_options_on_record(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let client = fixtures::client(&mut app, "zoe@example.de").currency("EUR").create().await;
    let id = fixtures::active_service(&mut app, client, 'a').await;
    let path = format!("/admin/services/{id}");
    let page = app.get(&path).await;
    page.assert_contains(r#"name="options_shown""#);
    page.assert_contains("Old plan (retired)");
    page.assert_contains(r#"<option value="1" selected>Debian</option>"#);
    let edit = |product: &'static str, status: &'static str, options: &[(&'static str, &'static str)]| {
        let mut fields = vec![
            ("product_id", product),
            ("status", status),
            ("options_shown", "1"),
            ("registration_date", "2026-01-15"),
            ("next_due_date", "2027-01-15"),
            ("billing_cycle", "monthly"),
            ("recurring_amount", "10.00"),
        ];
        fields.extend_from_slice(options);
        fields
    };
    let choices =
        format!("SELECT CAST(COALESCE(SUM(value_id), 0) AS BIGINT) FROM service_options WHERE service_id = {id}");

    // Bad choices: 422 with the reason, nothing changed.
    for (fields, message) in [
        (edit("99", "active", &[("option.1", "1")]), "Choose a product from the list."),
        (edit("1", "sleeping", &[("option.1", "1")]), "Choose a status from the list."),
        (edit("1", "active", &[("option.1", "3")]), "That is not a value of Operating system."),
        (edit("1", "active", &[("option.1", "1"), ("option.2", "3")]), "Daily backups is not an option of Cloud VPS."),
        (edit("1", "active", &[]), "Choose a value for Operating system."),
        (edit("2", "active", &[("option.1", "1")]), "Operating system is not an option of Other plan."),
    ] {
        let refused = app.post_form(&path, &fields).await;
        assert_eq!(refused.status, 422, "{fields:?}: {}", refused.body);
        refused.assert_contains(message);
    }
    // Choosing another product shows its own options to fill in.
    app.post_form(&path, &edit("2", "active", &[("option.1", "1")])).await.assert_contains("Daily backups");
    assert_eq!(app.scalar(&choices).await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.updated'").await, 0);

    // Windows instead of Debian, and the status corrected: one audited change.
    app.post_form(&path, &edit("1", "suspended", &[("option.1", "2")])).await.assert_redirect_to(&path);
    assert_eq!(app.scalar(&choices).await, 2);
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'suspended'")).await, 1);
    // The move to Other plan (retired products too may be set on record) with its backups.
    app.post_form(&path, &edit("3", "active", &[])).await.assert_redirect_to(&path);
    app.post_form(&path, &edit("2", "active", &[("option.2", "3")])).await.assert_redirect_to(&path);
    let on_record = format!("SELECT COUNT(*) FROM services WHERE id = {id} AND product_id = 2 AND status = 'active'");
    assert_eq!(app.scalar(&on_record).await, 1);
    assert_eq!(app.scalar(&choices).await, 3);
    let history = app.get(&path).await;
    for text in [
        "options: Operating system: Debian → Operating system: Windows",
        "status: Active → Suspended",
        "product: Cloud VPS → Old plan",
        "product: Old plan → Other plan",
        "options: Operating system: Windows → (empty)",
        "options: (empty) → Daily backups: Yes",
    ] {
        history.assert_contains(text);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.updated'").await, 3);
}

async fn a_staff_added_service_takes_stock(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    app.execute("UPDATE products SET stock_enabled = TRUE, stock_quantity = 1 WHERE id = 1").await;
    let client = fixtures::client(&mut app, "zoe@example.de").currency("EUR").create().await;
    fixtures::active_service(&mut app, client, 'a').await;
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 0);
    let refused = post_service(&mut app, client, &[("key", &key('b'))]).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Cloud VPS is out of stock; raise its stock in the catalog first.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services").await, 1);
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 0);
}

async fn clients_see_only_their_own_services(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let (mut grace, grace_id) = fixtures::signed_in_client(&app, GRACE.0, GRACE.1).await;
    let (_other, other_id) = fixtures::signed_in_client(&app, "ada@example.com", "lantern orchid 99").await;
    let own = fixtures::active_service(&mut app, grace_id, 'a').await;
    let theirs = fixtures::active_service(&mut app, other_id, 'b').await;
    app.post_form(
        &format!("/admin/services/{own}"),
        &[
            ("registration_date", "2026-01-15"),
            ("next_due_date", "2027-01-15"),
            ("billing_cycle", "monthly"),
            ("recurring_amount", "10.00"),
            ("domain", "grace.example"),
        ],
    )
    .await;

    let list = grace.get("/account/services").await;
    assert_eq!(list.status, 200);
    list.assert_contains(&format!("/account/services/{own}"));
    list.assert_contains("grace.example");
    list.assert_contains("10.00 USD");
    assert!(!list.body.contains(&format!("/account/services/{theirs}\"")));
    let page = grace.get(&format!("/account/services/{own}")).await;
    // The due date staff put on record (dates are redacted in the snapshot).
    page.assert_contains("2027-01-15");
    crate::assert_redacted_snapshot!("client_service_page", snapshot::page(&page));
    assert_eq!(grace.get(&format!("/account/services/{theirs}")).await.status, 404);
    let foreign = grace
        .post_form(&format!("/account/services/{theirs}/cancel"), &[("kind", "immediate"), ("reason", "Mine now")])
        .await;
    assert_eq!(foreign.status, 404);
    assert_eq!(grace.post_form(&format!("/account/services/{theirs}/cancel/withdraw"), &[]).await.status, 404);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cancellation_requests").await, 0);

    // A sub-user without the services permission is refused.
    grace
        .post_form(
            "/account/contacts",
            &[
                ("first_name", "Ana"),
                ("last_name", "Lima"),
                ("email", "ana@example.com"),
                ("login_enabled", "on"),
                ("permissions", "invoices"),
            ],
        )
        .await
        .assert_redirect_to("/account/contacts");
    let mut ana = app.second_node().await;
    let reset = app.emailed_path("ana@example.com", "/password/reset/").await;
    ana.post_form(&reset, &[("password", "saffron harbour 77"), ("password_confirm", "saffron harbour 77")])
        .await
        .assert_redirect_to("/login");
    ana.post_client_login("ana@example.com", "saffron harbour 77").await.assert_redirect_to("/account");
    assert_eq!(ana.get("/account/services").await.status, 403);
    assert_eq!(ana.get(&format!("/account/services/{own}")).await.status, 403);
    assert_eq!(
        ana.post_form(&format!("/account/services/{own}/cancel"), &[("kind", "immediate"), ("reason", "x")])
            .await
            .status,
        403
    );
}

async fn a_client_asks_to_cancel_withdraws_and_staff_cancel_the_service(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let (mut grace, grace_id) = fixtures::signed_in_client(&app, GRACE.0, GRACE.1).await;
    let id = fixtures::active_service(&mut app, grace_id, 'a').await;
    let page = format!("/account/services/{id}");
    let cancel = format!("{page}/cancel");

    let blank = grace.post_form(&cancel, &[("kind", "end_of_period"), ("reason", "  ")]).await;
    assert_eq!(blank.status, 422);
    blank.assert_contains("Tell us why you are cancelling.");
    let long = "x".repeat(2001);
    assert_eq!(grace.post_form(&cancel, &[("kind", "immediate"), ("reason", &long)]).await.status, 422);
    assert_eq!(grace.post_form(&cancel, &[("kind", "tomorrow"), ("reason", "Why not")]).await.status, 422);

    grace
        .post_form(&cancel, &[("kind", "end_of_period"), ("reason", "Moving to another host")])
        .await
        .assert_redirect_to(&page);
    let due = app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND next_due_date IS NOT NULL")).await;
    assert_eq!(due, 1);
    let shown = grace.get(&page).await;
    shown.assert_contains("Your cancellation request was sent.");
    shown.assert_contains("Ends on ");
    shown.assert_contains("Withdraw the cancellation request");

    // A second request is refused with a message; nothing changes.
    grace.post_form(&cancel, &[("kind", "immediate"), ("reason", "Again")]).await.assert_redirect_to(&page);
    grace.get(&page).await.assert_contains("A cancellation of this service has already been requested");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cancellation_requests").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.cancellation_requested'").await, 1);

    grace.post_form(&format!("{cancel}/withdraw"), &[]).await.assert_redirect_to(&page);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM cancellation_requests WHERE status = 'withdrawn' AND resolved_at IS NOT NULL")
            .await,
        1
    );
    grace.post_form(&format!("{cancel}/withdraw"), &[]).await.assert_redirect_to(&page);
    grace.get(&page).await.assert_contains("There is no open cancellation request to withdraw.");
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'service.cancellation_withdrawn' AND entity_id = {id} \
             AND actor_kind = 'client'"
        ))
        .await,
        1
    );

    // Asked again, staff reject it; asked a third time, staff cancel the service at once.
    grace.post_form(&cancel, &[("kind", "immediate"), ("reason", "Too expensive")]).await.assert_redirect_to(&page);
    let open = app.get("/admin/cancellations").await;
    open.assert_contains("Too expensive");
    open.assert_contains(GRACE.0);
    let second = app.scalar("SELECT id FROM cancellation_requests WHERE status = 'open'").await;
    app.post_form(&format!("/admin/services/{id}/cancellations/{second}"), &[("action", "reject")])
        .await
        .assert_redirect_to(&format!("/admin/services/{id}"));
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'active'")).await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cancellation_requests WHERE status = 'rejected'").await, 1);
    let again =
        app.post_form(&format!("/admin/services/{id}/cancellations/{second}"), &[("action", "cancel_now")]).await;
    again.assert_redirect_to(&format!("/admin/services/{id}"));
    app.get(&format!("/admin/services/{id}")).await.assert_contains("This request is already rejected.");
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'active'")).await, 1);

    grace.post_form(&cancel, &[("kind", "immediate"), ("reason", "Closing the shop")]).await.assert_redirect_to(&page);
    let third = app.scalar("SELECT id FROM cancellation_requests WHERE status = 'open'").await;
    app.post_form(
        &format!("/admin/services/{id}/cancellations/{third}"),
        &[("action", "cancel_now"), ("back", "list")],
    )
    .await
    .assert_redirect_to("/admin/cancellations");
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'cancelled' AND terminated_on IS NOT NULL \
             AND cancelled_on IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM cancellation_requests WHERE id = {third} AND status = 'done'")).await,
        1
    );
    for action in
        ["service.terminate", "service.cancelled", "service.cancellation_done", "service.cancellation_rejected"]
    {
        assert_eq!(
            app.scalar(&format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")).await,
            1,
            "{action}"
        );
    }
    app.get("/admin/cancellations").await.assert_contains("There are no open cancellation requests.");

    // An ended service cannot be cancelled again.
    grace.post_form(&cancel, &[("kind", "immediate"), ("reason", "Once more")]).await.assert_redirect_to(&page);
    let ended = grace.get(&page).await;
    ended.assert_contains("This service has already ended");
    assert!(!ended.body.contains("Request cancellation"));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cancellation_requests").await, 3);
}

on_both_backends!(
    staff_add_a_service_with_its_first_invoice_and_the_module_creates_it,
    bad_input_adding_a_service_is_refused_and_changes_nothing,
    staff_suspend_unsuspend_and_terminate_and_refused_commands_change_nothing,
    edits_are_audited_field_by_field_and_the_password_never_shows,
    staff_correct_the_product_status_and_options_on_record,
    a_staff_added_service_takes_stock,
    clients_see_only_their_own_services,
    a_client_asks_to_cancel_withdraws_and_staff_cancel_the_service,
);
