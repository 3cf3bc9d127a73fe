//! The billing settings page (the business on its invoices, numbering, tax) and the tax
//! rules staff add or remove.

use std::str::FromStr;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use hostwright_core::Decimal;
use minijinja::{Value, context};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, TransactionTrait};
use serde::Deserialize;

use super::model::tax_rule;
use super::numbering::Pattern;
use super::settings::{self, BillingSettings};
use super::views::actor;
use crate::audit;
use crate::clients::countries;
use crate::ids::TaxRuleId;
use crate::permissions::perm;
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::forms::optional_text;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

#[derive(Deserialize, Default)]
pub struct BillingForm {
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    tax_id: String,
    #[serde(default)]
    registration: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    invoice_pattern: String,
    invoice_yearly_reset: Option<String>,
    #[serde(default)]
    credit_note_pattern: String,
    proforma_mode: Option<String>,
    #[serde(default)]
    proforma_pattern: String,
    #[serde(default)]
    default_due_days: String,
    prices_include_tax: Option<String>,
    #[serde(default)]
    time_zone: String,
}

async fn render_billing(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    settings: &BillingSettings,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let rules: Vec<Value> = tax_rule::Entity::find()
        .order_by_asc(tax_rule::Column::Country)
        .order_by_asc(tax_rule::Column::Level)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|r| context! { id => r.id, name => r.name, country => r.country, region => r.region, rate => r.rate, level => r.level })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "billing",
        settings => Value::from_serialize(settings),
        countries => countries::COUNTRIES.to_vec(),
        tax_rules => rules,
        errors => errors,
    };
    state.render_status(status, page, "admin/billing_settings.html", ctx).await
}

pub async fn billing_settings(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
) -> AppResult<Response> {
    let settings = settings::load(&state.db).await?;
    render_billing(&state, &page, &current, &settings, FormErrors::new(), StatusCode::OK).await
}

pub async fn save_billing_settings(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Form(form): Form<BillingForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let settings = BillingSettings {
        company_name: optional_text(&mut errors, "company_name", &form.company_name, 150),
        address: form.address.trim().chars().take(1000).collect(),
        country: match form.country.trim() {
            "" => String::new(),
            c => countries::parse(c).map(str::to_owned).unwrap_or_else(|| {
                errors.add("country", "Choose a country from the list.");
                String::new()
            }),
        },
        tax_id: optional_text(&mut errors, "tax_id", &form.tax_id, 40).to_uppercase(),
        registration: optional_text(&mut errors, "registration", &form.registration, 100),
        email: optional_text(&mut errors, "email", &form.email, 200),
        invoice_pattern: form.invoice_pattern.trim().to_owned(),
        invoice_yearly_reset: form.invoice_yearly_reset.is_some(),
        credit_note_pattern: form.credit_note_pattern.trim().to_owned(),
        proforma_mode: form.proforma_mode.is_some(),
        proforma_pattern: form.proforma_pattern.trim().to_owned(),
        default_due_days: form.default_due_days.trim().parse::<u32>().ok().filter(|d| *d <= 365).unwrap_or_else(|| {
            errors.add("default_due_days", "Enter a number of days from 0 to 365.");
            14
        }),
        prices_include_tax: form.prices_include_tax.is_some(),
        time_zone: match form.time_zone.trim() {
            "" => "UTC".to_owned(),
            name => settings::parse_time_zone(name).map(|tz| tz.name().to_owned()).unwrap_or_else(|message| {
                errors.add("time_zone", message);
                name.chars().take(64).collect()
            }),
        },
    };
    if let Err(message) = Pattern::parse(&settings.invoice_pattern, settings.invoice_yearly_reset) {
        errors.add("invoice_pattern", message);
    }
    if let Err(message) = Pattern::parse(&settings.credit_note_pattern, settings.invoice_yearly_reset) {
        errors.add("credit_note_pattern", message);
    }
    if let Err(message) = Pattern::parse(&settings.proforma_pattern, false) {
        errors.add("proforma_pattern", message);
    }
    if !errors.is_empty() {
        return render_billing(&state, &page, &current, &settings, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let txn = state.db.begin().await?;
    settings::save(&txn, &settings).await?;
    audit::record(&txn, &actor(&current, &page), "settings.billing_updated", None, "Billing settings changed").await?;
    txn.commit().await?;
    Ok(flash::redirect(&state, "/admin/settings/billing", "success", "Billing settings saved."))
}

#[derive(Deserialize, Default)]
pub struct TaxRuleForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    level: String,
}

pub async fn add_tax_rule(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Form(form): Form<TaxRuleForm>,
) -> AppResult<Response> {
    let back = "/admin/settings/billing";
    let name = form.name.trim();
    let country = match form.country.trim() {
        "" => Some(String::new()),
        c => countries::parse(c).map(str::to_owned),
    };
    let rate = Decimal::from_str(form.rate.trim())
        .ok()
        .filter(|r| *r >= Decimal::ZERO && *r <= Decimal::from(100) && r.scale() <= 4);
    let level: i16 = if form.level == "2" { 2 } else { 1 };
    let (Some(country), Some(rate), false) = (country, rate, name.is_empty() || name.chars().count() > 50) else {
        return Ok(flash::redirect(
            &state,
            back,
            "error",
            "Give the tax a name, a country from the list (or none) and a rate from 0 to 100.",
        ));
    };
    let region = form.region.trim().chars().take(100).collect::<String>();
    // The money core refuses two rules of one level for one place: check before saving.
    let existing = tax_rule::Entity::find().all(&state.db).await?;
    if existing.iter().any(|r| r.country == country && r.region == region && r.level == level) {
        return Ok(flash::redirect(&state, back, "error", "There is already a tax of that level for that place."));
    }
    let txn = state.db.begin().await?;
    tax_rule::ActiveModel {
        name: Set(name.to_owned()),
        country: Set(country.clone()),
        region: Set(region),
        rate: Set(rate.normalize().to_string()),
        level: Set(level),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        &actor(&current, &page),
        "tax_rule.added",
        None,
        format!("Tax {name} {rate}% for {}", if country.is_empty() { "every country" } else { &country }),
    )
    .await?;
    txn.commit().await?;
    Ok(flash::redirect(&state, back, "success", "Tax rule added."))
}

pub async fn delete_tax_rule(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<TaxRuleId>,
) -> AppResult<Response> {
    let txn = state.db.begin().await?;
    let rule = tax_rule::Entity::find_by_id(id).one(&txn).await?.ok_or(AppError::NotFound)?;
    tax_rule::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        &actor(&current, &page),
        "tax_rule.removed",
        None,
        format!("Removed tax {} {}%", rule.name, rule.rate),
    )
    .await?;
    txn.commit().await?;
    Ok(flash::redirect(
        &state,
        "/admin/settings/billing",
        "success",
        "Tax rule removed. Issued invoices keep their taxes.",
    ))
}
