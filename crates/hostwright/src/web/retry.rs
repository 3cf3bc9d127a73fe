//! Running a request again when the database moved under it (decision 0025).
//!
//! While a PostgreSQL primary is replaced, requests see broken connections, a standby that
//! refuses writes (SQLSTATE 25006) or a server shutting down (57P01). Each request runs its
//! writes in one transaction, so such a failure left nothing half-written; whether the last
//! transaction committed before the connection broke is unknown, though. So a request is run
//! again, with the same body, only when running it twice is harmless: reads (GET, HEAD), and
//! the forms and webhooks that carry an idempotency key, whose routes say so with
//! [`idempotent`]. Retries back off up to `failover_retry_seconds`; after that, or for any
//! other request, the client gets the 503 with Retry-After that the error produced.

use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::error::Interrupted;
use crate::state::AppState;

/// Marks a response from a route whose requests are idempotent by key.
#[derive(Debug, Clone, Copy)]
pub struct RetrySafe;

/// First pause before running a request again; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// A route layer for handlers whose request may be run twice with one effect: the form's
/// idempotency key, or the gateway's event id, finds what the first run did.
pub async fn idempotent(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.extensions_mut().insert(RetrySafe);
    response
}

/// Runs the request again while it was interrupted by the database, it is safe to, and the
/// budget lasts.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let budget = Duration::from_secs(state.settings.failover_retry_seconds);
    if budget.is_zero() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, state.settings.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let safe_method = matches!(parts.method, Method::GET | Method::HEAD);
    let deadline = Instant::now() + budget;
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1u32;
    loop {
        let response = next.clone().run(Request::from_parts(parts.clone(), Body::from(body.clone()))).await;
        let interrupted = response.extensions().get::<Interrupted>().is_some();
        if !interrupted {
            if attempt > 1 {
                tracing::info!(attempt, "request completed after the database came back");
            }
            return response;
        }
        let may_retry = safe_method || response.extensions().get::<RetrySafe>().is_some();
        if !may_retry || Instant::now() + pause > deadline {
            metrics::counter!("http_requests_interrupted_total").increment(1);
            return response;
        }
        metrics::counter!("http_request_retries_total").increment(1);
        tracing::info!(attempt, pause_ms = pause.as_millis() as u64, "running the request again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
        attempt += 1;
    }
}

/// `route` with its responses marked [`RetrySafe`].
pub fn keyed(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.layer(axum::middleware::from_fn(idempotent))
}
