//! The storefront, open to visitors: the store and its product pages, the cart, and checkout.
//! What every page of it shares lives here: the visitor's cart (by cookie, or the signed-in
//! client's latest) and the currency prices are shown in.

pub mod cart_page;
pub mod checkout_page;
pub mod products;

use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use hostwright_core::{Currency, Money};
use minijinja::Value;
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;

use crate::catalog::service::{self as catalog};
use crate::clients::current::CurrentClient;
use crate::orders::cart::{self};
use crate::orders::model::cart as cart_model;
use crate::state::AppState;
use crate::web::{AppError, AppResult};

pub(super) fn money(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_string()
}

/// The cart in the visitor's cookie, or the signed-in client's latest cart.
async fn find_cart(
    state: &AppState,
    jar: &CookieJar,
    client: Option<&CurrentClient>,
) -> AppResult<Option<cart_model::Model>> {
    let token = jar.get(&state.settings.cookie_name(cart::COOKIE)).map(|c| c.value().to_owned()).unwrap_or_default();
    let mut found = cart::by_token(&state.db, &token).await?;
    if found.is_none()
        && let Some(current) = client
    {
        found = cart_model::Entity::find()
            .filter(cart_model::Column::ClientId.eq(current.client.id))
            .order_by_desc(cart_model::Column::UpdatedAt)
            .one(&state.db)
            .await?;
    }
    // A cart another client started on this device is not this client's.
    if let (Some(c), Some(current)) = (&found, client)
        && c.client_id.is_some_and(|id| id != current.client.id)
    {
        return Ok(None);
    }
    if let (Some(c), Some(current)) = (&found, client) {
        let other_currency = cart::account_currency(&current.client).is_some_and(|code| code != c.currency_code);
        if c.client_id.is_none() || other_currency {
            cart::claim(&state.db, c.id, &current.client).await?;
            return Ok(cart_model::Entity::find_by_id(c.id).one(&state.db).await?);
        }
    }
    Ok(found)
}

fn cart_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((state.settings.cookie_name(cart::COOKIE), token))
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies())
        .same_site(SameSite::Lax)
        // The cart itself is forgotten after `cart::LIFETIME_DAYS` idle days.
        .permanent()
        .build()
}

/// The visitor's cart, started when they first need one; the second value is a new cookie.
async fn cart_or_new(
    state: &AppState,
    jar: &CookieJar,
    client: Option<&CurrentClient>,
) -> AppResult<(cart_model::Model, Option<Cookie<'static>>)> {
    if let Some(found) = find_cart(state, jar, client).await? {
        return Ok((found, None));
    }
    let currency = match client.and_then(|c| cart::account_currency(&c.client)) {
        Some(code) => code.to_owned(),
        None => default_currency(state).await?,
    };
    let (created, token) = cart::create(&state.db, client.map(|c| c.client.id), &currency).await?;
    Ok((created, Some(cart_cookie(state, token))))
}

async fn default_currency(state: &AppState) -> AppResult<String> {
    let all = catalog::currencies(&state.db).await?;
    Ok(all.iter().find(|c| c.is_default).or(all.first()).map_or_else(|| "USD".to_owned(), |c| c.code.clone()))
}

/// The currency prices are shown in: the client's, the cart's, or the default.
async fn shown_currency(
    state: &AppState,
    cart: Option<&cart_model::Model>,
    client: Option<&CurrentClient>,
) -> AppResult<Currency> {
    let code = match (client.and_then(|c| cart::account_currency(&c.client)), cart) {
        (Some(code), _) => code.to_owned(),
        (None, Some(cart)) => cart.currency_code.clone(),
        (None, None) => default_currency(state).await?,
    };
    let found = crate::invoices::service::find_currency(&state.db, &code)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::from(e)))?;
    Ok(crate::catalog::service::known_currency(found, &code)?)
}

fn with_cookie(mut response: Response, cookie: Option<Cookie<'static>>) -> Response {
    if let Some(cookie) = cookie
        && let Ok(value) = cookie.to_string().parse()
    {
        response.headers_mut().append(axum::http::header::SET_COOKIE, value);
    }
    response
}

fn client_value(client: Option<&CurrentClient>) -> Value {
    client.map(CurrentClient::template_value).unwrap_or_default()
}

async fn currency_choices(state: &AppState) -> AppResult<Vec<String>> {
    Ok(catalog::currencies(&state.db).await?.into_iter().map(|c| c.code).collect())
}
