//! Health, readiness and metrics endpoints for load balancers and monitoring.

pub mod cluster;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics_text))
}

/// The process is alive.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready for traffic: database reachable and migrated, file store reachable, not draining.
async fn readyz(State(state): State<AppState>) -> Response {
    let database =
        match state.db.query_one_raw(Statement::from_string(state.db.get_database_backend(), "SELECT 1")).await {
            Ok(_) => match crate::db::pending_migrations(&state.db).await {
                Ok(0) => Ok(()),
                Ok(n) => Err(format!("{n} migration(s) pending")),
                Err(err) => Err(format!("{err:#}")),
            },
            Err(err) => Err(format!("{err}")),
        };
    let files = state.files.check().await.map_err(|e| format!("{e:#}"));
    let draining = state.is_draining();
    let ready = database.is_ok() && files.is_ok() && !draining;
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": database.err().unwrap_or_else(|| "ok".into()),
        "files": files.err().unwrap_or_else(|| "ok".into()),
        "draining": draining,
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    record_pool_gauges(&state);
    if let Err(err) = crate::jobs::record_depth_gauges(&state).await {
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
