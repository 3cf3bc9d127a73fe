//! The admin client page: the client's profile with tabs for contacts, services, invoices,
//! account credit, notes, emails and activity, each filled by the domain that owns it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::Value;
use serde::{Deserialize, Serialize};

use crate::audit::history::AuditRow;
use crate::clients::admin::{self};
use crate::clients::admin_handlers::{DetailsForm, country_options, group_options, row};
use crate::clients::field_handlers::inputs;
use crate::clients::fields::{self, Audience};
use crate::clients::model::client;
use crate::clients::service::ClientError;
use crate::clients::views::{ClientRow, ContactRow, CustomFieldInput, DetailsValues, Options};
use crate::clients::{countries, store};
use crate::ids::ClientId;
use crate::permissions::{Permission, perm};
use crate::staff::current::{Authorized, CurrentStaff, StaffBadge};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, PageView, flash};

/// The admin client page: the tab shown, what each tab lists, and the profile form. A tab's
/// list is filled only when that tab is shown; the services, invoices and credit tabs hold
/// what those domains render for a client (none when the viewer may not see them).
#[derive(Debug, Serialize)]
pub struct ClientPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub tab: &'static str,
    pub client: ClientDetail,
    pub contacts: Vec<ContactRow>,
    pub services: Value,
    pub can_manage_services: bool,
    pub invoices: Value,
    pub credit: Value,
    /// The currencies the credit tab's form offers.
    pub currencies: Vec<String>,
    pub credit_form: CreditForm,
    pub can_view_invoices: bool,
    pub can_manage_invoices: bool,
    pub form: DetailsValues,
    pub custom_fields: Vec<CustomFieldInput>,
    pub groups: Vec<(String, String)>,
    pub countries: Options,
    pub payment_methods: Options,
    pub statuses: [&'static str; 3],
    pub notes: Vec<NoteRow>,
    pub emails: Vec<EmailRow>,
    pub activity: Vec<AuditRow>,
    pub errors: FormErrors,
    pub can_manage: bool,
}

impl PageView for ClientPage {
    const TEMPLATE: &'static str = "admin/clients/show.html";
}

/// The client as the summary shows them: their row in the lists and the rest of the record.
#[derive(Debug, Serialize)]
pub struct ClientDetail {
    #[serde(flatten)]
    pub row: ClientRow,
    pub phone: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub region: String,
    pub postcode: String,
    pub country_name: &'static str,
    pub tax_id: String,
    pub currency_code: String,
    pub language: String,
    /// The label of the preferred payment method.
    pub payment_method: Option<&'static str>,
    pub email_verified: bool,
    pub twofa: bool,
    pub last_login_at: Option<String>,
    pub anonymised: bool,
}

/// The add-credit form's key, which makes sending it twice add the credit once.
#[derive(Debug, Serialize)]
pub struct CreditForm {
    pub key: String,
}

/// A staff note about the client.
#[derive(Debug, Serialize)]
pub struct NoteRow {
    pub by: String,
    pub at: String,
    pub body: String,
    pub pinned: bool,
}

/// An email sent (or to be sent) to the client.
#[derive(Debug, Serialize)]
pub struct EmailRow {
    pub subject: String,
    pub to: String,
    pub status: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

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
    let notes = admin::notes(&state.db, c.id)
        .await?
        .into_iter()
        .map(|n| NoteRow { by: n.staff_name, at: n.created_at.to_rfc3339(), body: n.body, pinned: n.pinned })
        .collect();
    let emails = if tab == "emails" {
        admin::email_log(&state.db, c.id)
            .await?
            .into_iter()
            .map(|m| EmailRow {
                subject: m.subject,
                to: m.to_address,
                status: m.status,
                created_at: m.created_at.to_rfc3339(),
                sent_at: m.sent_at.map(|t| t.to_rfc3339()),
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
    let view = ClientPage {
        current_staff: current.badge(),
        nav: "clients",
        tab,
        client: ClientDetail {
            row: row(c, &groups),
            phone: c.phone.clone(),
            address1: c.address1.clone(),
            address2: c.address2.clone(),
            city: c.city.clone(),
            region: c.region.clone(),
            postcode: c.postcode.clone(),
            country_name: countries::name(&c.country).unwrap_or_default(),
            tax_id: c.tax_id.clone(),
            currency_code: c.currency_code.clone(),
            language: c.language.clone(),
            payment_method: admin::PAYMENT_METHODS.iter().find(|(k, _)| *k == c.payment_method).map(|(_, l)| *l),
            email_verified: c.email_verified_at.is_some(),
            twofa: c.totp_enabled_at.is_some(),
            last_login_at: c.last_login_at.map(|t| t.to_rfc3339()),
            anonymised: c.anonymised_at.is_some(),
        },
        contacts,
        services,
        can_manage_services: current.can(Permission::ServicesManage),
        invoices,
        credit,
        currencies,
        credit_form: CreditForm { key: crate::crypto::random_token() },
        can_view_invoices,
        can_manage_invoices: current.can(Permission::InvoicesManage),
        form: form.values(),
        custom_fields: inputs(&all_fields, Audience::Staff, &shown, &stored),
        groups,
        countries: country_options(),
        payment_methods: admin::PAYMENT_METHODS.to_vec(),
        statuses: admin::STATUSES,
        notes,
        emails,
        activity,
        errors,
        can_manage: current.can(Permission::ClientsManage),
    };
    state.render_view_status(status, page, &view).await
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
        Ok(valid) => match admin::update(&state, &current.actor(&page.ip), id, valid).await {
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

#[cfg(test)]
impl ClientPage {
    /// Every tab, for viewers who may do everything, only look, or also see invoices; with
    /// the lists filled or empty and the client active or anonymised.
    pub(super) fn samples() -> Vec<Self> {
        use crate::clients::views::{ClientRow, country_options, group_options};
        use crate::overviews::template_samples::{client_invoice_rows, credit_overview, service_rows};
        use crate::web::view::{SCRIPT, TIME};

        let notes = || {
            vec![
                NoteRow { by: SCRIPT.into(), at: TIME.into(), body: format!("{SCRIPT}\nsecond line"), pinned: true },
                NoteRow { by: "Sam".into(), at: TIME.into(), body: "Prefers email.".into(), pinned: false },
            ]
        };
        let emails = || {
            let email = |subject: &str, to: &str, status: &str, sent_at: Option<&str>| EmailRow {
                subject: subject.into(),
                to: to.into(),
                status: status.into(),
                created_at: TIME.into(),
                sent_at: sent_at.map(str::to_owned),
            };
            vec![
                email(SCRIPT, SCRIPT, "sent", Some(TIME)),
                email("Welcome", "jo@example.com", "pending", None),
                email("Welcome", "jo@example.com", "failed", None),
                email("Welcome", "jo@example.com", "odd", None),
            ]
        };
        let text = |filled: bool| if filled { SCRIPT } else { "" }.to_owned();
        // (anonymised, can manage, viewer's permissions, whether the lists have rows)
        let viewers: [(bool, bool, &[&'static str], bool); 6] = [
            (false, true, &[], true),
            (true, true, &[], true),
            (false, false, &["clients.view"], false),
            (true, false, &["clients.view"], false),
            (false, false, &["clients.view", "invoices.view"], true),
            (false, false, &["clients.view", "invoices.view", "invoices.manage"], false),
        ];
        let mut out = Vec::new();
        for tab in TABS {
            for (anonymised, can_manage, permissions, filled) in viewers {
                let current_staff =
                    if permissions.is_empty() { StaffBadge::sample_all() } else { StaffBadge::sample(permissions) };
                let may = |key: &str| current_staff.permissions.contains(&key);
                let can_view_invoices = may("invoices.view");
                let services = if tab == "services" && may("orders.view") {
                    Value::from(if filled { service_rows() } else { Vec::new() })
                } else {
                    Value::from(())
                };
                let invoices =
                    if tab == "invoices" && can_view_invoices { client_invoice_rows(filled) } else { Value::from(()) };
                let credit =
                    if tab == "credit" && can_view_invoices { credit_overview(filled) } else { Value::from(()) };
                let status = if anonymised { "closed" } else { "active" };
                let group = filled.then_some(SCRIPT);
                out.push(ClientPage {
                    nav: "clients",
                    tab,
                    client: ClientDetail {
                        row: ClientRow::sample(7, status, group, &text(filled), "DE"),
                        phone: text(filled),
                        address1: text(filled),
                        address2: String::new(),
                        city: text(filled),
                        region: String::new(),
                        postcode: if filled { "10115" } else { "" }.into(),
                        country_name: if filled { "Germany" } else { "" },
                        tax_id: text(filled),
                        currency_code: if filled { "EUR" } else { "" }.into(),
                        language: "en".into(),
                        payment_method: filled.then_some(SCRIPT),
                        email_verified: filled,
                        twofa: filled,
                        last_login_at: filled.then(|| TIME.into()),
                        anonymised,
                    },
                    contacts: if tab == "contacts" && filled { ContactRow::samples() } else { Vec::new() },
                    services,
                    can_manage_services: may("services.manage"),
                    invoices,
                    credit,
                    currencies: if filled { vec!["EUR".into(), "USD".into()] } else { Vec::new() },
                    credit_form: CreditForm { key: "credit-key-sample".into() },
                    can_view_invoices,
                    can_manage_invoices: may("invoices.manage"),
                    form: DetailsValues::sample(filled, false),
                    custom_fields: CustomFieldInput::samples(true, filled),
                    groups: group_options(),
                    countries: country_options(),
                    payment_methods: admin::PAYMENT_METHODS.to_vec(),
                    statuses: admin::STATUSES,
                    notes: if filled { notes() } else { Vec::new() },
                    emails: if tab == "emails" && filled { emails() } else { Vec::new() },
                    activity: if tab == "activity" && filled {
                        crate::audit::history::sample_rows()
                    } else {
                        Vec::new()
                    },
                    errors: if tab == "profile" && filled { DetailsValues::sample_errors() } else { FormErrors::new() },
                    can_manage,
                    current_staff,
                });
            }
        }
        out
    }
}
