//! The cart's pages: adding a configured product, changing quantities, removing items, a
//! promotion code, and the country taxes are worked out for.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use hostwright_core::Money;
use minijinja::{Value, context};
use sea_orm::entity::prelude::*;
use serde::Deserialize;

use super::products::{AddForm, product_page, sellable};
use super::{cart_or_new, client_value, currency_choices, find_cart, with_cookie};
use crate::catalog::choice_forms::parse_choices;
use crate::catalog::model::addon;
use crate::clients::current::CurrentClient;
use crate::ids::{AddonId, CartItemId, ProductId};
use crate::invoices::settings as billing_settings;
use crate::orders::cart::{self, CartError, ItemInput, Quote};
use crate::orders::model::cart as cart_model;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

pub async fn add_to_cart(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    client: Option<CurrentClient>,
    Form(form): Form<AddForm>,
) -> AppResult<Response> {
    let p = match sellable(&state, form.product_id.trim().parse::<ProductId>().ok()).await? {
        Ok(p) => p,
        Err(why) => return Ok(flash::redirect(&state, "/store", "error", why)),
    };
    let product_id = p.id;
    // The choices are read before a cart is found or started: a refused form starts none.
    let parsed = parse_choices(&state, &form.extra).await;
    let (cart, cookie) = cart_or_new(&state, &jar, client.as_ref()).await?;
    let outcome = match parsed {
        Ok((choices, addon_ids)) => {
            let input = ItemInput {
                product_id,
                cycle: form.cycle.trim().to_owned(),
                quantity: form.quantity.trim().parse().unwrap_or(0),
                domain: form.domain.clone(),
                hostname: form.hostname.clone(),
                password: form.password.clone(),
                choices,
                addon_ids,
            };
            cart::add(&state.db, &state.key, &cart, &input).await.map_err(|err| match err {
                CartError::Internal(err) => AppError::Internal(err),
                other => AppError::BadRequest(other.to_string()),
            })
        }
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => {
            Ok(with_cookie(flash::redirect(&state, "/cart", "success", format!("{} is in your cart.", p.name)), cookie))
        }
        Err(AppError::BadRequest(message)) => {
            // A cart started for this refused item is not kept: bad input changes nothing.
            let kept = if cookie.is_some() {
                cart::delete(&state.db, cart.id).await?;
                None
            } else {
                Some(&cart)
            };
            let errors = FormErrors::form(message);
            product_page(&state, &page, client.as_ref(), kept, &p, &form, errors, StatusCode::UNPROCESSABLE_ENTITY)
                .await
        }
        Err(err) => Err(err),
    }
}

/// The cart's lines and totals as the cart and checkout pages show them.
pub(super) async fn quote_value(state: &AppState, quote: &Quote) -> AppResult<Value> {
    let currency = quote.currency;
    let names: BTreeMap<AddonId, String> =
        addon::Entity::find().all(&state.db).await?.into_iter().map(|a| (a.id, a.name)).collect();
    let mut position = 0;
    let mut items = Vec::new();
    let lines = quote.totals.as_ref().map(|t| t.lines.clone()).unwrap_or_default();
    for q in &quote.items {
        let count = q.lines.len() * usize::try_from(q.item.quantity).unwrap_or(0);
        let own = lines.get(position..position + count).unwrap_or_default();
        position += count;
        let net = Money::sum(currency, own.iter().map(|l| l.net)).map_err(|e| AppError::Internal(e.into()))?;
        let unit_lines: Vec<Value> = own
            .iter()
            .take(q.lines.len())
            .map(|l| {
                context! {
                    description => l.description.clone(),
                    amount => l.amount.to_string(),
                    discount => l.discount.is_positive().then(|| l.discount.to_string()),
                }
            })
            .collect();
        items.push(context! {
            id => q.item.id,
            product => q.product.name.clone(),
            cycle => q.cycle.label(),
            quantity => q.item.quantity,
            domain => if q.item.domain.is_empty() { q.item.hostname.clone() } else { q.item.domain.clone() },
            lines => unit_lines,
            addons => q.addons.iter().map(|(id, _, _)| names.get(id).cloned().unwrap_or_default()).collect::<Vec<_>>(),
            recurring => q.recurring.to_string(),
            next_due => q.next_due.map(|d| d.to_string()),
            total => net.to_string(),
        });
    }
    let problems: Vec<Value> =
        quote.problems.iter().map(|(item, message)| context! { id => item.id, message => message.clone() }).collect();
    let totals = quote.totals.as_ref().map(|t| {
        context! {
            subtotal => t.subtotal.to_string(),
            discount => t.discount_total.is_positive().then(|| t.discount_total.to_string()),
            taxes => t.tax_lines.iter().map(|l| context! { name => l.name.clone(), rate => l.rate.normalize().to_string(), amount => l.amount.to_string() }).collect::<Vec<_>>(),
            reverse_charge => t.reverse_charge,
            inclusive => t.price_mode == hostwright_core::PriceMode::Inclusive,
            total => t.grand_total.to_string(),
        }
    });
    Ok(context! {
        currency => currency.code(),
        items => items,
        problems => problems,
        coupon => quote.coupon.as_ref().map(|c| c.code.clone()),
        coupon_error => quote.coupon_error.clone(),
        totals => totals,
    })
}

pub async fn show_cart(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    client: Option<CurrentClient>,
) -> AppResult<Response> {
    let cart = find_cart(&state, &jar, client.as_ref()).await?;
    let billing = billing_settings::load(&state.db).await?;
    let quote = match &cart {
        Some(c) => Some(cart::quote(&state.db, &billing, c, client.as_ref().map(|c| &c.client)).await?),
        None => None,
    };
    let shown = match &quote {
        Some(q) => quote_value(&state, q).await?,
        None => Value::from(()),
    };
    let country = cart.as_ref().map(|c| c.country.clone()).unwrap_or_default();
    let ctx = context! {
        nav => "cart",
        current_client => client_value(client.as_ref()),
        cart => shown,
        typed_coupon => cart.as_ref().map(|c| c.coupon_code.clone()).unwrap_or_default(),
        country => country,
        countries => if client.is_some() { Vec::new() } else { crate::clients::countries::COUNTRIES.to_vec() },
        currencies => if client.as_ref().is_some_and(|c| cart::account_currency(&c.client).is_some()) { Vec::new() } else { currency_choices(&state).await? },
        max_quantity => cart::MAX_QUANTITY,
    };
    state.render(&page, "client/cart.html", ctx).await
}

#[derive(Deserialize, Default)]
pub struct QuantityForm {
    #[serde(default)]
    quantity: String,
}

/// Runs a change on the visitor's cart and goes back to it with a message.
async fn on_cart<F, Fut>(
    state: &AppState,
    jar: &CookieJar,
    client: Option<&CurrentClient>,
    change: F,
) -> AppResult<Response>
where
    F: FnOnce(cart_model::Model) -> Fut,
    Fut: std::future::Future<Output = Result<String, CartError>>,
{
    let Some(cart) = find_cart(state, jar, client).await? else {
        return Ok(flash::redirect(state, "/cart", "error", "Your cart is empty."));
    };
    Ok(match change(cart).await {
        Ok(message) => flash::redirect(state, "/cart", "success", message),
        Err(CartError::Internal(err)) => return Err(AppError::Internal(err)),
        Err(err) => flash::redirect(state, "/cart", "error", err.to_string()),
    })
}

pub async fn change_quantity(
    State(state): State<AppState>,
    jar: CookieJar,
    client: Option<CurrentClient>,
    Path(id): Path<CartItemId>,
    Form(form): Form<QuantityForm>,
) -> AppResult<Response> {
    let db = state.db.clone();
    on_cart(&state, &jar, client.as_ref(), |cart| async move {
        let quantity = form.quantity.trim().parse().unwrap_or(0);
        cart::set_quantity(&db, &cart, id, quantity).await?;
        Ok("Quantity changed.".to_owned())
    })
    .await
}

pub async fn remove_item(
    State(state): State<AppState>,
    jar: CookieJar,
    client: Option<CurrentClient>,
    Path(id): Path<CartItemId>,
) -> AppResult<Response> {
    let db = state.db.clone();
    on_cart(&state, &jar, client.as_ref(), |cart| async move {
        cart::remove(&db, &cart, id).await?;
        Ok("Removed from your cart.".to_owned())
    })
    .await
}

#[derive(Deserialize, Default)]
pub struct CouponForm {
    #[serde(default)]
    code: String,
}

pub async fn apply_coupon(
    State(state): State<AppState>,
    jar: CookieJar,
    client: Option<CurrentClient>,
    Form(form): Form<CouponForm>,
) -> AppResult<Response> {
    let billing = billing_settings::load(&state.db).await?;
    let db = state.db.clone();
    let owner = client.as_ref().map(|c| c.client.clone());
    on_cart(&state, &jar, client.as_ref(), |cart| async move {
        cart::set_coupon(&db, &billing, &cart, owner.as_ref(), &form.code).await?;
        Ok(if form.code.trim().is_empty() {
            "Promotion code removed.".to_owned()
        } else {
            "Promotion code applied.".to_owned()
        })
    })
    .await
}

#[derive(Deserialize, Default)]
pub struct CountryForm {
    #[serde(default)]
    country: String,
}

pub async fn choose_country(
    State(state): State<AppState>,
    jar: CookieJar,
    client: Option<CurrentClient>,
    Form(form): Form<CountryForm>,
) -> AppResult<Response> {
    let db = state.db.clone();
    on_cart(&state, &jar, client.as_ref(), |cart| async move {
        cart::set_country(&db, cart.id, &form.country).await?;
        Ok("Taxes are now shown for your country.".to_owned())
    })
    .await
}
