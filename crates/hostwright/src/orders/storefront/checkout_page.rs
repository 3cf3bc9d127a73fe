//! Checkout: the page that asks what an order still needs (an account, the terms, the
//! client's details), signing up on the way, and placing the order once per submission.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use minijinja::{Value, context};
use sea_orm::entity::prelude::*;
use serde::Deserialize;

use super::cart_page::quote_value;
use super::{client_value, find_cart, money};
use crate::clients::current::CurrentClient;
use crate::clients::handlers::{RegisterForm, attempt_registration, registration_context};
use crate::crypto::random_token;
use crate::invoices::settings as billing_settings;
use crate::orders::cart::{self, CartError};
use crate::orders::checkout::{self, CheckoutError, PlaceOrder, Placed};
use crate::orders::model::order;
use crate::site_settings::ordering as order_settings;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

/// What a visitor typed into checkout's sign-up form (empty for everyone else).
#[derive(Default)]
struct Typed<'a> {
    order: Option<&'a CheckoutForm>,
    registration: Option<&'a RegisterForm>,
}

async fn render_checkout(
    state: &AppState,
    page: &Page,
    jar: &CookieJar,
    client: Option<&CurrentClient>,
    typed: Typed<'_>,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let cart = find_cart(state, jar, client).await?;
    let billing = billing_settings::load(&state.db).await?;
    let settings = order_settings::load(&state.db).await?;
    let quote = match &cart {
        Some(c) => Some(cart::quote(&state.db, &billing, c, client.map(|c| &c.client)).await?),
        None => None,
    };
    if quote.as_ref().is_none_or(|q| q.items.is_empty() && q.problems.is_empty()) {
        return Ok(flash::redirect(state, "/cart", "error", "Your cart is empty."));
    }
    let shown = match &quote {
        Some(q) => quote_value(state, q).await?,
        None => Value::from(()),
    };
    let credit = match (client, &quote) {
        (Some(c), Some(q)) => {
            let held = crate::invoices::account_credit::balance(&state.db, c.client.id, q.currency.code()).await?;
            (held > 0).then(|| money(held, q.currency))
        }
        _ => None,
    };
    let offered = match &quote {
        Some(q) => crate::payments::gateways::offered(&state.db, q.currency.code()).await?,
        None => Vec::new(),
    };
    let methods: Vec<Value> =
        offered.iter().map(|g| context! { key => g.key.clone(), label => g.display_name.clone() }).collect();
    let first = offered.first().map(|g| g.key.clone()).unwrap_or_default();
    let default_order = CheckoutForm { payment_method: first, ..Default::default() };
    let order_form = typed.order.unwrap_or(&default_order);
    let key = if order_form.key.is_empty() { random_token() } else { order_form.key.clone() };
    let registration = match (client, typed.registration) {
        (Some(_), _) => Value::from(()),
        (None, Some(form)) => registration_context(state, form).await?,
        (None, None) => registration_context(state, &RegisterForm::default()).await?,
    };
    let ctx = context! {
        nav => "cart",
        current_client => client_value(client),
        signed_in => client.is_some(),
        may_order => client.is_some_and(|c| c.may("services")),
        cart => shown,
        terms_url => settings.terms_url.trim(),
        methods => methods,
        credit => credit,
        form => context! { payment_method => order_form.payment_method.clone(), key => key },
        registration => registration,
        errors => errors,
    };
    state.render_status(status, page, "client/checkout.html", ctx).await
}

#[derive(Deserialize, Default)]
pub struct CheckoutForm {
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    accept_terms: String,
    #[serde(default)]
    key: String,
}

pub async fn checkout_form(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    client: Option<CurrentClient>,
) -> AppResult<Response> {
    render_checkout(&state, &page, &jar, client.as_ref(), Typed::default(), FormErrors::new(), StatusCode::OK).await
}

/// Checkout's inline sign-up: opens the account, keeps the cart in the cookie for it, and
/// sends the visitor to check their inbox; the emailed link signs them in and comes back to
/// checkout. Refused input is shown on the checkout page.
pub async fn register_at_checkout(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    Form(mut form): Form<RegisterForm>,
) -> AppResult<Response> {
    form.next = "/checkout".to_owned();
    match attempt_registration(&state, &page, &form).await? {
        Ok(signed_up) => {
            // The cart goes with the new account, so the link finds it on any device.
            if let (crate::clients::service::SignUp::Created(client), Some(cart)) =
                (&signed_up.account, find_cart(&state, &jar, None).await?)
                && cart.client_id.is_none()
            {
                cart::claim(&state.db, cart.id, client).await?;
            }
            Ok(signed_up.response)
        }
        Err((errors, status)) => {
            let typed = Typed { order: None, registration: Some(&form) };
            render_checkout(&state, &page, &jar, None, typed, errors, status).await
        }
    }
}

pub async fn place_order(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    current: CurrentClient,
    Form(form): Form<CheckoutForm>,
) -> AppResult<Response> {
    if !current.may("services") {
        return Err(AppError::Forbidden);
    }
    let Some(cart) = find_cart(&state, &jar, Some(&current)).await? else {
        // The cart is gone: this submission may have placed its order already.
        let placed =
            order::Entity::find().filter(order::Column::IdempotencyKey.eq(form.key.trim())).one(&state.db).await?;
        if let Some(o) = placed
            && o.client_id == current.client.id
        {
            return after_placed(&state, &current, &o, &form.key, "Your order was placed.".into()).await;
        }
        return Ok(flash::redirect(&state, "/cart", "error", "Your cart is empty."));
    };
    let input = PlaceOrder {
        payment_method: form.payment_method.clone(),
        accept_terms: !form.accept_terms.is_empty(),
        idempotency_key: form.key.clone(),
    };
    let actor = current.actor(&page.ip);
    match checkout::place(&state, &actor, &current.client, &cart, &input, &page.ip).await {
        Ok(Placed::New(o) | Placed::Already(o)) => {
            after_placed(&state, &current, &o, &form.key, format!("Thank you: order {} is placed.", o.number)).await
        }
        Err(CheckoutError::Internal(err)) | Err(CheckoutError::Cart(CartError::Internal(err))) => {
            Err(AppError::Internal(err))
        }
        Err(err) => {
            let errors = FormErrors::form(err.to_string());
            let typed = Typed { order: Some(&form), registration: None };
            render_checkout(&state, &page, &jar, Some(&current), typed, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// Where a placed order leads: straight on to the gateway's page when the client chose to pay
/// online (the order's form key makes it one payment, however often it is submitted), else
/// to the order.
async fn after_placed(
    state: &AppState,
    current: &CurrentClient,
    o: &order::Model,
    form_key: &str,
    thanks: String,
) -> AppResult<Response> {
    let online = o.invoice_id.filter(|_| crate::payments::gateways::is_online(&o.payment_method));
    let Some(invoice_id) = online else {
        return Ok(flash::redirect(state, &format!("/account/orders/{}", o.id), "success", thanks));
    };
    let key = format!("order-{}", form_key.trim());
    let client = &current.client;
    match crate::payments::checkout::start_checkout(state, client, invoice_id, &o.payment_method, &key).await {
        Ok(url) => Ok(axum::response::IntoResponse::into_response(axum::response::Redirect::to(&url))),
        Err(err) => {
            // Paid already, or the card page could not be opened: the invoice says what is left.
            tracing::info!(error = %err, order.id = %o.id, "not starting the card payment of an order");
            let message = format!("{thanks} Its invoice shows how to pay it.");
            Ok(flash::redirect(state, &format!("/account/invoices/{invoice_id}"), "success", message))
        }
    }
}
