//! The storefront, the cart and checkout (client area, open to visitors), and the client's
//! orders.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use hostwright_core::{BillingCycle, Currency, Money};
use minijinja::{Value, context};
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;
use serde::Deserialize;

use super::cart::{self, CartError, ItemInput, Needs, Quote};
use super::checkout::{self, CheckoutError, PlaceOrder, Placed};
use super::model::{cart as cart_model, order};
use crate::catalog::choice_forms::{ValuePrices, option_row, parse_choices};
use crate::catalog::model::{addon, group, price, product};
use crate::catalog::options;
use crate::catalog::service::{self as catalog, PaymentType};
use crate::clients::current::CurrentClient;
use crate::clients::handlers::{RegisterForm, attempt_registration, registration_context};
use crate::crypto::random_token;
use crate::ids::{AddonId, CartItemId, OrderId, ProductGroupId, ProductId};
use crate::invoices::settings as billing_settings;
use crate::services::store as services;
use crate::site_settings::ordering as order_settings;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

fn money(minor: i64, currency: Currency) -> String {
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

/// The cycles a product sells in, with their prices in `currency` (cheapest period first).
async fn cycle_prices(
    state: &AppState,
    p: &product::Model,
    currency: Currency,
) -> AppResult<Vec<(BillingCycle, i64, i64)>> {
    let payment = PaymentType::parse(&p.payment_type).unwrap_or(PaymentType::Free);
    if payment == PaymentType::Free {
        return Ok(vec![(BillingCycle::Free, 0, 0)]);
    }
    let stored = price::Entity::find()
        .filter(price::Column::ProductId.eq(p.id))
        .filter(price::Column::CurrencyCode.eq(currency.code()))
        .all(&state.db)
        .await?;
    Ok(payment
        .cycles()
        .iter()
        .filter_map(|cycle| {
            stored.iter().find(|s| s.cycle == cycle.key()).map(|s| (*cycle, s.price_minor, s.setup_fee_minor))
        })
        .collect())
}

fn cycle_rows(prices: &[(BillingCycle, i64, i64)], currency: Currency) -> Vec<Value> {
    prices
        .iter()
        .map(|(cycle, price, setup)| {
            context! {
                key => cycle.key(),
                label => cycle.label(),
                price => money(*price, currency),
                setup => (*setup > 0).then(|| money(*setup, currency)),
            }
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct StoreQuery {
    group: Option<i64>,
}

pub async fn storefront(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    client: Option<CurrentClient>,
    Query(q): Query<StoreQuery>,
) -> AppResult<Response> {
    let cart = find_cart(&state, &jar, client.as_ref()).await?;
    let currency = shown_currency(&state, cart.as_ref(), client.as_ref()).await?;
    let groups: Vec<group::Model> = catalog::groups(&state.db).await?.into_iter().filter(|g| g.visible).collect();
    let chosen = q.group.map(ProductGroupId).or_else(|| groups.first().map(|g| g.id));
    let mut products = Vec::new();
    for p in catalog::products(&state.db).await? {
        if p.hidden || p.retired || Some(p.group_id) != chosen {
            continue;
        }
        let prices = cycle_prices(&state, &p, currency).await?;
        if prices.is_empty() {
            continue;
        }
        products.push(context! {
            id => p.id,
            name => p.name.clone(),
            description => p.description.clone(),
            out_of_stock => p.stock_enabled && p.stock_quantity <= 0,
            cycles => cycle_rows(&prices, currency),
        });
    }
    let group_rows: Vec<Value> = groups
        .iter()
        .map(|g| context! { id => g.id, name => g.name.clone(), headline => g.headline.clone(), current => Some(g.id) == chosen })
        .collect();
    let headline = groups.iter().find(|g| Some(g.id) == chosen).map(|g| g.headline.clone()).unwrap_or_default();
    let ctx = context! {
        nav => "store",
        current_client => client_value(client.as_ref()),
        groups => group_rows,
        headline => headline,
        products => products,
        currency => currency.code(),
        currencies => if client.as_ref().is_some_and(|c| cart::account_currency(&c.client).is_some()) { Vec::new() } else { currency_choices(&state).await? },
    };
    state.render(&page, "client/store/index.html", ctx).await
}

#[derive(Deserialize, Default)]
pub struct CurrencyForm {
    #[serde(default)]
    currency: String,
    #[serde(default)]
    back: String,
}

fn local_path(back: &str, fallback: &str) -> String {
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back.to_owned()
    } else {
        fallback.to_owned()
    }
}

pub async fn choose_currency(
    State(state): State<AppState>,
    jar: CookieJar,
    client: Option<CurrentClient>,
    Form(form): Form<CurrencyForm>,
) -> AppResult<Response> {
    let back = local_path(&form.back, "/store");
    if client.as_ref().is_some_and(|c| cart::account_currency(&c.client).is_some()) {
        return Ok(flash::redirect(
            &state,
            &back,
            "error",
            "Your account is billed in its own currency; ask us to change it.",
        ));
    }
    let (cart, cookie) = cart_or_new(&state, &jar, client.as_ref()).await?;
    let response = match cart::set_currency(&state.db, cart.id, form.currency.trim()).await {
        Ok(()) => {
            flash::redirect(&state, &back, "success", format!("Prices are now shown in {}.", form.currency.trim()))
        }
        Err(CartError::Internal(err)) => return Err(AppError::Internal(err)),
        Err(err) => flash::redirect(&state, &back, "error", err.to_string()),
    };
    Ok(with_cookie(response, cookie))
}

/// A product's configuration form.
#[allow(clippy::too_many_arguments)]
async fn product_page(
    state: &AppState,
    page: &Page,
    client: Option<&CurrentClient>,
    cart: Option<&cart_model::Model>,
    p: &product::Model,
    typed: &AddForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let currency = shown_currency(state, cart, client).await?;
    let prices = cycle_prices(state, p, currency).await?;
    let group_ids = options::product_groups(&state.db, p.id).await?;
    let offered = options::options_of_groups(&state.db, group_ids).await?;
    let values = options::values_of_options(&state.db, offered.iter().map(|o| o.id).collect()).await?;
    let cycles: Vec<BillingCycle> = prices.iter().map(|(c, _, _)| *c).collect();
    let stored = options::values_prices(&state.db, values.iter().map(|v| v.id).collect()).await?;
    let value_prices: ValuePrices = values
        .iter()
        .map(|v| {
            let own = stored.iter().filter(|s| s.value_id == v.id && s.currency_code == currency.code());
            let notes = cycles.iter().map(|c| {
                let found = own.clone().find(|s| s.cycle == c.key()).map(|s| (s.price_minor, s.setup_fee_minor));
                (c.key().to_owned(), price_note(found, currency, "+", ""))
            });
            (v.id, notes.collect())
        })
        .collect();
    let option_rows: Vec<Value> =
        offered.iter().filter(|o| !o.hidden).map(|o| option_row(o, &values, &typed.extra, &value_prices)).collect();
    let addon_ids = crate::catalog::addons::product_addons(&state.db, p.id).await?;
    let mut addon_rows = Vec::new();
    for a in addon::Entity::find()
        .filter(addon::Column::Id.is_in(addon_ids))
        .filter(addon::Column::Retired.eq(false))
        .filter(addon::Column::Hidden.eq(false))
        .order_by_asc(addon::Column::Name)
        .all(&state.db)
        .await?
    {
        let stored = crate::catalog::addons::addon_prices(&state.db, a.id).await?;
        let notes: BTreeMap<String, String> = cycles
            .iter()
            .map(|c| {
                let own = cart::addon_cycle(&a, *c);
                let note = match own {
                    BillingCycle::Free => "free".to_owned(),
                    _ => {
                        let found = stored
                            .iter()
                            .find(|s| s.currency_code == currency.code() && s.cycle == own.key())
                            .map(|s| (s.price_minor, s.setup_fee_minor));
                        price_note(found, currency, "", if own == BillingCycle::OneTime { " once" } else { "" })
                    }
                };
                (c.key().to_owned(), note)
            })
            .collect();
        addon_rows.push(context! {
            id => a.id,
            name => a.name.clone(),
            description => a.description.clone(),
            checked => typed.extra.contains_key(&format!("addon_{}", a.id)),
            prices => notes,
        });
    }
    let needs = match cart::needs(p) {
        Needs::Domain => "domain",
        Needs::Server => "server",
        Needs::Nothing => "",
    };
    let chosen_cycle = if typed.cycle.is_empty() {
        prices.first().map(|(c, _, _)| c.key().to_owned()).unwrap_or_default()
    } else {
        typed.cycle.clone()
    };
    let ctx = context! {
        nav => "store",
        current_client => client_value(client),
        product => context! {
            id => p.id,
            name => p.name.clone(),
            description => p.description.clone(),
            out_of_stock => p.stock_enabled && p.stock_quantity <= 0,
            stock_left => p.stock_enabled.then_some(p.stock_quantity),
        },
        cycles => cycle_rows(&prices, currency),
        options => option_rows,
        addons => addon_rows,
        needs => needs,
        currency => currency.code(),
        form => context! {
            cycle => chosen_cycle,
            quantity => if typed.quantity.is_empty() { "1".to_owned() } else { typed.quantity.clone() },
            domain => typed.domain.trim(),
            hostname => typed.hostname.trim(),
        },
        errors => errors,
    };
    state.render_status(status, page, "client/store/product.html", ctx).await
}

/// A price as the order form notes it next to a choice: `+9.99 EUR + 5.00 EUR setup`; empty
/// when the choice costs nothing or is not priced in that cycle and currency.
fn price_note(stored: Option<(i64, i64)>, currency: Currency, sign: &str, suffix: &str) -> String {
    let Some((price, setup)) = stored else { return String::new() };
    let mut note = String::new();
    if price > 0 {
        note = format!("{sign}{}{suffix}", money(price, currency));
    }
    if setup > 0 {
        let fee = format!("{} setup", money(setup, currency));
        note = if note.is_empty() { format!("{sign}{fee}") } else { format!("{note} + {fee}") };
    }
    note
}

/// A product the store still sells, or why not (an unknown or retired product).
async fn sellable(state: &AppState, id: Option<ProductId>) -> AppResult<Result<product::Model, String>> {
    let found = match id {
        Some(id) => catalog::find_product(&state.db, id).await?,
        None => None,
    };
    Ok(match found {
        None => Err("That product is not in the store.".to_owned()),
        Some(p) if p.retired => Err(format!("{} is no longer sold; choose another product.", p.name)),
        Some(p) => Ok(p),
    })
}

pub async fn configure(
    State(state): State<AppState>,
    page: Page,
    jar: CookieJar,
    client: Option<CurrentClient>,
    Path(id): Path<ProductId>,
) -> AppResult<Response> {
    let p = match sellable(&state, Some(id)).await? {
        Ok(p) => p,
        Err(_) if catalog::find_product(&state.db, id).await?.is_none() => return Err(AppError::NotFound),
        Err(why) => return Ok(flash::redirect(&state, "/store", "error", why)),
    };
    let cart = find_cart(&state, &jar, client.as_ref()).await?;
    product_page(
        &state,
        &page,
        client.as_ref(),
        cart.as_ref(),
        &p,
        &AddForm::default(),
        FormErrors::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize, Default)]
pub struct AddForm {
    #[serde(default)]
    product_id: String,
    #[serde(default)]
    cycle: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    password: String,
    /// `opt_<option id>` and `addon_<add-on id>` fields.
    #[serde(flatten)]
    extra: BTreeMap<String, String>,
}

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
async fn quote_value(state: &AppState, quote: &Quote) -> AppResult<Value> {
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

/// An order for the client's pages and the admin's.
pub(super) async fn order_row(state: &AppState, o: &order::Model) -> AppResult<Value> {
    let currency = crate::invoices::service::stored_currency(&state.db, &o.currency_code)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::from(e)))?;
    Ok(context! {
        id => o.id,
        number => o.number.clone(),
        status => o.status.clone(),
        created_at => o.created_at.to_rfc3339(),
        total => money(o.total_minor, currency),
        subtotal => money(o.subtotal_minor, currency),
        discount => (o.discount_minor > 0).then(|| money(o.discount_minor, currency)),
        tax => money(o.tax_minor, currency),
        payment_method => checkout::payment_method_label(&o.payment_method),
        invoice_id => o.invoice_id,
        client_id => o.client_id,
        ip => o.ip.clone(),
        terms_url => o.terms_accepted_url.clone(),
        terms_accepted_at => o.terms_accepted_at.map(|t| t.to_rfc3339()),
    })
}

/// The services of an order, with product names and amounts.
pub(super) async fn order_services(state: &AppState, id: OrderId) -> AppResult<Vec<Value>> {
    let ordered = services::for_order(&state.db, id).await?;
    let names: BTreeMap<ProductId, String> =
        catalog::products(&state.db).await?.into_iter().map(|p| (p.id, p.name)).collect();
    let mut rows = Vec::new();
    for s in ordered {
        let currency = crate::invoices::service::stored_currency(&state.db, &s.currency_code)
            .await
            .map_err(|e| AppError::Internal(anyhow::Error::from(e)))?;
        let cycle = s.billing_cycle.parse::<BillingCycle>().map(|c| c.label()).unwrap_or("");
        rows.push(context! {
            id => s.id,
            product => names.get(&s.product_id).cloned().unwrap_or_default(),
            domain => if s.domain.is_empty() { s.hostname.clone() } else { s.domain.clone() },
            status => s.status.clone(),
            cycle => cycle,
            recurring => money(s.recurring_minor, currency),
            first_payment => money(s.first_payment_minor, currency),
            next_due => s.next_due_date.map(|d| d.to_string()),
        });
    }
    Ok(rows)
}

pub async fn client_orders(State(state): State<AppState>, page: Page, current: CurrentClient) -> AppResult<Response> {
    if !current.may("services") {
        return Err(AppError::Forbidden);
    }
    let orders = order::Entity::find()
        .filter(order::Column::ClientId.eq(current.client.id))
        .order_by_desc(order::Column::Id)
        .all(&state.db)
        .await?;
    let mut rows = Vec::new();
    for o in &orders {
        rows.push(order_row(&state, o).await?);
    }
    let ctx = context! { nav => "services", current_client => current.template_value(), orders => rows };
    state.render(&page, "client/orders/list.html", ctx).await
}

pub async fn client_order(
    State(state): State<AppState>,
    page: Page,
    current: CurrentClient,
    Path(id): Path<OrderId>,
) -> AppResult<Response> {
    if !current.may("services") {
        return Err(AppError::Forbidden);
    }
    let o = super::manage::find(&state.db, id)
        .await?
        .filter(|o| o.client_id == current.client.id)
        .ok_or(AppError::NotFound)?;
    let ctx = context! {
        nav => "services",
        current_client => current.template_value(),
        order => order_row(&state, &o).await?,
        services => order_services(&state, id).await?,
        may_pay => current.may("invoices"),
    };
    state.render(&page, "client/orders/show.html", ctx).await
}
