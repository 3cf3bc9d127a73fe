//! Admin pages of product add-ons: the list, each add-on's settings, price grid and the
//! products it is offered with.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::catalog::addons::{self, AddonInput, AddonWelcome};
use crate::catalog::handlers::{
    StoredPrice, actor, after_checkboxes, price_cells, price_matrix, product_choices, ticked, typed_fields,
};
use crate::catalog::model::addon;
use crate::catalog::service::{self, CatalogError, PaymentType};
use crate::ids::AddonId;
use crate::permissions::perm;
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

#[derive(Deserialize, Default)]
pub struct AddonForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    payment_type: String,
    taxable: Option<String>,
    hidden: Option<String>,
    retired: Option<String>,
    #[serde(default)]
    welcome_email: String,
}

impl AddonForm {
    fn input(&self) -> AddonInput {
        AddonInput {
            name: self.name.clone(),
            description: self.description.clone(),
            payment_type: self.payment_type.clone(),
            taxable: self.taxable.is_some(),
            hidden: self.hidden.is_some(),
            retired: self.retired.is_some(),
            welcome_email: self.welcome_email.clone(),
        }
    }

    fn new_addon() -> Self {
        AddonForm {
            payment_type: PaymentType::Recurring.key().into(),
            taxable: Some("on".into()),
            welcome_email: AddonWelcome::None.key().into(),
            ..AddonForm::default()
        }
    }

    fn from_addon(a: &addon::Model) -> Self {
        let on = |b: bool| b.then(|| "on".to_owned());
        AddonForm {
            name: a.name.clone(),
            description: a.description.clone(),
            payment_type: a.payment_type.clone(),
            taxable: on(a.taxable),
            hidden: on(a.hidden),
            retired: on(a.retired),
            welcome_email: a.welcome_email.clone(),
        }
    }

    fn value(&self) -> Value {
        context! {
            name => self.name.trim(), description => self.description.clone(),
            payment_type => self.payment_type.trim(), taxable => self.taxable.is_some(),
            hidden => self.hidden.is_some(), retired => self.retired.is_some(),
            welcome_email => self.welcome_email.trim(),
        }
    }
}

fn choices() -> Value {
    context! {
        payment_types => PaymentType::ALL.iter().map(|t| (t.key(), t.label())).collect::<Vec<_>>(),
        welcome_emails => AddonWelcome::ALL.iter().map(|w| (w.key(), w.label())).collect::<Vec<_>>(),
    }
}

fn addon_row(a: &addon::Model) -> Value {
    context! {
        id => a.id, name => a.name.clone(),
        payment_type => PaymentType::parse(&a.payment_type).map(PaymentType::label).unwrap_or_default(),
        hidden => a.hidden, retired => a.retired,
    }
}

async fn render_addons(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &AddonForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let links = addons::all_addon_products(&state.db).await?;
    let rows: Vec<Value> = addons::addons(&state.db)
        .await?
        .iter()
        .map(|a| context! { products => links.iter().filter(|l| l.addon_id == a.id).count(), ..addon_row(a) })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        addons => rows,
        form => form.value(),
        options => choices(),
        errors => errors,
    };
    state.render_status(status, page, "admin/catalog/addons.html", ctx).await
}

pub async fn list_addons(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
) -> AppResult<Response> {
    render_addons(&state, &page, &current, &AddonForm::new_addon(), FormErrors::new(), StatusCode::OK).await
}

pub async fn create_addon(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Form(form): Form<AddonForm>,
) -> AppResult<Response> {
    match addons::save_addon(&state, &actor(&current, &page), None, &form.input()).await {
        Ok(id) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/addons/{id}"),
            "success",
            "Add-on created. Set its prices and products below.",
        )),
        Err(CatalogError::Invalid(errors)) => {
            render_addons(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

struct AddonPage<'a> {
    form: &'a AddonForm,
    typed_prices: Option<&'a BTreeMap<String, String>>,
    errors: FormErrors,
    sent: &'static str,
    status: StatusCode,
}

async fn render_addon(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    addon: &addon::Model,
    view: AddonPage<'_>,
) -> AppResult<Response> {
    let currencies = service::currencies(&state.db).await?;
    let stored: Vec<StoredPrice> = addons::addon_prices(&state.db, addon.id)
        .await?
        .into_iter()
        .map(|p| (p.currency_code, p.cycle, p.price_minor, p.setup_fee_minor))
        .collect();
    let offered = addons::addon_products(&state.db, addon.id).await?;
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        addon => addon_row(addon),
        form => view.form.value(),
        options => choices(),
        prices => price_matrix(&addon.payment_type, &currencies, &stored, view.typed_prices),
        products => product_choices(state, &offered, None).await?,
        history => crate::audit::history::for_entity(&state.db, "addon", addon.id.0, 20).await?,
        errors => view.errors,
        sent => view.sent,
    };
    state.render_status(view.status, page, "admin/catalog/addon.html", ctx).await
}

async fn load_addon(state: &AppState, id: AddonId) -> AppResult<addon::Model> {
    addons::find_addon(&state.db, id).await?.ok_or(AppError::NotFound)
}

pub async fn show_addon(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<AddonId>,
) -> AppResult<Response> {
    let addon = load_addon(&state, id).await?;
    let view = AddonPage {
        form: &AddonForm::from_addon(&addon),
        typed_prices: None,
        errors: FormErrors::new(),
        sent: "",
        status: StatusCode::OK,
    };
    render_addon(&state, &page, &current, &addon, view).await
}

pub async fn update_addon(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<AddonId>,
    Form(form): Form<AddonForm>,
) -> AppResult<Response> {
    let addon = load_addon(&state, id).await?;
    match addons::save_addon(&state, &actor(&current, &page), Some(id), &form.input()).await {
        Ok(_) => Ok(flash::redirect(&state, &format!("/admin/catalog/addons/{id}"), "success", "Add-on saved.")),
        Err(CatalogError::Invalid(errors)) => {
            let view = AddonPage {
                form: &form,
                typed_prices: None,
                errors,
                sent: "addon",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_addon(&state, &page, &current, &addon, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn update_addon_prices(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<AddonId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let addon = load_addon(&state, id).await?;
    let typed = typed_fields(fields);
    match addons::save_addon_prices(&state, &actor(&current, &page), id, &price_cells(&typed)).await {
        Ok(_) => Ok(flash::redirect(&state, &format!("/admin/catalog/addons/{id}"), "success", "Prices saved.")),
        Err(CatalogError::Invalid(errors)) => {
            let view = AddonPage {
                form: &AddonForm::from_addon(&addon),
                typed_prices: Some(&typed),
                errors,
                sent: "prices",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_addon(&state, &page, &current, &addon, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn update_addon_products(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<AddonId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let result = addons::save_addon_products(&state, &actor(&current, &page), id, &ticked(&fields, "product")).await;
    after_checkboxes(&state, &format!("/admin/catalog/addons/{id}"), result, "Products saved.")
}

pub async fn delete_addon(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<AddonId>,
) -> AppResult<Response> {
    match addons::delete_addon(&state, &actor(&current, &page), id).await {
        Ok(name) => Ok(flash::redirect(&state, "/admin/catalog/addons", "success", format!("{name} was deleted."))),
        Err(CatalogError::Invalid(errors)) => {
            Ok(flash::redirect(&state, &format!("/admin/catalog/addons/{id}"), "error", errors.messages()))
        }
        Err(err) => Err(AppError::from(err)),
    }
}
