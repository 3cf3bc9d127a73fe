//! Account credit pages: the client's balances and movements, staff applying credit to an
//! invoice or adjusting it, and the client adding funds.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use hostwright_core::Currency;
use minijinja::{Value, context};

use super::add_funds;
use crate::clients::current::{ClientAllowed, client_perm};
use crate::ids::{ClientId, InvoiceId};
use crate::invoices::account_credit::{self, AdjustInput, Outcome};
use crate::invoices::credit_notes::{self};
use crate::invoices::model::credit_entry;
use crate::invoices::payments_port::PaymentsPort;
use crate::invoices::service::InvoiceError;
use crate::invoices::views::{actor, currency_table, money, note_row};
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppError, AppResult, Page, flash};

/// A ledger entry for the admin credit tab and the client's credit page.
pub fn entry_row(e: &credit_entry::Model, currency: Currency) -> Value {
    context! {
        at => e.created_at.to_rfc3339(),
        amount => money(e.amount_minor, currency),
        added => e.amount_minor > 0,
        balance_after => money(e.balance_after_minor, currency),
        kind => account_credit::kind_label(&e.kind),
        reason => e.reason.clone(),
        invoice_id => e.invoice_id,
        credit_note_id => e.credit_note_id,
        staff_name => e.staff_name.clone(),
    }
}

/// Balances, ledger and credit notes of one client, as both areas show them.
pub async fn credit_overview(state: &AppState, client_id: ClientId) -> AppResult<Value> {
    let currencies = currency_table(state).await?;
    let currency = |code: &str| crate::catalog::service::known_currency(currencies.get(code).copied(), code);
    let balances: Vec<Value> = account_credit::balances(&state.db, client_id)
        .await?
        .into_iter()
        .map(|b| Ok(context! { currency => b.currency_code.clone(), amount => money(b.balance_minor, currency(&b.currency_code)?) }))
        .collect::<AppResult<_>>()?;
    let entries: Vec<Value> = account_credit::entries(&state.db, client_id, 200)
        .await?
        .iter()
        .map(|e| Ok(entry_row(e, currency(&e.currency_code)?)))
        .collect::<AppResult<_>>()?;
    let notes: Vec<Value> = credit_notes::for_client(&state.db, client_id)
        .await?
        .iter()
        .map(|n| Ok(note_row(n, currency(&n.currency_code)?)))
        .collect::<AppResult<_>>()?;
    Ok(context! { balances => balances, entries => entries, credit_notes => notes })
}

#[derive(serde::Deserialize, Default)]
pub struct ApplyCreditForm {
    #[serde(default)]
    credit_amount: String,
    #[serde(default)]
    key: String,
}

pub async fn apply_credit(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<InvoiceId>,
    Form(form): Form<ApplyCreditForm>,
) -> AppResult<Response> {
    let to = format!("/admin/invoices/{id}");
    match account_credit::apply_to_invoice(&state, &actor(&current, &page), id, &form.credit_amount, &form.key).await {
        Ok(Outcome::Done { .. }) => {
            state.jobs_wakeup.notify_one();
            Ok(flash::redirect(&state, &to, "success", "Account credit applied."))
        }
        Ok(Outcome::AlreadyDone) => Ok(flash::redirect(&state, &to, "info", "This credit was already applied.")),
        Err(InvoiceError::Invalid(errors)) => Ok(flash::redirect(&state, &to, "error", errors.messages())),
        Err(InvoiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct AdjustForm {
    #[serde(default)]
    currency_code: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    key: String,
}

pub async fn adjust_credit(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<ClientId>,
    Form(form): Form<AdjustForm>,
) -> AppResult<Response> {
    let to = format!("/admin/clients/{id}?tab=credit");
    let input = AdjustInput {
        currency_code: form.currency_code,
        direction: form.direction,
        amount: form.amount,
        reason: form.reason,
        idempotency_key: form.key,
    };
    match account_credit::adjust(&state, &actor(&current, &page), id, &input).await {
        Ok(Outcome::Done { .. }) => Ok(flash::redirect(&state, &to, "success", "Account credit updated.")),
        Ok(Outcome::AlreadyDone) => Ok(flash::redirect(&state, &to, "info", "This change was already made.")),
        Err(InvoiceError::Invalid(errors)) => Ok(flash::redirect(&state, &to, "error", errors.messages())),
        Err(InvoiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

// --- client area ------------------------------------------------------------------------

pub async fn client_credit<P: PaymentsPort>(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
) -> AppResult<Response> {
    let owner = crate::clients::store::find(&state.db, current.client.id).await?.ok_or(AppError::NotFound)?;
    let add_funds = add_funds::range::<P>(&state.db, &owner).await?.map(|(least, most)| {
        context! {
            least => least.to_string(),
            most => most.to_string(),
            currency => least.currency().code(),
            key => crate::crypto::random_token(),
        }
    });
    let ctx = context! {
        current_client => current.template_value(),
        nav => "credit",
        add_funds => add_funds,
        ..credit_overview(&state, current.client.id).await?
    };
    state.render(&page, "client/credit.html", ctx).await
}

#[derive(serde::Deserialize, Default)]
pub struct AddFundsForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    key: String,
}

/// `POST /account/credit/add-funds`: an invoice for the funds, to pay like any other.
pub async fn add_funds_invoice<P: PaymentsPort>(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
    Form(form): Form<AddFundsForm>,
) -> AppResult<Response> {
    let owner = crate::clients::store::find(&state.db, current.client.id).await?.ok_or(AppError::NotFound)?;
    match add_funds::request::<P>(&state, &current.actor(&page.ip), &owner, &form.amount, &form.key).await {
        Ok(id) => Ok(flash::redirect(
            &state,
            &format!("/account/invoices/{id}"),
            "success",
            "Pay this invoice, and the funds are added to your account credit.",
        )),
        Err(InvoiceError::Invalid(errors)) => {
            Ok(flash::redirect(&state, "/account/credit", "error", errors.messages()))
        }
        Err(InvoiceError::NotAllowed(why)) => Ok(flash::redirect(&state, "/account/credit", "error", why)),
        Err(err) => Err(AppError::from(err)),
    }
}
