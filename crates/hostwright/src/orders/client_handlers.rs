//! The client's orders: the list and one order with its services.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use hostwright_core::BillingCycle;
use minijinja::{Value, context};
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;

use super::checkout::{self};
use super::model::order;
use super::storefront::money;
use crate::catalog::service::{self as catalog};
use crate::clients::current::CurrentClient;
use crate::ids::{OrderId, ProductId};
use crate::services::store as services;
use crate::state::AppState;
use crate::web::{AppError, AppResult, Page};

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
