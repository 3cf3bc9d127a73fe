//! One-shot messages shown on the page after a redirect ("Password changed."), carried in a
//! signed cookie so that no node has to remember them.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::state::AppState;

pub const COOKIE: &str = "hw_flash";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    pub kind: String,
    pub message: String,
}

/// A 303 redirect carrying a message for the next page.
pub fn redirect(state: &AppState, to: &str, kind: &str, message: impl Into<String>) -> Response {
    let flash = Flash { kind: kind.to_owned(), message: message.into() };
    let json = serde_json::to_vec(&flash).unwrap_or_default();
    let body = URL_SAFE_NO_PAD.encode(json);
    let signature = state.key.sign("flash", body.as_bytes());
    let cookie = Cookie::build((state.settings.cookie_name(COOKIE), format!("{body}.{signature}")))
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies())
        .same_site(SameSite::Lax)
        .build();
    (CookieJar::new().add(cookie), Redirect::to(to)).into_response()
}

/// The message waiting in the request's cookie, if it is genuine.
pub fn read(state: &AppState, headers: &HeaderMap) -> Vec<Flash> {
    let jar = CookieJar::from_headers(headers);
    let Some(cookie) = jar.get(&state.settings.cookie_name(COOKIE)) else {
        return Vec::new();
    };
    let Some((body, signature)) = cookie.value().split_once('.') else {
        return Vec::new();
    };
    if !state.key.verify("flash", body.as_bytes(), signature) {
        return Vec::new();
    }
    URL_SAFE_NO_PAD.decode(body).ok().and_then(|json| serde_json::from_slice::<Flash>(&json).ok()).into_iter().collect()
}

/// Clears the cookie once its message has been shown.
pub fn removal(state: &AppState) -> Cookie<'static> {
    let mut cookie = Cookie::build((state.settings.cookie_name(COOKIE), ""))
        .path("/")
        .secure(state.settings.secure_cookies())
        .build();
    cookie.make_removal();
    cookie
}
