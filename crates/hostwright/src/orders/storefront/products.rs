//! The store's pages: the product groups and their products, a product's order form with its
//! cycles, options and add-ons, and the visitor's choice of currency.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use hostwright_core::{BillingCycle, Currency};
use minijinja::{Value, context};
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;
use serde::Deserialize;

use super::{cart_or_new, client_value, currency_choices, find_cart, money, shown_currency, with_cookie};
use crate::catalog::choice_forms::{ValuePrices, option_row};
use crate::catalog::model::{addon, group, price, product};
use crate::catalog::options;
use crate::catalog::service::{self as catalog, PaymentType};
use crate::clients::current::CurrentClient;
use crate::ids::{ProductGroupId, ProductId};
use crate::orders::cart::{self, CartError, Needs};
use crate::orders::model::cart as cart_model;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

/// The order form of a product page, as posted to the cart.
#[derive(Deserialize, Default)]
pub struct AddForm {
    #[serde(default)]
    pub(super) product_id: String,
    #[serde(default)]
    pub(super) cycle: String,
    #[serde(default)]
    pub(super) quantity: String,
    #[serde(default)]
    pub(super) domain: String,
    #[serde(default)]
    pub(super) hostname: String,
    #[serde(default)]
    pub(super) password: String,
    /// `opt_<option id>` and `addon_<add-on id>` fields.
    #[serde(flatten)]
    pub(super) extra: BTreeMap<String, String>,
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
pub(super) async fn product_page(
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
pub(super) async fn sellable(state: &AppState, id: Option<ProductId>) -> AppResult<Result<product::Model, String>> {
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
