//! Layers every response passes through: security headers, metrics, error pages.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

use super::error::ErrorPage;
use crate::state::AppState;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   font-src 'self'; connect-src 'self'; form-action 'self' https://checkout.stripe.com https://www.paypal.com https://www.sandbox.paypal.com; frame-ancestors 'none'; \
                   base-uri 'none'; object-src 'none'";

pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if state.settings.secure_cookies() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// While the node drains, asks the client (the balancer) to close its connection after the
/// response, so no idle keep-alive connection is left to race the node's shutdown.
pub async fn close_when_draining(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if state.is_draining() {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Counts requests by route and status and records their latency.
pub async fn track_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Turns error responses into the error page, with the request id as a reference.
pub async fn error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"));
    let page = match response.extensions().get::<ErrorPage>() {
        Some(page) => page.clone(),
        None if is_html => return response,
        None => default_page(status),
    };
    let site = context! { name => state.settings.site_name.clone(), registration_open => false };
    let rendered = state.templates.render(
        "error.html",
        context! {
            status => page.status.as_u16(),
            title => page.title,
            message => page.message,
            request_id => request_id,
            site => site,
            csrf_token => "",
        },
    );
    let mut out = match rendered {
        Ok(html) => (page.status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "rendering the error page failed");
            (page.status, format!("{} (reference {request_id})", page.title)).into_response()
        }
    };
    for (name, value) in response.headers() {
        if name == header::SET_COOKIE || name == header::RETRY_AFTER {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

fn default_page(status: StatusCode) -> ErrorPage {
    let (title, message) = match status {
        StatusCode::NOT_FOUND => ("Page not found", "There is nothing at this address."),
        StatusCode::METHOD_NOT_ALLOWED => ("Not allowed here", "This address does not accept that kind of request."),
        StatusCode::PAYLOAD_TOO_LARGE => ("Too large", "What you sent is larger than this site accepts."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
            ("Something is not right", "The request could not be understood. Go back and try again.")
        }
        s if s.is_server_error() => {
            ("Something went wrong", "We could not complete this request. It has been logged; please try again.")
        }
        _ => ("Request refused", "This request could not be completed."),
    };
    ErrorPage { status, title, message: message.into() }
}
