//! Admin pages of configurable options: option groups, their options and values, each
//! value's price grid, and which products a group is offered with.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::catalog::handlers::{
    StoredPrice, actor, after_checkboxes, price_cells, price_grid, product_choices, ticked, typed_fields,
};
use crate::catalog::model::{option, option_group, option_value};
use crate::catalog::options::{self, GroupInput, OptionInput, OptionKind, PRICED_CYCLES, ValueInput};
use crate::catalog::service::{self, CatalogError};
use crate::ids::{ConfigOptionGroupId, ConfigOptionId, ConfigOptionValueId};
use crate::permissions::perm;
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

fn on(b: bool) -> Option<String> {
    b.then(|| "on".to_owned())
}

// --- groups -----------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct GroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

impl GroupForm {
    fn input(&self) -> GroupInput {
        GroupInput { name: self.name.clone(), description: self.description.clone() }
    }

    fn value(&self) -> Value {
        context! { name => self.name.trim(), description => self.description.trim() }
    }
}

async fn render_groups(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &GroupForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let groups = options::groups(&state.db).await?;
    let all_options = options::options_of_groups(&state.db, groups.iter().map(|g| g.id).collect()).await?;
    let links = options::all_group_products(&state.db).await?;
    let rows: Vec<Value> = groups
        .into_iter()
        .map(|g| {
            let option_count = all_options.iter().filter(|o| o.group_id == g.id).count();
            let product_count = links.iter().filter(|l| l.group_id == g.id).count();
            context! {
                id => g.id, name => g.name, description => g.description,
                options => option_count, products => product_count,
            }
        })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        groups => rows,
        form => form.value(),
        errors => errors,
    };
    state.render_status(status, page, "admin/catalog/option_groups.html", ctx).await
}

pub async fn list_option_groups(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
) -> AppResult<Response> {
    render_groups(&state, &page, &current, &GroupForm::default(), FormErrors::new(), StatusCode::OK).await
}

pub async fn create_option_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    match options::save_group(&state, &actor(&current, &page), None, &form.input()).await {
        Ok(id) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/option-groups/{id}"),
            "success",
            "Option group created. Add its options below.",
        )),
        Err(CatalogError::Invalid(errors)) => {
            render_groups(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

#[derive(Deserialize, Default)]
pub struct OptionForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    sort_order: String,
    hidden: Option<String>,
    #[serde(default)]
    quantity_min: String,
    #[serde(default)]
    quantity_max: String,
    #[serde(default)]
    quantity_step: String,
    #[serde(default)]
    unit_label: String,
}

impl OptionForm {
    fn input(&self) -> OptionInput {
        OptionInput {
            name: self.name.clone(),
            kind: self.kind.clone(),
            sort_order: self.sort_order.clone(),
            hidden: self.hidden.is_some(),
            quantity_min: self.quantity_min.clone(),
            quantity_max: self.quantity_max.clone(),
            quantity_step: self.quantity_step.clone(),
            unit_label: self.unit_label.clone(),
        }
    }

    fn from_option(o: &option::Model) -> Self {
        let quantity = o.kind == OptionKind::Quantity.key();
        let number = |n: i32| if quantity { n.to_string() } else { String::new() };
        OptionForm {
            name: o.name.clone(),
            kind: o.kind.clone(),
            sort_order: o.sort_order.to_string(),
            hidden: on(o.hidden),
            quantity_min: number(o.quantity_min),
            quantity_max: number(o.quantity_max),
            quantity_step: number(o.quantity_step),
            unit_label: o.unit_label.clone(),
        }
    }

    /// The "New option" form starts as a dropdown counting from 0 in steps of 1.
    fn new_option() -> Self {
        OptionForm {
            kind: OptionKind::Dropdown.key().into(),
            quantity_min: "0".into(),
            quantity_step: "1".into(),
            ..OptionForm::default()
        }
    }

    fn value(&self) -> Value {
        context! {
            name => self.name.trim(), kind => self.kind.trim(), sort_order => self.sort_order.trim(),
            hidden => self.hidden.is_some(), quantity_min => self.quantity_min.trim(),
            quantity_max => self.quantity_max.trim(), quantity_step => self.quantity_step.trim(),
            unit_label => self.unit_label.trim(),
        }
    }
}

fn kind_label(key: &str) -> &'static str {
    OptionKind::parse(key).map(OptionKind::label).unwrap_or_default()
}

/// What a client may choose of a quantity option, e.g. "1 to 16 GB, in steps of 1".
fn range_text(o: &option::Model) -> String {
    if o.kind != OptionKind::Quantity.key() {
        return String::new();
    }
    let unit = if o.unit_label.is_empty() { String::new() } else { format!(" {}", o.unit_label) };
    format!("{} to {}{unit}, in steps of {}", o.quantity_min, o.quantity_max, o.quantity_step)
}

fn group_value(g: &option_group::Model) -> Value {
    context! { id => g.id, name => g.name.clone() }
}

fn option_value_of(o: &option::Model) -> Value {
    let kind = OptionKind::parse(&o.kind);
    context! {
        id => o.id, name => o.name.clone(), kind => o.kind.clone(), kind_label => kind_label(&o.kind),
        single_value => kind.is_some_and(OptionKind::has_single_value), hidden => o.hidden,
        unit_label => o.unit_label.clone(), range => range_text(o),
    }
}

/// What was sent to the group page, when a form comes back refused.
struct GroupPage<'a> {
    form: &'a GroupForm,
    option_form: &'a OptionForm,
    errors: FormErrors,
    sent: &'static str,
    status: StatusCode,
}

async fn render_group(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    group: &option_group::Model,
    view: GroupPage<'_>,
) -> AppResult<Response> {
    let group_options = options::options_of(&state.db, group.id).await?;
    let values = options::values_of_options(&state.db, group_options.iter().map(|o| o.id).collect()).await?;
    let option_rows: Vec<Value> = group_options
        .iter()
        .map(|o| {
            let own = values.iter().filter(|v| v.option_id == o.id);
            let visible = own.clone().filter(|v| !v.hidden).count();
            context! { values => own.count(), visible_values => visible, ..option_value_of(o) }
        })
        .collect();
    let attached = options::group_products(&state.db, group.id).await?;
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        group => group_value(group),
        form => view.form.value(),
        options => option_rows,
        products => product_choices(state, &attached, None).await?,
        option_form => view.option_form.value(),
        kinds => OptionKind::ALL.iter().map(|k| (k.key(), k.label())).collect::<Vec<_>>(),
        history => crate::audit::history::for_entity(&state.db, "option_group", group.id.0, 20).await?,
        errors => view.errors,
        sent => view.sent,
    };
    state.render_status(view.status, page, "admin/catalog/option_group.html", ctx).await
}

async fn load_group(state: &AppState, id: ConfigOptionGroupId) -> AppResult<option_group::Model> {
    options::find_group(&state.db, id).await?.ok_or(AppError::NotFound)
}

pub async fn show_option_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionGroupId>,
) -> AppResult<Response> {
    let group = load_group(&state, id).await?;
    let form = GroupForm { name: group.name.clone(), description: group.description.clone() };
    let view = GroupPage {
        form: &form,
        option_form: &OptionForm::new_option(),
        errors: FormErrors::new(),
        sent: "",
        status: StatusCode::OK,
    };
    render_group(&state, &page, &current, &group, view).await
}

pub async fn update_option_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionGroupId>,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    let group = load_group(&state, id).await?;
    match options::save_group(&state, &actor(&current, &page), Some(id), &form.input()).await {
        Ok(_) => {
            Ok(flash::redirect(&state, &format!("/admin/catalog/option-groups/{id}"), "success", "Option group saved."))
        }
        Err(CatalogError::Invalid(errors)) => {
            let view = GroupPage {
                form: &form,
                option_form: &OptionForm::new_option(),
                errors,
                sent: "group",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_group(&state, &page, &current, &group, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn delete_option_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionGroupId>,
) -> AppResult<Response> {
    match options::delete_group(&state, &actor(&current, &page), id).await {
        Ok(name) => {
            Ok(flash::redirect(&state, "/admin/catalog/option-groups", "success", format!("{name} was deleted.")))
        }
        Err(CatalogError::Invalid(errors)) => {
            Ok(flash::redirect(&state, &format!("/admin/catalog/option-groups/{id}"), "error", errors.messages()))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn update_option_group_products(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionGroupId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let result = options::save_group_products(&state, &actor(&current, &page), id, &ticked(&fields, "product")).await;
    after_checkboxes(&state, &format!("/admin/catalog/option-groups/{id}"), result, "Products saved.")
}

pub async fn create_option(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionGroupId>,
    Form(form): Form<OptionForm>,
) -> AppResult<Response> {
    let group = load_group(&state, id).await?;
    match options::create_option(&state, &actor(&current, &page), id, &form.input()).await {
        Ok((option_id, kind)) if kind.has_single_value() => {
            // Its one value was made with it: straight on to the prices.
            let value = options::values_of(&state.db, option_id).await?.into_iter().next();
            let to = match value {
                Some(v) => format!("/admin/catalog/option-values/{}", v.id),
                None => format!("/admin/catalog/options/{option_id}"),
            };
            Ok(flash::redirect(&state, &to, "success", "Option created. Set its prices below."))
        }
        Ok((option_id, _)) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/options/{option_id}"),
            "success",
            "Option created. Add the values clients choose from below.",
        )),
        Err(CatalogError::Invalid(errors)) => {
            let form_values = GroupForm { name: group.name.clone(), description: group.description.clone() };
            let view = GroupPage {
                form: &form_values,
                option_form: &form,
                errors,
                sent: "option",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_group(&state, &page, &current, &group, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

// --- options ----------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ValueForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    sort_order: String,
    hidden: Option<String>,
}

impl ValueForm {
    fn input(&self) -> ValueInput {
        ValueInput { label: self.label.clone(), sort_order: self.sort_order.clone(), hidden: self.hidden.is_some() }
    }

    fn from_value(v: &option_value::Model) -> Self {
        ValueForm { label: v.label.clone(), sort_order: v.sort_order.to_string(), hidden: on(v.hidden) }
    }

    fn value(&self) -> Value {
        context! { label => self.label.trim(), sort_order => self.sort_order.trim(), hidden => self.hidden.is_some() }
    }
}

struct OptionPage<'a> {
    form: &'a OptionForm,
    value_form: &'a ValueForm,
    errors: FormErrors,
    sent: &'static str,
    status: StatusCode,
}

/// An option with its group, or 404.
async fn load_option(state: &AppState, id: ConfigOptionId) -> AppResult<(option::Model, option_group::Model)> {
    let option = options::find_option(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let group = load_group(state, option.group_id).await?;
    Ok((option, group))
}

async fn render_option(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    option: &option::Model,
    group: &option_group::Model,
    view: OptionPage<'_>,
) -> AppResult<Response> {
    let currencies = service::currencies(&state.db).await?.len();
    let values = options::values_of(&state.db, option.id).await?;
    let prices = options::values_prices(&state.db, values.iter().map(|v| v.id).collect()).await?;
    let value_rows: Vec<Value> = values
        .into_iter()
        .map(|v| {
            let priced = prices.iter().filter(|p| p.value_id == v.id).count();
            context! { id => v.id, label => v.label, sort_order => v.sort_order, hidden => v.hidden, prices => priced }
        })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        group => group_value(group),
        option => option_value_of(option),
        form => view.form.value(),
        values => value_rows,
        price_cells => currencies * PRICED_CYCLES.len(),
        value_form => view.value_form.value(),
        errors => view.errors,
        sent => view.sent,
    };
    state.render_status(view.status, page, "admin/catalog/option.html", ctx).await
}

pub async fn show_option(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionId>,
) -> AppResult<Response> {
    let (option, group) = load_option(&state, id).await?;
    let view = OptionPage {
        form: &OptionForm::from_option(&option),
        value_form: &ValueForm::default(),
        errors: FormErrors::new(),
        sent: "",
        status: StatusCode::OK,
    };
    render_option(&state, &page, &current, &option, &group, view).await
}

pub async fn update_option(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionId>,
    Form(form): Form<OptionForm>,
) -> AppResult<Response> {
    let (option, group) = load_option(&state, id).await?;
    match options::update_option(&state, &actor(&current, &page), id, &form.input()).await {
        Ok(()) => Ok(flash::redirect(&state, &format!("/admin/catalog/options/{id}"), "success", "Option saved.")),
        Err(CatalogError::Invalid(errors)) => {
            let form = OptionForm { kind: option.kind.clone(), ..form };
            let view = OptionPage {
                form: &form,
                value_form: &ValueForm::default(),
                errors,
                sent: "option",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_option(&state, &page, &current, &option, &group, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn delete_option(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionId>,
) -> AppResult<Response> {
    match options::delete_option(&state, &actor(&current, &page), id).await {
        Ok(group) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/option-groups/{group}"),
            "success",
            "The option was deleted.",
        )),
        Err(CatalogError::Invalid(errors)) => {
            Ok(flash::redirect(&state, &format!("/admin/catalog/options/{id}"), "error", errors.messages()))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn create_option_value(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionId>,
    Form(form): Form<ValueForm>,
) -> AppResult<Response> {
    let (option, group) = load_option(&state, id).await?;
    match options::add_value(&state, &actor(&current, &page), id, &form.input()).await {
        Ok(value) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/option-values/{value}"),
            "success",
            "Value added. Set its prices below.",
        )),
        Err(CatalogError::Invalid(errors)) => {
            let view = OptionPage {
                form: &OptionForm::from_option(&option),
                value_form: &form,
                errors,
                sent: "value",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_option(&state, &page, &current, &option, &group, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

// --- values -----------------------------------------------------------------------------

struct ValuePage<'a> {
    form: &'a ValueForm,
    typed_prices: Option<&'a BTreeMap<String, String>>,
    errors: FormErrors,
    sent: &'static str,
    status: StatusCode,
}

async fn render_value(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    value: &option_value::Model,
    view: ValuePage<'_>,
) -> AppResult<Response> {
    let (option, group) = load_option(state, value.option_id).await?;
    let currencies = service::currencies(&state.db).await?;
    let stored: Vec<StoredPrice> = options::value_prices(&state.db, value.id)
        .await?
        .into_iter()
        .map(|p| (p.currency_code, p.cycle, p.price_minor, p.setup_fee_minor))
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        group => group_value(&group),
        option => option_value_of(&option),
        value => context! { id => value.id, label => value.label.clone() },
        form => view.form.value(),
        prices => price_grid(&PRICED_CYCLES, &currencies, &stored, view.typed_prices),
        errors => view.errors,
        sent => view.sent,
    };
    state.render_status(view.status, page, "admin/catalog/option_value.html", ctx).await
}

async fn load_value(state: &AppState, id: ConfigOptionValueId) -> AppResult<option_value::Model> {
    options::find_value(&state.db, id).await?.ok_or(AppError::NotFound)
}

pub async fn show_option_value(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionValueId>,
) -> AppResult<Response> {
    let value = load_value(&state, id).await?;
    let view = ValuePage {
        form: &ValueForm::from_value(&value),
        typed_prices: None,
        errors: FormErrors::new(),
        sent: "",
        status: StatusCode::OK,
    };
    render_value(&state, &page, &current, &value, view).await
}

pub async fn update_option_value(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionValueId>,
    Form(form): Form<ValueForm>,
) -> AppResult<Response> {
    let value = load_value(&state, id).await?;
    match options::update_value(&state, &actor(&current, &page), id, &form.input()).await {
        Ok(()) => Ok(flash::redirect(&state, &format!("/admin/catalog/option-values/{id}"), "success", "Value saved.")),
        Err(CatalogError::Invalid(errors)) => {
            let view = ValuePage {
                form: &form,
                typed_prices: None,
                errors,
                sent: "value",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_value(&state, &page, &current, &value, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn update_option_value_prices(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionValueId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let value = load_value(&state, id).await?;
    let typed = typed_fields(fields);
    match options::save_value_prices(&state, &actor(&current, &page), id, &price_cells(&typed)).await {
        Ok(_) => Ok(flash::redirect(&state, &format!("/admin/catalog/option-values/{id}"), "success", "Prices saved.")),
        Err(CatalogError::Invalid(errors)) => {
            let view = ValuePage {
                form: &ValueForm::from_value(&value),
                typed_prices: Some(&typed),
                errors,
                sent: "prices",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            render_value(&state, &page, &current, &value, view).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn delete_option_value(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ConfigOptionValueId>,
) -> AppResult<Response> {
    match options::delete_value(&state, &actor(&current, &page), id).await {
        Ok(option) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/options/{option}"),
            "success",
            "The value was deleted.",
        )),
        Err(CatalogError::Invalid(errors)) => {
            Ok(flash::redirect(&state, &format!("/admin/catalog/option-values/{id}"), "error", errors.messages()))
        }
        Err(err) => Err(AppError::from(err)),
    }
}
