//! A service's provisioning on its pages: for staff, the work queued for it, the module log
//! and the server it is on; for the client, signing in to the panel, changing the account's
//! password, usage and the module's own actions. Every module call runs in a job.

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::{Value, context};
use sea_orm::TransactionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use serde::Deserialize;

use super::lifecycle::ServiceCommand;
use super::lifecycle::{self, LifecycleError};
use super::model::service;
use super::module_access::{self as client, TicketState};
use super::status::Status;
use super::store;
use crate::audit::{self, Actor};
use crate::clients::current::{ClientAllowed, client_perm};
use crate::ids::{JobId, ServerId, ServiceId};
use crate::jobs::Job;
use crate::jobs::store as jobs;
use crate::permissions::perm;
use crate::provisioning::{AnyModule, Call, Command, calls, handlers::call_value, servers};
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppError, AppResult, Page, flash};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/services/{id}/work/{job}/retry", post(retry_work))
        .route("/admin/services/{id}/server", post(assign_server))
        .route("/account/services/{id}/password", post(change_password))
        .route("/account/services/{id}/panel", post(open_panel))
        .route("/account/services/{id}/actions/{key}", post(run_action))
        .route("/account/services/{id}/tickets/{token}", get(wait_ticket))
}

/// The labels of the job kinds that act on a service.
fn work_label(kind: &str) -> &'static str {
    match kind {
        "service.module" => "Module command",
        "service.overdue" => "Overdue suspension",
        "service.unsuspend_paid" => "Unsuspension after payment",
        "service.cancel_at_period_end" => "Cancellation",
        "service.usage" => "Usage refresh",
        "service.client_call" => "Client's panel request",
        _ => "Job",
    }
}

/// What the staff page shows of a service's provisioning: its server, the work queued for
/// it (with the panel's words when it failed) and the latest module calls.
pub async fn staff_context(state: &AppState, s: &service::Model) -> AppResult<Value> {
    let work: Vec<Value> = jobs::open_for(&state.db, &format!("service:{}", s.id))
        .await?
        .into_iter()
        .map(|j| {
            let command = serde_json::from_str::<serde_json::Value>(&j.payload)
                .ok()
                .and_then(|p| p.get("command").and_then(|c| c.as_str()).map(crate::provisioning::label));
            context! {
                id => j.id, kind => work_label(&j.kind), command => command, status => j.status,
                attempts => j.attempts, max_attempts => j.max_attempts, error => j.last_error,
            }
        })
        .collect();
    let log: Vec<Value> = calls::for_service(&state.db, s.id, 20).await?.iter().map(call_value).collect();
    let server = match s.server_id {
        Some(id) => {
            servers::find(&state.db, id).await?.map(|r| context! { id => r.id, name => r.name, hostname => r.hostname })
        }
        None => None,
    };
    let product = crate::catalog::service::find_product(&state.db, s.product_id).await?;
    let module = product.as_ref().and_then(|p| AnyModule::get(&p.module, &state.http));
    let choices: Vec<(String, String)> = match &module {
        Some(m) if m.needs_server() => servers::all(&state.db)
            .await?
            .into_iter()
            .filter(|r| r.module == m.info().key)
            .map(|r| (r.id.to_string(), format!("{} ({})", r.name, r.hostname)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(context! {
        module => module.as_ref().map(|m| m.info().label),
        needs_server => module.as_ref().is_some_and(AnyModule::needs_server),
        server => server,
        servers => choices,
        work => work,
        log => log,
    })
}

/// The commands the module offers, of those the status allows.
pub fn supported(state: &AppState, product_module: &str, command: &str) -> bool {
    let Some(module) = AnyModule::get(product_module, &state.http) else { return false };
    match command {
        "change_package" => module.supports(&Call::ChangePackage),
        "change_password" => module.supports(&Call::ChangePassword),
        _ => true,
    }
}

async fn retry_work(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path((id, job)): Path<(ServiceId, JobId)>,
) -> AppResult<Response> {
    let to = format!("/admin/services/{id}");
    let subject = format!("service:{id}");
    let belongs = jobs::open_for(&state.db, &subject).await?.iter().any(|j| j.id == job);
    if !belongs {
        return Err(AppError::NotFound);
    }
    let txn = state.db.begin().await?;
    let done = jobs::retry_now(&txn, job).await?;
    if done {
        let actor = Actor::staff(current.staff.id, &current.staff.email, &page.ip);
        audit::record(&txn, &actor, "job.retried", Some(("job", job.0)), format!("Retried job {job} of service #{id}"))
            .await?;
    }
    txn.commit().await?;
    state.jobs_wakeup.notify_one();
    Ok(if done {
        flash::redirect(&state, &to, "success", "It will run again in a moment.")
    } else {
        flash::redirect(&state, &to, "error", "Only waiting or failed work can be retried.")
    })
}

#[derive(Deserialize, Default)]
struct ServerForm {
    #[serde(default)]
    server_id: String,
}

/// Records which server the account is on (after staff moved it there on the panels, or to
/// choose the server before a create). It calls no module.
async fn assign_server(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ServicesManage>,
    Path(id): Path<ServiceId>,
    Form(form): Form<ServerForm>,
) -> AppResult<Response> {
    let to = format!("/admin/services/{id}");
    let s = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let product = crate::catalog::service::find_product(&state.db, s.product_id).await?.ok_or(AppError::NotFound)?;
    let Some(server) = match form.server_id.trim().parse::<ServerId>() {
        Ok(server_id) => servers::find(&state.db, server_id).await?,
        Err(_) => None,
    }
    .filter(|r| r.module == product.module) else {
        return Ok(flash::redirect(&state, &to, "error", "Choose a server of the product's module."));
    };
    let txn = state.db.begin().await?;
    let update = Query::update()
        .table(service::Entity)
        .value(service::Column::ServerId, server.id)
        .value(service::Column::UpdatedAt, chrono::Utc::now())
        .and_where(Expr::col(service::Column::Id).eq(id))
        .to_owned();
    sea_orm::ConnectionTrait::execute(&txn, &update).await?;
    let actor = Actor::staff(current.staff.id, &current.staff.email, &page.ip);
    let before = s.server_id.map_or("none".to_owned(), |sid| format!("#{sid}"));
    audit::record(
        &txn,
        &actor,
        "service.server_changed",
        Some(("service", id.0)),
        format!("Server {before} → #{} ({})", server.id, server.name),
    )
    .await?;
    txn.commit().await?;
    Ok(flash::redirect(&state, &to, "success", format!("The service is recorded on {}.", server.name)))
}

// --- the client area -----------------------------------------------------------------------

type Current = ClientAllowed<client_perm::Services>;

async fn own_service(state: &AppState, current: &Current, id: ServiceId) -> AppResult<service::Model> {
    let s = store::find(&state.db, id).await?.filter(|s| s.client_id == current.client.id).ok_or(AppError::NotFound)?;
    Ok(s)
}

/// What the client's service page shows of the module: what it offers, usage, the
/// account's password and whether a change is under way.
pub async fn client_context(state: &AppState, s: &service::Model) -> AppResult<Value> {
    let product = crate::catalog::service::find_product(&state.db, s.product_id).await?;
    let module = product.as_ref().and_then(|p| AnyModule::get(&p.module, &state.http)).filter(AnyModule::needs_server);
    let live = matches!(Status::parse(&s.status), Some(Status::Active | Status::Suspended));
    let (Some(module), true, Some(_)) = (module, live, s.server_id) else {
        return Ok(context! { available => false });
    };
    let info = module.info();
    let active = s.status == Status::Active.key();
    let usage = if info.capabilities.usage {
        client::usage_for_page(state, s.id).await?.map(|u| {
            let percent = |used: i64, limit: Option<i64>| limit.filter(|l| *l > 0).map(|l| Ord::min(used * 100 / l, 100));
            context! {
                disk_used => u.disk_used_mb, disk_limit => u.disk_limit_mb, disk_percent => percent(u.disk_used_mb, u.disk_limit_mb),
                bandwidth_used => u.bandwidth_used_mb, bandwidth_limit => u.bandwidth_limit_mb,
                bandwidth_percent => percent(u.bandwidth_used_mb, u.bandwidth_limit_mb),
                updated => u.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            }
        })
    } else {
        None
    };
    let pending = jobs::open_for(&state.db, &format!("service:{}", s.id)).await?.iter().any(|j| {
        j.kind == ServiceCommand::KIND
            && j.status != jobs::FAILED
            && serde_json::from_str::<ServiceCommand>(&j.payload)
                .is_ok_and(|c| matches!(c.command, Command::ChangePassword { .. }))
    });
    let password =
        s.password_enc.as_deref().and_then(|p| state.key.decrypt(p).ok()).and_then(|b| String::from_utf8(b).ok());
    Ok(context! {
        available => true,
        label => info.label,
        sso => info.capabilities.single_sign_on && active,
        change_password => info.capabilities.change_password,
        password_pending => pending,
        password => password,
        usage_supported => info.capabilities.usage,
        usage => usage,
        actions => if active { info.client_actions.iter().map(|a| context! { key => a.key, label => a.label, help => a.help }).collect::<Vec<_>>() } else { Vec::new() },
    })
}

#[derive(Deserialize, Default)]
struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    page: Page,
    current: Current,
    Path(id): Path<ServiceId>,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let s = own_service(&state, &current, id).await?;
    let to = format!("/account/services/{id}");
    let product = crate::catalog::service::find_product(&state.db, s.product_id).await?.ok_or(AppError::NotFound)?;
    if !AnyModule::get(&product.module, &state.http)
        .is_some_and(|m| m.needs_server() && m.supports(&Call::ChangePassword))
    {
        return Err(AppError::NotFound);
    }
    if form.password != form.confirm {
        return Ok(flash::redirect(&state, &to, "error", "The two passwords differ."));
    }
    let outcome = match lifecycle::change_password_command(&state, &form.password) {
        Ok(command) => lifecycle::request_now(&state, &current.actor(&page.ip), id, command).await,
        Err(err) => Err(err),
    };
    Ok(match outcome {
        Ok(()) => flash::redirect(
            &state,
            &to,
            "success",
            "Your new password is being set on the server; it works in a moment.",
        ),
        Err(LifecycleError::NotAllowed(message)) => flash::redirect(&state, &to, "error", message),
        Err(LifecycleError::NotFound) => return Err(AppError::NotFound),
        Err(err) => return Err(AppError::Internal(anyhow::Error::new(err))),
    })
}

async fn start_ticket(
    state: &AppState,
    page: &Page,
    current: &Current,
    id: ServiceId,
    call: Call,
) -> AppResult<Response> {
    let s = own_service(state, current, id).await?;
    let product = crate::catalog::service::find_product(&state.db, s.product_id).await?.ok_or(AppError::NotFound)?;
    let offered = AnyModule::get(&product.module, &state.http).is_some_and(|m| m.needs_server() && m.supports(&call));
    if !offered || s.status != Status::Active.key() || s.server_id.is_none() {
        return Err(AppError::NotFound);
    }
    let key = match &call {
        Call::ClientAction(key) => format!("action:{key}"),
        _ => "sso".to_owned(),
    };
    let token = client::open_ticket(state, current.client.id, id, &key, &page.ip).await?;
    Ok(axum::response::Redirect::to(&format!("/account/services/{id}/tickets/{token}")).into_response())
}

async fn open_panel(
    State(state): State<AppState>,
    page: Page,
    current: Current,
    Path(id): Path<ServiceId>,
) -> AppResult<Response> {
    start_ticket(&state, &page, &current, id, Call::SingleSignOn).await
}

async fn run_action(
    State(state): State<AppState>,
    page: Page,
    current: Current,
    Path((id, key)): Path<(ServiceId, String)>,
) -> AppResult<Response> {
    start_ticket(&state, &page, &current, id, Call::ClientAction(key)).await
}

async fn wait_ticket(
    State(state): State<AppState>,
    page: Page,
    current: Current,
    Path((id, token)): Path<(ServiceId, String)>,
) -> AppResult<Response> {
    let to = format!("/account/services/{id}");
    match client::read_ticket(&state, current.client.id, id, &token).await? {
        TicketState::Redirect(url) => Ok((
            [(header::CACHE_CONTROL, "no-store"), (header::REFERRER_POLICY, "no-referrer")],
            axum::response::Redirect::to(&url),
        )
            .into_response()),
        TicketState::Message(message) => Ok(flash::redirect(&state, &to, "success", message)),
        TicketState::Failed => Ok(flash::redirect(
            &state,
            &to,
            "error",
            "The control panel did not answer as expected. Please try again in a minute, or contact us.",
        )),
        TicketState::Gone => Ok(flash::redirect(&state, &to, "error", "That request has expired; please try again.")),
        TicketState::Waiting => {
            let ctx = context! { current_client => current.template_value(), nav => "services", back => to };
            let mut response = state.render(&page, "client/services/waiting.html", ctx).await?;
            response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            Ok(response)
        }
    }
}
