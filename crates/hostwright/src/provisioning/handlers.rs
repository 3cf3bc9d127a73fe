//! The admin pages of provisioning: a server (with its module's settings and a connection
//! test that runs as a job) and server groups. The servers overview, which counts the
//! accounts on each, is the services' (`services::server_handlers`); a product's module
//! settings are the catalog's (`catalog::module_handlers`).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use hostwright_provisioning::{Field, FieldKind, ModuleInfo};
use minijinja::{Value, context};

use super::servers::{self, ServerError, ServerInput};
use super::views::{LastTest, ServerFormPage, ServerFormValues};
use super::{AnyModule, calls, jobs::TestServer};
use crate::ids::{ServerGroupId, ServerId};
use crate::jobs::{self, Enqueue};
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/servers/new", get(new_server_form).post(create_server))
        .route("/admin/servers/{id}", get(server_form).post(update_server))
        .route("/admin/servers/{id}/test", post(test_server))
        .route("/admin/server-groups/new", post(create_group))
        .route("/admin/server-groups/{id}", post(update_group))
}

/// A module's fields for a form: key, label, kind, options, help, required.
pub fn field_values(fields: &[Field]) -> Vec<Value> {
    fields
        .iter()
        .map(|f| {
            let (kind, options) = match &f.kind {
                FieldKind::Text => ("text", Vec::new()),
                FieldKind::Secret => ("secret", Vec::new()),
                FieldKind::Number => ("number", Vec::new()),
                FieldKind::Checkbox => ("checkbox", Vec::new()),
                FieldKind::Choice(options) => ("choice", options.iter().map(|o| (o.clone(), o.clone())).collect()),
            };
            context! { key => f.key, label => f.label, kind => kind, options => options, help => f.help, required => f.required }
        })
        .collect()
}

/// The modules a server can be for (not the manual one).
pub fn server_modules(state: &AppState) -> Vec<(&'static str, String)> {
    super::choices(&state.http).into_iter().filter(|(k, _)| *k != "none").collect()
}

#[derive(serde::Deserialize, Default)]
struct NewQuery {
    #[serde(default)]
    module: String,
}

struct ServerPage<'a> {
    id: Option<ServerId>,
    info: &'a ModuleInfo,
    form: &'a ServerInput,
    stored_secrets: Vec<String>,
    errors: FormErrors,
}

async fn render_server(
    state: &AppState,
    page: &Page,
    current: &Authorized<perm::SettingsManage>,
    p: ServerPage<'_>,
    status: StatusCode,
) -> AppResult<Response> {
    let (last_test, log) = match p.id {
        Some(id) => {
            let row = servers::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
            let log = calls::for_server(&state.db, id, 20).await?;
            (
                Some(LastTest {
                    ok: row.last_test_ok,
                    message: row.last_test,
                    at: row.last_test_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
                }),
                log.iter().map(call_value).collect::<Vec<_>>(),
            )
        }
        None => (None, Vec::new()),
    };
    let groups: Vec<(String, String, bool)> = servers::groups(&state.db)
        .await?
        .into_iter()
        .map(|g| (g.id.to_string(), g.name, p.form.groups.contains(&g.id)))
        .collect();
    let view = ServerFormPage {
        current_staff: current.badge(),
        nav: "servers",
        id: p.id,
        module: p.info.key,
        module_label: p.info.label,
        fields: field_values(&p.info.server_fields),
        can_test: p.info.capabilities.test_connection,
        stored_secrets: p.stored_secrets,
        form: ServerFormValues {
            name: p.form.name.clone(),
            hostname: p.form.hostname.clone(),
            max_accounts: p.form.max_accounts.clone(),
            nameservers: p.form.nameservers.clone(),
            enabled: p.form.enabled,
            settings: p.form.settings.clone(),
        },
        groups,
        last_test,
        log,
        errors: p.errors,
    };
    state.render_view_status(status, page, &view).await
}

/// One module-log entry for a page.
pub fn call_value(c: &calls::Model) -> Value {
    context! {
        id => c.id, at => c.created_at.format("%Y-%m-%d %H:%M:%S").to_string(), action => c.action,
        label => super::label(&c.action), ok => c.ok, message => c.message, duration_ms => c.duration_ms,
        actor => c.actor, exchanges => calls::exchanges(c).into_iter().map(|e| context! {
            action => e.action, request => e.request, response => e.response,
        }).collect::<Vec<_>>(),
    }
}

fn module_info(state: &AppState, key: &str) -> AppResult<ModuleInfo> {
    AnyModule::get(key, &state.http).filter(AnyModule::needs_server).map(|m| m.info()).ok_or(AppError::NotFound)
}

async fn new_server_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let info = module_info(&state, &q.module)?;
    let form = ServerInput { module: info.key.to_owned(), enabled: true, ..ServerInput::default() };
    let p = ServerPage { id: None, info: &info, form: &form, stored_secrets: Vec::new(), errors: FormErrors::new() };
    render_server(&state, &page, &current, p, StatusCode::OK).await
}

fn input_from(fields: &BTreeMap<String, String>, module: &str) -> ServerInput {
    let text = |k: &str| fields.get(k).cloned().unwrap_or_default();
    ServerInput {
        name: text("name"),
        hostname: text("hostname"),
        module: module.to_owned(),
        max_accounts: text("max_accounts"),
        nameservers: text("nameservers"),
        enabled: fields.contains_key("enabled"),
        settings: fields
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("setting.").map(|k| (k.to_owned(), v.clone())))
            .collect(),
        groups: fields.keys().filter_map(|k| k.strip_prefix("group.")?.parse().ok()).collect(),
    }
}

async fn create_server(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Query(q): Query<NewQuery>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let info = module_info(&state, &q.module)?;
    let input = input_from(&fields, info.key);
    match servers::save(&state, &current.actor(&page.ip), None, &input).await {
        Ok(id) => Ok(flash::redirect(&state, &format!("/admin/servers/{id}"), "success", "Server added.")),
        Err(ServerError::Invalid(errors)) => {
            let p = ServerPage { id: None, info: &info, form: &input, stored_secrets: Vec::new(), errors };
            render_server(&state, &page, &current, p, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

async fn server_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ServerId>,
) -> AppResult<Response> {
    let s = servers::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let info = module_info(&state, &s.module)?;
    let form = ServerInput {
        name: s.name.clone(),
        hostname: s.hostname.clone(),
        module: s.module.clone(),
        max_accounts: s.max_accounts.to_string(),
        nameservers: s.nameservers.clone(),
        enabled: s.enabled,
        settings: servers::plain_settings(&s),
        groups: servers::groups_of(&state.db, id).await?,
    };
    let stored_secrets = servers::stored_secrets(&state, &s);
    let p = ServerPage { id: Some(id), info: &info, form: &form, stored_secrets, errors: FormErrors::new() };
    render_server(&state, &page, &current, p, StatusCode::OK).await
}

async fn update_server(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ServerId>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let s = servers::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let info = module_info(&state, &s.module)?;
    let input = input_from(&fields, &s.module);
    match servers::save(&state, &current.actor(&page.ip), Some(id), &input).await {
        Ok(id) => Ok(flash::redirect(&state, &format!("/admin/servers/{id}"), "success", "Server saved.")),
        Err(ServerError::Invalid(errors)) => {
            let stored_secrets = servers::stored_secrets(&state, &s);
            let p = ServerPage { id: Some(id), info: &info, form: &input, stored_secrets, errors };
            render_server(&state, &page, &current, p, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

async fn test_server(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ServerId>,
) -> AppResult<Response> {
    servers::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let job = TestServer { server_id: id, actor: (&current.actor(&page.ip)).into() };
    jobs::enqueue(&state.db, &job, Enqueue { priority: Some(10), ..Enqueue::default() }.about(format!("server:{id}")))
        .await?;
    state.jobs_wakeup.notify_one();
    Ok(flash::redirect(
        &state,
        &format!("/admin/servers/{id}"),
        "success",
        "The test is running; reload this page in a few seconds to see its answer.",
    ))
}

#[derive(serde::Deserialize, Default)]
struct GroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    fill_strategy: String,
}

async fn create_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    save_group(&state, &page, &current, None, &form).await
}

async fn update_group(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ServerGroupId>,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    save_group(&state, &page, &current, Some(id), &form).await
}

async fn save_group(
    state: &AppState,
    page: &Page,
    current: &Authorized<perm::SettingsManage>,
    id: Option<ServerGroupId>,
    form: &GroupForm,
) -> AppResult<Response> {
    Ok(match servers::save_group(state, &current.actor(&page.ip), id, &form.name, &form.fill_strategy).await {
        Ok(_) => flash::redirect(state, "/admin/servers", "success", "Server group saved."),
        Err(ServerError::Invalid(errors)) => flash::redirect(state, "/admin/servers", "error", errors.to_string()),
        Err(err) => return Err(AppError::from(err)),
    })
}
