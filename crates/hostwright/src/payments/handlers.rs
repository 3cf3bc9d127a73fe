//! Pages: a client paying an invoice through a gateway; staff's transactions list, a
//! payment with its raw events, and the gateway settings with "test connection".

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use hostwright_core::{Currency, Money};
use minijinja::{Value, context};
use sea_orm::entity::prelude::*;
use sea_orm::{PaginatorTrait, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::PaymentError;
use super::gateways::{self, GatewayInput, STRIPE};
use super::model::{event, payment};
use super::{checkout, refunds, store};
use crate::catalog::service::currencies_by_code;
use crate::clients::current::{ClientAllowed, client_perm};
use crate::clients::model::client;
use crate::ids::{ClientId, GatewayPaymentId, InvoiceId};
use crate::invoices::account_credit;
use crate::invoices::model::invoice;
use crate::invoices::service::{self as invoices, InvoiceError};
use crate::invoices::status::InvoiceStatus;
use crate::payments::status::PaymentStatus;
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

const PER_PAGE: u64 = 50;

impl From<PaymentError> for AppError {
    fn from(err: PaymentError) -> Self {
        match err {
            PaymentError::NotFound => AppError::NotFound,
            PaymentError::NotAllowed(why) | PaymentError::Conflict(why) => AppError::BadRequest(why.to_owned()),
            PaymentError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

type Currencies = HashMap<String, Currency>;

/// An amount in the installation's own currency (its decimals), else the standard one's.
fn money(currencies: &Currencies, minor: i64, code: &str) -> String {
    match currencies.get(code).copied().map_or_else(|| Currency::from_code(code), Ok) {
        Ok(currency) => Money::from_minor(minor, currency).to_string(),
        Err(_) => format!("{minor} {code}"),
    }
}

fn currency_for(currencies: &Currencies, code: &str) -> anyhow::Result<Currency> {
    let found = currencies.get(code).copied().or_else(|| Currency::from_code(code).ok());
    crate::catalog::service::known_currency(found, code)
}

fn payment_row(p: &payment::Model, client_name: &str, currencies: &Currencies) -> Value {
    context! {
        id => p.id,
        client_id => p.client_id,
        client_name => client_name,
        invoice_id => p.invoice_id,
        gateway => gateways::label(&p.gateway),
        kind => p.kind,
        status => p.status,
        status_label => p.status.label(),
        amount => money(currencies, p.amount_minor, &p.currency_code),
        refunded => (p.refunded_minor > 0).then(|| money(currencies, p.refunded_minor, &p.currency_code)),
        gateway_ref => p.gateway_ref,
        session_ref => p.session_ref,
        flag => p.flag,
        error => p.error,
        applied_at => p.applied_at.map(|t| t.to_rfc3339()),
        created_at => p.created_at.to_rfc3339(),
    }
}

// --- the client -------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct PayForm {
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    key: String,
}

/// `POST /account/invoices/{id}/pay`: off to the gateway's page.
pub async fn pay_invoice(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
    Path(id): Path<InvoiceId>,
    Form(form): Form<PayForm>,
) -> AppResult<Response> {
    let back = format!("/account/invoices/{id}");
    match form.gateway.as_str() {
        STRIPE | gateways::PAYPAL => {
            match checkout::start_checkout(&state, &current.client, id, &form.gateway, &form.key).await {
                Ok(url) => Ok(Redirect::to(&url).into_response()),
                Err(PaymentError::NotFound) => Err(AppError::NotFound),
                Err(PaymentError::NotAllowed(why)) => Ok(flash::redirect(&state, &back, "error", why)),
                Err(err) if crate::db::interrupted(&err) => Err(AppError::Internal(err.into())),
                Err(err) => {
                    tracing::error!(error = %err, invoice.id = %id, gateway = %form.gateway, "starting a payment");
                    Ok(flash::redirect(
                        &state,
                        &back,
                        "error",
                        "The payment could not be started; please try again in a few minutes.",
                    ))
                }
            }
        }
        gateways::ACCOUNT_CREDIT => pay_from_credit(&state, &current, &page.ip, id, &form.key, &back).await,
        _ => Ok(flash::redirect(&state, &back, "error", "Choose how you want to pay.")),
    }
}

/// Pays what the client's account credit covers of the invoice's balance.
async fn pay_from_credit(
    state: &AppState,
    current: &ClientAllowed<client_perm::Invoices>,
    ip: &str,
    id: InvoiceId,
    key: &str,
    back: &str,
) -> AppResult<Response> {
    let invoice = invoices::find(&state.db, id)
        .await?
        .filter(|i| i.client_id == current.client.id && i.status != InvoiceStatus::Draft)
        .ok_or(AppError::NotFound)?;
    if !gateways::load(&state.db, gateways::ACCOUNT_CREDIT).await?.takes(&invoice.currency_code) {
        return Ok(flash::redirect(state, back, "error", "Paying from account credit is not available."));
    }
    let actor = current.actor(ip);
    Ok(match account_credit::apply_to_invoice(state, &actor, id, "", key).await {
        Ok(account_credit::Outcome::Done { .. }) => {
            flash::redirect(state, back, "success", "Your account credit was applied to this invoice.")
        }
        Ok(account_credit::Outcome::AlreadyDone) => {
            flash::redirect(state, back, "success", "Your account credit was already applied.")
        }
        Err(InvoiceError::Invalid(errors)) => flash::redirect(state, back, "error", errors.messages()),
        Err(InvoiceError::NotAllowed(why)) => flash::redirect(state, back, "error", why),
        Err(InvoiceError::NotFound) => return Err(AppError::NotFound),
        Err(InvoiceError::Internal(err)) => return Err(AppError::Internal(err)),
    })
}

#[derive(Deserialize, Default)]
pub struct ApprovalReturn {
    #[serde(default)]
    token: String,
}

/// `GET /account/invoices/{id}/paypal-return?token=…`: the payer approved the order on
/// PayPal's page; its capture is queued and the invoice says the payment is being confirmed.
pub async fn paypal_return(
    State(state): State<AppState>,
    current: ClientAllowed<client_perm::Invoices>,
    Path(id): Path<InvoiceId>,
    Query(back): Query<ApprovalReturn>,
) -> AppResult<Response> {
    let page = format!("/account/invoices/{id}");
    match checkout::returned_from_approval(&state, current.client.id, gateways::PAYPAL, back.token.trim()).await? {
        Some(invoice) if invoice == id => Ok(Redirect::to(&format!("{page}?payment=returned")).into_response()),
        _ => Ok(flash::redirect(&state, &page, "error", "That PayPal payment is not one of this invoice's.")),
    }
}

/// What the client's invoice page offers to pay with.
pub async fn pay_options(state: &AppState, invoice: &crate::invoices::model::invoice::Model) -> Result<Value, DbErr> {
    let payable = (invoice.status == InvoiceStatus::Unpaid || invoice.status == InvoiceStatus::Collections)
        && invoice.balance_minor() > 0;
    if !payable {
        return Ok(context! {
            gateways => Vec::<Value>::new(), instructions => "", in_flight => false, auto_charge => None::<Value>,
        });
    }
    let offered = gateways::offered(&state.db, &invoice.currency_code).await?;
    let instructions = offered
        .iter()
        .find(|g| g.key == gateways::BANK_TRANSFER)
        .map(|g| g.options.instructions.clone())
        .unwrap_or_default();
    let mut online: Vec<Value> = offered
        .iter()
        .filter(|g| gateways::is_online(&g.key))
        .map(|g| context! { key => g.key, name => g.display_name, amount => "" })
        .collect();
    let adds_funds = crate::invoices::account_credit::add_funds::is_funds_invoice(&state.db, invoice.id).await?;
    if let Some(credit) = offered.iter().find(|g| g.key == gateways::ACCOUNT_CREDIT).filter(|_| !adds_funds) {
        let held = account_credit::balance(&state.db, invoice.client_id, &invoice.currency_code).await?;
        let covered = std::cmp::min(held, invoice.balance_minor());
        if covered > 0 {
            online.push(context! {
                key => credit.key,
                name => credit.display_name,
                amount => money(&currencies_by_code(&state.db).await?, covered, &invoice.currency_code),
            });
        }
    }
    // When the daily run will charge it, if the client pays automatically.
    let mut auto_charge = None;
    let owner = crate::clients::store::find(&state.db, invoice.client_id).await?;
    if owner.is_some_and(|c| c.auto_pay)
        && !adds_funds
        && offered.iter().any(|g| g.key == STRIPE)
        && let Some(card) = super::methods::default_method(&state.db, invoice.client_id, STRIPE).await?
    {
        let settings = crate::site_settings::automation::load(&state.db).await?;
        let on = super::autopay::slot_date(invoice.due_date, 0, settings.auto_charge_days_before, &[]);
        auto_charge = Some(context! { card => super::methods::describe(&card), on => on.map(|d| d.to_string()) });
    }
    Ok(context! {
        gateways => online,
        instructions => instructions,
        in_flight => store::automatic_in_flight(&state.db, invoice.id).await?,
        auto_charge => auto_charge,
        key => crate::crypto::random_token(),
    })
}

// --- staff: transactions ------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    flagged: String,
    page: Option<u64>,
}

pub async fn list_payments(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesView>,
    Query(filters): Query<Filters>,
) -> AppResult<Response> {
    let mut query = payment::Entity::find();
    let gateway = gateways::KNOWN.iter().map(|(k, _)| *k).find(|k| *k == filters.gateway);
    if let Some(gateway) = gateway {
        query = query.filter(payment::Column::Gateway.eq(gateway));
    }
    let status = PaymentStatus::parse(&filters.status);
    if let Some(status) = status {
        query = query.filter(payment::Column::Status.eq(status));
    }
    let client_id = filters.client.parse::<ClientId>().ok();
    if let Some(client_id) = client_id {
        query = query.filter(payment::Column::ClientId.eq(client_id));
    }
    let from = NaiveDate::parse_from_str(filters.from.trim(), "%Y-%m-%d").ok();
    if let Some(from) = from.and_then(|d| d.and_hms_opt(0, 0, 0)) {
        query = query.filter(payment::Column::CreatedAt.gte(from.and_utc()));
    }
    let to = NaiveDate::parse_from_str(filters.to.trim(), "%Y-%m-%d").ok();
    if let Some(to) = to.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)) {
        query = query.filter(payment::Column::CreatedAt.lt(to.and_utc()));
    }
    let flagged = filters.flagged == "1";
    if flagged {
        query = query.filter(payment::Column::Flag.ne(""));
    }
    let page_number = filters.page.unwrap_or(1).max(1);
    let paginator = query.order_by_desc(payment::Column::Id).paginate(&state.db, PER_PAGE);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page_number - 1).await?;
    let client_ids: Vec<ClientId> = rows.iter().map(|p| p.client_id).collect();
    let clients = client::Entity::find().filter(client::Column::Id.is_in(client_ids)).all(&state.db).await?;
    let name = |id: ClientId| clients.iter().find(|c| c.id == id).map(client::Model::full_name).unwrap_or_default();
    let invoice_ids: Vec<InvoiceId> = rows.iter().filter_map(|p| p.invoice_id).collect();
    let numbers: HashMap<InvoiceId, String> = invoice::Entity::find()
        .filter(invoice::Column::Id.is_in(invoice_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|i| (i.id, i.display_number()))
        .collect();
    let currencies = currencies_by_code(&state.db).await?;
    let payments: Vec<Value> = rows
        .iter()
        .map(|p| {
            let number = p.invoice_id.and_then(|id| numbers.get(&id));
            context! { invoice_number => number, ..payment_row(p, &name(p.client_id), &currencies) }
        })
        .collect();
    let query_string = format!(
        "gateway={}&status={}&client={}&from={}&to={}&flagged={}",
        gateway.unwrap_or(""),
        status.map_or("", PaymentStatus::key),
        client_id.map(|c| c.to_string()).unwrap_or_default(),
        from.map(|d| d.to_string()).unwrap_or_default(),
        to.map(|d| d.to_string()).unwrap_or_default(),
        if flagged { "1" } else { "" },
    );
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "payments",
        payments => payments,
        gateways => gateways::KNOWN.iter().map(|(k, l)| [*k, *l]).collect::<Vec<_>>(),
        statuses => PaymentStatus::ALL.iter().map(|s| [s.key(), s.label()]).collect::<Vec<_>>(),
        filters => context! {
            gateway => gateway.unwrap_or(""),
            status => status.map_or("", PaymentStatus::key),
            client => client_id.map(|c| c.to_string()).unwrap_or_default(),
            from => from.map(|d| d.to_string()).unwrap_or_default(),
            to => to.map(|d| d.to_string()).unwrap_or_default(),
            flagged => flagged,
        },
        pagination => context! {
            page => page_number,
            pages => total.div_ceil(PER_PAGE).max(1),
            total => total,
            query => query_string,
        },
    };
    state.render(&page, "admin/payments/list.html", ctx).await
}

pub async fn show_payment(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesView>,
    Path(id): Path<GatewayPaymentId>,
) -> AppResult<Response> {
    let p = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let owner = client::Entity::find_by_id(p.client_id).one(&state.db).await?;
    let invoice = match p.invoice_id {
        Some(invoice_id) => invoices::find(&state.db, invoice_id).await?,
        None => None,
    };
    let events = event::Entity::find().filter(event::Column::PaymentId.eq(id));
    let events: Vec<Value> = events
        .order_by_asc(event::Column::Id)
        .limit(100)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|e| {
            let pretty = serde_json::from_str::<serde_json::Value>(&e.payload)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(e.payload);
            context! {
                event_id => e.event_id,
                kind => e.event_type,
                received_at => e.received_at.to_rfc3339(),
                processed_at => e.processed_at.map(|t| t.to_rfc3339()),
                outcome => e.outcome,
                payload => pretty,
            }
        })
        .collect();
    let currencies = currencies_by_code(&state.db).await?;
    let refunds: Vec<Value> = refunds::for_payment(&state.db, id)
        .await?
        .into_iter()
        .map(|r| {
            context! {
                amount => money(&currencies, r.amount_minor, &p.currency_code),
                status => r.status,
                status_label => refunds::status_label(&r.status),
                refund_ref => r.refund_ref,
                reason => r.reason,
                error => r.error,
                credit_note_id => r.credit_note_id,
                created_at => r.created_at.to_rfc3339(),
            }
        })
        .collect();
    let left = refunds::refundable(&state.db, &p).await?;
    let refund = context! {
        left => (left > 0).then(|| money(&currencies, left, &p.currency_code)),
        left_amount => Money::from_minor(left, currency_for(&currencies, &p.currency_code)?).to_decimal_string(),
        held => p.applied_at.is_none() && (p.status == PaymentStatus::Succeeded || p.status == PaymentStatus::PartiallyRefunded),
        may => current.can(crate::permissions::Permission::InvoicesManage),
        key => crate::crypto::random_token(),
    };
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "payments",
        payment => payment_row(&p, &owner.as_ref().map(client::Model::full_name).unwrap_or_default(), &currencies),
        invoice_number => invoice.map(|i| i.display_number()),
        events => events,
        refunds => refunds,
        refund => refund,
    };
    state.render(&page, "admin/payments/show.html", ctx).await
}

/// `POST /admin/payments/{id}/check`: ask the gateway about an unknown payment again.
pub async fn check_payment(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<GatewayPaymentId>,
) -> AppResult<Response> {
    let back = format!("/admin/payments/{id}");
    let actor = crate::audit::Actor::staff(current.staff.id, &current.staff.email, &page.ip);
    Ok(match super::autopay::check_now(&state, &actor, id).await {
        Ok(true) => flash::redirect(&state, &back, "success", "The gateway will be asked within a minute."),
        Ok(false) => flash::redirect(&state, &back, "success", "The gateway is being asked already."),
        Err(PaymentError::NotAllowed(why)) => flash::redirect(&state, &back, "error", why),
        Err(err) => return Err(err.into()),
    })
}

#[derive(Deserialize, Default)]
pub struct HeldForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    destination: String,
    #[serde(default)]
    key: String,
}

/// `POST /admin/payments/{id}/refund`: money held on a payment that never reached its
/// invoice goes back to the card, or onto the client's account credit.
pub async fn settle_held_payment(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<GatewayPaymentId>,
    Form(form): Form<HeldForm>,
) -> AppResult<Response> {
    let back = format!("/admin/payments/{id}");
    let destination = match form.destination.as_str() {
        "gateway" => refunds::Destination::Gateway,
        "account_credit" => refunds::Destination::AccountCredit,
        _ => return Ok(flash::redirect(&state, &back, "error", "Choose where the money goes.")),
    };
    let actor = crate::audit::Actor::staff(current.staff.id, &current.staff.email, &page.ip);
    match refunds::settle_held(&state, &actor, id, &form.amount, &form.reason, destination, &form.key).await {
        Ok(()) => Ok(flash::redirect(
            &state,
            &back,
            "success",
            match destination {
                refunds::Destination::Gateway => "The refund was asked of the gateway; it shows here once it is made.",
                refunds::Destination::AccountCredit => "The money was added to the client's account credit.",
            },
        )),
        Err(PaymentError::Invalid(errors)) => Ok(flash::redirect(&state, &back, "error", errors.messages())),
        Err(PaymentError::NotAllowed(why) | PaymentError::Conflict(why)) => {
            Ok(flash::redirect(&state, &back, "error", why))
        }
        Err(err) => Err(err.into()),
    }
}

// --- staff: gateway settings --------------------------------------------------------------

pub async fn list_gateways(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
) -> AppResult<Response> {
    let rows: Vec<Value> = gateways::all(&state.db)
        .await?
        .into_iter()
        .map(|g| {
            context! {
                key => g.key,
                label => gateways::label(&g.key),
                display_name => g.display_name,
                enabled => g.enabled,
                currencies => g.currencies.join(", "),
                test_mode => g.test_mode,
            }
        })
        .collect();
    let ctx = context! { current_staff => current.template_value(), nav => "gateways", gateways => rows };
    state.render(&page, "admin/gateways/list.html", ctx).await
}

async fn render_gateway(
    state: &AppState,
    page: &Page,
    current: &Authorized<perm::SettingsManage>,
    key: &str,
    input: Option<&GatewayInput>,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let g = gateways::load(&state.db, key).await?;
    let form = match input {
        Some(i) => context! {
            enabled => i.enabled.is_some(),
            display_name => i.display_name,
            currencies => i.currencies,
            test_mode => i.test_mode.is_some(),
            instructions => i.instructions,
            sort_order => i.sort_order,
            fee_percent => i.fee_percent,
            fee_fixed => i.fee_fixed,
            add_funds_minimum => i.add_funds_minimum,
            add_funds_maximum => i.add_funds_maximum,
        },
        None => context! {
            enabled => g.enabled,
            display_name => g.display_name,
            currencies => g.currencies.join(", "),
            test_mode => g.test_mode,
            instructions => g.options.instructions,
            sort_order => "",
            fee_percent => g.options.fee_percent,
            fee_fixed => g.options.fee_fixed,
            add_funds_minimum => g.options.add_funds_minimum,
            add_funds_maximum => g.options.add_funds_maximum,
        },
    };
    let webhook_url = state.settings.base_url.join("webhooks/stripe").map(|u| u.to_string()).unwrap_or_default();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "gateways",
        key => key,
        label => gateways::label(key),
        has_secrets => g.has_secrets(),
        takes_keys => key == STRIPE,
        takes_paypal_keys => key == gateways::PAYPAL,
        paypal_webhook_url => state.settings.base_url.join("webhooks/paypal").map(|u| u.to_string()).unwrap_or_default(),
        takes_instructions => key == gateways::BANK_TRANSFER,
        takes_fees => gateways::is_online(key),
        takes_funds => key == gateways::ACCOUNT_CREDIT,
        webhook_url => webhook_url,
        form => form,
        errors => errors,
    };
    let mut response = state.render(page, "admin/gateways/form.html", ctx).await?;
    *response.status_mut() = status;
    Ok(response)
}

fn known(key: &str) -> AppResult<&'static str> {
    gateways::KNOWN.iter().map(|(k, _)| *k).find(|k| *k == key).ok_or(AppError::NotFound)
}

pub async fn gateway_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(key): Path<String>,
) -> AppResult<Response> {
    let key = known(&key)?;
    render_gateway(&state, &page, &current, key, None, FormErrors::new(), StatusCode::OK).await
}

pub async fn save_gateway(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(key): Path<String>,
    Form(input): Form<GatewayInput>,
) -> AppResult<Response> {
    let key = known(&key)?;
    let actor = crate::audit::Actor::staff(current.staff.id, &current.staff.email, &page.ip);
    match gateways::save(&state, &actor, key, &input).await {
        Ok(()) => Ok(flash::redirect(
            &state,
            &format!("/admin/settings/gateways/{key}"),
            "success",
            format!("{} saved.", gateways::label(key)),
        )),
        Err(PaymentError::Invalid(errors)) => {
            render_gateway(&state, &page, &current, key, Some(&input), errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn test_gateway(
    State(state): State<AppState>,
    _current: Authorized<perm::SettingsManage>,
    Path(key): Path<String>,
) -> AppResult<Response> {
    let key = known(&key)?;
    let to = format!("/admin/settings/gateways/{key}");
    Ok(match gateways::test_connection(&state, key).await {
        Ok(account) => flash::redirect(&state, &to, "success", format!("Connected: {account}.")),
        Err(err) => flash::redirect(&state, &to, "error", format!("The connection failed: {err}")),
    })
}
