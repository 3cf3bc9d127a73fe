//! The admin client page: the client's profile with tabs for contacts, services, invoices,
//! account credit, notes, emails and activity, each filled by the domain that owns it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::clients::admin::{self};
use crate::clients::admin_handlers::{DetailsForm, actor, country_options, group_options, row};
use crate::clients::field_handlers::inputs;
use crate::clients::fields::{self, Audience};
use crate::clients::model::client;
use crate::clients::service::ClientError;
use crate::clients::{countries, store};
use crate::ids::ClientId;
use crate::permissions::{Permission, perm};
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

#[derive(Deserialize, Default)]
pub struct TabQuery {
    #[serde(default)]
    tab: String,
}

const TABS: [&str; 9] =
    ["summary", "profile", "contacts", "services", "invoices", "credit", "notes", "emails", "activity"];

/// The client page as shown: which tab, and the profile form's values and errors.
struct View<'a> {
    tab: &'a str,
    form: &'a DetailsForm,
    errors: FormErrors,
    status: StatusCode,
}

async fn render_client(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    c: &client::Model,
    view: View<'_>,
) -> AppResult<Response> {
    let View { tab, form, errors, status } = view;
    let tab = TABS.iter().find(|t| **t == tab).copied().unwrap_or("summary");
    let groups = group_options(state).await?;
    let notes: Vec<Value> = admin::notes(&state.db, c.id)
        .await?
        .into_iter()
        .map(|n| context! { by => n.staff_name, at => n.created_at.to_rfc3339(), body => n.body, pinned => n.pinned })
        .collect();
    let emails: Vec<Value> = if tab == "emails" {
        admin::email_log(&state.db, c.id)
            .await?
            .into_iter()
            .map(|m| {
                context! {
                    subject => m.subject, to => m.to_address, status => m.status,
                    created_at => m.created_at.to_rfc3339(), sent_at => m.sent_at.map(|t| t.to_rfc3339()),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let activity = if tab == "activity" {
        crate::audit::history::for_entity(&state.db, "client", c.id.0, 100).await?
    } else {
        Vec::new()
    };
    let can_view_invoices = current.can(Permission::InvoicesView);
    let invoices = if tab == "invoices" && can_view_invoices {
        crate::invoices::handlers::client_invoice_rows(state, c.id).await?
    } else {
        Value::from(())
    };
    let credit = if tab == "credit" && can_view_invoices {
        crate::invoices::account_credit::handlers::credit_overview(state, c.id).await?
    } else {
        Value::from(())
    };
    // Only the credit tab's form offers currencies.
    let currencies: Vec<String> = if tab == "credit" {
        crate::catalog::service::currencies(&state.db).await?.into_iter().map(|c| c.code).collect()
    } else {
        Vec::new()
    };
    let contacts =
        if tab == "contacts" { crate::clients::contact_handlers::contact_rows(state, c.id).await? } else { Vec::new() };
    let can_view_services = current.can(Permission::OrdersView);
    let services = if tab == "services" && can_view_services {
        Value::from(crate::services::views::client_service_rows(state, c.id).await?)
    } else {
        Value::from(())
    };
    let all_fields = fields::list(&state.db).await?;
    let stored = fields::values_of(&state.db, c.id).await?;
    let shown = fields::typed(&all_fields, Audience::Staff, &form.custom);
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "clients",
        tab => tab,
        contacts => contacts,
        services => services,
        can_manage_services => current.can(Permission::ServicesManage),
        invoices => invoices,
        credit => credit,
        currencies => currencies,
        credit_form => context! { key => crate::crypto::random_token() },
        can_view_invoices => can_view_invoices,
        can_manage_invoices => current.can(Permission::InvoicesManage),
        client => context! {
            phone => c.phone.clone(),
            address1 => c.address1.clone(), address2 => c.address2.clone(), city => c.city.clone(),
            region => c.region.clone(), postcode => c.postcode.clone(),
            country_name => countries::name(&c.country).unwrap_or_default(),
            tax_id => c.tax_id.clone(), currency_code => c.currency_code.clone(), language => c.language.clone(),
            payment_method => admin::PAYMENT_METHODS.iter().find(|(k, _)| *k == c.payment_method).map(|(_, l)| *l),
            email_verified => c.email_verified_at.is_some(),
            twofa => c.totp_enabled_at.is_some(),
            last_login_at => c.last_login_at.map(|t| t.to_rfc3339()),
            anonymised => c.anonymised_at.is_some(),
            ..row(c, &groups)
        },
        form => form.value(),
        custom_fields => inputs(&all_fields, Audience::Staff, &shown, &stored),
        groups => groups,
        countries => country_options(),
        payment_methods => admin::PAYMENT_METHODS.to_vec(),
        statuses => admin::STATUSES,
        notes => notes,
        emails => emails,
        activity => activity,
        errors => errors,
        can_manage => current.can(Permission::ClientsManage),
    };
    state.render_status(status, page, "admin/clients/show.html", ctx).await
}

pub async fn show_client(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsView>,
    Path(id): Path<ClientId>,
    Query(q): Query<TabQuery>,
) -> AppResult<Response> {
    let c = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let form = DetailsForm::from_client(&c, &fields::values_of(&state.db, id).await?);
    let view = View { tab: &q.tab, form: &form, errors: FormErrors::new(), status: StatusCode::OK };
    render_client(&state, &page, &current, &c, view).await
}

pub async fn update_client(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path(id): Path<ClientId>,
    Form(form): Form<DetailsForm>,
) -> AppResult<Response> {
    let c = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let all = fields::list(&state.db).await?;
    let stored = fields::values_of(&state.db, id).await?;
    let errors = match form.details().validate_with(&all, &stored) {
        Ok(valid) => match admin::update(&state, &actor(&current, &page), id, valid).await {
            Ok(()) => {
                return Ok(flash::redirect(&state, &format!("/admin/clients/{id}?tab=profile"), "success", "Saved."));
            }
            Err(ClientError::EmailTaken) => {
                let mut errors = FormErrors::new();
                errors.add("email", "Another client already uses this email address.");
                errors
            }
            Err(err) => return Err(AppError::from(err)),
        },
        Err(errors) => errors,
    };
    let view = View { tab: "profile", form: &form, errors, status: StatusCode::UNPROCESSABLE_ENTITY };
    render_client(&state, &page, &current, &c, view).await
}
