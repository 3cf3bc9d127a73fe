//! The upgrade/downgrade page, for the client (their own services) and for staff: choose the
//! product, cycle and options, see what the change costs now, confirm; and cancel a change
//! still waiting for its invoice.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use hostwright_core::BillingCycle;
use minijinja::{Value, context};
use serde::Deserialize;

use super::model::service;
use super::store;
use super::upgrades::{self, Priced, Requested, Target, UpgradeError};
use crate::audit::Actor;
use crate::catalog::choice_forms::{option_row, parse_choices};
use crate::catalog::options;
use crate::catalog::service::PaymentType;
use crate::clients::current::{ClientAllowed, client_perm};
use crate::crypto::random_token;
use crate::ids::{ProductId, ServiceId};
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::retry::keyed;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/services/{id}/upgrade", keyed(get(client_form).post(client_request)))
        .route("/account/services/{id}/upgrade/cancel", post(client_cancel))
        .route("/admin/services/{id}/upgrade", keyed(get(staff_form).post(staff_request)))
        .route("/admin/services/{id}/upgrade/cancel", post(staff_cancel))
}

/// Which area the page is shown in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Area {
    Client,
    Staff,
}

impl Area {
    fn base(self, id: ServiceId) -> String {
        match self {
            Area::Client => format!("/account/services/{id}"),
            Area::Staff => format!("/admin/services/{id}"),
        }
    }

    fn template(self) -> &'static str {
        match self {
            Area::Client => "client/services/upgrade.html",
            Area::Staff => "admin/services/upgrade.html",
        }
    }
}

#[derive(Deserialize, Default)]
pub struct UpgradeFields {
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

/// The target typed into the form, if a product was chosen.
async fn typed_target(
    state: &AppState,
    s: &service::Model,
    fields: &BTreeMap<String, String>,
) -> AppResult<Option<Target>> {
    let Some(product_id) = fields.get("product").and_then(|p| p.parse::<ProductId>().ok()) else {
        return Ok(None);
    };
    let cycle = fields
        .get("cycle")
        .and_then(|c| c.parse::<BillingCycle>().ok())
        .or_else(|| s.billing_cycle.parse().ok())
        .unwrap_or(BillingCycle::Monthly);
    let (choices, _) = parse_choices(state, fields).await?;
    Ok(Some(Target { product_id, cycle, choices }))
}

fn upgrade_error(err: UpgradeError) -> Result<String, AppError> {
    match err {
        UpgradeError::NotFound => Err(AppError::NotFound),
        UpgradeError::Internal(err) => Err(AppError::Internal(err)),
        other => Ok(other.to_string()),
    }
}

fn quote_value(p: &Priced) -> Value {
    let q = &p.quote;
    context! {
        product => p.to.name.clone(),
        cycle => p.target.cycle.label(),
        credit => q.credit.to_string(),
        charge => q.charge.to_string(),
        due_now => q.due_now.to_string(),
        nothing_due => !q.due_now.is_positive(),
        account_credit => q.account_credit.is_positive().then(|| q.account_credit.to_string()),
        new_recurring => p.new_recurring.to_string(),
        next_due => q.next_due.to_string(),
        period_end => p.period.end.to_string(),
        on => p.on.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    page: &Page,
    area: Area,
    who: Value,
    s: &service::Model,
    fields: &BTreeMap<String, String>,
    mut errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let products = upgrades::targets(&state.db, s).await?;
    let current = products.iter().find(|p| p.id == s.product_id).map(|p| p.name.clone()).unwrap_or_default();
    let target = typed_target(state, s, fields).await?;
    let chosen = target.as_ref().map_or(s.product_id, |t| t.product_id);
    let chosen_product = products.iter().find(|p| p.id == chosen);
    let cycle_key = fields.get("cycle").cloned().unwrap_or_else(|| s.billing_cycle.clone());
    let cycles: Vec<Value> = chosen_product
        .map(|p| PaymentType::parse(&p.payment_type).map(|t| t.cycles()).unwrap_or_default())
        .unwrap_or_default()
        .iter()
        .map(|c| context! { key => c.key(), label => c.label(), selected => c.key() == cycle_key })
        .collect();
    let group_ids = options::product_groups(&state.db, chosen).await?;
    let offered = options::options_of_groups(&state.db, group_ids).await?;
    let values = options::values_of_options(&state.db, offered.iter().map(|o| o.id).collect()).await?;
    let typed_options = if target.is_some() { fields.clone() } else { current_option_fields(state, s.id).await? };
    let option_rows: Vec<Value> = offered
        .iter()
        .filter(|o| !o.hidden)
        .map(|o| option_row(o, &values, &typed_options, &Default::default()))
        .collect();
    let quote = match target {
        Some(t) => match upgrades::price(&state.db, s.id, t).await {
            Ok(priced) => Some(quote_value(&priced)),
            Err(err) => {
                errors.add("_form", upgrade_error(err)?);
                None
            }
        },
        None => None,
    };
    let pending = upgrades::pending(&state.db, s.id).await?;
    let hidden: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "key" && k.as_str() != "csrf_token")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let key = fields.get("key").cloned().unwrap_or_else(random_token);
    let ctx = context! {
        nav => "services",
        current_client => if area == Area::Client { who.clone() } else { Value::default() },
        current_staff => if area == Area::Staff { who } else { Value::default() },
        service => context! {
            id => s.id,
            product => current,
            domain => if s.domain.is_empty() { s.hostname.clone() } else { s.domain.clone() },
            cycle => s.billing_cycle.parse::<BillingCycle>().map(|c| c.label()).unwrap_or(""),
            next_due => s.next_due_date.map(|d| d.to_string()),
        },
        base => area.base(s.id),
        products => products.iter().map(|p| context! { id => p.id, name => p.name.clone(), selected => p.id == chosen, current => p.id == s.product_id }).collect::<Vec<_>>(),
        cycles => cycles,
        options => option_rows,
        quote => quote,
        hidden => hidden,
        key => key,
        pending => pending.map(|u| context! { invoice_id => u.invoice_id, created_at => u.created_at.to_rfc3339() }),
        errors => errors,
    };
    state.render_status(status, page, area.template(), ctx).await
}

/// The service's option values as `opt_<id>` fields, to start the form from what it has.
async fn current_option_fields(state: &AppState, id: ServiceId) -> AppResult<BTreeMap<String, String>> {
    Ok(store::choices_of(&state.db, id)
        .await?
        .into_iter()
        .map(|(option, choice)| {
            let value = match choice {
                crate::catalog::pricing::Choice::Value(v) => v.to_string(),
                crate::catalog::pricing::Choice::Quantity(q) => q.to_string(),
            };
            (format!("opt_{option}"), value)
        })
        .collect())
}

async fn submit(
    state: &AppState,
    page: &Page,
    area: Area,
    who: Value,
    actor: &Actor,
    s: &service::Model,
    fields: &BTreeMap<String, String>,
) -> AppResult<Response> {
    let base = area.base(s.id);
    let Some(target) = typed_target(state, s, fields).await? else {
        return Ok(flash::redirect(state, &format!("{base}/upgrade"), "error", "Choose the product to change to."));
    };
    let key = fields.get("key").cloned().unwrap_or_default();
    match upgrades::request(state, actor, s.id, target, &key).await {
        Ok(Requested::Invoiced { invoice, .. }) => {
            let to = match area {
                Area::Client => format!("/account/invoices/{invoice}"),
                Area::Staff => format!("/admin/invoices/{invoice}"),
            };
            Ok(flash::redirect(state, &to, "success", "The change takes effect when this invoice is paid."))
        }
        Ok(Requested::Applied { .. }) => Ok(flash::redirect(state, &base, "success", "The service is changed.")),
        Ok(Requested::Already { .. }) => Ok(flash::redirect(state, &base, "success", "That change was already made.")),
        Err(err) => {
            let errors = FormErrors::form(upgrade_error(err)?);
            render(state, page, area, who, s, fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn own_service(
    state: &AppState,
    current: &crate::clients::current::CurrentClient,
    id: ServiceId,
) -> AppResult<service::Model> {
    store::find(&state.db, id).await?.filter(|s| s.client_id == current.client.id).ok_or(AppError::NotFound)
}

pub async fn client_form(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Services>,
    Path(id): Path<ServiceId>,
    Query(q): Query<UpgradeFields>,
) -> AppResult<Response> {
    let s = own_service(&state, &current, id).await?;
    render(&state, &page, Area::Client, current.template_value(), &s, &q.fields, FormErrors::new(), StatusCode::OK)
        .await
}

pub async fn client_request(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Services>,
    Path(id): Path<ServiceId>,
    Form(form): Form<UpgradeFields>,
) -> AppResult<Response> {
    let s = own_service(&state, &current, id).await?;
    let actor = current.actor(&page.ip);
    submit(&state, &page, Area::Client, current.template_value(), &actor, &s, &form.fields).await
}

async fn cancel_pending(state: &AppState, actor: &Actor, id: ServiceId, back: &str) -> AppResult<Response> {
    let Some(pending) = upgrades::pending(&state.db, id).await? else {
        return Ok(flash::redirect(state, back, "error", "There is no pending change."));
    };
    Ok(match upgrades::cancel(state, actor, pending.id).await {
        Ok(()) => flash::redirect(state, back, "success", "The pending change and its invoice are cancelled."),
        Err(err) => flash::redirect(state, back, "error", upgrade_error(err)?),
    })
}

pub async fn client_cancel(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Services>,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    let s = own_service(&state, &current, id).await?;
    cancel_pending(&state, &current.actor(&page.ip), s.id, &format!("/account/services/{id}")).await
}

pub async fn staff_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path(id): Path<ServiceId>,
    Query(q): Query<UpgradeFields>,
) -> AppResult<Response> {
    let s = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    render(&state, &page, Area::Staff, current.template_value(), &s, &q.fields, FormErrors::new(), StatusCode::OK).await
}

pub async fn staff_request(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path(id): Path<ServiceId>,
    Form(form): Form<UpgradeFields>,
) -> AppResult<Response> {
    let s = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let actor = Actor::staff(current.staff.id, &current.staff.email, &page.ip);
    submit(&state, &page, Area::Staff, current.template_value(), &actor, &s, &form.fields).await
}

pub async fn staff_cancel(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    let actor = Actor::staff(current.staff.id, &current.staff.email, &page.ip);
    cancel_pending(&state, &actor, id, &format!("/admin/services/{id}")).await
}
