//! The client's "Payment methods" page: saved cards, adding one on Stripe's page, removing
//! one, choosing the default, and turning automatic payment on or off.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use crate::clients::current::{ClientAllowed, client_perm};
use crate::ids::PaymentMethodId;
use crate::payments::gateways::{self, STRIPE};
use crate::payments::{PaymentError, methods};
use crate::state::AppState;
use crate::web::{AppError, AppResult, Page, flash};

const PAGE: &str = "/account/payment-methods";

#[derive(Deserialize, Default)]
pub struct Returned {
    #[serde(default)]
    setup: String,
}

/// `GET /account/payment-methods`
pub async fn list_methods(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
    Query(returned): Query<Returned>,
) -> AppResult<Response> {
    let saved = methods::list(&state.db, current.client.id).await?;
    let rows: Vec<_> = saved
        .iter()
        .map(|m| context! { id => m.id, label => methods::describe(m), is_default => m.is_default })
        .collect();
    let stripe = gateways::load(&state.db, STRIPE).await?;
    let owner = crate::clients::store::find(&state.db, current.client.id).await?.ok_or(AppError::NotFound)?;
    let ctx = context! {
        current_client => current.template_value(),
        nav => "payment_methods",
        methods => rows,
        can_add => stripe.enabled,
        auto_pay => owner.auto_pay,
        returned => returned.setup == "returned",
        key => crate::crypto::random_token(),
    };
    state.render(&page, "client/payment_methods.html", ctx).await
}

#[derive(Deserialize, Default)]
pub struct KeyForm {
    #[serde(default)]
    key: String,
}

/// `POST /account/payment-methods`: off to Stripe's page to save a card.
pub async fn add_method(
    State(state): State<AppState>,
    current: ClientAllowed<client_perm::Invoices>,
    Form(form): Form<KeyForm>,
) -> AppResult<Response> {
    let owner = crate::clients::store::find(&state.db, current.client.id).await?.ok_or(AppError::NotFound)?;
    match methods::start_setup(&state, &owner, &form.key).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(PaymentError::NotAllowed(why)) => Ok(flash::redirect(&state, PAGE, "error", why)),
        Err(err) => {
            tracing::error!(error = %err, client.id = %owner.id, "starting to save a card");
            Ok(flash::redirect(&state, PAGE, "error", "Saving a card could not be started; please try again shortly."))
        }
    }
}

/// `POST /account/payment-methods/{id}/default`
pub async fn make_default(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
    Path(id): Path<PaymentMethodId>,
) -> AppResult<Response> {
    methods::make_default(&state, &current.actor(&page.ip), current.client.id, id).await?;
    Ok(flash::redirect(&state, PAGE, "success", "Automatic payments use this card now."))
}

/// `POST /account/payment-methods/{id}/remove`
pub async fn remove_method(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
    Path(id): Path<PaymentMethodId>,
) -> AppResult<Response> {
    match methods::remove(&state, &current.actor(&page.ip), current.client.id, id).await {
        Ok(()) => Ok(flash::redirect(&state, PAGE, "success", "The card was removed.")),
        Err(PaymentError::NotFound) => Err(AppError::NotFound),
        Err(PaymentError::Gateway(err)) => {
            tracing::warn!(error = %err, "removing a saved card at Stripe");
            Ok(flash::redirect(&state, PAGE, "error", "The card could not be removed just now; please try again."))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct AutoPayForm {
    #[serde(default)]
    auto_pay: String,
}

/// `POST /account/auto-pay`
pub async fn set_auto_pay(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
    Form(form): Form<AutoPayForm>,
) -> AppResult<Response> {
    let on = form.auto_pay == "on";
    match methods::set_auto_pay(&state, &current.actor(&page.ip), current.client.id, on).await {
        Ok(()) => Ok(flash::redirect(
            &state,
            PAGE,
            "success",
            if on {
                "Automatic payment is on: unpaid invoices are charged to your default card when due."
            } else {
                "Automatic payment is off."
            },
        )),
        Err(PaymentError::NotAllowed(why)) => Ok(flash::redirect(&state, PAGE, "error", why)),
        Err(err) => Err(err.into()),
    }
}
