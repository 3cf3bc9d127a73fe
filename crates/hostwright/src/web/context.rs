//! What every page needs from the request (request id, CSRF token, flash, client address)
//! and the one way pages are rendered.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use ipnet::IpNet;
use minijinja::{Value, context};
use tower_http::request_id::RequestId;

use super::csrf::CsrfSecret;
use super::error::{AppError, AppResult};
use super::flash::{self, Flash};
use crate::state::AppState;

/// The parts of a request that pages and audit records use.
#[derive(Debug, Clone)]
pub struct Page {
    pub request_id: String,
    pub csrf_token: String,
    /// What the token is made from, for a page that hands out a new session (see
    /// [`Page::with_session`]).
    csrf: Option<CsrfSecret>,
    pub flash: Vec<Flash>,
    pub ip: String,
    pub user_agent: String,
    /// Path and query, for "come back here after signing in".
    pub path: String,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request_id = request_id(parts);
        let csrf = parts.extensions.get::<CsrfSecret>().cloned();
        let csrf_token = csrf.as_ref().map(|s| s.token(state)).unwrap_or_default();
        let ip = client_ip(parts, &state.settings.trusted_proxies).map(|ip| ip.to_string()).unwrap_or_default();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(250)
            .collect();
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
        Ok(Page { request_id, csrf_token, csrf, flash: flash::read(state, &parts.headers), ip, user_agent, path })
    }
}

impl Page {
    /// The page as rendered in a response that also sets a new session cookie: its forms carry
    /// tokens bound to that session, which is what the browser will send with them.
    pub fn with_session(mut self, state: &AppState, kind: crate::ids::PrincipalKind, token: &str) -> Self {
        if let Some(csrf) = &self.csrf {
            let rebound = csrf.with_session(kind, token);
            self.csrf_token = rebound.token(state);
            self.csrf = Some(rebound);
        }
        self
    }
}

pub fn request_id(parts: &Parts) -> String {
    parts.extensions.get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or_default().to_owned()
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    let mut ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&ip) {
        return Some(ip);
    }
    let forwarded: Vec<String> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .collect();
    for hop in forwarded.iter().rev() {
        let Ok(hop_ip) = hop.parse::<IpAddr>() else {
            break;
        };
        ip = hop_ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(ip)
}

/// What `AppState::render_status` adds to every page's own context.
pub(crate) fn shared_context(
    site_name: &str,
    registration_open: bool,
    csrf_token: &str,
    request_id: &str,
    flash: &[Flash],
) -> Value {
    context! {
        site => context! { name => site_name, registration_open => registration_open },
        csrf_token => csrf_token,
        request_id => request_id,
        flash => flash,
    }
}

impl AppState {
    /// Renders a page with the shared context (site, CSRF token, flash, request id).
    pub async fn render(&self, page: &Page, template: &str, extra: Value) -> AppResult<Response> {
        self.render_status(StatusCode::OK, page, template, extra).await
    }

    /// Renders with a status, e.g. 422 for a form sent back with errors.
    pub async fn render_status(
        &self,
        status: StatusCode,
        page: &Page,
        template: &str,
        extra: Value,
    ) -> AppResult<Response> {
        let site = crate::site_settings::load(&self.db).await?;
        let base = shared_context(
            &self.settings.site_name,
            site.registration_open,
            &page.csrf_token,
            &page.request_id,
            &page.flash,
        );
        let html = self.templates.render(template, context! { ..extra, ..base })?;
        let mut response = (status, Html(html)).into_response();
        if !page.flash.is_empty() {
            let removal = flash::removal(self);
            if let Ok(value) = removal.to_string().parse() {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(peer: &str, forwarded: Option<&str>) -> Parts {
        let mut request = Request::get("/").body(()).unwrap();
        if let Some(forwarded) = forwarded {
            request.headers_mut().insert("x-forwarded-for", forwarded.parse().unwrap());
        }
        request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        request.into_parts().0
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |peer, fwd| client_ip(&parts(peer, fwd), &trusted).unwrap().to_string();
        assert_eq!(ip("198.51.100.7:1234", Some("203.0.113.9")), "198.51.100.7");
        assert_eq!(ip("10.0.0.2:1234", Some("203.0.113.9")), "203.0.113.9");
        // A client cannot hide behind an address it wrote itself: the right-most untrusted hop counts.
        assert_eq!(ip("10.0.0.2:1234", Some("1.2.3.4, 203.0.113.9, 10.0.0.3")), "203.0.113.9");
        assert_eq!(ip("10.0.0.2:1234", Some("garbage")), "10.0.0.2");
        assert_eq!(ip("10.0.0.2:1234", None), "10.0.0.2");
    }
}
