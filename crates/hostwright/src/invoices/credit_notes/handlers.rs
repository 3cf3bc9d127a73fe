//! The credit-note pages: the form that credits an invoice's lines (with the money going back
//! to account credit, to the cards it was paid with, or outside), a credit note, its PDF.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use crate::clients::current::{ClientAllowed, client_perm};
use crate::ids::{CreditNoteId, InvoiceId};
use crate::invoices::credit_notes::{self, CreditNoteInput, IssueOutcome};
use crate::invoices::drafts;
use crate::invoices::model::credit_note;
use crate::invoices::payments_port::PaymentsPort;
use crate::invoices::service::{self, InvoiceError};
use crate::invoices::views::{actor, currency_of, minor_text, money, note_row, pdf_response};
use crate::permissions::perm;
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

async fn render_credit_note_form<P: PaymentsPort>(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    invoice_id: InvoiceId,
    fields: &BTreeMap<String, String>,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let i = service::find(&state.db, invoice_id).await?.ok_or(AppError::NotFound)?;
    let currency = currency_of(state, &i.currency_code).await?;
    let card_refundable = P::card_refundable(&state.db, invoice_id).await?;
    let lines: Vec<Value> = credit_notes::creditable_lines(&state.db, invoice_id)
        .await?
        .iter()
        .enumerate()
        .map(|(index, l)| {
            let key = format!("amount.{index}");
            context! {
                index => index,
                description => l.description.clone(),
                taxed => l.taxed,
                net => minor_text(l.net_minor, currency),
                credited => minor_text(l.credited_minor, currency),
                remaining => minor_text(l.remaining_minor(), currency),
                amount => fields.get(&key).cloned().unwrap_or_else(|| minor_text(l.remaining_minor(), currency)),
            }
        })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "invoices",
        invoice => context! {
            id => i.id, number => i.display_number(), currency => i.currency_code.clone(),
            total => money(i.total_minor, currency), balance => money(i.balance_minor(), currency),
            received => money(i.received_minor(), currency), credited => money(i.credited_minor, currency),
        },
        refusal => credit_notes::refusal(&i),
        lines => lines,
        refund_methods => credit_notes::REFUND_METHODS
            .iter()
            .filter(|(k, _)| *k != credit_notes::GATEWAY || card_refundable > 0)
            .map(|(k, l)| (*k, *l))
            .collect::<Vec<_>>(),
        card_refundable => (card_refundable > 0).then(|| money(card_refundable, currency)),
        form => context! {
            reason => fields.get("reason").cloned().unwrap_or_default(),
            refund_method => fields.get("refund_method").cloned().unwrap_or_else(|| "account_credit".to_owned()),
            key => fields.get("key").cloned().unwrap_or_else(crate::crypto::random_token),
        },
        errors => errors,
    };
    state.render_status(status, page, "admin/invoices/credit_note_new.html", ctx).await
}

#[derive(serde::Deserialize, Default)]
pub struct NewNoteQuery {
    #[serde(default)]
    refund_method: Option<String>,
}

pub async fn new_credit_note_form<P: PaymentsPort>(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<InvoiceId>,
    axum::extract::Query(query): axum::extract::Query<NewNoteQuery>,
) -> AppResult<Response> {
    let fields: BTreeMap<String, String> = query
        .refund_method
        .filter(|m| credit_notes::REFUND_METHODS.iter().any(|(k, _)| k == m))
        .map(|m| ("refund_method".to_owned(), m))
        .into_iter()
        .collect();
    render_credit_note_form::<P>(&state, &page, &current, id, &fields, FormErrors::new(), StatusCode::OK).await
}

pub async fn create_credit_note<P: PaymentsPort>(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesManage>,
    Path(id): Path<InvoiceId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let fields: BTreeMap<String, String> = fields.into_iter().filter(|(k, _)| k != "csrf_token").collect();
    let mut amounts = Vec::new();
    while let Some(amount) = fields.get(&format!("amount.{}", amounts.len())) {
        amounts.push(amount.clone());
        if amounts.len() >= 1000 {
            break;
        }
    }
    let input = CreditNoteInput {
        amounts,
        reason: fields.get("reason").cloned().unwrap_or_default(),
        refund_method: fields.get("refund_method").cloned().unwrap_or_default(),
        idempotency_key: fields.get("key").cloned().unwrap_or_default(),
    };
    match credit_notes::issue::<P>(&state, &actor(&current, &page), id, &input).await {
        Ok(IssueOutcome::Issued(note)) => Ok(flash::redirect(
            &state,
            &format!("/admin/credit-notes/{note}"),
            "success",
            "Credit note issued and emailed to the client.",
        )),
        Ok(IssueOutcome::AlreadyIssued(note)) => Ok(flash::redirect(
            &state,
            &format!("/admin/credit-notes/{note}"),
            "info",
            "This credit note was already issued.",
        )),
        Err(InvoiceError::Invalid(errors)) => {
            render_credit_note_form::<P>(&state, &page, &current, id, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY)
                .await
        }
        Err(InvoiceError::NotAllowed(message)) => {
            Ok(flash::redirect(&state, &format!("/admin/invoices/{id}"), "error", message))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

/// A credit note's page: its lines and taxes as stored (never recomputed).
async fn note_detail(state: &AppState, note: &credit_note::Model) -> AppResult<Value> {
    let currency = currency_of(state, &note.currency_code).await?;
    let lines: Vec<Value> = credit_notes::lines(&state.db, note.id)
        .await?
        .into_iter()
        .map(|l| context! { description => l.description, net => minor_text(l.net_minor, currency), tax => minor_text(l.tax_minor, currency) })
        .collect();
    let taxes: Vec<Value> = credit_notes::tax_lines(&state.db, note.id)
        .await?
        .into_iter()
        .map(|t| context! { name => t.name, rate => t.rate, base => money(t.base_minor, currency), amount => money(t.amount_minor, currency) })
        .collect();
    let invoice_number = service::find(&state.db, note.invoice_id).await?.map(|i| i.display_number());
    let buyer = drafts::PartySnapshot::parse(&note.buyer, &format!("buyer of credit note {}", note.number))?;
    Ok(context! {
        note => note_row(note, currency),
        invoice_number => invoice_number,
        buyer => Value::from_serialize(&buyer),
        client_id => note.client_id,
        lines => lines,
        taxes => taxes,
    })
}

pub async fn show_credit_note<P: PaymentsPort>(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::InvoicesView>,
    Path(id): Path<CreditNoteId>,
) -> AppResult<Response> {
    let note = credit_notes::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let currency = currency_of(&state, &note.currency_code).await?;
    let refunds: Vec<Value> = P::refunds_of_note(&state.db, id)
        .await?
        .iter()
        .map(|r| {
            context! {
                payment_id => r.payment_id,
                amount => money(r.amount_minor, currency),
                status_label => r.status_label,
            }
        })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "invoices",
        refunds => refunds,
        history => crate::audit::history::for_entity(&state.db, "invoice", note.invoice_id.0, 50).await?,
        ..note_detail(&state, &note).await?
    };
    state.render(&page, "admin/invoices/credit_note.html", ctx).await
}

pub async fn credit_note_pdf(
    State(state): State<AppState>,
    _current: Authorized<perm::InvoicesView>,
    Path(id): Path<CreditNoteId>,
) -> AppResult<Response> {
    let note = credit_notes::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let (bytes, name) = crate::invoices::pdf::credit_note_pdf(&state, &note).await?;
    Ok(pdf_response(bytes, &name))
}

pub async fn client_credit_note_pdf(
    State(state): State<AppState>,
    current: ClientAllowed<client_perm::Invoices>,
    Path(id): Path<CreditNoteId>,
) -> AppResult<Response> {
    let note = credit_notes::find(&state.db, id)
        .await?
        .filter(|n| n.client_id == current.client.id)
        .ok_or(AppError::NotFound)?;
    let (bytes, name) = crate::invoices::pdf::credit_note_pdf(&state, &note).await?;
    Ok(pdf_response(bytes, &name))
}
