//! Admin pages for clients: the searchable list, new clients, notes, groups and
//! anonymisation. The client page, whose tabs gather from several domains, and the data
//! export are `overviews`'.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::admin::{self, ClientQuery, Details, Sort};
use super::countries;
use super::field_handlers::inputs;
use super::fields::{self, Audience, Values};
use super::model::client;
use super::service::ClientError;
use super::views::{
    ClientFilters, ClientRow, ClientsPage, DetailsValues, GroupRow, GroupValues, GroupsPage, NewClientPage, Options,
};
use crate::ids::{ClientGroupId, ClientId};
use crate::permissions::{Permission, perm};
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::view::Pagination;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    sort: String,
    page: Option<u64>,
}

/// A client in the lists; `groups` are the (id, name) of every group.
pub fn row(c: &client::Model, groups: &[(String, String)]) -> ClientRow {
    let group = c.group_id.and_then(|g| groups.iter().find(|(id, _)| *id == g.to_string()).map(|(_, n)| n.clone()));
    ClientRow {
        id: c.id,
        name: c.full_name(),
        company: c.company_name.clone(),
        email: c.email.clone(),
        status: c.status.clone(),
        group,
        country: c.country.clone(),
        created_at: c.created_at.to_rfc3339(),
    }
}

pub async fn group_options(state: &AppState) -> AppResult<Vec<(String, String)>> {
    Ok(admin::groups(&state.db).await?.into_iter().map(|g| (g.id.to_string(), g.name)).collect())
}

pub async fn list_clients(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsView>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let status = admin::STATUSES.iter().find(|s| **s == q.status).map(|s| (*s).to_owned());
    let group = q.group.parse::<ClientGroupId>().ok();
    let query = ClientQuery {
        search: q.q.chars().take(100).collect(),
        status,
        group,
        sort: Sort::parse(&q.sort),
        page: q.page.unwrap_or(1).max(1),
    };
    let (rows, total) = admin::search(&state.db, &query).await?;
    let groups = group_options(&state).await?;
    let clients = rows.iter().map(|c| row(c, &groups)).collect();
    let query_string = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &query.search)
        .append_pair("status", query.status.as_deref().unwrap_or(""))
        .append_pair("group", &q.group)
        .append_pair("sort", &q.sort)
        .finish();
    let view = ClientsPage {
        current_staff: current.badge(),
        nav: "clients",
        clients,
        groups,
        statuses: admin::STATUSES,
        filters: ClientFilters { q: query.search, status: q.status, group: q.group, sort: q.sort },
        pagination: Pagination {
            page: query.page,
            pages: total.div_ceil(admin::PER_PAGE).max(1),
            total,
            query: query_string,
        },
        can_manage: current.can(Permission::ClientsManage),
    };
    state.render_view(&page, &view).await
}

#[derive(Deserialize, Default)]
pub struct DetailsForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address1: String,
    #[serde(default)]
    address2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    tax_id: String,
    #[serde(default)]
    currency_code: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    status: String,
    tax_exempt: Option<String>,
    invite: Option<String>,
    /// The custom fields (`cf_<id>`).
    #[serde(flatten)]
    pub custom: BTreeMap<String, String>,
}

impl DetailsForm {
    pub fn details(&self) -> Details {
        Details {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            company_name: self.company_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            address1: self.address1.clone(),
            address2: self.address2.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postcode: self.postcode.clone(),
            country: self.country.clone(),
            tax_id: self.tax_id.clone(),
            currency_code: self.currency_code.clone(),
            language: self.language.clone(),
            payment_method: self.payment_method.clone(),
            group_id: self.group_id.clone(),
            status: self.status.clone(),
            tax_exempt: self.tax_exempt.is_some(),
            custom: self.custom.clone(),
        }
    }

    pub fn from_client(c: &client::Model, stored: &Values) -> Self {
        DetailsForm {
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            company_name: c.company_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            address1: c.address1.clone(),
            address2: c.address2.clone(),
            city: c.city.clone(),
            region: c.region.clone(),
            postcode: c.postcode.clone(),
            country: c.country.clone(),
            tax_id: c.tax_id.clone(),
            currency_code: c.currency_code.clone(),
            language: c.language.clone(),
            payment_method: c.payment_method.clone(),
            group_id: c.group_id.map(|g| g.to_string()).unwrap_or_default(),
            status: c.status.clone(),
            tax_exempt: c.tax_exempt.then(|| "on".to_owned()),
            invite: None,
            custom: stored.iter().map(|(id, value)| (fields::input_name(*id), value.clone())).collect(),
        }
    }

    /// The form as the pages show it again.
    pub fn values(&self) -> DetailsValues {
        let trimmed = |text: &str| text.trim().to_owned();
        DetailsValues {
            first_name: trimmed(&self.first_name),
            last_name: trimmed(&self.last_name),
            company_name: trimmed(&self.company_name),
            email: trimmed(&self.email),
            phone: trimmed(&self.phone),
            address1: trimmed(&self.address1),
            address2: trimmed(&self.address2),
            city: trimmed(&self.city),
            region: trimmed(&self.region),
            postcode: trimmed(&self.postcode),
            country: trimmed(&self.country),
            tax_id: trimmed(&self.tax_id),
            currency_code: trimmed(&self.currency_code),
            language: trimmed(&self.language),
            payment_method: trimmed(&self.payment_method),
            group_id: trimmed(&self.group_id),
            status: trimmed(&self.status),
            invite: self.invite.is_some(),
            tax_exempt: self.tax_exempt.is_some(),
        }
    }
}

pub fn country_options() -> Options {
    countries::COUNTRIES.to_vec()
}

async fn render_new(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &DetailsForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let all = fields::list(&state.db).await?;
    let typed = fields::typed(&all, Audience::Staff, &form.custom);
    let view = NewClientPage {
        current_staff: current.badge(),
        nav: "clients",
        form: form.values(),
        custom_fields: inputs(&all, Audience::Staff, &typed, &Values::new()),
        groups: group_options(state).await?,
        countries: country_options(),
        payment_methods: admin::PAYMENT_METHODS.to_vec(),
        statuses: admin::STATUSES,
        errors,
    };
    state.render_view_status(status, page, &view).await
}

pub async fn new_client_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
) -> AppResult<Response> {
    let form = DetailsForm { invite: Some("on".into()), ..DetailsForm::default() };
    render_new(&state, &page, &current, &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn create_client(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Form(form): Form<DetailsForm>,
) -> AppResult<Response> {
    let all = fields::list(&state.db).await?;
    let errors = match form.details().validate_with(&all, &Values::new()) {
        Ok(valid) => match admin::create(&state, &current.actor(&page.ip), valid, form.invite.is_some()).await {
            Ok(created) => {
                return Ok(flash::redirect(
                    &state,
                    &format!("/admin/clients/{}", created.id),
                    "success",
                    format!("The account of {} was opened.", created.full_name()),
                ));
            }
            Err(ClientError::EmailTaken) => {
                let mut errors = FormErrors::new();
                errors.add("email", "A client with this email address already exists.");
                errors
            }
            Err(err) => return Err(AppError::from(err)),
        },
        Err(errors) => errors,
    };
    render_new(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
    pinned: Option<String>,
}

pub async fn add_note(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path(id): Path<ClientId>,
    Form(form): Form<NoteForm>,
) -> AppResult<Response> {
    let to = format!("/admin/clients/{id}?tab=notes");
    let body = form.body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Ok(flash::redirect(&state, &to, "error", "Write a note of up to 10,000 characters."));
    }
    match admin::add_note(&state, &current.actor(&page.ip), id, body, form.pinned.is_some()).await {
        Ok(()) => Ok(flash::redirect(&state, &to, "success", "Note added.")),
        Err(ClientError::Anonymised) => {
            Ok(flash::redirect(&state, &to, "error", "This client's personal data was erased; notes cannot be added."))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

#[derive(Deserialize)]
pub struct AnonymiseForm {
    #[serde(default)]
    confirm: String,
}

pub async fn anonymise_client(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path(id): Path<ClientId>,
    Form(form): Form<AnonymiseForm>,
) -> AppResult<Response> {
    let to = format!("/admin/clients/{id}");
    if form.confirm.trim() != id.to_string() {
        return Ok(flash::redirect(&state, &to, "error", "Type the client number to confirm; nothing was changed."));
    }
    match admin::anonymise(&state, &current.actor(&page.ip), id).await {
        Ok(()) => Ok(flash::redirect(&state, &to, "success", "The account is closed and its personal data erased.")),
        Err(ClientError::Anonymised) => {
            Ok(flash::redirect(&state, &to, "error", "This client was already anonymised."))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

#[derive(Deserialize, Default)]
pub struct GroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    discount_percent: String,
    exempt_from_fees: Option<String>,
}

async fn render_groups(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &GroupForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let groups = admin::groups(&state.db)
        .await?
        .into_iter()
        .map(|g| GroupRow {
            id: g.id,
            name: g.name,
            discount_percent: g.discount_percent,
            exempt_from_fees: g.exempt_from_fees,
        })
        .collect();
    let view = GroupsPage {
        current_staff: current.badge(),
        nav: "clients",
        groups,
        form: GroupValues {
            name: form.name.trim().to_owned(),
            discount_percent: form.discount_percent.trim().to_owned(),
            exempt_from_fees: form.exempt_from_fees.is_some(),
        },
        errors,
        can_manage: current.can(Permission::ClientsManage),
    };
    state.render_view_status(status, page, &view).await
}

pub async fn list_groups(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsView>,
) -> AppResult<Response> {
    render_groups(&state, &page, &current, &GroupForm::default(), FormErrors::new(), StatusCode::OK).await
}

pub async fn create_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    match admin::create_group(
        &state,
        &current.actor(&page.ip),
        &form.name,
        &form.discount_percent,
        form.exempt_from_fees.is_some(),
    )
    .await
    {
        Ok(group) => {
            Ok(flash::redirect(&state, "/admin/client-groups", "success", format!("Created the group {}.", group.name)))
        }
        Err(errors) => render_groups(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}
