//! Protection against cross-site request forgery on every state-changing request.
//!
//! A random value lives in an HttpOnly, SameSite=Strict cookie; forms carry its HMAC under
//! the installation key (`csrf_token`), or a script sends it as `X-CSRF-Token`. A forged
//! request from another site cannot read the cookie, so it cannot produce the token, and
//! the token cannot be computed without the key. Any node can check it: nothing is stored.
//! The cookie is replaced at sign-in and sign-out.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::error::AppError;
use crate::crypto::random_token;
use crate::state::AppState;

pub const COOKIE: &str = "hw_csrf";
const FIELD: &str = "csrf_token";
const HEADER: &str = "x-csrf-token";

/// The request's CSRF cookie value, for computing the form token.
#[derive(Debug, Clone)]
pub struct CsrfSecret(pub String);

impl CsrfSecret {
    pub fn token(&self, state: &AppState) -> String {
        state.key.sign("csrf", self.0.as_bytes())
    }
}

/// Paths that receive machine-to-machine POSTs authenticated otherwise (signatures, keys).
fn is_exempt(path: &str) -> bool {
    path.starts_with("/webhooks/") || path.starts_with("/api/")
}

pub fn new_cookie(state: &AppState) -> Cookie<'static> {
    Cookie::build((COOKIE, random_token()))
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies())
        .same_site(SameSite::Strict)
        .build()
}

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let existing = jar.get(COOKIE).map(|c| c.value().to_owned()).filter(|v| v.len() >= 32 && v.len() <= 64);
    let (secret, new_cookie) = match existing {
        Some(value) => (value, None),
        None => {
            let cookie = new_cookie(&state);
            (cookie.value().to_owned(), Some(cookie))
        }
    };
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut request = request;
    if unsafe_method && !is_exempt(request.uri().path()) {
        let (checked, rebuilt) = match check(&state, &secret, request).await {
            Ok(pair) => pair,
            Err(response) => return response,
        };
        if !checked {
            tracing::info!("rejected a request without a valid CSRF token");
            return AppError::CsrfRejected.into_response();
        }
        request = rebuilt;
    }
    request.extensions_mut().insert(CsrfSecret(secret));
    let mut response = next.run(request).await;
    if let Some(cookie) = new_cookie {
        let already_set = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&format!("{COOKIE}="))));
        if !already_set && let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Finds the token in the header or the urlencoded form body (which is buffered and put
/// back for the handler).
async fn check(state: &AppState, secret: &str, request: Request) -> Result<(bool, Request), Response> {
    let verify = |token: &str| state.key.verify("csrf", secret.as_bytes(), token);
    if let Some(token) = request.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        let ok = verify(token);
        return Ok((ok, request));
    }
    if let Some(token) = request
        .uri()
        .query()
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == FIELD).map(|(_, v)| v.into_owned()))
    {
        let ok = verify(&token);
        return Ok((ok, request));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((false, request));
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, state.settings.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response()),
    };
    let ok = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == FIELD).is_some_and(|(_, v)| verify(&v));
    Ok((ok, Request::from_parts(parts, Body::from(bytes))))
}
