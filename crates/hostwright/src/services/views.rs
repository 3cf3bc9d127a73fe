//! What the staff and client pages show of a service: rows for lists, its option values,
//! add-ons and cancellation requests. Amounts are formatted in the service's own currency.
//! The password is never part of a row: only whether one is set.

use std::collections::BTreeMap;
use std::str::FromStr;

use hostwright_core::{BillingCycle, Currency, Money};
use minijinja::{Value, context};
use sea_orm::entity::prelude::*;

use super::cancellations;
use super::model::{cancellation, service, service_addon};
use super::status::Status;
use super::store;
use crate::catalog::model::{addon, product};
use crate::clients::model::client;
use crate::ids::{ClientId, ProductId, ServiceId};
use crate::state::AppState;
use crate::web::AppResult;

/// Every currency, once per page, so a list costs no query per row.
pub async fn currency_table(state: &AppState) -> AppResult<BTreeMap<String, Currency>> {
    let mut table = BTreeMap::new();
    for stored in crate::catalog::service::currencies(&state.db).await? {
        table.insert(stored.code.clone(), crate::catalog::service::to_core(&stored)?);
    }
    Ok(table)
}

/// The currency of a record from the table: one not set up is an error page, never amounts
/// printed in another currency.
pub fn currency_in(table: &BTreeMap<String, Currency>, code: &str) -> AppResult<Currency> {
    Ok(crate::catalog::service::known_currency(table.get(code).copied(), code)?)
}

/// Product names by id (the catalog is small).
pub async fn product_names(state: &AppState) -> AppResult<BTreeMap<ProductId, String>> {
    Ok(crate::catalog::service::products(&state.db).await?.into_iter().map(|p| (p.id, p.name)).collect())
}

/// Client names by id, for the clients of a page of services.
pub async fn client_names(state: &AppState, ids: Vec<ClientId>) -> AppResult<BTreeMap<ClientId, String>> {
    Ok(client::Entity::find()
        .filter(client::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| {
            let name = if c.company_name.is_empty() { c.full_name() } else { c.company_name.clone() };
            (c.id, name)
        })
        .collect())
}

pub fn money(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_string()
}

fn cycle_label(key: &str) -> String {
    BillingCycle::from_str(key).map(|c| c.label().to_owned()).unwrap_or_else(|_| key.to_owned())
}

/// A service for lists and pages.
pub fn service_row(s: &service::Model, product: &str, client_name: &str, currency: Currency) -> Value {
    context! {
        id => s.id,
        client_id => s.client_id,
        client_name => client_name,
        order_id => s.order_id,
        product_id => s.product_id,
        product => product,
        status => s.status.clone(),
        status_label => Status::parse(&s.status).map_or("Unknown", Status::label),
        domain => s.domain.clone(),
        hostname => s.hostname.clone(),
        username => s.username.clone(),
        has_password => s.password_enc.is_some(),
        server_id => s.server_id,
        registration_date => s.registration_date.to_string(),
        next_due_date => s.next_due_date.map(|d| d.to_string()),
        cycle => cycle_label(&s.billing_cycle),
        cycle_key => s.billing_cycle.clone(),
        currency => s.currency_code.clone(),
        recurring => money(s.recurring_minor, currency),
        recurring_decimal => Money::from_minor(s.recurring_minor, currency).to_decimal_string(),
        first_payment => money(s.first_payment_minor, currency),
        use_current_price => s.use_current_price,
        notes => s.notes.clone(),
        suspend_reason => s.suspend_reason.clone(),
        suspended_on => s.suspended_on.map(|d| d.to_string()),
        terminated_on => s.terminated_on.map(|d| d.to_string()),
        cancelled_on => s.cancelled_on.map(|d| d.to_string()),
    }
}

/// Services of one client as rows (the client page's tab and the client area's list).
pub async fn client_service_rows(state: &AppState, client_id: ClientId) -> AppResult<Vec<Value>> {
    let services = store::for_client(&state.db, client_id).await?;
    let currencies = currency_table(state).await?;
    let products = product_names(state).await?;
    services
        .iter()
        .map(|s| {
            let currency = currency_in(&currencies, &s.currency_code)?;
            Ok(service_row(s, products.get(&s.product_id).map_or("", String::as_str), "", currency))
        })
        .collect()
}

/// A service's chosen option values: {option, value} as printed.
pub async fn option_rows(state: &AppState, id: ServiceId) -> AppResult<Vec<Value>> {
    let chosen = store::choices_of(&state.db, id).await?;
    Ok(store::describe_choices(&state.db, &chosen)
        .await?
        .into_iter()
        .map(|(option, value)| context! { option => option, value => value })
        .collect())
}

/// A service's add-ons: {name, status, status_label, cycle, amount, next_due_date}.
pub async fn addon_rows(state: &AppState, id: ServiceId, currency: Currency) -> AppResult<Vec<Value>> {
    let addons: Vec<service_addon::Model> = store::addons_of(&state.db, id).await?;
    let names: BTreeMap<_, String> = addon::Entity::find()
        .filter(addon::Column::Id.is_in(addons.iter().map(|a| a.addon_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    Ok(addons
        .iter()
        .map(|a| {
            context! {
                name => names.get(&a.addon_id).cloned().unwrap_or_default(),
                status => a.status.clone(),
                status_label => Status::parse(&a.status).map_or("Unknown", Status::label),
                cycle => cycle_label(&a.billing_cycle),
                amount => money(a.recurring_minor, currency),
                next_due_date => a.next_due_date.map(|d| d.to_string()),
            }
        })
        .collect())
}

/// A cancellation request for the pages.
pub fn request_row(r: &cancellation::Model, next_due_date: Option<chrono::NaiveDate>) -> Value {
    context! {
        id => r.id,
        service_id => r.service_id,
        kind => r.kind.clone(),
        when => cancellations::describe(&r.kind, next_due_date),
        reason => r.reason.clone(),
        status => r.status.clone(),
        status_label => cancellations::status_label(&r.status),
        requested_by => r.requested_by.clone(),
        requested_at => r.created_at.to_rfc3339(),
        resolved_at => r.resolved_at.map(|t| t.to_rfc3339()),
    }
}

/// A service's requests, newest first, and its open one.
pub async fn request_rows(state: &AppState, s: &service::Model) -> AppResult<(Vec<Value>, Option<Value>)> {
    let requests = cancellations::for_service(&state.db, s.id).await?;
    let open = requests.iter().find(|r| r.status == cancellations::OPEN).map(|r| request_row(r, s.next_due_date));
    Ok((requests.iter().map(|r| request_row(r, s.next_due_date)).collect(), open))
}

/// The product's name, for one service's page.
pub async fn product_name(state: &AppState, id: ProductId) -> AppResult<String> {
    Ok(product::Entity::find_by_id(id).one(&state.db).await?.map(|p| p.name).unwrap_or_default())
}
