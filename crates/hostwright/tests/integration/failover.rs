//! A PostgreSQL primary that moves under the application: the database refuses writes
//! (SQLSTATE 25006, as a demoted primary does) and every connection is cut (as when the
//! primary dies). Requests that are idempotent by key are run again until the database takes
//! writes again; any other request gets a clean 503 with Retry-After and changes nothing.

use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::support::stripe::{checkout_completed, shop_with, signed};
use crate::support::{Backend, TestApp, TestDb};

/// Makes the database refuse writes and cuts every connection to it, as a primary that
/// became a standby does.
async fn demote(db: &TestDb) {
    db.admin_execute("ALTER DATABASE \"{db}\" SET default_transaction_read_only = on").await;
    cut_connections(db).await;
}

/// Lets the database take writes again, on new connections.
async fn promote(db: &TestDb) {
    db.admin_execute("ALTER DATABASE \"{db}\" RESET default_transaction_read_only").await;
    cut_connections(db).await;
}

async fn cut_connections(db: &TestDb) {
    db.admin_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_connections_to_a_demoted_primary_are_replaced_at_once() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut node = app
        .reconfigured(|s| {
            s.database_max_connections = 1;
            s.failover_retry_seconds = 20;
        })
        .await;
    node.register_client("grace@example.com", "compass meadow 31").await;
    node.post_form("/logout", &[]).await;
    // The pool's one connection now refuses writes, as one left open to a demoted primary
    // does; a new connection reaches a server that takes them.
    node.state.db.execute_unprepared("SET SESSION default_transaction_read_only = on").await.unwrap();
    let started = Instant::now();
    let signed_in = node.post_client_login("grace@example.com", "compass meadow 31").await;
    signed_in.assert_redirect_to("/account");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stale connection was replaced, not retried until the failover budget ran out ({:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_meets_a_moving_primary_is_stored_once_when_writes_are_back() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut shop = shop_with(app, |s| s.failover_retry_seconds = 20).await;
    shop.start_card_payment().await;

    demote(&shop.client.db).await;
    let db = shop.client.db.clone();
    let back = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        promote(&db).await;
    });
    let started = Instant::now();
    let answer = signed(&shop.client, checkout_completed("evt_failover_1", 1190, "eur")).await;
    let waited = started.elapsed();
    back.await.unwrap();
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains("\"duplicate\":false"), "{}", answer.body);
    assert!(waited >= Duration::from_millis(1400), "the webhook was answered in {waited:?}, before writes were back");

    // Stripe sends it again later: still one event, one payment.
    assert_eq!(signed(&shop.client, checkout_completed("evt_failover_1", 1190, "eur")).await.status, StatusCode::OK);
    shop.client.run_jobs().await;
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM payment_events").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    assert_eq!(shop.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
    shop.client.get_metrics().await.assert_contains("http_request_retries_total");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_forms_get_a_503_that_changes_nothing_while_reads_go_on() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut client = app.reconfigured(|s| s.failover_retry_seconds = 2).await;
    client.register_client("ada@example.com", "compass meadow 31").await;
    let profile = client.get("/account/profile").await;
    assert_eq!(profile.status, StatusCode::OK);

    demote(&client.db).await;
    // A form without an idempotency key is not run twice: the client is told to try again.
    let started = Instant::now();
    let saved = client
        .post_form("/account/profile", &[("first_name", "Augusta"), ("last_name", "King"), ("company_name", "")])
        .await;
    assert_eq!(saved.status, StatusCode::SERVICE_UNAVAILABLE, "{}", saved.body);
    assert!(started.elapsed() < Duration::from_secs(2), "an unkeyed form is answered at once");
    assert_eq!(saved.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    saved.assert_contains("Back in a moment");
    assert!(!saved.body.contains("Something went wrong"), "{}", saved.body);

    // Reading the profile needs no write: it is served from the read-only database.
    assert_eq!(client.get("/account/profile").await.status, StatusCode::OK);

    promote(&client.db).await;
    assert_eq!(client.scalar("SELECT COUNT(*) FROM clients WHERE first_name = 'Augusta'").await, 0);
    assert_eq!(client.get("/account/profile").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stays_ready_through_a_failover_and_leaves_the_balancer_when_it_lasts() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut node = app.reconfigured(|s| s.failover_retry_seconds = 2).await;
    assert_eq!(node.get("/readyz").await.status, StatusCode::OK);

    node.db.admin_execute("ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS false").await;
    cut_connections(&node.db).await;
    // Every node lost the database at once: they keep taking requests (and hold them) for now.
    let first = node.get("/readyz").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    first.assert_contains("waiting for it");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = node.get("/readyz").await;
    assert_eq!(later.status, StatusCode::SERVICE_UNAVAILABLE, "{}", later.body);
    later.assert_contains("unreachable for");

    node.db.admin_execute("ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS true").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = node.get("/readyz").await;
        if answer.status == StatusCode::OK && answer.body.contains("\"database\":\"ok\"") {
            break;
        }
        assert!(Instant::now() < deadline, "the node never became ready again: {}", answer.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
