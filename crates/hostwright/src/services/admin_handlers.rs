//! Admin pages for services: the list, a service's page (edit, module commands, its invoices,
//! cancellation requests and history), adding a service to a client by hand, and the open
//! cancellation requests. Staff with "See orders and services" see them; changing them takes
//! "Add and edit services".

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use hostwright_core::{BillingCycle, Currency, Money};
use minijinja::{Value, context};
use sea_orm::entity::prelude::*;
use serde::Deserialize;

use super::adding::{self, AddInput, AddOutcome};
use super::cancellations::{self, Resolution};
use super::model::service;
use super::service::{self as services, EditInput, ServiceError, ServiceQuery, cycles_of};
use super::status::Status;
use super::views::{self, money};
use super::{lifecycle, store};
use crate::audit::Actor;
use crate::catalog::pricing::{Choice, Sale};
use crate::ids::{CancellationRequestId, ClientId, ConfigOptionId, ProductId, ServiceId};
use crate::permissions::{Permission, perm};
use crate::provisioning::Command;
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::retry::keyed;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/services", get(list_services))
        .route("/admin/services/{id}", get(show_service).post(update_service))
        .route("/admin/services/{id}/command", post(run_command))
        .route("/admin/services/{id}/cancellations/{request}", post(resolve_cancellation))
        .route("/admin/cancellations", get(list_cancellations))
        .route("/admin/clients/{id}/services/new", keyed(get(new_service_form).post(add_service)))
}

fn actor(current: &CurrentStaff, page: &Page) -> Actor {
    Actor::staff(current.staff.id, &current.staff.email, &page.ip)
}

fn cycle_options(payment_type: &str) -> Vec<(&'static str, &'static str)> {
    cycles_of(payment_type).into_iter().map(|c| (c.key(), c.label())).collect()
}

// --- the list ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    client: String,
    page: Option<u64>,
}

pub async fn list_services(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::OrdersView>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let query = ServiceQuery {
        status: Status::parse(&q.status),
        product_id: q.product.trim().parse::<ProductId>().ok(),
        client_id: q.client.trim().parse::<ClientId>().ok(),
        search: q.q.trim().chars().take(100).collect(),
        page: q.page.unwrap_or(1).max(1),
    };
    let (rows, total) = services::search(&state.db, &query).await?;
    let currencies = views::currency_table(&state).await?;
    let products = views::product_names(&state).await?;
    let clients = views::client_names(&state, rows.iter().map(|s| s.client_id).collect()).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|s| {
            let currency = views::currency_in(&currencies, &s.currency_code)?;
            let product = products.get(&s.product_id).map_or("", String::as_str);
            Ok(views::service_row(s, product, clients.get(&s.client_id).map_or("", String::as_str), currency))
        })
        .collect::<AppResult<_>>()?;
    let query_string = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("status", &q.status)
        .append_pair("product", &q.product)
        .append_pair("q", &query.search)
        .append_pair("client", &q.client)
        .finish();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "services",
        services => list,
        statuses => Status::ALL.iter().map(|s| (s.key(), s.label())).collect::<Vec<_>>(),
        products => products.iter().map(|(id, name)| (id.to_string(), name.clone())).collect::<Vec<_>>(),
        filters => context! { status => q.status, product => q.product, q => query.search, client => q.client },
        pagination => context! {
            page => query.page,
            pages => total.min(services::COUNT_CAP).div_ceil(services::PER_PAGE).max(1),
            total => if total > services::COUNT_CAP { Value::from("more than 10,000") } else { Value::from(total) },
            query => query_string,
        },
        can_manage => current.can(Permission::ServicesManage),
    };
    state.render(&page, "admin/services/list.html", ctx).await
}

// --- one service ------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct EditForm {
    #[serde(default)]
    product_id: String,
    #[serde(default)]
    status: String,
    /// Set when the form showed the product's options: the `option.<id>` fields then replace
    /// the service's choices.
    #[serde(default)]
    options_shown: String,
    #[serde(default)]
    registration_date: String,
    #[serde(default)]
    next_due_date: String,
    #[serde(default)]
    billing_cycle: String,
    #[serde(default)]
    recurring_amount: String,
    use_current_price: Option<String>,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    notes: String,
    /// The `option.<id>` fields.
    #[serde(flatten)]
    extra: BTreeMap<String, String>,
}

impl EditForm {
    fn input(&self) -> EditInput {
        EditInput {
            product_id: self.product_id.clone(),
            status: self.status.clone(),
            options: (!self.options_shown.is_empty()).then(|| adding::option_fields(&self.extra)),
            registration_date: self.registration_date.clone(),
            next_due_date: self.next_due_date.clone(),
            billing_cycle: self.billing_cycle.clone(),
            recurring_amount: self.recurring_amount.clone(),
            use_current_price: self.use_current_price.is_some(),
            domain: self.domain.clone(),
            hostname: self.hostname.clone(),
            username: self.username.clone(),
            notes: self.notes.clone(),
        }
    }

    fn value(&self) -> Value {
        context! {
            product_id => self.product_id.trim(), status => self.status.trim(),
            registration_date => self.registration_date.trim(), next_due_date => self.next_due_date.trim(),
            billing_cycle => self.billing_cycle.trim(), recurring_amount => self.recurring_amount.trim(),
            use_current_price => self.use_current_price.is_some(), domain => self.domain.trim(),
            hostname => self.hostname.trim(), username => self.username.trim(), notes => self.notes.clone(),
        }
    }

    fn from_service(s: &service::Model, currency: Currency, choices: &[(ConfigOptionId, Choice)]) -> Self {
        let extra = choices
            .iter()
            .map(|(id, choice)| {
                let value = match choice {
                    Choice::Value(v) => v.to_string(),
                    Choice::Quantity(n) => n.to_string(),
                };
                (format!("option.{id}"), value)
            })
            .collect();
        EditForm {
            product_id: s.product_id.to_string(),
            status: s.status.clone(),
            options_shown: "1".into(),
            extra,
            registration_date: s.registration_date.to_string(),
            next_due_date: s.next_due_date.map(|d| d.to_string()).unwrap_or_default(),
            billing_cycle: s.billing_cycle.clone(),
            recurring_amount: Money::from_minor(s.recurring_minor, currency).to_decimal_string(),
            use_current_price: s.use_current_price.then(|| "on".to_owned()),
            domain: s.domain.clone(),
            hostname: s.hostname.clone(),
            username: s.username.clone(),
            notes: s.notes.clone(),
        }
    }
}

/// The module commands a service in `status` may receive, as [key, label].
fn commands_for(status: Option<Status>) -> Vec<(&'static str, &'static str)> {
    let all = [
        Command::Create,
        Command::Suspend { reason: String::new() },
        Command::Unsuspend,
        Command::Terminate,
        Command::ChangePackage,
        Command::ChangePassword { password_enc: String::new() },
    ];
    all.iter().filter(|c| status.is_some_and(|s| lifecycle::allows(s, c))).map(|c| (c.key(), c.label())).collect()
}

async fn render_service(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    s: &service::Model,
    form: &EditForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let currencies = views::currency_table(state).await?;
    let currency = views::currency_in(&currencies, &s.currency_code)?;
    let product = crate::catalog::service::find_product(&state.db, s.product_id).await?;
    let client = crate::clients::store::find(&state.db, s.client_id).await?;
    let client_name =
        client
            .as_ref()
            .map(|c| {
                if c.company_name.is_empty() {
                    c.full_name()
                } else {
                    format!("{} ({})", c.company_name, c.full_name())
                }
            })
            .unwrap_or_default();
    let invoices: Vec<Value> = services::invoices_of(&state.db, s.id)
        .await?
        .iter()
        .map(|i| {
            let currency = views::currency_in(&currencies, &i.currency_code)?;
            Ok(context! {
                id => i.id, number => i.display_number(), status => i.status.clone(),
                issue_date => i.issue_date.map(|d| d.to_string()), total => money(i.total_minor, currency),
            })
        })
        .collect::<AppResult<_>>()?;
    let (requests, open_request) = views::request_rows(state, s).await?;
    // The edit form follows the product chosen in it: its cycles and its options.
    let products = crate::catalog::service::products(&state.db).await?;
    let chosen = form.product_id.trim().parse::<ProductId>().ok().and_then(|id| products.iter().find(|p| p.id == id));
    let edited = chosen.or(product.as_ref());
    let product_choices: Vec<(String, String)> = products
        .iter()
        .map(|p| (p.id.to_string(), if p.retired { format!("{} (retired)", p.name) } else { p.name.clone() }))
        .collect();
    let option_fields = match edited {
        Some(p) => option_inputs(state, p.id, &form.extra, Sale::Renewal).await?,
        None => Vec::new(),
    };
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "services",
        service => views::service_row(s, product.as_ref().map_or("", |p| p.name.as_str()), &client_name, currency),
        options => views::option_rows(state, s.id).await?,
        addons => views::addon_rows(state, s.id, currency).await?,
        invoices => invoices,
        requests => requests,
        open_request => open_request,
        commands => commands_for(Status::parse(&s.status))
            .into_iter()
            .filter(|(key, _)| product.as_ref().is_some_and(|p| super::module_handlers::supported(state, &p.module, key)))
            .collect::<Vec<_>>(),
        provisioning => super::module_handlers::staff_context(state, s).await?,
        cycles => edited.map(|p| cycle_options(&p.payment_type)).unwrap_or_default(),
        products => product_choices,
        statuses => Status::ALL.iter().map(|s| (s.key(), s.label())).collect::<Vec<_>>(),
        option_inputs => option_fields,
        history => crate::audit::history::for_entity(&state.db, "service", s.id.0, 50).await?,
        form => form.value(),
        errors => errors,
        can_manage => current.can(Permission::ServicesManage),
    };
    state.render_status(status, page, "admin/services/show.html", ctx).await
}

pub async fn show_service(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::OrdersView>,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    let s = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let currency = services::currency_of(&state.db, &s.currency_code).await?;
    let choices = store::choices_of(&state.db, s.id).await?;
    let form = EditForm::from_service(&s, currency, &choices);
    render_service(&state, &page, &current, &s, &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn update_service(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path(id): Path<ServiceId>,
    Form(form): Form<EditForm>,
) -> AppResult<Response> {
    let to = format!("/admin/services/{id}");
    let errors = match services::update(&state, &actor(&current, &page), id, &form.input()).await {
        Ok(true) => return Ok(flash::redirect(&state, &to, "success", "Service saved.")),
        Ok(false) => return Ok(flash::redirect(&state, &to, "info", "Nothing was changed.")),
        Err(ServiceError::Invalid(errors)) => errors,
        Err(ServiceError::NotAllowed(message)) => return Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => return Err(AppError::from(err)),
    };
    let s = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    render_service(&state, &page, &current, &s, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Deserialize, Default)]
pub struct CommandForm {
    #[serde(default)]
    command: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    password: String,
}

pub async fn run_command(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path(id): Path<ServiceId>,
    Form(form): Form<CommandForm>,
) -> AppResult<Response> {
    let to = format!("/admin/services/{id}");
    let who = actor(&current, &page);
    let command = match form.command.as_str() {
        "create" => Ok(Command::Create),
        "suspend" => Ok(Command::Suspend { reason: form.reason.clone() }),
        "unsuspend" => Ok(Command::Unsuspend),
        "terminate" => Ok(Command::Terminate),
        "change_package" => Ok(Command::ChangePackage),
        "change_password" => lifecycle::change_password_command(&state, &form.password),
        _ => return Ok(flash::redirect(&state, &to, "error", "Choose a command to run.")),
    };
    let outcome = match command {
        Ok(command) => {
            let label = command.label();
            lifecycle::request_now(&state, &who, id, command).await.map(|()| label)
        }
        Err(err) => Err(err),
    };
    match outcome.map_err(ServiceError::from) {
        Ok(label) => Ok(flash::redirect(
            &state,
            &to,
            "success",
            format!("{label} is queued; its outcome shows below in a moment."),
        )),
        Err(ServiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

// --- cancellation requests --------------------------------------------------------------

pub async fn list_cancellations(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::OrdersView>,
) -> AppResult<Response> {
    let open = cancellations::open_requests(&state.db, 500).await?;
    let found: BTreeMap<ServiceId, service::Model> = service::Entity::find()
        .filter(service::Column::Id.is_in(open.iter().map(|r| r.service_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let products = views::product_names(&state).await?;
    let clients = views::client_names(&state, found.values().map(|s| s.client_id).collect()).await?;
    let currencies = views::currency_table(&state).await?;
    let requests: Vec<Value> = open
        .iter()
        .filter_map(|r| Some((r, found.get(&r.service_id)?)))
        .map(|(r, s)| {
            let currency = views::currency_in(&currencies, &s.currency_code)?;
            let product = products.get(&s.product_id).map_or("", String::as_str);
            let client = clients.get(&s.client_id).map_or("", String::as_str);
            Ok(context! {
                service => views::service_row(s, product, client, currency),
                ..views::request_row(r, s.next_due_date)
            })
        })
        .collect::<AppResult<_>>()?;
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "cancellations",
        requests => requests,
        can_manage => current.can(Permission::ServicesManage),
    };
    state.render(&page, "admin/cancellations.html", ctx).await
}

#[derive(Deserialize, Default)]
pub struct ResolveForm {
    #[serde(default)]
    action: String,
    /// "list" to come back to the list of open requests.
    #[serde(default)]
    back: String,
}

pub async fn resolve_cancellation(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path((id, request)): Path<(ServiceId, CancellationRequestId)>,
    Form(form): Form<ResolveForm>,
) -> AppResult<Response> {
    let to = if form.back == "list" { "/admin/cancellations".to_owned() } else { format!("/admin/services/{id}") };
    let Some(resolution) = Resolution::parse(&form.action) else {
        return Ok(flash::redirect(&state, &to, "error", "Choose to cancel the service or to reject the request."));
    };
    match cancellations::resolve(&state, None, &actor(&current, &page), id, request, resolution).await {
        Ok(resolved) => Ok(flash::redirect(
            &state,
            &to,
            "success",
            match (resolution, resolved) {
                (Resolution::CancelNow, cancellations::Resolved::Queued) => {
                    "The service is being removed from its server; it is cancelled then."
                }
                (Resolution::CancelNow, cancellations::Resolved::Done) => "The service is cancelled.",
                (Resolution::Reject, _) => "The request was rejected; the service goes on.",
            },
        )),
        Err(ServiceError::NotAllowed(message)) => Ok(flash::redirect(&state, &to, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

// --- adding a service to a client -------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ProductQuery {
    #[serde(default)]
    product: String,
}

/// The fields for `product_id`'s options (see option_inputs in macros/services.html), with
/// the values typed in `fields` (`option.<id>`).
async fn option_inputs(
    state: &AppState,
    product_id: ProductId,
    fields: &BTreeMap<String, String>,
    sale: Sale,
) -> AppResult<Vec<Value>> {
    Ok(adding::form_options(&state.db, product_id, sale)
        .await?
        .into_iter()
        .map(|o| {
            let name = format!("option.{}", o.option.id);
            context! {
                id => o.option.id,
                name => name.clone(),
                label => o.option.name.clone(),
                kind => o.kind.key(),
                unit_label => o.option.unit_label.clone(),
                min => o.option.quantity_min,
                max => o.option.quantity_max,
                step => o.option.quantity_step.max(1),
                values => o.values.iter().map(|v| (v.id.to_string(), v.label.clone())).collect::<Vec<_>>(),
                value => fields.get(&name).cloned().unwrap_or_default(),
            }
        })
        .collect())
}

async fn render_new(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    client_id: ClientId,
    fields: &BTreeMap<String, String>,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let c = crate::clients::store::find(&state.db, client_id).await?.ok_or(AppError::NotFound)?;
    let currency = adding::client_currency(&state.db, &c).await?;
    let products = crate::catalog::service::products(&state.db).await?;
    let on_sale: Vec<(String, String)> =
        products.iter().filter(|p| !p.retired).map(|p| (p.id.to_string(), p.name.clone())).collect();
    let typed = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let product_id = typed("product_id");
    let product = product_id.trim().parse::<ProductId>().ok().and_then(|id| products.iter().find(|p| p.id == id));
    let options = match product {
        Some(p) => option_inputs(state, p.id, fields, Sale::New).await?,
        None => Vec::new(),
    };
    let today = crate::invoices::service::today(&state.db).await?;
    let first_cycle = product.and_then(|p| cycles_of(&p.payment_type).first().copied());
    let cycle = BillingCycle::from_str(typed("billing_cycle").trim()).ok().or(first_cycle);
    let default_due = cycle.and_then(|c| hostwright_core::DueSchedule::new(today, c).due_date(1));
    let fresh = fields.get("key").is_none();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "services",
        client => context! {
            id => c.id,
            name => if c.company_name.is_empty() { c.full_name() } else { format!("{} ({})", c.company_name, c.full_name()) },
        },
        currency => currency.map(|c| c.code().to_owned()),
        products => on_sale,
        product => product.map(|p| context! {
            id => p.id, name => p.name.clone(),
            payment_type => crate::catalog::service::PaymentType::parse(&p.payment_type).map_or("", |t| t.label()),
        }),
        cycles => product.map(|p| cycle_options(&p.payment_type)).unwrap_or_default(),
        options => options,
        today => today.to_string(),
        default_due_date => default_due.map(|d| d.to_string()),
        form => context! {
            product_id => product_id,
            billing_cycle => cycle.map(|c| c.key()).unwrap_or_default(),
            domain => typed("domain"),
            hostname => typed("hostname"),
            recurring_amount => typed("recurring_amount"),
            next_due_date => typed("next_due_date"),
            create_invoice => fresh || fields.contains_key("create_invoice"),
            run_create => fields.contains_key("run_create"),
            key => fields.get("key").cloned().unwrap_or_else(crate::crypto::random_token),
        },
        errors => errors,
    };
    state.render_status(status, page, "admin/services/new.html", ctx).await
}

pub async fn new_service_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path(id): Path<ClientId>,
    Query(q): Query<ProductQuery>,
) -> AppResult<Response> {
    let mut fields = BTreeMap::new();
    if !q.product.trim().is_empty() {
        fields.insert("product_id".to_owned(), q.product.trim().to_owned());
    }
    render_new(&state, &page, &current, id, &fields, FormErrors::new(), StatusCode::OK).await
}

pub async fn add_service(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path(id): Path<ClientId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let fields: BTreeMap<String, String> = fields.into_iter().filter(|(k, _)| k != "csrf_token").collect();
    let typed = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let input = AddInput {
        product_id: typed("product_id"),
        billing_cycle: typed("billing_cycle"),
        options: adding::option_fields(&fields),
        domain: typed("domain"),
        hostname: typed("hostname"),
        recurring_amount: typed("recurring_amount"),
        next_due_date: typed("next_due_date"),
        create_invoice: fields.contains_key("create_invoice"),
        run_create: fields.contains_key("run_create"),
        idempotency_key: typed("key"),
    };
    let errors = match adding::add(&state, &actor(&current, &page), id, &input).await {
        Ok(AddOutcome::Added { id, invoice, create_queued }) => {
            let to = format!("/admin/services/{id}");
            let invoiced = if invoice.is_some() { " Its first invoice was issued and emailed." } else { "" };
            let created = if create_queued { " It is being created on its server." } else { "" };
            return Ok(flash::redirect(&state, &to, "success", format!("Service added.{created}{invoiced}")));
        }
        Ok(AddOutcome::AlreadyAdded(existing)) => {
            return Ok(flash::redirect(
                &state,
                &format!("/admin/services/{existing}"),
                "info",
                "This service was already added.",
            ));
        }
        Err(ServiceError::Invalid(errors)) => errors,
        Err(ServiceError::NotAllowed(message)) => FormErrors::form(message),
        Err(err) => return Err(AppError::from(err)),
    };
    render_new(&state, &page, &current, id, &fields, errors, StatusCode::UNPROCESSABLE_ENTITY).await
}
