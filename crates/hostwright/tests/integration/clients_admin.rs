//! Staff working with client records: search, create, edit, notes, groups, export, erase.

use hostwright::audit::Actor;
use hostwright::clients::admin::{self, Details};
use hostwright::ids::{ClientId, StaffId};

use crate::on_both_backends;
use crate::support::{TestApp, snapshot};

fn details(first: &str, last: &str, company: &str, email: &str) -> Details {
    Details {
        first_name: first.into(),
        last_name: last.into(),
        company_name: company.into(),
        email: email.into(),
        country: "DE".into(),
        ..Details::default()
    }
}

async fn seed(app: &TestApp, n: usize) -> Vec<ClientId> {
    let actor = Actor::staff(StaffId(1), "seed@hostwright.test", "");
    let mut ids = Vec::new();
    for i in 0..n {
        let company = if i % 10 == 0 { format!("Blue Harbour {i}") } else { format!("Company {i}") };
        let valid =
            details(&format!("First{i:03}"), &format!("Last{:03}", n - i), &company, &format!("c{i}@example.com"))
                .validate()
                .unwrap();
        ids.push(admin::create(&app.state, &actor, valid, false).await.unwrap().id);
    }
    ids
}

async fn staff_search_filter_sort_and_page_through_clients(mut app: TestApp) {
    app.signed_in_admin().await;
    let ids = seed(&app, 60).await;
    let page = app.get("/admin/clients").await;
    page.assert_contains("Page 1 of 2");
    page.assert_contains("c59@example.com");
    assert!(!page.body.contains("c0@example.com"), "newest first, 50 a page");
    app.get("/admin/clients?page=2").await.assert_contains("c0@example.com");
    let harbour = app.get("/admin/clients?q=blue+harbour").await;
    assert!(harbour.body.matches("Blue Harbour").count() >= 6);
    assert!(!harbour.body.contains("Company 1<"), "only matching clients");
    app.get("/admin/clients?q=C17%40EXAMPLE.COM").await.assert_contains("First017");
    app.get(&format!("/admin/clients?q=%23{}", ids[5])).await.assert_contains("First005");
    let by_name = app.get("/admin/clients?sort=name").await;
    let first = by_name.body.find("Last001").unwrap();
    let later = by_name.body.find("Last002").unwrap();
    assert!(first < later);
    // Nothing matches → an empty state, not an error.
    assert_eq!(app.get("/admin/clients?q=zzzz-nobody").await.status, 200);
    assert_eq!(app.get("/admin/clients?status=closed").await.status, 200);
}

async fn staff_open_an_account_and_the_client_chooses_a_password(mut app: TestApp) {
    app.signed_in_admin().await;
    let form = [
        ("first_name", "Linus"),
        ("last_name", "Torvalds"),
        ("company_name", "Kernel Ltd"),
        ("email", "linus@example.com"),
        ("country", "fi"),
        ("currency_code", "eur"),
        ("status", "active"),
        ("invite", "on"),
    ];
    let created = app.post_form("/admin/clients", &form).await;
    assert!(created.location().starts_with("/admin/clients/"), "{}", created.body);
    app.deliver_email().await;
    let welcome = app.smtp.wait_for("linus@example.com").await;
    crate::assert_redacted_snapshot!("client_welcome_email", snapshot::email(&welcome));
    let link = welcome.link("http://hostwright.test/password/reset/").expect("welcome link");
    let path = link.trim_start_matches("http://hostwright.test").to_owned();
    let mut client = app.second_node().await;
    client
        .post_form(&path, &[("password", "penguin kernel 26"), ("password_confirm", "penguin kernel 26")])
        .await
        .assert_redirect_to("/login");
    client.post_client_login("linus@example.com", "penguin kernel 26").await.assert_redirect_to("/account");
    // Setting the password from the emailed link proves the address.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients WHERE email_verified_at IS NOT NULL").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'client.created'").await, 1);
}

async fn bad_client_details_are_refused_field_by_field(mut app: TestApp) {
    app.signed_in_admin().await;
    seed(&app, 1).await;
    let form = [
        ("first_name", "X"),
        ("last_name", ""),
        ("email", "c0@example.com"),
        ("country", "ZZ"),
        ("currency_code", "euros"),
        ("payment_method", "bitcoin"),
    ];
    let refused = app.post_form("/admin/clients", &form).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Choose a country from the list.");
    refused.assert_contains("Choose a payment method from the list.");
    refused.assert_contains("three-letter ISO currency code");
    let duplicate =
        app.post_form("/admin/clients", &[("first_name", "X"), ("last_name", "Y"), ("email", "C0@example.com")]).await;
    assert_eq!(duplicate.status, 422);
    duplicate.assert_contains("already exists");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients").await, 1);
}

async fn edits_are_recorded_and_a_new_email_must_be_confirmed_again(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    app.execute("UPDATE clients SET email_verified_at = created_at").await;
    let mut staff = app.second_node().await;
    staff.signed_in_admin().await;
    let form = [
        ("first_name", "Grace"),
        ("last_name", "Hopper"),
        ("email", "grace@navy.example"),
        ("phone", "+1 555 0100"),
        ("status", "active"),
        ("payment_method", "bank_transfer"),
    ];
    staff.post_form("/admin/clients/1", &form).await.assert_redirect_to("/admin/clients/1?tab=profile");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients WHERE payment_method = 'bank_transfer'").await, 1);
    staff.get("/admin/clients/1?tab=activity").await.assert_contains("Changed email, phone");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients WHERE email_verified_at IS NULL").await, 1);
    // Closing the account signs the client out.
    let closed =
        [("first_name", "Grace"), ("last_name", "Hopper"), ("email", "grace@navy.example"), ("status", "closed")];
    staff.post_form("/admin/clients/1", &closed).await;
    assert!(app.get("/account").await.status.is_redirection());
}

async fn notes_and_groups_belong_to_the_client_record(mut app: TestApp) {
    app.signed_in_admin().await;
    seed(&app, 1).await;
    app.post_form("/admin/clients/1/notes", &[("body", "Prefers phone calls <b>only</b>"), ("pinned", "on")]).await;
    let summary = app.get("/admin/clients/1").await;
    summary.assert_contains("Prefers phone calls &lt;b&gt;only");
    assert!(!summary.body.contains("<b>only"));
    let refused = app.post_form("/admin/client-groups", &[("name", "Resellers"), ("discount_percent", "150")]).await;
    assert_eq!(refused.status, 422);
    app.post_form(
        "/admin/client-groups",
        &[("name", "Resellers"), ("discount_percent", "12.5"), ("exempt_from_fees", "on")],
    )
    .await
    .assert_redirect_to("/admin/client-groups");
    app.get("/admin/client-groups").await.assert_contains("Resellers");
    let form = [
        ("first_name", "First000"),
        ("last_name", "Last001"),
        ("email", "c0@example.com"),
        ("group_id", "1"),
        ("status", "active"),
    ];
    app.post_form("/admin/clients/1", &form).await;
    app.get("/admin/clients?group=1").await.assert_contains("c0@example.com");
}

async fn a_client_and_staff_can_export_everything_stored(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let own = app.get("/account/export").await;
    assert_eq!(own.status, 200);
    assert!(own.headers.get("content-disposition").unwrap().to_str().unwrap().contains("attachment"));
    let data: serde_json::Value = serde_json::from_str(&own.body).unwrap();
    assert_eq!(data["client"]["email"], "grace@example.com");
    assert!(data["activity"].as_array().unwrap().iter().any(|a| a["action"] == "client.registered"));
    assert!(data["emails"].as_array().unwrap().len() == 1);
    assert!(!own.body.contains("argon2"), "no password hash in the export");
    let mut staff = app.second_node().await;
    staff.signed_in_admin().await;
    staff.post_form("/admin/clients/1/notes", &[("body", "Called about renewal")]).await;
    let export = staff.get("/admin/clients/1/export").await;
    assert!(export.body.contains("Called about renewal"));
}

async fn anonymising_erases_personal_data_but_keeps_the_record(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let mut staff = app.second_node().await;
    staff.signed_in_admin().await;
    staff.post_form("/admin/clients/1/notes", &[("body", "Lives at 1 Navy Road")]).await;
    // Without the typed confirmation nothing happens.
    staff.post_form("/admin/clients/1/anonymise", &[("confirm", "yes")]).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients WHERE anonymised_at IS NULL").await, 1);
    staff.post_form("/admin/clients/1/anonymise", &[("confirm", "1")]).await.assert_redirect_to("/admin/clients/1");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM clients WHERE email = 'anonymised-1@invalid' AND password_hash IS NULL").await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM client_notes").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE actor_label = 'grace@example.com'").await, 0);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE summary LIKE '%grace@example.com%' OR summary LIKE '%Hopper%'"
        )
        .await,
        0
    );
    let refused = staff.post_form("/admin/clients/1/notes", &[("body", "Still here?")]).await;
    assert!(refused.status.is_client_error() || refused.status.is_redirection());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM client_notes").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE body_text LIKE '%Grace%'").await, 0);
    assert!(app.get("/account").await.status.is_redirection(), "the client's session ended");
    assert_eq!(app.post_client_login("grace@example.com", "compass meadow 31").await.status, 422);
    assert!(!staff.get("/admin/clients?q=grace").await.body.contains("/admin/clients/1\""));
    let again = staff.post_form("/admin/clients/1/anonymise", &[("confirm", "1")]).await;
    assert!(again.status.is_redirection());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'client.anonymised'").await, 1);
}

async fn support_staff_may_look_but_not_change_clients(mut app: TestApp) {
    app.create_first_admin("ada@hostwright.test", "orchid lantern 42").await;
    seed(&app, 1).await;
    app.create_staff("sam@hostwright.test", "Support", "harbour crane 77").await;
    app.post_staff_login("sam@hostwright.test", "harbour crane 77").await;
    assert_eq!(app.get("/admin/clients").await.status, 200);
    assert_eq!(app.get("/admin/clients/1").await.status, 200);
    assert_eq!(app.get("/admin/clients/new").await.status, 403);
    assert_eq!(app.get("/admin/clients/1/export").await.status, 403);
    assert_eq!(app.post_form("/admin/clients/1/anonymise", &[("confirm", "1")]).await.status, 403);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients WHERE anonymised_at IS NULL").await, 1);
}

async fn seeded_clients_are_searchable_and_the_page_timer_reports_them(mut app: TestApp) {
    app.signed_in_admin().await;
    hostwright::dev::seed_clients(&app.state, 1200).await.unwrap();
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients").await, 1200);
    hostwright::dev::seed_invoices(&app.state, 600).await.unwrap();
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE number LIKE 'S-%'").await, 600);
    let paths = vec![
        "/admin/clients?q=hopper".to_owned(),
        "/admin/clients?page=24".to_owned(),
        "/admin/invoices?overdue=1".to_owned(),
    ];
    let timings = hostwright::dev::time_pages(&app.state, &paths, 3).await.unwrap();
    assert_eq!(timings.len(), 3);
    assert!(timings.iter().all(|(_, p50, p95, max)| p50 <= p95 && p95 <= max));
    let page = app.get("/admin/clients?q=hopper").await;
    page.assert_contains("Hopper");
    app.get("/admin/invoices").await.assert_contains("600 invoices");
    // Beyond the count cap the list says "more than" instead of counting every row.
    hostwright::dev::seed_invoices(&app.state, 9_500).await.unwrap();
    let list = app.get("/admin/invoices").await;
    list.assert_contains("more than 10,000 invoices");
    list.assert_contains("Page 1 of 200");
    assert!(app.get("/admin/invoices?page=201").await.status.is_success());
}

on_both_backends!(
    seeded_clients_are_searchable_and_the_page_timer_reports_them,
    staff_search_filter_sort_and_page_through_clients,
    staff_open_an_account_and_the_client_chooses_a_password,
    bad_client_details_are_refused_field_by_field,
    edits_are_recorded_and_a_new_email_must_be_confirmed_again,
    notes_and_groups_belong_to_the_client_record,
    a_client_and_staff_can_export_everything_stored,
    anonymising_erases_personal_data_but_keeps_the_record,
    support_staff_may_look_but_not_change_clients,
);

mod postgres_search {
    use crate::support::{Backend, TestApp};

    /// The suite's PostgreSQL has contrib installed, so the trigram index must be there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgresql_the_client_search_has_a_trigram_index() {
        let app = TestApp::spawn(Backend::Postgres).await;
        assert_eq!(app.scalar("SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'clients_search_trgm'").await, 1);
    }
}
