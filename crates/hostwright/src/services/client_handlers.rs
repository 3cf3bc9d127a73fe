//! The client area's services: the list, a service's page, and asking for (or withdrawing) its
//! cancellation. A sub-user needs the `services` permission; another client's service is a 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::{Value, context};
use serde::Deserialize;

use super::cancellations::{self, Kind};
use super::model::service;
use super::service::ServiceError;
use super::status::Status;
use super::{store, views};
use crate::clients::current::{ClientAllowed, client_perm};
use crate::ids::ServiceId;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/services", get(client_services))
        .route("/account/services/{id}", get(client_service))
        .route("/account/services/{id}/cancel", post(request_cancellation))
        .route("/account/services/{id}/cancel/withdraw", post(withdraw_cancellation))
}

type Current = ClientAllowed<client_perm::Services>;

/// The signed-in client's service `id`; anyone else's is not found.
async fn own_service(state: &AppState, current: &Current, id: ServiceId) -> AppResult<service::Model> {
    store::find(&state.db, id).await?.filter(|s| s.client_id == current.client.id).ok_or(AppError::NotFound)
}

pub async fn client_services(State(state): State<AppState>, page: Page, current: Current) -> AppResult<Response> {
    let ctx = context! {
        current_client => current.template_value(),
        nav => "services",
        services => views::client_service_rows(&state, current.client.id).await?,
    };
    state.render(&page, "client/services/list.html", ctx).await
}

async fn render_service(
    state: &AppState,
    page: &Page,
    current: &Current,
    s: &service::Model,
    form: Value,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let currencies = views::currency_table(state).await?;
    let currency = views::currency_in(&currencies, &s.currency_code)?;
    let product = views::product_name(state, s.product_id).await?;
    let (requests, open_request) = views::request_rows(state, s).await?;
    let live = Status::parse(&s.status).is_some_and(Status::is_live);
    let kinds: Vec<(&str, String)> = Kind::ALL
        .iter()
        .filter(|k| **k == Kind::Immediate || s.next_due_date.is_some())
        .map(|k| (k.key(), cancellations::describe(k.key(), s.next_due_date)))
        .collect();
    let ctx = context! {
        current_client => current.template_value(),
        nav => "services",
        service => views::service_row(s, &product, "", currency),
        options => views::option_rows(state, s.id).await?,
        addons => views::addon_rows(state, s.id, currency).await?,
        requests => requests,
        can_request => live && open_request.is_none(),
        open_request => open_request,
        kinds => kinds,
        module => super::module_handlers::client_context(state, s).await?,
        form => form,
        errors => errors,
    };
    state.render_status(status, page, "client/services/show.html", ctx).await
}

pub async fn client_service(
    State(state): State<AppState>,
    page: Page,
    current: Current,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    let s = own_service(&state, &current, id).await?;
    let form = context! { kind => Kind::Immediate.key(), reason => "" };
    render_service(&state, &page, &current, &s, form, FormErrors::new(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
pub struct CancelForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    reason: String,
}

pub async fn request_cancellation(
    State(state): State<AppState>,
    page: Page,
    current: Current,
    Path(id): Path<ServiceId>,
    Form(form): Form<CancelForm>,
) -> AppResult<Response> {
    let s = own_service(&state, &current, id).await?;
    let to = format!("/account/services/{id}");
    match cancellations::request(&state, &current.actor(&page.ip), &s, &form.kind, &form.reason).await {
        Ok(_) => Ok(flash::redirect(
            &state,
            &to,
            "success",
            "Your cancellation request was sent. You can withdraw it until we act on it.",
        )),
        Err(ServiceError::Invalid(errors)) => {
            let typed = context! { kind => form.kind.trim(), reason => form.reason.clone() };
            render_service(&state, &page, &current, &s, typed, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ServiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(ServiceError::Module(_)) => Ok(flash::redirect(&state, &to, "error", UNAVAILABLE)),
        Err(ServiceError::NotFound) => Err(AppError::NotFound),
        Err(ServiceError::Internal(err)) => Err(AppError::Internal(err)),
    }
}

/// What a client reads when the server side failed (staff see the panel's words).
const UNAVAILABLE: &str = "That cannot be done right now; please try again later or contact us.";

pub async fn withdraw_cancellation(
    State(state): State<AppState>,
    page: Page,
    current: Current,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    own_service(&state, &current, id).await?;
    let to = format!("/account/services/{id}");
    match cancellations::withdraw(&state, &current.actor(&page.ip), id).await {
        Ok(()) => Ok(flash::redirect(&state, &to, "success", "Your cancellation request was withdrawn.")),
        Err(ServiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(ServiceError::Module(_)) => Ok(flash::redirect(&state, &to, "error", UNAVAILABLE)),
        Err(ServiceError::NotFound) => Err(AppError::NotFound),
        Err(ServiceError::Invalid(errors)) => Ok(flash::redirect(&state, &to, "error", errors.messages())),
        Err(ServiceError::Internal(err)) => Err(AppError::Internal(err)),
    }
}
