//! Protection against cross-site request forgery on every state-changing request.
//!
//! A random value lives in an HttpOnly, SameSite=Strict cookie; forms carry the HMAC, under
//! the installation key, of that value bound to the request's session (the staff and client
//! session cookies, and the anonymous cart), as `csrf_token`, or a script sends it as
//! `X-CSRF-Token`. A forged request from another site cannot read the cookie, so it cannot
//! produce the token, and the token cannot be computed without the key. Someone who can set
//! cookies for the domain (a sibling subdomain) and plants a pair of their own still cannot
//! make a token for the victim's session (decision 0026); on https the cookie is `__Host-`
//! prefixed, so such a sibling cannot set it at all. Any node can check it: nothing is
//! stored. The cookie is replaced at sign-in and sign-out.

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

/// The request's CSRF cookie value and the cookies it is bound to, for computing the form
/// token.
#[derive(Debug, Clone)]
pub struct CsrfSecret {
    secret: String,
    staff: String,
    client: String,
    cart: String,
}

impl CsrfSecret {
    /// The secret of `jar`'s CSRF cookie (`secret`) bound to `jar`'s sessions and cart.
    pub fn new(state: &AppState, secret: String, jar: &CookieJar) -> Self {
        let cookie = |base: &str| jar.get(&state.settings.cookie_name(base)).map(|c| c.value().to_owned());
        CsrfSecret {
            secret,
            staff: cookie(super::cookies::STAFF_SESSION).unwrap_or_default(),
            client: cookie(super::cookies::CLIENT_SESSION).unwrap_or_default(),
            cart: cookie(super::cookies::CART).unwrap_or_default(),
        }
    }

    /// The same secret bound to the session `token` of `kind`'s area, for a page rendered in
    /// the response that hands the browser that session.
    pub fn with_session(&self, kind: crate::ids::PrincipalKind, token: &str) -> Self {
        let mut rebound = self.clone();
        match kind.area() {
            crate::ids::PrincipalKind::Staff => rebound.staff = token.to_owned(),
            _ => rebound.client = token.to_owned(),
        }
        rebound
    }

    fn message(&self) -> String {
        let binding =
            crate::crypto::token_hash(&format!("staff={};client={};cart={}", self.staff, self.client, self.cart));
        format!("{}.{binding}", self.secret)
    }

    pub fn token(&self, state: &AppState) -> String {
        state.key.sign("csrf", self.message().as_bytes())
    }

    fn verify(&self, state: &AppState, token: &str) -> bool {
        state.key.verify("csrf", self.message().as_bytes(), token)
    }
}

/// The form token a page rendered for a request with these cookies carries (scripts, tools
/// and the test suite post forms as a browser would).
pub fn form_token(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    let secret = jar.get(&state.settings.cookie_name(COOKIE))?.value().to_owned();
    Some(CsrfSecret::new(state, secret, &jar).token(state))
}

/// Paths that receive machine-to-machine POSTs authenticated otherwise (signatures, keys).
fn is_exempt(path: &str) -> bool {
    path.starts_with("/webhooks/") || path.starts_with("/api/")
}

pub fn new_cookie(state: &AppState) -> Cookie<'static> {
    Cookie::build((state.settings.cookie_name(COOKIE), random_token()))
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies())
        .same_site(SameSite::Strict)
        .build()
}

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let name = state.settings.cookie_name(COOKIE);
    let existing = jar.get(&name).map(|c| c.value().to_owned()).filter(|v| v.len() >= 32 && v.len() <= 64);
    let (secret, new_cookie) = match existing {
        Some(value) => (value, None),
        None => {
            let cookie = new_cookie(&state);
            (cookie.value().to_owned(), Some(cookie))
        }
    };
    let secret = CsrfSecret::new(&state, secret, &jar);
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
    request.extensions_mut().insert(secret);
    let mut response = next.run(request).await;
    if let Some(cookie) = new_cookie {
        let already_set = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&format!("{name}="))));
        if !already_set && let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Finds the token in the header or the urlencoded form body (which is buffered and put
/// back for the handler).
async fn check(state: &AppState, secret: &CsrfSecret, request: Request) -> Result<(bool, Request), Response> {
    let verify = |token: &str| secret.verify(state, token);
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
