//! Typed page views. A page's context is a `#[derive(Serialize)]` struct that names its
//! template ([`PageView`]); the handler fills it and renders it with
//! [`AppState::render_view`], which adds what every page shares (site, CSRF token, request
//! id, flash). The struct is the one contract between handler and template: its fields are
//! the template's variables.
//!
//! Beside each view, a `#[cfg(test)]` constructor builds its samples; each module lists its
//! pages and emails in `samples()`, and the template test (`dev::template_check`) renders
//! every template from them.

use axum::http::StatusCode;
use axum::response::Response;
use minijinja::Value;
use serde::Serialize;

use super::context::Page;
use super::error::AppResult;
use crate::state::AppState;

/// The context of one page and the template it fills.
pub trait PageView: Serialize {
    const TEMPLATE: &'static str;
}

/// Where a paged list is (`macros/pager.html`): `query` is the filters' query string the
/// page links keep.
#[derive(Debug, Clone, Serialize)]
pub struct Pagination {
    pub page: u64,
    pub pages: u64,
    pub total: u64,
    pub query: String,
}

impl AppState {
    /// Renders a page from its view, with the shared context.
    pub async fn render_view<V: PageView>(&self, page: &Page, view: &V) -> AppResult<Response> {
        self.render_view_status(StatusCode::OK, page, view).await
    }

    /// [`AppState::render_view`] with a status, e.g. 422 for a form sent back with errors.
    pub async fn render_view_status<V: PageView>(
        &self,
        status: StatusCode,
        page: &Page,
        view: &V,
    ) -> AppResult<Response> {
        self.render_status(status, page, V::TEMPLATE, Value::from_serialize(view)).await
    }
}

#[cfg(test)]
pub use samples::*;

/// What samples are made of: a template with the context it is rendered with, and the
/// values samples share.
#[cfg(test)]
mod samples {
    use minijinja::{Value, context};

    use super::PageView;
    use crate::web::FormErrors;
    use crate::web::context::shared_context;
    use crate::web::flash::Flash;

    /// User input that must come out escaped on every HTML page.
    pub const SCRIPT: &str = "<script>alert(1)</script>";
    /// What the escaped sample looks like in HTML output.
    pub const SCRIPT_ESCAPED: &str = "&lt;script&gt;";
    /// A timestamp as views carry them (RFC 3339).
    pub const TIME: &str = "2026-11-21T14:03:00+00:00";

    /// A template and the whole context it is rendered with.
    #[derive(Debug, Clone)]
    pub struct Sample {
        pub template: String,
        pub context: Value,
    }

    impl Sample {
        /// A template with a context as given (emails, the error page).
        pub fn new(template: impl Into<String>, context: Value) -> Self {
            Sample { template: template.into(), context }
        }

        /// A page as `AppState::render_view` renders it, with sign-ups open.
        pub fn page<V: PageView>(view: &V) -> Self {
            Self::page_with_registration(view, true)
        }

        /// A page as rendered when sign-ups are open or closed (`site.registration_open`).
        pub fn page_with_registration<V: PageView>(view: &V, registration_open: bool) -> Self {
            Self::new(V::TEMPLATE, page_context(registration_open, Value::from_serialize(view)))
        }
    }

    /// A page's own context with the shared one, as `AppState::render_status` merges them
    /// (the page's own values win), and a flash message holding user input.
    pub fn page_context(registration_open: bool, own: Value) -> Value {
        let flash = vec![
            Flash { kind: "success".into(), message: SCRIPT.into() },
            Flash { kind: "error".into(), message: "That did not work.".into() },
        ];
        let shared =
            shared_context("Acme Hosting", registration_open, "csrf-token-sample", "request-id-sample", &flash);
        context! { ..own, ..shared }
    }

    /// A form sent back with a message for the whole form and one for `field`.
    pub fn form_errors(field: &str) -> FormErrors {
        let mut errors = FormErrors::form(SCRIPT);
        errors.add(field, SCRIPT);
        errors
    }
}
