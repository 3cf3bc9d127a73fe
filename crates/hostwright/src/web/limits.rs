//! How large a request body may be, by who can send it. Anyone can post the public forms
//! (sign-in, registration, reset, cart, checkout), so they get a few KiB: far more than the
//! forms need, far less than work for an attacker. Gateways' webhooks get their own limit,
//! answered in JSON. Signed-in areas keep the configured limit (uploads).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The largest body of a form anyone may post.
pub const PUBLIC_FORM_BYTES: usize = 16 * 1024;
/// The largest webhook accepted: Stripe's and PayPal's events are a few KiB.
pub const WEBHOOK_BYTES: usize = 256 * 1024;

/// Sign-in and account-recovery pages of the admin area, which anyone may post to.
const PUBLIC_ADMIN: [&str; 5] =
    ["/admin/login", "/admin/password/", "/admin/setup/", "/admin/invite/", "/admin/logout"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    Gateway,
    Anyone,
    SignedIn,
}

fn sender(path: &str) -> Sender {
    if path.starts_with("/webhooks/") {
        Sender::Gateway
    } else if (path.starts_with("/admin/") && !PUBLIC_ADMIN.iter().any(|p| path.starts_with(p)))
        || path.starts_with("/account/")
    {
        Sender::SignedIn
    } else {
        Sender::Anyone
    }
}

/// The limit for a request to `path`.
pub fn limit_for(path: &str, configured: usize) -> usize {
    match sender(path) {
        Sender::Gateway => WEBHOOK_BYTES.min(configured),
        Sender::Anyone => PUBLIC_FORM_BYTES.min(configured),
        Sender::SignedIn => configured,
    }
}

fn too_large(gateway: bool, limit: usize) -> Response {
    if gateway {
        let body = serde_json::json!({
            "error": { "code": "payload_too_large", "message": format!("The body is larger than {limit} bytes.") }
        });
        return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response();
    }
    StatusCode::PAYLOAD_TOO_LARGE.into_response()
}

/// Refuses a body over its limit: at once when it says its length, and while it is read
/// otherwise (the body is wrapped so no reader can take more).
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let gateway = sender(path) == Sender::Gateway;
    let limit = limit_for(path, state.settings.max_body_bytes);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return too_large(gateway, limit);
    }
    let (parts, body) = request.into_parts();
    if gateway {
        // Webhooks are small: read whole here, so an oversized one is answered in JSON.
        return match axum::body::to_bytes(body, limit).await {
            Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
            Err(_) => too_large(true, limit),
        };
    }
    let limited = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, limited)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_forms_get_a_small_limit_and_signed_in_areas_the_configured_one() {
        let configured = 10 * 1024 * 1024;
        for path in ["/login", "/register", "/cart/items", "/checkout", "/admin/login", "/admin/login/2fa"] {
            assert_eq!(limit_for(path, configured), PUBLIC_FORM_BYTES, "{path}");
        }
        assert_eq!(limit_for("/admin/password/reset/x", configured), PUBLIC_FORM_BYTES);
        assert_eq!(limit_for("/webhooks/stripe", configured), WEBHOOK_BYTES);
        for path in ["/admin/invoices", "/account/services/1", "/admin/catalog/products/1"] {
            assert_eq!(limit_for(path, configured), configured, "{path}");
        }
    }
}
