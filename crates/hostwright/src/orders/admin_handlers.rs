//! Admin pages for orders (list, view, accept, cancel, fraud, delete) and the ordering
//! settings.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use super::client_handlers::{order_row, order_services};
use super::manage::{self, OrderError, OrderQuery};
use super::status::OrderStatus;
use crate::audit::{self, Actor};
use crate::ids::{ClientId, OrderId};
use crate::permissions::{Permission, perm};
use crate::site_settings::ordering::{self as order_settings, OrderSettings};
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

fn actor(current: &CurrentStaff, page: &Page) -> Actor {
    Actor::staff(current.staff.id, &current.staff.email, &page.ip)
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    number: String,
    page: Option<u64>,
}

pub async fn list_orders(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::OrdersView>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let number = q.number.trim();
    let query = OrderQuery {
        status: OrderStatus::parse(&q.status),
        client_id: q.client.trim().parse::<ClientId>().ok(),
        number: (!number.is_empty()).then(|| number.to_owned()),
        page: q.page.unwrap_or(1).max(1),
    };
    let (rows, total) = manage::search(&state.db, &query).await?;
    let mut orders = Vec::new();
    for o in &rows {
        orders.push(order_row(&state, o).await?);
    }
    let cap = crate::invoices::service::COUNT_CAP;
    let query_string = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("status", &q.status)
        .append_pair("client", &q.client)
        .append_pair("number", &q.number)
        .finish();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "orders",
        orders => orders,
        statuses => OrderStatus::ALL.map(OrderStatus::key),
        filters => context! { status => q.status, client => q.client, number => q.number },
        pagination => context! {
            page => query.page,
            pages => total.min(cap).div_ceil(manage::PER_PAGE).max(1),
            total => if total > cap { Value::from("more than 10,000") } else { Value::from(total) },
            query => query_string,
        },
    };
    state.render(&page, "admin/orders/list.html", ctx).await
}

pub async fn show_order(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::OrdersView>,
    Path(id): Path<OrderId>,
) -> AppResult<Response> {
    let o = manage::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let client = crate::clients::store::find(&state.db, o.client_id).await?.ok_or(AppError::NotFound)?;
    let coupon = match o.coupon_id {
        Some(cid) => {
            use sea_orm::EntityTrait;
            super::model::coupon::Entity::find_by_id(cid).one(&state.db).await?.map(|c| c.code)
        }
        None => None,
    };
    let invoice = match o.invoice_id {
        Some(iid) => crate::invoices::service::find(&state.db, iid)
            .await?
            .map(|i| context! { id => i.id, number => i.display_number(), status => i.status.clone() }),
        None => None,
    };
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "orders",
        order => order_row(&state, &o).await?,
        client => context! { id => client.id, name => client.full_name(), email => client.email.clone(), company => client.company_name.clone() },
        coupon => coupon,
        invoice => invoice,
        services => order_services(&state, id).await?,
        can_manage => current.can(Permission::OrdersManage),
    };
    state.render(&page, "admin/orders/show.html", ctx).await
}

fn order_error(err: OrderError) -> Result<String, AppError> {
    match err {
        OrderError::NotFound => Err(AppError::NotFound),
        OrderError::Internal(err) => Err(AppError::Internal(err)),
        OrderError::NotAllowed(message) => Ok(message),
    }
}

pub async fn order_action(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::OrdersManage>,
    Path((id, action)): Path<(OrderId, String)>,
) -> AppResult<Response> {
    let actor = actor(&current, &page);
    let back = format!("/admin/orders/{id}");
    let outcome = match action.as_str() {
        "accept" => manage::accept(&state, &actor, id).await.map(|accepted| match accepted.queued {
            0 => "Order accepted.".to_owned(),
            n => format!("Order accepted; {n} service(s) are being set up on their servers."),
        }),
        "cancel" => manage::cancel(&state, &actor, id).await.map(|closing| match closing {
            manage::Closing::Done => "Order cancelled.".to_owned(),
            manage::Closing::Queued => {
                "The order's services are being removed from their servers; the order is cancelled then.".to_owned()
            }
        }),
        "fraud" => manage::mark_fraud(&state, &actor, id).await.map(|closing| match closing {
            manage::Closing::Done => "Order marked as fraud.".to_owned(),
            manage::Closing::Queued => "The order is marked as fraud once its services are removed.".to_owned(),
        }),
        "delete" => {
            return match manage::delete(&state, &actor, id).await {
                Ok(number) => {
                    Ok(flash::redirect(&state, "/admin/orders", "success", format!("Order {number} deleted.")))
                }
                Err(err) => Ok(flash::redirect(&state, &back, "error", order_error(err)?)),
            };
        }
        _ => return Err(AppError::NotFound),
    };
    Ok(match outcome {
        Ok(message) => flash::redirect(&state, &back, "success", message),
        Err(err) => flash::redirect(&state, &back, "error", order_error(err)?),
    })
}

async fn render_settings(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &SettingsForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "ordering",
        form => context! {
            terms_url => form.terms_url.trim(),
            auto_accept_paid => !form.auto_accept_paid.is_empty(),
            downgrade_credit_to_account => !form.downgrade_credit_to_account.is_empty(),
            first_invoice_due_days => form.first_invoice_due_days.trim(),
        },
        errors => errors,
    };
    state.render_status(status, page, "admin/ordering_settings.html", ctx).await
}

#[derive(Deserialize, Default)]
pub struct SettingsForm {
    #[serde(default)]
    terms_url: String,
    #[serde(default)]
    auto_accept_paid: String,
    #[serde(default)]
    downgrade_credit_to_account: String,
    #[serde(default)]
    first_invoice_due_days: String,
}

fn flag(on: bool) -> String {
    if on { "on".into() } else { String::new() }
}

pub async fn ordering_settings(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
) -> AppResult<Response> {
    let s = order_settings::load(&state.db).await?;
    let form = SettingsForm {
        terms_url: s.terms_url,
        auto_accept_paid: flag(s.auto_accept_paid),
        downgrade_credit_to_account: flag(s.downgrade_credit_to_account),
        first_invoice_due_days: s.first_invoice_due_days.to_string(),
    };
    render_settings(&state, &page, &current, &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn save_ordering_settings(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let terms_url = form.terms_url.trim();
    if !terms_url.is_empty() {
        let parsed = url::Url::parse(terms_url).ok().filter(|u| matches!(u.scheme(), "https" | "http"));
        if parsed.is_none() || terms_url.len() > 500 {
            errors.add("terms_url", "Enter the full address of your terms, e.g. https://example.com/terms.");
        }
    }
    let due_days = form.first_invoice_due_days.trim().parse::<u32>().ok().filter(|d| *d <= 90);
    if due_days.is_none() {
        errors.add("first_invoice_due_days", "Enter a number of days from 0 to 90.");
    }
    let (Some(due_days), true) = (due_days, errors.is_empty()) else {
        return render_settings(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let settings = OrderSettings {
        terms_url: terms_url.to_owned(),
        auto_accept_paid: !form.auto_accept_paid.is_empty(),
        downgrade_credit_to_account: !form.downgrade_credit_to_account.is_empty(),
        first_invoice_due_days: due_days,
    };
    let txn = {
        use sea_orm::TransactionTrait;
        state.db.begin().await?
    };
    order_settings::save(&txn, &settings).await?;
    audit::record(
        &txn,
        &actor(&current, &page),
        "settings.ordering",
        None,
        format!(
            "Ordering settings: terms {}, auto-accept paid orders {}, downgrade credit to account {}, first invoice due in {} days",
            if settings.terms_url.is_empty() { "none" } else { &settings.terms_url },
            settings.auto_accept_paid,
            settings.downgrade_credit_to_account,
            settings.first_invoice_due_days
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(flash::redirect(&state, "/admin/settings/ordering", "success", "Ordering settings saved."))
}
