//! Admin pages of the catalog: product groups, products with their price matrix, upgrade
//! paths and option groups, currencies. The option groups' and add-ons' own pages are in
//! `option_handlers` and `addon_handlers`.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hostwright_core::{BillingCycle, Currency, Money};
use minijinja::{Value, context};
use serde::Deserialize;

use super::model::{currency, product};
use super::service::{self, CatalogError, GroupInput, PaymentType, PriceInput, ProductInput, ProductType};
use super::{addons, options as option_groups};
use crate::audit::Actor;
use crate::ids::{ProductGroupId, ProductId};
use crate::permissions::perm;
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

pub(super) fn actor(current: &CurrentStaff, page: &Page) -> Actor {
    Actor::staff(current.staff.id, &current.staff.email, &page.ip)
}

fn product_row(p: &product::Model) -> Value {
    context! {
        id => p.id,
        group_id => p.group_id,
        name => p.name.clone(),
        product_type => ProductType::parse(&p.product_type).map(ProductType::label).unwrap_or_default(),
        payment_type => PaymentType::parse(&p.payment_type).map(PaymentType::label).unwrap_or_default(),
        hidden => p.hidden,
        retired => p.retired,
        stock_enabled => p.stock_enabled,
        stock_quantity => p.stock_quantity,
    }
}

async fn render_catalog(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &GroupForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let products = service::products(&state.db).await?;
    let groups: Vec<Value> = service::groups(&state.db)
        .await?
        .into_iter()
        .map(|g| {
            let items: Vec<Value> = products.iter().filter(|p| p.group_id == g.id).map(product_row).collect();
            context! { id => g.id, name => g.name, headline => g.headline, visible => g.visible, sort_order => g.sort_order, products => items }
        })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        groups => groups,
        form => form.value(),
        errors => errors,
    };
    state.render_status(status, page, "admin/catalog/index.html", ctx).await
}

#[derive(Deserialize, Default)]
pub struct GroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    headline: String,
    #[serde(default)]
    sort_order: String,
    visible: Option<String>,
}

impl GroupForm {
    fn input(&self) -> GroupInput {
        GroupInput {
            name: self.name.clone(),
            headline: self.headline.clone(),
            sort_order: self.sort_order.clone(),
            visible: self.visible.is_some(),
        }
    }

    fn value(&self) -> Value {
        context! { name => self.name.trim(), headline => self.headline.trim(), sort_order => self.sort_order.trim(), visible => self.visible.is_some() }
    }
}

pub async fn catalog(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
) -> AppResult<Response> {
    let form = GroupForm { visible: Some("on".into()), ..GroupForm::default() };
    render_catalog(&state, &page, &current, &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn create_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    match service::save_group(&state, &actor(&current, &page), None, &form.input()).await {
        Ok(_) => Ok(flash::redirect(&state, "/admin/catalog", "success", "Product group created.")),
        Err(CatalogError::Invalid(errors)) => {
            render_catalog(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

async fn render_group(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    id: ProductGroupId,
    form: &GroupForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let saved_name = service::groups(&state.db).await?.into_iter().find(|g| g.id == id).map(|g| g.name);
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        group_id => id,
        group_name => saved_name.unwrap_or_default(),
        form => form.value(),
        errors => errors,
    };
    state.render_status(status, page, "admin/catalog/group.html", ctx).await
}

pub async fn edit_group_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductGroupId>,
) -> AppResult<Response> {
    let group = service::groups(&state.db).await?.into_iter().find(|g| g.id == id).ok_or(AppError::NotFound)?;
    let form = GroupForm {
        name: group.name,
        headline: group.headline,
        sort_order: group.sort_order.to_string(),
        visible: group.visible.then(|| "on".to_owned()),
    };
    render_group(&state, &page, &current, id, &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn update_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductGroupId>,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    match service::save_group(&state, &actor(&current, &page), Some(id), &form.input()).await {
        Ok(_) => Ok(flash::redirect(&state, "/admin/catalog", "success", "Product group saved.")),
        Err(CatalogError::Invalid(errors)) => {
            render_group(&state, &page, &current, id, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct ProductForm {
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    product_type: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    payment_type: String,
    taxable: Option<String>,
    hidden: Option<String>,
    retired: Option<String>,
    stock_enabled: Option<String>,
    #[serde(default)]
    stock_quantity: String,
    prorata_enabled: Option<String>,
    #[serde(default)]
    prorata_day: String,
    #[serde(default)]
    prorata_cutoff_day: String,
    #[serde(default)]
    sort_order: String,
    #[serde(default)]
    module: String,
}

impl ProductForm {
    fn input(&self) -> ProductInput {
        ProductInput {
            group_id: self.group_id.clone(),
            name: self.name.clone(),
            product_type: self.product_type.clone(),
            description: self.description.clone(),
            payment_type: self.payment_type.clone(),
            taxable: self.taxable.is_some(),
            hidden: self.hidden.is_some(),
            retired: self.retired.is_some(),
            stock_enabled: self.stock_enabled.is_some(),
            stock_quantity: self.stock_quantity.clone(),
            prorata_enabled: self.prorata_enabled.is_some(),
            prorata_day: self.prorata_day.clone(),
            prorata_cutoff_day: self.prorata_cutoff_day.clone(),
            sort_order: self.sort_order.clone(),
            module: self.module.clone(),
        }
    }

    fn from_product(p: &product::Model) -> Self {
        let on = |b: bool| b.then(|| "on".to_owned());
        ProductForm {
            group_id: p.group_id.to_string(),
            name: p.name.clone(),
            product_type: p.product_type.clone(),
            description: p.description.clone(),
            payment_type: p.payment_type.clone(),
            taxable: on(p.taxable),
            hidden: on(p.hidden),
            retired: on(p.retired),
            stock_enabled: on(p.stock_enabled),
            stock_quantity: p.stock_quantity.to_string(),
            prorata_enabled: on(p.prorata_enabled),
            prorata_day: p.prorata_day.to_string(),
            prorata_cutoff_day: p.prorata_cutoff_day.map(|d| d.to_string()).unwrap_or_default(),
            sort_order: p.sort_order.to_string(),
            module: p.module.clone(),
        }
    }

    fn value(&self) -> Value {
        context! {
            group_id => self.group_id.trim(), name => self.name.trim(), product_type => self.product_type.clone(),
            description => self.description.clone(), payment_type => self.payment_type.clone(),
            taxable => self.taxable.is_some(), hidden => self.hidden.is_some(), retired => self.retired.is_some(),
            stock_enabled => self.stock_enabled.is_some(), stock_quantity => self.stock_quantity.trim(),
            prorata_enabled => self.prorata_enabled.is_some(), prorata_day => self.prorata_day.trim(),
            prorata_cutoff_day => self.prorata_cutoff_day.trim(), sort_order => self.sort_order.trim(),
            module => self.module.trim(),
        }
    }
}

async fn options(state: &AppState) -> AppResult<Value> {
    let groups: Vec<(String, String)> =
        service::groups(&state.db).await?.into_iter().map(|g| (g.id.to_string(), g.name)).collect();
    Ok(context! {
        groups => groups,
        product_types => ProductType::ALL.iter().map(|t| (t.key(), t.label())).collect::<Vec<_>>(),
        payment_types => PaymentType::ALL.iter().map(|t| (t.key(), t.label())).collect::<Vec<_>>(),
        modules => crate::provisioning::choices(&state.http),
    })
}

pub async fn new_product_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Query(q): Query<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let form = ProductForm {
        group_id: q.get("group").cloned().unwrap_or_default(),
        product_type: "shared_hosting".into(),
        payment_type: "recurring".into(),
        taxable: Some("on".into()),
        prorata_day: "1".into(),
        module: "none".into(),
        ..ProductForm::default()
    };
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        form => form.value(),
        options => options(&state).await?,
        errors => FormErrors::new(),
    };
    state.render(&page, "admin/catalog/product_new.html", ctx).await
}

pub async fn create_product(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Form(form): Form<ProductForm>,
) -> AppResult<Response> {
    match service::save_product(&state, &actor(&current, &page), None, &form.input()).await {
        Ok(id) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/products/{id}"),
            "success",
            "Product created. Set its prices below.",
        )),
        Err(CatalogError::Invalid(errors)) => {
            let ctx = context! {
                current_staff => current.template_value(),
                nav => "catalog",
                form => form.value(),
                options => options(&state).await?,
                errors => errors,
            };
            state.render_status(StatusCode::UNPROCESSABLE_ENTITY, &page, "admin/catalog/product_new.html", ctx).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

/// A stored price cell, whichever table it comes from: (currency, cycle, price, setup fee).
pub(super) type StoredPrice = (String, String, i64, i64);

/// A price grid: one row per cycle, one column per currency, each cell a price and a setup
/// fee. `typed` (what a refused form sent) wins over `stored`.
pub(super) fn price_grid(
    cycles: &[BillingCycle],
    currencies: &[currency::Model],
    stored: &[StoredPrice],
    typed: Option<&BTreeMap<String, String>>,
) -> Value {
    let rows: Vec<Value> = cycles
        .iter()
        .map(|cycle| {
            let cells: Vec<Value> = currencies
                .iter()
                .map(|c| {
                    let price_field = format!("price.{}.{}", c.code, cycle.key());
                    let setup_field = format!("setup.{}.{}", c.code, cycle.key());
                    let (price, setup) = match typed {
                        Some(typed) => (
                            typed.get(&price_field).cloned().unwrap_or_default(),
                            typed.get(&setup_field).cloned().unwrap_or_default(),
                        ),
                        None => {
                            let core = service::to_core(c).unwrap_or(Currency::USD);
                            stored
                                .iter()
                                .find(|(code, key, _, _)| *code == c.code && key == cycle.key())
                                .map(|(_, _, price, setup)| {
                                    let setup = Money::from_minor(*setup, core);
                                    (
                                        Money::from_minor(*price, core).to_decimal_string(),
                                        if setup.is_zero() { String::new() } else { setup.to_decimal_string() },
                                    )
                                })
                                .unwrap_or_default()
                        }
                    };
                    context! { currency => c.code.clone(), price_field => price_field, setup_field => setup_field, price => price, setup => setup }
                })
                .collect();
            context! { cycle => cycle.key(), label => cycle.label(), cells => cells }
        })
        .collect();
    context! { currencies => currencies.iter().map(|c| c.code.clone()).collect::<Vec<_>>(), rows => rows }
}

/// The price matrix of a product or add-on: the cycles its payment type sells.
pub(super) fn price_matrix(
    payment_type: &str,
    currencies: &[currency::Model],
    stored: &[StoredPrice],
    typed: Option<&BTreeMap<String, String>>,
) -> Value {
    let payment_type = PaymentType::parse(payment_type).unwrap_or(PaymentType::Free);
    context! { payment_type => payment_type.key(), ..price_grid(payment_type.cycles(), currencies, stored, typed) }
}

/// The fields a price form sent (without its CSRF token), to show again when refused.
pub(super) fn typed_fields(fields: Vec<(String, String)>) -> BTreeMap<String, String> {
    fields.into_iter().filter(|(k, _)| k != "csrf_token").collect()
}

/// The cells of a price form, from fields named `price.<code>.<cycle>` and `setup.<code>.<cycle>`.
pub(super) fn price_cells(typed: &BTreeMap<String, String>) -> Vec<PriceInput> {
    let mut cells: BTreeMap<(String, String), PriceInput> = BTreeMap::new();
    for (key, value) in typed {
        let mut parts = key.splitn(3, '.');
        let (Some(kind), Some(code), Some(cycle)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let cell = cells.entry((code.to_owned(), cycle.to_owned())).or_insert_with(|| PriceInput {
            currency: code.to_owned(),
            cycle: cycle.to_owned(),
            price: String::new(),
            setup_fee: String::new(),
        });
        match kind {
            "price" => cell.price = value.clone(),
            "setup" => cell.setup_fee = value.clone(),
            _ => {}
        }
    }
    cells.into_values().collect()
}

/// The values of the checkboxes named `name` a form sent.
pub(super) fn ticked(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

/// Products as checkbox rows: {id, name, group, checked}.
pub(super) async fn product_choices(
    state: &AppState,
    checked: &[ProductId],
    except: Option<ProductId>,
) -> AppResult<Vec<Value>> {
    let groups = service::groups(&state.db).await?;
    let products = service::products(&state.db).await?;
    // In catalog order: group by group, then the products' own order.
    let mut rows = Vec::new();
    for g in &groups {
        for p in products.iter().filter(|p| p.group_id == g.id && Some(p.id) != except) {
            rows.push(context! {
                id => p.id, name => p.name.clone(), group => g.name.clone(), retired => p.retired,
                checked => checked.contains(&p.id),
            });
        }
    }
    Ok(rows)
}

struct ProductView<'a> {
    form: &'a ProductForm,
    typed_prices: Option<&'a BTreeMap<String, String>>,
    errors: FormErrors,
    status: StatusCode,
}

async fn render_product(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    product: &product::Model,
    view: ProductView<'_>,
) -> AppResult<Response> {
    let currencies = service::currencies(&state.db).await?;
    let stored: Vec<StoredPrice> = service::prices(&state.db, product.id)
        .await?
        .into_iter()
        .map(|p| (p.currency_code, p.cycle, p.price_minor, p.setup_fee_minor))
        .collect();
    let attached = option_groups::product_groups(&state.db, product.id).await?;
    let option_group_rows: Vec<Value> = option_groups::groups(&state.db)
        .await?
        .into_iter()
        .map(|g| context! { id => g.id, name => g.name, checked => attached.contains(&g.id) })
        .collect();
    let targets = service::upgrade_targets(&state.db, product.id).await?;
    let offered = addons::product_addons(&state.db, product.id).await?;
    let addon_rows: Vec<Value> = addons::addons(&state.db)
        .await?
        .into_iter()
        .filter(|a| offered.contains(&a.id))
        .map(|a| context! { id => a.id, name => a.name, hidden => a.hidden, retired => a.retired })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        product => product_row(product),
        form => view.form.value(),
        options => options(state).await?,
        prices => price_matrix(&product.payment_type, &currencies, &stored, view.typed_prices),
        option_groups => option_group_rows,
        upgrades => product_choices(state, &targets, Some(product.id)).await?,
        addons => addon_rows,
        history => crate::audit::history::for_entity(&state.db, "product", product.id.0, 20).await?,
        errors => view.errors,
    };
    state.render_status(view.status, page, "admin/catalog/product.html", ctx).await
}

pub async fn show_product(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
) -> AppResult<Response> {
    let product = service::find_product(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let form = ProductForm::from_product(&product);
    let view = ProductView { form: &form, typed_prices: None, errors: FormErrors::new(), status: StatusCode::OK };
    render_product(&state, &page, &current, &product, view).await
}

pub async fn update_product(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
    Form(form): Form<ProductForm>,
) -> AppResult<Response> {
    let product = service::find_product(&state.db, id).await?.ok_or(AppError::NotFound)?;
    match service::save_product(&state, &actor(&current, &page), Some(id), &form.input()).await {
        Ok(_) => Ok(flash::redirect(&state, &format!("/admin/catalog/products/{id}"), "success", "Product saved.")),
        Err(CatalogError::Invalid(errors)) => {
            let view =
                ProductView { form: &form, typed_prices: None, errors, status: StatusCode::UNPROCESSABLE_ENTITY };
            render_product(&state, &page, &current, &product, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn update_prices(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let product = service::find_product(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let typed = typed_fields(fields);
    let cells = price_cells(&typed);
    match service::save_prices(&state, &actor(&current, &page), id, &cells).await {
        Ok(_) => Ok(flash::redirect(&state, &format!("/admin/catalog/products/{id}"), "success", "Prices saved.")),
        Err(CatalogError::Invalid(errors)) => {
            let form = ProductForm::from_product(&product);
            let view = ProductView {
                form: &form,
                typed_prices: Some(&typed),
                errors,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_product(&state, &page, &current, &product, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

/// Flash-redirects back to `to` after a checkbox form: success, or why nothing changed.
pub(super) fn after_checkboxes(
    state: &AppState,
    to: &str,
    result: Result<usize, CatalogError>,
    saved: &str,
) -> AppResult<Response> {
    match result {
        Ok(_) => Ok(flash::redirect(state, to, "success", saved)),
        Err(CatalogError::Invalid(errors)) => {
            Ok(flash::redirect(state, to, "error", format!("Nothing was changed. {}", errors.messages())))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn update_upgrades(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let result = service::save_upgrades(&state, &actor(&current, &page), id, &ticked(&fields, "upgrade")).await;
    after_checkboxes(&state, &format!("/admin/catalog/products/{id}"), result, "Upgrades and downgrades saved.")
}

pub async fn update_product_option_groups(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let result =
        option_groups::save_product_groups(&state, &actor(&current, &page), id, &ticked(&fields, "option_group")).await;
    after_checkboxes(&state, &format!("/admin/catalog/products/{id}"), result, "Configurable options saved.")
}

#[derive(Deserialize, Default)]
pub struct CurrencyForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    rounding_mode: String,
    #[serde(default)]
    rounding_increment: String,
}

async fn render_currencies(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &CurrencyForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let stored = service::currencies(&state.db).await?;
    let rows: Vec<Value> = stored
        .iter()
        .map(|c| {
            let name = Currency::from_code(&c.code).ok().and_then(|c| c.name()).unwrap_or_default();
            context! {
                code => c.code.clone(), name => name, exponent => c.exponent, is_default => c.is_default,
                rate => c.rate.clone(), rate_updated_at => c.rate_updated_at.to_rfc3339(),
                rounding_mode => c.rounding_mode.clone(), rounding_increment => c.rounding_increment,
            }
        })
        .collect();
    let available: Vec<(String, String)> = Currency::iso_currencies()
        .filter(|c| !stored.iter().any(|s| s.code == c.code()))
        .map(|c| (c.code().to_owned(), format!("{} — {}", c.code(), c.name().unwrap_or_default())))
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "currencies",
        currencies => rows,
        available => available,
        rounding_modes => hostwright_core::RoundingMode::ALL.iter().map(|m| m.key()).collect::<Vec<_>>(),
        form => context! { code => form.code.trim(), rate => form.rate.trim() },
        errors => errors,
    };
    state.render_status(status, page, "admin/catalog/currencies.html", ctx).await
}

pub async fn list_currencies(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
) -> AppResult<Response> {
    render_currencies(&state, &page, &current, &CurrencyForm::default(), FormErrors::new(), StatusCode::OK).await
}

pub async fn add_currency(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Form(form): Form<CurrencyForm>,
) -> AppResult<Response> {
    match service::add_currency(&state, &actor(&current, &page), &form.code, &form.rate).await {
        Ok(()) => Ok(flash::redirect(&state, "/admin/currencies", "success", "Currency added.")),
        Err(CatalogError::Invalid(errors)) => {
            render_currencies(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn update_currency(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(code): Path<String>,
    Form(form): Form<CurrencyForm>,
) -> AppResult<Response> {
    let result = service::update_currency(
        &state,
        &actor(&current, &page),
        &code,
        &form.rate,
        &form.rounding_mode,
        &form.rounding_increment,
    )
    .await;
    match result {
        Ok(()) => Ok(flash::redirect(&state, "/admin/currencies", "success", format!("{code} saved."))),
        Err(CatalogError::Invalid(errors)) => {
            Ok(flash::redirect(&state, "/admin/currencies", "error", format!("{code}: {errors}")))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn make_default_currency(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(code): Path<String>,
) -> AppResult<Response> {
    service::make_default(&state, &actor(&current, &page), &code).await?;
    Ok(flash::redirect(
        &state,
        "/admin/currencies",
        "success",
        format!("{code} is now the default currency; rates were re-expressed against it."),
    ))
}
