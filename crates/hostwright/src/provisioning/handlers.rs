//! The admin pages of provisioning: servers (with their module's settings and a connection
//! test that runs as a job), server groups, and a product's module settings.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use hostwright_provisioning::{Field, FieldKind, ModuleInfo};
use minijinja::{Value, context};

use super::servers::{self, FillStrategy, ServerError, ServerInput};
use super::{AnyModule, calls, jobs::TestServer, products};
use crate::audit::Actor;
use crate::ids::{ProductId, ServerGroupId, ServerId};
use crate::jobs::{self, Enqueue};
use crate::permissions::perm;
use crate::state::AppState;
use crate::web::current::Authorized;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/servers", get(list_servers))
        .route("/admin/servers/new", get(new_server_form).post(create_server))
        .route("/admin/servers/{id}", get(server_form).post(update_server))
        .route("/admin/servers/{id}/test", post(test_server))
        .route("/admin/server-groups/new", post(create_group))
        .route("/admin/server-groups/{id}", post(update_group))
        .route("/admin/catalog/products/{id}/module", get(product_module_form).post(save_product_module))
        .route("/admin/catalog/products/{id}/module/packages", post(read_packages))
}

fn actor(current: &crate::web::current::CurrentStaff, page: &Page) -> Actor {
    Actor::staff(current.staff.id, &current.staff.email, &page.ip)
}

fn server_error(err: ServerError) -> AppError {
    match err {
        ServerError::NotFound => AppError::NotFound,
        ServerError::Invalid(_) | ServerError::NotAllowed(_) => AppError::Internal(anyhow::anyhow!("{err}")),
        ServerError::Internal(err) => AppError::Internal(err),
    }
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

async fn list_servers(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
) -> AppResult<Response> {
    let counts = servers::account_counts(&state.db, None).await?;
    let all = servers::all(&state.db).await?;
    let rows: Vec<Value> = all
        .iter()
        .map(|s| {
            context! {
                id => s.id, name => s.name, hostname => s.hostname, enabled => s.enabled,
                module => AnyModule::get(&s.module, &state.http).map_or(s.module.clone(), |m| m.info().label.to_owned()),
                accounts => counts.get(&s.id).copied().unwrap_or(0), max_accounts => s.max_accounts,
                last_test_ok => s.last_test_ok, last_test => s.last_test,
            }
        })
        .collect();
    let mut groups = Vec::new();
    let memberships = servers::memberships(&state.db).await?;
    for g in servers::groups(&state.db).await? {
        let names: Vec<String> =
            all.iter().filter(|s| memberships.contains(&(g.id, s.id))).map(|s| s.name.clone()).collect();
        groups.push(context! {
            id => g.id, name => g.name, fill_strategy => g.fill_strategy,
            strategy_label => FillStrategy::parse(&g.fill_strategy).map_or("", FillStrategy::label),
            servers => names,
        });
    }
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "servers",
        servers => rows,
        groups => groups,
        strategies => FillStrategy::ALL.iter().map(|s| (s.key(), s.label())).collect::<Vec<_>>(),
        modules => server_modules(&state),
    };
    state.render(&page, "admin/servers/list.html", ctx).await
}

/// The modules a server can be for (not the manual one).
fn server_modules(state: &AppState) -> Vec<(&'static str, String)> {
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
                context! { ok => row.last_test_ok, message => row.last_test, at => row.last_test_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()) },
                log.iter().map(call_value).collect::<Vec<_>>(),
            )
        }
        None => (Value::from(()), Vec::new()),
    };
    let groups: Vec<(String, String, bool)> = servers::groups(&state.db)
        .await?
        .into_iter()
        .map(|g| (g.id.to_string(), g.name, p.form.groups.contains(&g.id)))
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "servers",
        id => p.id,
        module => p.info.key,
        module_label => p.info.label,
        fields => field_values(&p.info.server_fields),
        can_test => p.info.capabilities.test_connection,
        stored_secrets => p.stored_secrets,
        form => context! {
            name => p.form.name, hostname => p.form.hostname, max_accounts => p.form.max_accounts,
            nameservers => p.form.nameservers, enabled => p.form.enabled, settings => p.form.settings,
        },
        groups => groups,
        last_test => last_test,
        log => log,
        errors => p.errors,
    };
    state.render_status(status, page, "admin/servers/form.html", ctx).await
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
    match servers::save(&state, &actor(&current, &page), None, &input).await {
        Ok(id) => Ok(flash::redirect(&state, &format!("/admin/servers/{id}"), "success", "Server added.")),
        Err(ServerError::Invalid(errors)) => {
            let p = ServerPage { id: None, info: &info, form: &input, stored_secrets: Vec::new(), errors };
            render_server(&state, &page, &current, p, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(server_error(err)),
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
    match servers::save(&state, &actor(&current, &page), Some(id), &input).await {
        Ok(id) => Ok(flash::redirect(&state, &format!("/admin/servers/{id}"), "success", "Server saved.")),
        Err(ServerError::Invalid(errors)) => {
            let stored_secrets = servers::stored_secrets(&state, &s);
            let p = ServerPage { id: Some(id), info: &info, form: &input, stored_secrets, errors };
            render_server(&state, &page, &current, p, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(server_error(err)),
    }
}

async fn test_server(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ServerId>,
) -> AppResult<Response> {
    servers::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let job = TestServer { server_id: id, actor: (&actor(&current, &page)).into() };
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
    Ok(match servers::save_group(state, &actor(current, page), id, &form.name, &form.fill_strategy).await {
        Ok(_) => flash::redirect(state, "/admin/servers", "success", "Server group saved."),
        Err(ServerError::Invalid(errors)) => flash::redirect(state, "/admin/servers", "error", errors.to_string()),
        Err(err) => return Err(server_error(err)),
    })
}

// --- a product's module settings ----------------------------------------------------------

async fn render_product_module(
    state: &AppState,
    page: &Page,
    current: &Authorized<perm::CatalogManage>,
    id: ProductId,
    values: Option<&BTreeMap<String, String>>,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let product = crate::catalog::service::find_product(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let module = AnyModule::get(&product.module, &state.http).ok_or(AppError::NotFound)?;
    let info = module.info();
    let stored = products::settings(&product);
    let (group, settings) = match values {
        Some(v) => (
            v.get("server_group_id").cloned().unwrap_or_default(),
            v.iter().filter_map(|(k, v)| k.strip_prefix("setting.").map(|k| (k.to_owned(), v.clone()))).collect(),
        ),
        None => (product.server_group_id.map(|g| g.to_string()).unwrap_or_default(), stored),
    };
    let mut groups = vec![(String::new(), "— None —".to_owned())];
    groups.extend(servers::groups(&state.db).await?.into_iter().map(|g| (g.id.to_string(), g.name)));
    // What the group's servers said they offer, for the package (or plan) field.
    let mut packages: Vec<String> =
        product_servers(state, &product).await?.iter().flat_map(servers::packages).collect();
    packages.sort();
    packages.dedup();
    let suggestions: BTreeMap<&str, Vec<String>> = info
        .product_fields
        .iter()
        .filter(|f| matches!(f.key, "package" | "plan"))
        .map(|f| (f.key, packages.clone()))
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "catalog",
        product => context! { id => product.id, name => product.name },
        module => info.key,
        module_label => info.label,
        needs_server => module.needs_server(),
        fields => field_values(&info.product_fields),
        suggestions => suggestions,
        can_list_packages => info.capabilities.packages && product.server_group_id.is_some(),
        groups => groups,
        form => context! { server_group_id => group, settings => settings },
        errors => errors,
    };
    state.render_status(status, page, "admin/catalog/product_module.html", ctx).await
}

/// The servers of a product's group that run its module.
async fn product_servers(
    state: &AppState,
    product: &crate::catalog::model::product::Model,
) -> AppResult<Vec<servers::server::Model>> {
    let Some(group) = product.server_group_id else { return Ok(Vec::new()) };
    let members = servers::members(&state.db, group).await?;
    Ok(servers::all(&state.db)
        .await?
        .into_iter()
        .filter(|s| members.contains(&s.id) && s.module == product.module)
        .collect())
}

/// Asks each server of the product's group for its packages (a connection test, which reads
/// them when it succeeds).
async fn read_packages(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
) -> AppResult<Response> {
    let product = crate::catalog::service::find_product(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let who = actor(&current, &page);
    for s in product_servers(&state, &product).await? {
        let job = TestServer { server_id: s.id, actor: (&who).into() };
        let how = Enqueue { priority: Some(10), ..Enqueue::default() }.about(format!("server:{}", s.id));
        jobs::enqueue(&state.db, &job, how).await?;
    }
    state.jobs_wakeup.notify_one();
    Ok(flash::redirect(
        &state,
        &format!("/admin/catalog/products/{id}/module"),
        "success",
        "The servers are being asked for their packages; reload this page in a few seconds.",
    ))
}

async fn product_module_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
) -> AppResult<Response> {
    render_product_module(&state, &page, &current, id, None, FormErrors::new(), StatusCode::OK).await
}

async fn save_product_module(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let who = Actor::staff(current.staff.id, &current.staff.email, &page.ip);
    match products::save(&state, &who, id, &fields).await {
        Ok(()) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/products/{id}/module"),
            "success",
            "Module settings saved.",
        )),
        Err(ServerError::Invalid(errors)) => {
            render_product_module(&state, &page, &current, id, Some(&fields), errors, StatusCode::UNPROCESSABLE_ENTITY)
                .await
        }
        Err(err) => Err(server_error(err)),
    }
}
