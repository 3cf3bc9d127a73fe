//! Admin pages of promotion codes: the list, a new code, editing, deleting an unused one.
//! The rules are in `coupons`; these pages parse the form and render.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use hostwright_core::BillingCycle;
use minijinja::{Value, context};

use super::admin::{self, CouponAdminError, CouponInput};
use super::{CouponKind, Recurrence};
use crate::audit::Actor;
use crate::catalog::model::currency;
use crate::catalog::{addons, service as catalog};
use crate::ids::{AddonId, CouponId, ProductId};
use crate::orders::model::coupon;
use crate::permissions::perm;
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/promotions", get(list_promotions).post(create_promotion))
        .route("/admin/promotions/new", get(new_promotion_form))
        .route("/admin/promotions/{id}", get(edit_promotion_form).post(update_promotion))
        .route("/admin/promotions/{id}/delete", post(delete_promotion))
}

fn actor(current: &CurrentStaff, page: &Page) -> Actor {
    Actor::staff(current.staff.id, &current.staff.email, &page.ip)
}

/// The cycles a coupon can be limited to: every cycle that is paid for.
fn cycle_choices() -> Vec<BillingCycle> {
    BillingCycle::ALL.into_iter().filter(|c| *c != BillingCycle::Free).collect()
}

/// The form as typed (or as stored): text fields, ticked boxes.
#[derive(Debug, Clone, Default)]
struct CouponForm(CouponInput);

impl CouponForm {
    fn from_fields(fields: &[(String, String)]) -> Self {
        let mut input = CouponInput::default();
        for (key, value) in fields {
            let value = value.clone();
            match key.as_str() {
                "code" => input.code = value,
                "kind" => input.kind = value,
                "percent" => input.percent = value,
                "amount" => input.amount = value,
                "currency_code" => input.currency_code = value,
                "product" => input.product_ids.push(value),
                "cycle" => input.cycles.push(value),
                "addon" => input.addon_ids.push(value),
                "applies_to_setup" => input.applies_to_setup = true,
                "recurrence" => input.recurrence = value,
                "recurring_limit" => input.recurring_limit = value,
                "starts_on" => input.starts_on = value,
                "expires_on" => input.expires_on = value,
                "max_uses" => input.max_uses = value,
                "max_uses_per_client" => input.max_uses_per_client = value,
                "new_clients_only" => input.new_clients_only = true,
                "active" => input.active = true,
                "notes" => input.notes = value,
                _ => {}
            }
        }
        CouponForm(input)
    }

    fn new_coupon(currencies: &[currency::Model]) -> Self {
        CouponForm(CouponInput {
            kind: CouponKind::Percent.key().into(),
            currency_code: currencies.first().map(|c| c.code.clone()).unwrap_or_default(),
            recurrence: Recurrence::Once.key().into(),
            active: true,
            ..CouponInput::default()
        })
    }

    fn from_coupon(c: &coupon::Model, currencies: &[currency::Model]) -> Self {
        let (products, cycles, addon_ids) = admin::stored_targets(c);
        let number = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
        let fixed = admin::fixed_amount(c, currencies);
        CouponForm(CouponInput {
            code: c.code.clone(),
            kind: c.kind.clone(),
            percent: if c.kind == CouponKind::Percent.key() { c.percent.clone() } else { String::new() },
            amount: fixed.map(|m| m.to_decimal_string()).unwrap_or_default(),
            currency_code: if c.currency_code.is_empty() {
                currencies.first().map(|c| c.code.clone()).unwrap_or_default()
            } else {
                c.currency_code.clone()
            },
            product_ids: products.iter().map(ToString::to_string).collect(),
            cycles,
            addon_ids: addon_ids.iter().map(ToString::to_string).collect(),
            applies_to_setup: c.applies_to_setup,
            recurrence: c.recurrence.clone(),
            recurring_limit: number(c.recurring_limit),
            starts_on: date(c.starts_on),
            expires_on: date(c.expires_on),
            max_uses: number(c.max_uses),
            max_uses_per_client: number(c.max_uses_per_client),
            new_clients_only: c.new_clients_only,
            active: c.active,
            notes: c.notes.clone(),
        })
    }

    fn value(&self) -> Value {
        let f = &self.0;
        context! {
            code => f.code.trim(), kind => f.kind.trim(), percent => f.percent.trim(), amount => f.amount.trim(),
            currency_code => f.currency_code.trim(), cycles => f.cycles.clone(),
            applies_to_setup => f.applies_to_setup, recurrence => f.recurrence.trim(),
            recurring_limit => f.recurring_limit.trim(), starts_on => f.starts_on.trim(),
            expires_on => f.expires_on.trim(), max_uses => f.max_uses.trim(),
            max_uses_per_client => f.max_uses_per_client.trim(), new_clients_only => f.new_clients_only,
            active => f.active, notes => f.notes.clone(),
        }
    }
}

fn ticked<T: ToString>(id: T, chosen: &[String]) -> bool {
    let id = id.to_string();
    chosen.iter().any(|c| c.trim() == id)
}

/// The choices of the form: kinds, recurrences, currencies, cycles, products and add-ons
/// (with the ticked ones).
async fn form_options(state: &AppState, form: &CouponForm, currencies: &[currency::Model]) -> AppResult<Value> {
    let groups = catalog::groups(&state.db).await?;
    let products = catalog::products(&state.db).await?;
    let mut product_rows = Vec::new();
    for g in &groups {
        for p in products.iter().filter(|p| p.group_id == g.id) {
            product_rows.push(context! {
                id => p.id, name => p.name.clone(), group => g.name.clone(), retired => p.retired,
                checked => ticked(p.id, &form.0.product_ids),
            });
        }
    }
    let addon_rows: Vec<Value> = addons::addons(&state.db)
        .await?
        .iter()
        .map(|a| context! { id => a.id, name => a.name.clone(), retired => a.retired, checked => ticked(a.id, &form.0.addon_ids) })
        .collect();
    Ok(context! {
        kinds => CouponKind::ALL.iter().map(|k| (k.key(), k.label())).collect::<Vec<_>>(),
        recurrences => Recurrence::ALL.iter().map(|r| (r.key(), r.label())).collect::<Vec<_>>(),
        currencies => currencies.iter().map(|c| (c.code.clone(), c.code.clone())).collect::<Vec<_>>(),
        cycles => cycle_choices().iter().map(|c| (c.key(), c.label())).collect::<Vec<_>>(),
        products => product_rows,
        addons => addon_rows,
    })
}

/// What a coupon applies to, in a few words.
fn applies_summary(
    c: &coupon::Model,
    product_names: &[(ProductId, String)],
    addon_names: &[(AddonId, String)],
) -> String {
    let (products, cycles, addon_ids) = admin::stored_targets(c);
    let mut parts = Vec::new();
    if products.is_empty() {
        parts.push("All products".to_owned());
    } else {
        let names: Vec<&str> =
            product_names.iter().filter(|(id, _)| products.contains(id)).map(|(_, n)| n.as_str()).collect();
        parts.push(names.join(", "));
    }
    if c.applies_to_setup {
        parts.push("setup fees".to_owned());
    }
    let addons: Vec<&str> =
        addon_names.iter().filter(|(id, _)| addon_ids.contains(id)).map(|(_, n)| n.as_str()).collect();
    if !addons.is_empty() {
        parts.push(format!("add-ons: {}", addons.join(", ")));
    }
    if !cycles.is_empty() {
        let labels: Vec<&str> =
            cycle_choices().into_iter().filter(|c| cycles.iter().any(|k| k == c.key())).map(|c| c.label()).collect();
        parts.push(format!("billed {}", labels.join(", ").to_lowercase()));
    }
    parts.join("; ")
}

fn recurrence_label(c: &coupon::Model) -> String {
    match super::renewals(c) {
        None => "First invoice only".to_owned(),
        Some(None) => "Every invoice".to_owned(),
        Some(Some(1)) => "First invoice and 1 renewal".to_owned(),
        Some(Some(n)) => format!("First invoice and {n} renewals"),
    }
}

fn date_text(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

pub async fn list_promotions(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::PromotionsManage>,
) -> AppResult<Response> {
    let currencies = catalog::currencies(&state.db).await?;
    let product_names: Vec<(ProductId, String)> =
        catalog::products(&state.db).await?.into_iter().map(|p| (p.id, p.name)).collect();
    let addon_names: Vec<(AddonId, String)> =
        addons::addons(&state.db).await?.into_iter().map(|a| (a.id, a.name)).collect();
    let rows: Vec<Value> = admin::coupons(&state.db)
        .await?
        .iter()
        .map(|c| {
            context! {
                id => c.id, code => c.code.clone(),
                discount => admin::discount_label(c, &currencies),
                applies_to => applies_summary(c, &product_names, &addon_names),
                recurrence => recurrence_label(c),
                uses => c.uses, max_uses => c.max_uses,
                starts_on => date_text(c.starts_on), expires_on => date_text(c.expires_on),
                new_clients_only => c.new_clients_only, active => c.active,
            }
        })
        .collect();
    let ctx = context! { current_staff => current.template_value(), nav => "promotions", coupons => rows };
    state.render(&page, "admin/promotions/list.html", ctx).await
}

async fn render_form(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    saved: Option<&coupon::Model>,
    form: &CouponForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let currencies = catalog::currencies(&state.db).await?;
    let (coupon_value, history) = match saved {
        Some(c) => (
            Some(context! { id => c.id, code => c.code.clone(), uses => c.uses, active => c.active }),
            crate::audit::history::for_entity(&state.db, "coupon", c.id.0, 20).await?,
        ),
        None => (None, Vec::new()),
    };
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "promotions",
        coupon => coupon_value,
        form => form.value(),
        options => form_options(state, form, &currencies).await?,
        history => history,
        errors => errors,
    };
    state.render_status(status, page, "admin/promotions/form.html", ctx).await
}

pub async fn new_promotion_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::PromotionsManage>,
) -> AppResult<Response> {
    let currencies = catalog::currencies(&state.db).await?;
    let form = CouponForm::new_coupon(&currencies);
    render_form(&state, &page, &current, None, &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn create_promotion(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::PromotionsManage>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = CouponForm::from_fields(&fields);
    match admin::save_coupon(&state, &actor(&current, &page), None, &form.0).await {
        Ok(_) => Ok(flash::redirect(
            &state,
            "/admin/promotions",
            "success",
            format!("Promotion code {} created.", super::normalize_code(&form.0.code)),
        )),
        Err(CouponAdminError::Invalid(errors)) => {
            render_form(&state, &page, &current, None, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

async fn load(state: &AppState, id: CouponId) -> AppResult<coupon::Model> {
    admin::find_coupon(&state.db, id).await?.ok_or(AppError::NotFound)
}

pub async fn edit_promotion_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::PromotionsManage>,
    Path(id): Path<CouponId>,
) -> AppResult<Response> {
    let saved = load(&state, id).await?;
    let currencies = catalog::currencies(&state.db).await?;
    let form = CouponForm::from_coupon(&saved, &currencies);
    render_form(&state, &page, &current, Some(&saved), &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn update_promotion(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::PromotionsManage>,
    Path(id): Path<CouponId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let saved = load(&state, id).await?;
    let form = CouponForm::from_fields(&fields);
    match admin::save_coupon(&state, &actor(&current, &page), Some(id), &form.0).await {
        Ok(_) => Ok(flash::redirect(
            &state,
            "/admin/promotions",
            "success",
            format!("Promotion code {} saved.", super::normalize_code(&form.0.code)),
        )),
        Err(CouponAdminError::Invalid(errors)) => {
            render_form(&state, &page, &current, Some(&saved), &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn delete_promotion(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::PromotionsManage>,
    Path(id): Path<CouponId>,
) -> AppResult<Response> {
    match admin::delete_coupon(&state, &actor(&current, &page), id).await {
        Ok(code) => {
            Ok(flash::redirect(&state, "/admin/promotions", "success", format!("Promotion code {code} was deleted.")))
        }
        Err(CouponAdminError::Invalid(errors)) => {
            Ok(flash::redirect(&state, &format!("/admin/promotions/{id}"), "error", errors.messages()))
        }
        Err(err) => Err(AppError::from(err)),
    }
}
