//! The invoice pages: the admin list, a new invoice, an invoice with its payments and credit
//! notes (issue, resend, cancel, record a payment), the PDFs, and the client's invoices.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use hostwright_core::{Currency, Money};
use minijinja::{Value, context};
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;
use serde::Deserialize;

use super::drafts::{DraftInput, LineInput};
use super::model::invoice;
use super::payments_port::PaymentsPort;
use super::receipts::{self, MANUAL_METHODS, PaymentInput, PaymentOutcome};
use super::service::{self, InvoiceError, InvoiceQuery};
use super::views::{actor, currency_of, currency_table, money, note_row, pdf_response};
use super::{drafts, issuing};
use crate::clients::countries;
use crate::clients::current::{ClientAllowed, client_perm};
use crate::ids::{ClientId, InvoiceId};
use crate::invoices::status::InvoiceStatus;
use crate::permissions::{Permission, perm};
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

async fn invoice_row(state: &AppState, i: &invoice::Model) -> AppResult<Value> {
    let currency = currency_of(state, &i.currency_code).await?;
    row_in(i, currency, service::today(&state.db).await?)
}

/// Invoices for a list, each in its own currency.
fn rows_in(
    rows: &[invoice::Model],
    currencies: &BTreeMap<String, Currency>,
    today: NaiveDate,
) -> AppResult<Vec<Value>> {
    rows.iter()
        .map(|row| {
            let found = currencies.get(&row.currency_code).copied();
            row_in(row, crate::catalog::service::known_currency(found, &row.currency_code)?, today)
        })
        .collect()
}

/// An invoice for lists and pages; `today` (the business's date) decides whether it is overdue.
/// A stored buyer or seller that does not parse is an error page, never an empty party.
fn row_in(i: &invoice::Model, currency: Currency, today: NaiveDate) -> AppResult<Value> {
    let with_country_name = |mut party: drafts::PartySnapshot| {
        if let Some(name) = countries::name(&party.country) {
            party.country = name.to_owned();
        }
        party
    };
    let what = |party: &str| format!("{party} of invoice #{}", i.id);
    let buyer = with_country_name(drafts::PartySnapshot::parse(&i.buyer, &what("buyer"))?);
    let seller = with_country_name(drafts::PartySnapshot::parse(&i.seller, &what("seller"))?);
    let overdue = (i.status == InvoiceStatus::Unpaid || i.status == InvoiceStatus::Collections) && i.due_date < today;
    Ok(context! {
        id => i.id,
        number => i.display_number(),
        legal_number => i.number.clone(),
        proforma_number => i.proforma_number.clone(),
        client_id => i.client_id,
        client_name => if buyer.company.is_empty() { buyer.name.clone() } else { format!("{} ({})", buyer.company, buyer.name) },
        status => i.status.clone(),
        overdue => overdue,
        issue_date => i.issue_date.map(|d| d.to_string()),
        due_date => i.due_date.to_string(),
        paid_date => i.paid_date.map(|d| d.to_string()),
        currency => i.currency_code.clone(),
        subtotal => money(i.subtotal_minor, currency),
        discount => money(i.discount_minor, currency),
        tax => money(i.tax_minor, currency),
        total => money(i.total_minor, currency),
        credit_applied => money(i.credit_applied_minor, currency),
        amount_paid => money(i.amount_paid_minor, currency),
        credited => (i.credited_minor != 0).then(|| money(i.credited_minor, currency)),
        refunded => (i.refunded_minor != 0).then(|| money(i.refunded_minor, currency)),
        balance => money(i.balance_minor(), currency),
        balance_decimal => Money::from_minor(i.balance_minor(), currency).to_decimal_string(),
        reverse_charge => i.reverse_charge,
        tax_treatment => i.tax_treatment.clone(),
        notes => i.notes.clone(),
        buyer => Value::from_serialize(&buyer),
        seller => Value::from_serialize(seller),
    })
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    page: Option<u64>,
}

pub async fn list_invoices(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesView>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    let query = InvoiceQuery {
        status: InvoiceStatus::parse(&q.status),
        client_id: q.client.trim().parse::<ClientId>().ok(),
        overdue: !q.overdue.is_empty(),
        from: date(&q.from),
        to: date(&q.to),
        page: q.page.unwrap_or(1).max(1),
    };
    let (rows, total) = service::search(&state.db, &query).await?;
    let currencies = currency_table(&state).await?;
    let today = service::today(&state.db).await?;
    let invoices: Vec<Value> = rows_in(&rows, &currencies, today)?;
    let query_string = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("status", &q.status)
        .append_pair("client", &q.client)
        .append_pair("overdue", &q.overdue)
        .append_pair("from", &q.from)
        .append_pair("to", &q.to)
        .finish();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "invoices",
        invoices => invoices,
        statuses => InvoiceStatus::ALL.map(InvoiceStatus::key),
        filters => context! { status => q.status, client => q.client, overdue => !q.overdue.is_empty(), from => q.from, to => q.to },
        pagination => context! {
            page => query.page,
            pages => total.min(service::COUNT_CAP).div_ceil(service::PER_PAGE).max(1),
            total => if total > service::COUNT_CAP { Value::from("more than 10,000") } else { Value::from(total) },
            query => query_string,
        },
        can_manage => current.can(Permission::InvoicesManage),
    };
    state.render(&page, "admin/invoices/list.html", ctx).await
}

/// The lines typed into the new-invoice form: `line.N.description`, `.quantity`, `.unit_price`, `.taxed`.
fn typed_lines(fields: &BTreeMap<String, String>) -> Vec<LineInput> {
    let mut lines: BTreeMap<usize, LineInput> = BTreeMap::new();
    for (key, value) in fields {
        let mut parts = key.splitn(3, '.');
        let (Some("line"), Some(index), Some(field)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else { continue };
        if index >= 100 {
            continue;
        }
        let entry = lines.entry(index).or_default();
        match field {
            "description" => entry.description = value.clone(),
            "quantity" => entry.quantity = value.clone(),
            "unit_price" => entry.unit_price = value.clone(),
            "taxed" => entry.taxed = true,
            _ => {}
        }
    }
    let last = lines.keys().max().copied().unwrap_or(0);
    (0..=last).map(|i| lines.remove(&i).unwrap_or_default()).collect()
}

async fn render_new_invoice(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    fields: &BTreeMap<String, String>,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let mut lines: Vec<Value> = typed_lines(fields)
        .into_iter()
        .map(|l| context! { description => l.description, quantity => l.quantity, unit_price => l.unit_price, taxed => l.taxed })
        .collect();
    while lines.len() < 5 {
        lines.push(context! { description => "", quantity => "1", unit_price => "", taxed => true });
    }
    let client_id = fields.get("client_id").cloned().unwrap_or_default();
    let client = match client_id.parse::<ClientId>() {
        Ok(id) => crate::clients::store::find(&state.db, id).await?,
        Err(_) => None,
    };
    let currencies: Vec<(String, String)> =
        crate::catalog::service::currencies(&state.db).await?.into_iter().map(|c| (c.code.clone(), c.code)).collect();
    let default_currency = client
        .as_ref()
        .map(|c| c.currency_code.clone())
        .filter(|c| !c.is_empty())
        .or_else(|| currencies.first().map(|(c, _)| c.clone()))
        .unwrap_or_default();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "invoices",
        client => client.map(|c| context! { id => c.id, name => c.full_name(), email => c.email, country => c.country }),
        form => context! {
            client_id => client_id,
            currency_code => fields.get("currency_code").cloned().unwrap_or(default_currency),
            due_date => fields.get("due_date").cloned().unwrap_or_default(),
            notes => fields.get("notes").cloned().unwrap_or_default(),
            lines => lines,
        },
        currencies => currencies,
        errors => errors,
    };
    state.render_status(status, page, "admin/invoices/new.html", ctx).await
}

pub async fn new_invoice_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Query(q): Query<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let mut fields = BTreeMap::new();
    if let Some(client) = q.get("client") {
        fields.insert("client_id".to_owned(), client.clone());
    }
    render_new_invoice(&state, &page, &current, &fields, FormErrors::new(), StatusCode::OK).await
}

pub async fn create_invoice(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let fields: BTreeMap<String, String> = fields.into_iter().filter(|(k, _)| k != "csrf_token").collect();
    let Ok(client_id) = fields.get("client_id").map(String::as_str).unwrap_or_default().trim().parse::<ClientId>()
    else {
        let mut errors = FormErrors::new();
        errors.add("client_id", "Enter the client number.");
        return render_new_invoice(&state, &page, &current, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let input = DraftInput {
        client_id,
        currency_code: fields.get("currency_code").cloned().unwrap_or_default(),
        due_date: fields.get("due_date").cloned().unwrap_or_default(),
        notes: fields.get("notes").cloned().unwrap_or_default(),
        lines: typed_lines(&fields),
    };
    match drafts::create_draft(&state, &actor(&current, &page), &input).await {
        Ok(id) => Ok(flash::redirect(
            &state,
            &format!("/admin/invoices/{id}"),
            "success",
            "Draft saved. Check it, then issue it to the client.",
        )),
        Err(InvoiceError::Invalid(errors)) => {
            render_new_invoice(&state, &page, &current, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(InvoiceError::NotFound) => {
            let mut errors = FormErrors::new();
            errors.add("client_id", "There is no client with this number.");
            render_new_invoice(&state, &page, &current, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(InvoiceError::NotAllowed(message)) => {
            render_new_invoice(
                &state,
                &page,
                &current,
                &fields,
                FormErrors::form(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

async fn invoice_detail(state: &AppState, i: &invoice::Model) -> AppResult<Value> {
    let currency = currency_of(state, &i.currency_code).await?;
    let lines: Vec<Value> = service::lines(&state.db, i.id)
        .await?
        .into_iter()
        .map(|l| {
            context! {
                description => l.description, quantity => l.quantity,
                unit_price => Money::from_minor(l.unit_price_minor, currency).to_decimal_string(),
                amount => Money::from_minor(l.amount_minor, currency).to_decimal_string(),
                tax => Money::from_minor(l.tax_minor, currency).to_decimal_string(),
                taxed => l.taxed,
            }
        })
        .collect();
    let taxes: Vec<Value> = service::tax_lines(&state.db, i.id)
        .await?
        .into_iter()
        .map(|t| context! { name => t.name, rate => t.rate, base => money(t.base_minor, currency), amount => money(t.amount_minor, currency) })
        .collect();
    let payments: Vec<Value> = service::payments(&state.db, i.id)
        .await?
        .into_iter()
        .map(|p| {
            let method = MANUAL_METHODS.iter().find(|(k, _)| *k == p.method).map(|(_, l)| *l).unwrap_or("Other");
            context! { amount => money(p.amount_minor, currency), fee => money(p.fee_minor, currency), method => method, reference => p.reference, paid_on => p.paid_on.to_string() }
        })
        .collect();
    let credit_notes: Vec<Value> =
        super::credit_notes::for_invoice(&state.db, i.id).await?.iter().map(|n| note_row(n, currency)).collect();
    Ok(context! {
        invoice => invoice_row(state, i).await?, lines => lines, taxes => taxes, payments => payments,
        credit_notes => credit_notes,
    })
}

async fn render_invoice(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    i: &invoice::Model,
    payment_form: Value,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let currency = currency_of(state, &i.currency_code).await?;
    let held = super::account_credit::balance(&state.db, i.client_id, &i.currency_code).await?;
    let client_credit = (held > 0).then(|| money(held, currency));
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "invoices",
        payment_form => payment_form,
        methods => MANUAL_METHODS.iter().map(|(k, l)| (*k, *l)).collect::<Vec<_>>(),
        history => crate::audit::history::for_entity(&state.db, "invoice", i.id.0, 50).await?,
        errors => errors,
        can_manage => current.can(Permission::InvoicesManage),
        today => service::today(&state.db).await?.to_string(),
        credit_refusal => super::credit_notes::refusal(i),
        client_credit => client_credit,
        credit_form => context! { key => crate::crypto::random_token() },
        ..invoice_detail(state, i).await?
    };
    state.render_status(status, page, "admin/invoices/show.html", ctx).await
}

pub async fn show_invoice(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesView>,
    Path(id): Path<InvoiceId>,
) -> AppResult<Response> {
    let i = service::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let form = context! { amount => "", fee => "", method => "bank_transfer", reference => "", paid_on => "", key => crate::crypto::random_token() };
    render_invoice(&state, &page, &current, &i, form, FormErrors::new(), StatusCode::OK).await
}

pub async fn issue_invoice(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<InvoiceId>,
) -> AppResult<Response> {
    let to = format!("/admin/invoices/{id}");
    match issuing::issue(&state, &actor(&current, &page), id).await {
        Ok(issued) => Ok(flash::redirect(
            &state,
            &to,
            "success",
            format!("Issued as {} and emailed to the client.", issued.display_number()),
        )),
        Err(InvoiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn resend_invoice(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<InvoiceId>,
) -> AppResult<Response> {
    let to = format!("/admin/invoices/{id}");
    match issuing::resend(&state, &actor(&current, &page), id).await {
        Ok(()) => Ok(flash::redirect(&state, &to, "success", "The invoice email is on its way to the client.")),
        Err(InvoiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn cancel_invoice(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<InvoiceId>,
) -> AppResult<Response> {
    let to = format!("/admin/invoices/{id}");
    match service::cancel(&state, &actor(&current, &page), id).await {
        Ok(()) => Ok(flash::redirect(&state, &to, "success", "The invoice is cancelled.")),
        Err(InvoiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

#[derive(Deserialize, Default)]
pub struct PaymentForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    fee: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    paid_on: String,
    #[serde(default)]
    key: String,
}

pub async fn record_payment(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<InvoiceId>,
    Form(form): Form<PaymentForm>,
) -> AppResult<Response> {
    let to = format!("/admin/invoices/{id}");
    let input = PaymentInput {
        amount: form.amount.clone(),
        fee: form.fee.clone(),
        method: form.method.clone(),
        reference: form.reference.clone(),
        paid_on: form.paid_on.clone(),
        idempotency_key: form.key.clone(),
    };
    match receipts::record_payment(&state, &actor(&current, &page), id, &input).await {
        Ok(PaymentOutcome::Recorded { paid_in_full: true }) => {
            state.jobs_wakeup.notify_one();
            Ok(flash::redirect(&state, &to, "success", "Payment recorded; the invoice is paid."))
        }
        Ok(PaymentOutcome::Recorded { paid_in_full: false }) => {
            Ok(flash::redirect(&state, &to, "success", "Payment recorded; a balance remains."))
        }
        Ok(PaymentOutcome::AlreadyRecorded) => {
            Ok(flash::redirect(&state, &to, "info", "This payment was already recorded."))
        }
        Err(InvoiceError::Invalid(errors)) => {
            let i = service::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
            let form = context! { amount => form.amount, fee => form.fee, method => form.method, reference => form.reference, paid_on => form.paid_on, key => form.key };
            render_invoice(&state, &page, &current, &i, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(InvoiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

/// The newest invoices of one client (drafts included) for the client's admin page, and
/// how many there are in all.
pub async fn client_invoice_rows(state: &AppState, client_id: ClientId) -> AppResult<Value> {
    let query = InvoiceQuery { client_id: Some(client_id), page: 1, ..Default::default() };
    let (rows, total) = service::search(&state.db, &query).await?;
    let currencies = currency_table(state).await?;
    let today = service::today(&state.db).await?;
    let rows: Vec<Value> = rows_in(&rows, &currencies, today)?;
    Ok(context! { rows => rows, total => total })
}

// --- client area ------------------------------------------------------------------------

pub async fn client_invoices(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
) -> AppResult<Response> {
    let rows = invoice::Entity::find()
        .filter(invoice::Column::ClientId.eq(current.client.id))
        .filter(invoice::Column::Status.ne(InvoiceStatus::Draft))
        .order_by_desc(invoice::Column::Id)
        .all(&state.db)
        .await?;
    let currencies = currency_table(&state).await?;
    let today = service::today(&state.db).await?;
    let invoices: Vec<Value> = rows_in(&rows, &currencies, today)?;
    let ctx = context! { current_client => current.template_value(), nav => "invoices", invoices => invoices };
    state.render(&page, "client/invoices/list.html", ctx).await
}

#[derive(Deserialize, Default)]
pub struct ClientInvoiceQuery {
    /// `returned` when the client comes back from a gateway's payment page.
    #[serde(default)]
    payment: String,
}

pub async fn client_invoice<P: PaymentsPort>(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Invoices>,
    Path(id): Path<InvoiceId>,
    Query(query): Query<ClientInvoiceQuery>,
) -> AppResult<Response> {
    let i = service::find(&state.db, id)
        .await?
        .filter(|i| i.client_id == current.client.id && i.status != InvoiceStatus::Draft)
        .ok_or(AppError::NotFound)?;
    let ctx = context! {
        current_client => current.template_value(),
        nav => "invoices",
        pay => P::pay_options(&state, &i).await?,
        returned => query.payment == "returned",
        ..invoice_detail(&state, &i).await?
    };
    state.render(&page, "client/invoices/show.html", ctx).await
}

// --- billing settings and tax rules -----------------------------------------------------

pub async fn invoice_pdf(
    State(state): State<AppState>,
    _current: Authorized<perm::InvoicesView>,
    Path(id): Path<InvoiceId>,
) -> AppResult<Response> {
    let i = service::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let (bytes, name) = super::pdf::pdf(&state, &i).await?;
    Ok(pdf_response(bytes, &name))
}

pub async fn client_invoice_pdf(
    State(state): State<AppState>,
    current: ClientAllowed<client_perm::Invoices>,
    Path(id): Path<InvoiceId>,
) -> AppResult<Response> {
    let i = service::find(&state.db, id)
        .await?
        .filter(|i| i.client_id == current.client.id && i.status != InvoiceStatus::Draft)
        .ok_or(AppError::NotFound)?;
    let (bytes, name) = super::pdf::pdf(&state, &i).await?;
    Ok(pdf_response(bytes, &name))
}
