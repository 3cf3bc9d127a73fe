//! The one error type of the web edge. Domain errors convert into it; it decides the
//! status and what a person sees. Internals never reach the page: 5xx show a reference.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sea_orm::DbErr;

/// Attached to an error response; the error-page layer renders it with the request id.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

/// Marks a response that failed because the database was unreachable or moved: the
/// request may be run again (see `web::retry`).
#[derive(Debug, Clone, Copy)]
pub struct Interrupted;

/// What an interrupted request's 503 asks the client to wait, in seconds.
pub const RETRY_AFTER_SECONDS: u16 = 5;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("sign-in required")]
    SignInRequired { login_path: &'static str, next: String },
    #[error("redirect to {0}")]
    Redirect(String),
    #[error("too many attempts")]
    TooManyAttempts { minutes: i64 },
    #[error("the form expired")]
    CsrfRejected,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        AppError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl AppError {
    fn page(status: StatusCode, title: &'static str, message: impl Into<String>) -> Response {
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage { status, title, message: message.into() });
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => {
                Self::page(StatusCode::NOT_FOUND, "Page not found", "There is nothing at this address.")
            }
            AppError::Forbidden => Self::page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your account does not have permission to do this. Ask an administrator if you need it.",
            ),
            AppError::BadRequest(message) => Self::page(StatusCode::BAD_REQUEST, "Something is not right", message),
            AppError::SignInRequired { login_path, next } => {
                let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                Redirect::to(&format!("{login_path}?next={next}")).into_response()
            }
            AppError::Redirect(to) => Redirect::to(&to).into_response(),
            AppError::TooManyAttempts { minutes } => Self::page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                format!("Too many attempts. Try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" }),
            ),
            AppError::CsrfRejected => Self::page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The page you sent this from was too old or came from another site. Go back, reload the page and try again.",
            ),
            AppError::Internal(err) if crate::db::interrupted(err.as_ref()) => {
                tracing::warn!(error = format!("{err:#}"), "request interrupted: the database is unreachable or moved");
                let mut response = Self::page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Back in a moment",
                    "We could not reach our database to complete this request. Please try again in a few seconds.",
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
                response.extensions_mut().insert(Interrupted);
                response
            }
            AppError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed");
                Self::page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "We could not complete this request. It has been logged; please try again in a moment.",
                )
            }
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
