//! The operator's view: health, readiness and metrics endpoints for load balancers and
//! monitoring, the cluster, and the admin pages of the job queue, the email outbox and the
//! audit log.

pub mod audit_log;
pub mod cluster;
pub mod outbox;
pub mod queue;

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::state::AppState;

/// The operator's admin pages in their sample states, for the template test.
#[cfg(test)]
pub fn samples() -> Vec<crate::web::view::Sample> {
    use crate::web::view::Sample;
    let mut out = Vec::new();
    out.extend(queue::QueuePage::samples().iter().map(Sample::page));
    out.extend(outbox::OutboxPage::samples().iter().map(Sample::page));
    out.extend(audit_log::AuditPage::samples().iter().map(Sample::page));
    out
}

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(guarded_metrics))
}

/// The router of the separate metrics address (`metrics_listen`): `/metrics` only, no token.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics_text)).with_state(state)
}

/// The process is alive.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// How long readiness waits for the database to answer `SELECT 1`: less than a balancer's
/// check timeout, so a hung database reads as unreachable rather than as a node that hangs.
const DATABASE_CHECK: Duration = Duration::from_millis(800);

/// Ready for traffic: database reachable and migrated, file store reachable, not draining.
///
/// A database that stopped answering only makes the node unready after
/// `failover_retry_seconds`: while a primary is replaced every node loses it at once, and a
/// balancer with no ready node refuses everything, where the nodes would have held reads and
/// keyed forms until the new primary answered (decision 0025).
async fn readyz(State(state): State<AppState>) -> Response {
    let ping = Statement::from_string(state.db.get_database_backend(), "SELECT 1");
    let reached = match tokio::time::timeout(DATABASE_CHECK, state.db.query_one_raw(ping)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("{err}")),
        Err(_) => Err(format!("no answer within {} ms", DATABASE_CHECK.as_millis())),
    };
    let unreachable_for = state.database_reached(reached.is_ok());
    let grace = Duration::from_secs(state.settings.failover_retry_seconds);
    // The answer names the part and its state; what went wrong goes to the log only, so an
    // anonymous caller learns no host names, users or paths.
    let database = match reached {
        Ok(()) => match crate::db::pending_migrations(&state.db).await {
            Ok(0) => Ok("ok".to_owned()),
            Ok(_) => Err("migrations pending".to_owned()),
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "readiness: listing migrations failed");
                Err("unreadable".to_owned())
            }
        },
        Err(err) => {
            tracing::warn!(error = %err, unreachable_ms = unreachable_for.as_millis(), "readiness: database unreachable");
            if unreachable_for < grace {
                Ok(format!("unreachable for {:.1} s, waiting for it", unreachable_for.as_secs_f64()))
            } else {
                Err(format!("unreachable for {:.1} s", unreachable_for.as_secs_f64()))
            }
        }
    };
    let files = state.files.check().await.map_err(|e| {
        tracing::warn!(error = format!("{e:#}"), "readiness: file store unreachable");
        "unreachable".to_owned()
    });
    let draining = state.is_draining();
    let ready = database.is_ok() && files.is_ok() && !draining;
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": database.unwrap_or_else(|e| e),
        "files": files.err().unwrap_or_else(|| "ok".into()),
        "draining": draining,
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// `/metrics` on the public address: only with the configured bearer token.
async fn guarded_metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    use secrecy::ExposeSecret;
    let Some(expected) = state.settings.metrics_token.as_ref().filter(|t| !t.expose_secret().is_empty()) else {
        return (StatusCode::NOT_FOUND, "metrics are served on the metrics address only").into_response();
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared as MACs under the installation key: constant time, whatever the lengths.
    let expected_mac = state.key.sign("metrics-token", expected.expose_secret().as_bytes());
    if !state.key.verify("metrics-token", given.as_bytes(), &expected_mac) {
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            "a metrics token is required",
        )
            .into_response();
    }
    metrics_text(State(state)).await
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    record_pool_gauges(&state);
    if let Err(err) = crate::jobs::record_depth_gauges(&state, &crate::workflows::job_registry()).await {
        tracing::warn!(error = %err, "reading the job queue's depth failed");
    }
    match &state.metrics {
        Some(handle) => {
            ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
        }
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}

fn record_pool_gauges(state: &AppState) {
    let (size, idle) = match state.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            let pool = state.db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = state.db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    };
    metrics::gauge!("db_pool_connections").set(f64::from(size));
    metrics::gauge!("db_pool_idle_connections").set(idle as f64);
}
