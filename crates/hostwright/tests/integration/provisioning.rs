//! Provisioning: servers with encrypted credentials, a product's module settings and server
//! group, every module command run by a job (never inside a web request), the module log with
//! secrets redacted, failures kept for staff with the panel's own words, the client's panel
//! sign-on, password and usage; against a WHM double built from WHM API 1's documented
//! answers, and a real PostgreSQL server for the database module.

use hostwright::ids::ClientId;
use sea_orm::ConnectionTrait;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::on_both_backends;
use crate::support::TestApp;
use crate::support::fixtures::{self, key};

const TOKEN: &str = "WHMTOKEN0123456789ABCDEF";

/// A WHM API 1 answer.
fn whm(command: &str, result: u8, reason: &str, data: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "metadata": { "command": command, "version": 1, "result": result, "reason": reason },
        "data": data,
    }))
}

async fn answer(panel: &MockServer, function: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/json-api/{function}")))
        .and(query_param("api.version", "1"))
        .and(header("authorization", format!("whm root:{TOKEN}").as_str()))
        .respond_with(response)
        .mount(panel)
        .await;
}

/// A server group (least accounts first) and a cPanel server in it at `address`; returns the
/// server's id.
async fn cpanel_server(app: &mut TestApp, name: &str, address: &str, max_accounts: &str) -> i64 {
    if app.scalar("SELECT COUNT(*) FROM server_groups").await == 0 {
        app.post_form("/admin/server-groups/new", &[("name", "Shared EU"), ("fill_strategy", "least_accounts")])
            .await
            .assert_redirect_to("/admin/servers");
    }
    let saved = app
        .post_form(
            "/admin/servers/new?module=cpanel",
            &[
                ("name", name),
                ("hostname", address),
                ("max_accounts", max_accounts),
                ("nameservers", "ns1.example.net\nns2.example.net"),
                ("enabled", "on"),
                ("setting.api_token", TOKEN),
                ("group.1", "on"),
            ],
        )
        .await;
    assert!(saved.location().starts_with("/admin/servers/"), "{}", saved.body);
    saved.location().trim_start_matches("/admin/servers/").parse().unwrap()
}

/// Product 4, "Shared Gold", on `module` with the product settings `settings`, 5.00 EUR a
/// month, taking its servers from group 1.
async fn module_product(app: &mut TestApp, module: &str, settings: &[(&str, &str)]) {
    app.post_form(
        "/admin/catalog/products",
        &[
            ("group_id", "1"),
            ("name", "Shared Gold"),
            ("product_type", "shared_hosting"),
            ("payment_type", "recurring"),
            ("module", module),
        ],
    )
    .await
    .assert_redirect_to("/admin/catalog/products/4");
    app.post_form("/admin/catalog/products/4/prices", &[("price.EUR.monthly", "5.00"), ("price.USD.monthly", "5.00")])
        .await
        .assert_redirect_to("/admin/catalog/products/4");
    let mut fields = vec![("server_group_id", "1")];
    fields.extend_from_slice(settings);
    app.post_form("/admin/catalog/products/4/module", &fields)
        .await
        .assert_redirect_to("/admin/catalog/products/4/module");
}

/// Staff add product 4 for `client` on `domain` and ask for its create; returns the service.
async fn add_service(app: &mut TestApp, client: ClientId, domain: &str, k: char) -> i64 {
    let added = app
        .post_form(
            &format!("/admin/clients/{client}/services/new"),
            &[
                ("product_id", "4"),
                ("billing_cycle", "monthly"),
                ("domain", domain),
                ("run_create", "on"),
                ("key", &key(k)),
            ],
        )
        .await;
    assert!(added.location().starts_with("/admin/services/"), "{}", added.body);
    added.location().trim_start_matches("/admin/services/").parse().unwrap()
}

/// The value of `name` in the query of the first request to `function`.
async fn sent(panel: &MockServer, function: &str, name: &str) -> String {
    let requests = panel.received_requests().await.unwrap_or_default();
    let request = requests.iter().find(|r| r.url.path() == format!("/json-api/{function}")).expect("a request");
    request.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
}

async fn everything_logged(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM module_calls").await
}

/// Counts rows anywhere we keep text that contain `secret`.
async fn rows_holding(app: &TestApp, secret: &str) -> i64 {
    let mut n = 0;
    for (table, columns) in [
        ("module_calls", "message || exchanges"),
        ("audit_log", "summary"),
        ("email_outbox", "subject || body_text || body_html"),
        ("jobs", "payload || coalesce(last_error, '')"),
        ("servers", "settings || coalesce(secrets_enc, '') || last_test"),
        ("services", "coalesce(password_enc, '')"),
    ] {
        n += app.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {columns} LIKE '%{secret}%'")).await;
    }
    n
}

async fn a_cpanel_account_is_created_by_a_job_on_the_emptiest_server_and_no_secret_is_kept_in_clear(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let panel = MockServer::start().await;
    let full = MockServer::start().await;
    let first = cpanel_server(&mut app, "web01", &panel.uri(), "100").await;
    let second = cpanel_server(&mut app, "web02", &full.uri(), "1").await;
    module_product(&mut app, "cpanel", &[("setting.package", "gold")]).await;
    assert_eq!(rows_holding(&app, TOKEN).await, 0, "the API token is stored encrypted");

    // Saving the server again without typing the token keeps it.
    app.post_form(
        &format!("/admin/servers/{first}"),
        &[
            ("name", "web01"),
            ("hostname", &panel.uri()),
            ("max_accounts", "100"),
            ("nameservers", "ns1.example.net"),
            ("enabled", "on"),
            ("group.1", "on"),
        ],
    )
    .await
    .assert_redirect_to(&format!("/admin/servers/{first}"));
    answer(&panel, "version", whm("version", 1, "OK", json!({ "version": "11.124.0.12" }))).await;
    answer(&panel, "listpkgs", whm("listpkgs", 1, "OK", json!({ "pkg": [{ "name": "gold" }, { "name": "silver" }] })))
        .await;
    app.post_form(&format!("/admin/servers/{first}/test"), &[])
        .await
        .assert_redirect_to(&format!("/admin/servers/{first}"));
    app.run_jobs().await;
    app.get(&format!("/admin/servers/{first}")).await.assert_contains("Connected: WHM 11.124.0.12 answered");
    // The test also read the server's packages, which the product's settings suggest.
    let settings = app.get("/admin/catalog/products/4/module").await;
    settings.assert_contains("<option value=\"silver\">");

    // web02 holds one account already (its limit): the new account goes to web01.
    let client = fixtures::client(&mut app, "zoe@example.de").currency("EUR").create().await;
    app.execute(&format!(
        "INSERT INTO services (client_id, product_id, status, currency_code, billing_cycle, recurring_minor, \
         first_payment_minor, use_current_price, registration_date, domain, hostname, username, server_id, notes, \
         suspend_reason, created_at, updated_at) VALUES ({client}, 4, 'active', 'EUR', 'monthly', 500, 500, false, \
         '2026-01-01', 'old.example', '', 'old', {second}, '', '', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"
    ))
    .await;
    answer(&panel, "createacct", whm("createacct", 1, "Account Creation Ok", json!({}))).await;
    let id = add_service(&mut app, client, "www.Shop-One.example", 'a').await;
    // Nothing was called inside the request: the create waits for a worker.
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'pending'")).await, 1);
    assert_eq!(everything_logged(&app).await, 2, "only the connection test and its package list so far");
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'active' AND server_id = {first} \
             AND username = 'shopone' AND password_enc IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(sent(&panel, "createacct", "username").await, "shopone");
    assert_eq!(sent(&panel, "createacct", "plan").await, "gold");
    assert_eq!(sent(&panel, "createacct", "contactemail").await, "zoe@example.de");
    let password = sent(&panel, "createacct", "password").await;
    assert!(password.len() >= 20, "a strong generated password");
    assert_eq!(full.received_requests().await.unwrap_or_default().len(), 0);

    // The welcome email has the account's details, never its password.
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM email_outbox WHERE template = 'service_welcome' AND to_address = 'zoe@example.de' \
             AND body_text LIKE '%shopone%' AND body_text LIKE '%ns1.example.net%'"
        )
        .await,
        1
    );
    // Neither the token nor the password is anywhere in clear, though every call is logged.
    assert_eq!(rows_holding(&app, TOKEN).await, 0);
    assert_eq!(rows_holding(&app, &password).await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM module_calls WHERE action = 'create' AND ok = true").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM module_calls WHERE exchanges LIKE '%[redacted]%'").await, 1);
    let page = app.get(&format!("/admin/services/{id}")).await;
    for text in ["web01", "Module log", "Account Creation Ok", "createacct"] {
        page.assert_contains(text);
    }
    assert!(!page.body.contains(&password) && !page.body.contains(TOKEN));

    // Asking for the same create again (the order accepted twice) queues nothing more.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'service.module'").await, 1);
}

async fn a_panel_refusal_fails_the_job_with_its_words_and_staff_retry_it(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let panel = MockServer::start().await;
    cpanel_server(&mut app, "web01", &panel.uri(), "").await;
    module_product(&mut app, "cpanel", &[("setting.package", "gold")]).await;
    let (mut grace, grace_id) = fixtures::signed_in_client(&app, "grace@example.com", "compass meadow 31").await;
    Mock::given(path("/json-api/createacct"))
        .respond_with(whm("createacct", 0, "Sorry, a group for that username already exists.", json!(null)))
        .up_to_n_times(1)
        .mount(&panel)
        .await;
    let id = add_service(&mut app, grace_id, "grace.example", 'a').await;
    app.run_jobs().await;
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'pending'")).await, 1);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'service.module' AND status = 'failed' \
             AND last_error LIKE '%a group for that username already exists%'"
        )
        .await,
        1
    );
    let page = app.get(&format!("/admin/services/{id}")).await;
    page.assert_contains("Work in progress");
    page.assert_contains("Sorry, a group for that username already exists.");
    // The client is not told it is ready.
    let own = grace.get(&format!("/account/services/{id}")).await;
    assert!(!own.body.contains("Log in to control panel"));

    // Fixed on the panel, staff retry from the service page: the same job creates it.
    answer(&panel, "createacct", whm("createacct", 1, "Account Creation Ok", json!({}))).await;
    let job = app.scalar("SELECT id FROM jobs WHERE kind = 'service.module'").await;
    app.post_form(&format!("/admin/services/{id}/work/{job}/retry"), &[])
        .await
        .assert_redirect_to(&format!("/admin/services/{id}"));
    app.run_jobs().await;
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'active'")).await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM module_calls WHERE action = 'create'").await, 2);

    // A second account for a domain already hosted is refused before the panel is asked.
    let twin = add_service(&mut app, grace_id, "GRACE.example", 'b').await;
    app.run_jobs().await;
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {twin} AND status = 'pending'")).await, 1);
    app.get(&format!("/admin/services/{twin}")).await.assert_contains(&format!("already hosted by service #{id}"));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM module_calls WHERE action = 'create'").await, 2);
    // Never created, it is ended without asking the panel anything.
    let calls = app.scalar("SELECT COUNT(*) FROM module_calls").await;
    app.post_form(&format!("/admin/services/{twin}/command"), &[("command", "terminate")]).await;
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {twin} AND status = 'terminated'")).await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM module_calls").await, calls);

    // The client signs in to cPanel through a ticket a job answers; the address works once.
    answer(
        &panel,
        "create_user_session",
        whm(
            "create_user_session",
            1,
            "OK",
            json!({ "url": "https://web01.example.net:2083/cpsess42/login/?session=grace%3atok", "session": "grace:tok" }),
        ),
    )
    .await;
    answer(
        &panel,
        "accountsummary",
        whm("accountsummary", 1, "OK", json!({ "acct": [{ "diskused": "250M", "disklimit": "1000M" }] })),
    )
    .await;
    let service_page = format!("/account/services/{id}");
    grace.get(&service_page).await.assert_contains("Log in to control panel");
    let asked = grace.post_form(&format!("{service_page}/panel"), &[]).await;
    let ticket = asked.location().to_owned();
    assert!(ticket.starts_with(&format!("{service_page}/tickets/")), "{ticket}");
    grace.get(&ticket).await.assert_contains("We are asking the control panel");
    app.run_jobs().await;
    let go = grace.get(&ticket).await;
    assert_eq!(go.location(), "https://web01.example.net:2083/cpsess42/login/?session=grace%3atok");
    grace.get(&ticket).await.assert_redirect_to(&service_page);
    assert_eq!(rows_holding(&app, "cpsess42").await, 0, "the session address is not kept");
    // Usage was asked for when the client opened the page; once read, it is shown.
    let usage = grace.get(&service_page).await;
    usage.assert_contains("Disk: 250 MB of 1000 MB");

    // A server that cannot be reached: the suspension waits to be retried, the service stays.
    app.execute("UPDATE servers SET hostname = 'http://127.0.0.1:9'").await;
    app.post_form(&format!("/admin/services/{id}/command"), &[("command", "suspend"), ("reason", "Abuse")])
        .await
        .assert_redirect_to(&format!("/admin/services/{id}"));
    app.run_jobs().await;
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'service.module' AND status = 'pending' AND attempts = 1 \
             AND last_error LIKE '%could not reach the server%'"
        )
        .await,
        1
    );
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'active'")).await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.command_failed'").await, 2);
}

/// A name no other run of the suite uses, for a role on the shared PostgreSQL server.
fn unique_label() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    format!("pg{}", raw.chars().filter(char::is_ascii_alphanumeric).take(10).collect::<String>().to_lowercase())
}

async fn postgres_server_url() -> url::Url {
    let admin = std::env::var("HOSTWRIGHT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    url::Url::parse(&admin).expect("test database URL")
}

async fn pg_count(sql: &str) -> i64 {
    let admin = sea_orm::Database::connect(postgres_server_url().await.as_str()).await.expect("PostgreSQL");
    let row = admin
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
        .await
        .expect("query")
        .expect("a row");
    let n: i64 = row.try_get_by_index(0).expect("a count");
    admin.close().await.ok();
    n
}

/// Opens a session on `role`'s database as `role`, or says why the server refused it.
async fn log_in(role: &str, password: &str) -> Result<(), String> {
    let mut url = postgres_server_url().await;
    url.set_username(role).ok();
    url.set_password(Some(password)).ok();
    url.set_path(&format!("/{role}"));
    let mut options = sea_orm::ConnectOptions::new(url.as_str());
    options.max_connections(1).sqlx_logging(false);
    let db = sea_orm::Database::connect(options).await.map_err(|e| format!("connecting as {role}: {e}"))?;
    let answered = db.execute_unprepared("SELECT 1").await.map(drop).map_err(|e| format!("querying as {role}: {e}"));
    db.close().await.ok();
    answered
}

#[track_caller]
fn assert_logs_in(outcome: Result<(), String>) {
    if let Err(why) = outcome {
        panic!("the role should be able to log in: {why}");
    }
}

#[track_caller]
fn assert_may_not_log_in(outcome: Result<(), String>) {
    match outcome {
        Ok(()) => panic!("the role should not be able to log in"),
        Err(why) => assert!(why.contains("not permitted to log in"), "refused for another reason: {why}"),
    }
}

async fn the_postgres_module_makes_a_real_role_and_database_and_takes_them_away(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let server = postgres_server_url().await;
    app.post_form("/admin/server-groups/new", &[("name", "Databases"), ("fill_strategy", "fill")]).await;
    let saved = app
        .post_form(
            "/admin/servers/new?module=postgres",
            &[
                ("name", "db01"),
                ("hostname", server.host_str().unwrap_or("127.0.0.1")),
                ("setting.port", &server.port().unwrap_or(5432).to_string()),
                ("setting.username", server.username()),
                ("setting.password", server.password().unwrap_or("")),
                ("enabled", "on"),
                ("group.1", "on"),
            ],
        )
        .await;
    assert!(saved.location().starts_with("/admin/servers/"), "{}", saved.body);
    module_product(&mut app, "postgres", &[("setting.connection_limit", "5"), ("setting.quota_mb", "100")]).await;
    let (mut grace, grace_id) = fixtures::signed_in_client(&app, "grace@example.com", "compass meadow 31").await;
    let label = unique_label();
    let id = add_service(&mut app, grace_id, &format!("{label}.example"), 'a').await;
    app.run_jobs().await;
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'active'")).await, 1);
    let stored = app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND username = '{label}'")).await;
    assert_eq!(stored, 1, "the role is named after the domain");
    assert_eq!(
        pg_count(&format!(
            "SELECT COUNT(*) FROM pg_roles r JOIN pg_database d ON d.datdba = r.oid \
             WHERE r.rolname = '{label}' AND d.datname = '{label}' AND r.rolcanlogin AND r.rolconnlimit = 5"
        ))
        .await,
        1
    );
    let password = {
        let backend = app.state.db.get_database_backend();
        let row = app
            .state
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                format!("SELECT password_enc FROM services WHERE id = {id}"),
            ))
            .await
            .expect("query")
            .expect("a row");
        let enc: String = row.try_get_by_index(0).expect("a password");
        String::from_utf8(app.state.key.decrypt(&enc).expect("decrypting")).expect("text")
    };
    assert_logs_in(log_in(&label, &password).await);
    assert_eq!(rows_holding(&app, &password).await, 0, "the password is never logged");

    // Suspended: the role may not log in; unsuspended, it may again.
    let command = format!("/admin/services/{id}/command");
    app.post_form(&command, &[("command", "suspend"), ("reason", "Overdue")]).await;
    app.run_jobs().await;
    assert_may_not_log_in(log_in(&label, &password).await);
    app.post_form(&command, &[("command", "unsuspend")]).await;
    app.run_jobs().await;
    assert_logs_in(log_in(&label, &password).await);

    // The client sets a new password: the role's password changes on the server.
    let before =
        pg_count(&format!("SELECT COUNT(*) FROM pg_authid WHERE rolname = '{label}' AND rolpassword IS NOT NULL"))
            .await;
    assert_eq!(before, 1);
    let fresh = "river lantern 2077!";
    let page = format!("/account/services/{id}");
    grace.post_form(&format!("{page}/password"), &[("password", fresh), ("confirm", "something else")]).await;
    grace.get(&page).await.assert_contains("The two passwords differ.");
    grace
        .post_form(&format!("{page}/password"), &[("password", fresh), ("confirm", fresh)])
        .await
        .assert_redirect_to(&page);
    grace.get(&page).await.assert_contains("A new password is being set on the server.");
    app.run_jobs().await;
    assert_logs_in(log_in(&label, fresh).await);
    assert_eq!(rows_holding(&app, fresh).await, 0);
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM audit_log WHERE action = 'service.change_password' AND actor_kind = 'client' AND entity_id = {id}")).await,
        1
    );

    // Usage: the database's size against the product's figure.
    app.run_jobs().await;
    let shown = grace.get(&page).await;
    shown.assert_contains("of 100 MB");

    // Terminated: role and database are gone; terminating again changes nothing there.
    app.post_form(&command, &[("command", "terminate")]).await;
    app.run_jobs().await;
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {id} AND status = 'terminated'")).await,
        1
    );
    assert_eq!(pg_count(&format!("SELECT COUNT(*) FROM pg_roles WHERE rolname = '{label}'")).await, 0);
    assert_eq!(pg_count(&format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{label}'")).await, 0);
}

on_both_backends!(
    a_cpanel_account_is_created_by_a_job_on_the_emptiest_server_and_no_secret_is_kept_in_clear,
    a_panel_refusal_fails_the_job_with_its_words_and_staff_retry_it,
    the_postgres_module_makes_a_real_role_and_database_and_takes_them_away,
);
