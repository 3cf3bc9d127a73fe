//! Health, readiness, metrics, security headers, CSRF, error pages, files and the outbox.

use crate::on_both_backends;
use crate::support::{TestApp, s3::TestS3};

async fn health_and_readiness_answer(mut app: TestApp) {
    assert_eq!(app.get("/healthz").await.status, 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    ready.assert_contains("\"database\":\"ok\"");
    app.state.start_draining();
    assert_eq!(app.get("/readyz").await.status, 503);
}

async fn metrics_count_requests_by_route(mut app: TestApp) {
    app.get("/login").await;
    let metrics = app.get_metrics().await;
    metrics.assert_contains("http_requests_total");
    metrics.assert_contains("route=\"/login\"");
    metrics.assert_contains("db_pool_connections");
}

async fn pages_carry_security_headers(mut app: TestApp) {
    let page = app.get("/login").await;
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(page.headers.get("referrer-policy").unwrap(), "same-origin");
    assert!(!page.body.contains("<script>"), "no inline scripts");
}

async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing(mut app: TestApp) {
    app.get("/register").await;
    let fields = [
        ("first_name", "Eve"),
        ("last_name", "X"),
        ("email", "eve@example.com"),
        ("password", "compass meadow 31"),
        ("password_confirm", "compass meadow 31"),
    ];
    let response = app.post_form_raw("/register", &fields).await;
    assert_eq!(response.status, 403);
    response.assert_contains("This form has expired");
    let mut forged = fields.to_vec();
    forged.push(("csrf_token", "forged"));
    assert_eq!(app.post_form_raw("/register", &forged).await.status, 403);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients").await, 0);
}

async fn unknown_pages_show_a_404_with_a_reference(mut app: TestApp) {
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status, 404);
    page.assert_contains("Page not found");
    let id = page.headers.get("x-request-id").unwrap().to_str().unwrap().to_owned();
    page.assert_contains(&id);
}

async fn oversized_bodies_are_refused(mut app: TestApp) {
    app.get("/login").await;
    let token = app.csrf_token();
    let big = "x".repeat(app.state.settings.max_body_bytes + 10);
    let response = app.post_form_raw("/login", &[("csrf_token", &token), ("email", &big)]).await;
    assert_eq!(response.status, 413);
}

async fn files_round_trip_through_the_local_store(app: TestApp) {
    let files = &app.state.files;
    files.put("tickets/1/note.txt", b"hello".to_vec()).await.unwrap();
    assert_eq!(files.get("tickets/1/note.txt").await.unwrap().as_deref(), Some(&b"hello"[..]));
    files.delete("tickets/1/note.txt").await.unwrap();
    assert_eq!(files.get("tickets/1/note.txt").await.unwrap(), None);
    assert!(files.put("../escape.txt", b"x".to_vec()).await.is_err());
    files.check().await.unwrap();
}

async fn files_round_trip_through_a_real_s3_server(app: TestApp) {
    let s3 = TestS3::start("hostwright").await;
    let mut settings = app.state.settings.clone();
    settings.files.backend = hostwright::config::FileBackend::S3;
    settings.files.s3.bucket = "hostwright".into();
    settings.files.s3.endpoint = Some(s3.endpoint.clone());
    settings.files.s3.access_key_id = crate::support::s3::ACCESS_KEY.into();
    settings.files.s3.secret_access_key = crate::support::s3::SECRET_KEY.into();
    settings.files.s3.prefix = "node-files".into();
    let files = hostwright::files::FileStore::from_settings(&settings).unwrap();
    files.check().await.unwrap();
    files.put("invoices/2026/INV-1.pdf", b"%PDF-1.7".to_vec()).await.unwrap();
    assert_eq!(files.get("invoices/2026/INV-1.pdf").await.unwrap().as_deref(), Some(&b"%PDF-1.7"[..]));
    files.delete("invoices/2026/INV-1.pdf").await.unwrap();
    assert_eq!(files.get("invoices/2026/INV-1.pdf").await.unwrap(), None);
}

async fn email_waits_in_the_outbox_while_smtp_is_down_and_goes_out_later(mut app: TestApp) {
    let mut settings = app.state.settings.clone();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    settings.smtp.port = closed_port;
    let mut down = crate::support::TestApp::with_settings(
        settings,
        app.db.clone(),
        app.smtp.clone(),
        std::sync::Arc::new(tempfile::tempdir().unwrap()),
    )
    .await;
    down.register_client("grace@example.com", "compass meadow 31").await;
    assert_eq!(down.deliver_email().await, 0);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM email_outbox WHERE status = 'pending' AND attempts = 1 AND last_error IS NOT NULL"
        )
        .await,
        1
    );
    // Due again now (as if the backoff had passed): a node with working SMTP sends it once.
    app.execute("UPDATE email_outbox SET next_attempt_at = '2000-01-01T00:00:00+00:00'").await;
    assert_eq!(app.deliver_email().await, 1);
    assert_eq!(app.deliver_email().await, 0);
    assert_eq!(app.smtp.to("grace@example.com").len(), 1);
    app.signed_in_admin().await;
    app.get("/admin/outbox").await.assert_contains("grace@example.com");
}

async fn cluster_status_lists_nodes_the_scheduler_lease_and_the_database(app: TestApp) {
    use hostwright::automation::lease;
    use hostwright::ops::cluster::{self, Beat};
    let db = &app.state.db;
    cluster::beat(db, &Beat { id: "node-a:1:abc", role: "serve", draining: false }).await.unwrap();
    cluster::beat(db, &Beat { id: "node-b:2:def", role: "worker", draining: false }).await.unwrap();
    cluster::beat(db, &Beat { id: "node-a:1:abc", role: "serve", draining: true }).await.unwrap();
    cluster::stopped(db, "node-b:2:def").await.unwrap();
    lease::acquire(db, lease::SCHEDULER, "node-a:1:abc", std::time::Duration::from_secs(30)).await.unwrap().unwrap();

    let status = cluster::status(db).await.unwrap();
    assert_eq!(status.nodes.len(), 2);
    assert!(status.nodes.iter().any(|n| n.id == "node-a:1:abc" && n.alive() && n.draining));
    assert!(status.nodes.iter().any(|n| n.id == "node-b:2:def" && !n.alive()));
    let text = status.to_string();
    assert!(text.contains("Nodes: 1 alive of 2 seen"), "{text}");
    assert!(text.contains("draining  [scheduler]"), "{text}");
    assert!(text.contains("Scheduler lease: held by node-a:1:abc (token 1)"), "{text}");
    let expected = match app.state.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "(primary)",
        _ => "(embedded)",
    };
    assert!(text.contains(expected), "{text}");
}

async fn draining_nodes_ask_the_balancer_to_close_connections(mut app: TestApp) {
    assert!(app.get("/login").await.headers.get("connection").is_none());
    app.state.start_draining();
    let page = app.get("/login").await;
    assert_eq!(page.status, 200, "a draining node still serves what reaches it");
    assert_eq!(page.headers.get("connection").unwrap(), "close");
}

on_both_backends!(
    cluster_status_lists_nodes_the_scheduler_lease_and_the_database,
    draining_nodes_ask_the_balancer_to_close_connections,
    health_and_readiness_answer,
    metrics_count_requests_by_route,
    pages_carry_security_headers,
    a_form_without_its_csrf_token_is_refused_and_changes_nothing,
    unknown_pages_show_a_404_with_a_reference,
    oversized_bodies_are_refused,
    files_round_trip_through_the_local_store,
    files_round_trip_through_a_real_s3_server,
    email_waits_in_the_outbox_while_smtp_is_down_and_goes_out_later,
);

mod theme {
    use std::sync::Arc;

    use crate::support::{TestApp, TestDb, settings_for, smtp::TestSmtp};

    #[tokio::test]
    async fn a_theme_folder_overrides_templates_and_assets_without_recompiling() {
        let theme = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(theme.path().join("templates/client")).unwrap();
        std::fs::create_dir_all(theme.path().join("assets")).unwrap();
        std::fs::write(
            theme.path().join("templates/client/home.html"),
            "{% extends \"layout/client.html\" %}{% block content %}<p>Acme Hosting portal</p>{% endblock %}",
        )
        .unwrap();
        std::fs::write(theme.path().join("assets/app.css"), "body { color: rebeccapurple; }").unwrap();
        let db = Arc::new(TestDb::create(crate::support::Backend::Sqlite).await);
        let smtp = Arc::new(TestSmtp::start());
        let data = Arc::new(tempfile::tempdir().unwrap());
        let mut settings = settings_for(&db.url, data.path(), smtp.port);
        settings.theme_dir = Some(theme.path().to_path_buf());
        let mut app = TestApp::with_settings(settings, db, smtp, data).await;
        let home = app.get("/").await;
        home.assert_contains("Acme Hosting portal");
        let css_url =
            home.body.split("href=\"").find(|s| s.contains("app.css")).unwrap().split('"').next().unwrap().to_owned();
        let css = app.get(&css_url).await;
        assert_eq!(css.body, "body { color: rebeccapurple; }");
        assert!(css.headers.get("cache-control").unwrap().to_str().unwrap().contains("immutable"));
        // Pages the theme does not override still come from the built-in templates.
        app.get("/login").await.assert_contains("name=\"password\"");
    }
}
