//! A product's module settings page: the server group its accounts go to, the module's
//! product fields, and the packages the group's servers offer.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::model::product;
use super::module_settings;
use super::service::CatalogError;
use super::views::{ProductModuleForm, ProductModulePage, ProductName};
use crate::ids::ProductId;
use crate::jobs::{self, Enqueue};
use crate::permissions::perm;
use crate::provisioning::handlers::field_values;
use crate::provisioning::jobs::TestServer;
use crate::provisioning::{AnyModule, servers};
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

async fn render_product_module(
    state: &AppState,
    page: &Page,
    current: &Authorized<perm::CatalogManage>,
    id: ProductId,
    values: Option<&BTreeMap<String, String>>,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let product = super::service::find_product(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let module = AnyModule::get(&product.module, &state.http).ok_or(AppError::NotFound)?;
    let info = module.info();
    let stored = module_settings::settings(&product);
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
    let suggestions: BTreeMap<&'static str, Vec<String>> = info
        .product_fields
        .iter()
        .filter(|f| matches!(f.key, "package" | "plan"))
        .map(|f| (f.key, packages.clone()))
        .collect();
    let view = ProductModulePage {
        current_staff: current.badge(),
        nav: "catalog",
        can_list_packages: info.capabilities.packages && product.server_group_id.is_some(),
        product: ProductName { id: product.id, name: product.name },
        module: info.key,
        module_label: info.label,
        needs_server: module.needs_server(),
        fields: field_values(&info.product_fields),
        suggestions,
        groups,
        form: ProductModuleForm { server_group_id: group, settings },
        errors,
    };
    state.render_view_status(status, page, &view).await
}

/// The servers of a product's group that run its module.
async fn product_servers(state: &AppState, product: &product::Model) -> AppResult<Vec<servers::server::Model>> {
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
pub async fn read_packages(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
) -> AppResult<Response> {
    let product = super::service::find_product(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let who = current.actor(&page.ip);
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

pub async fn product_module_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
) -> AppResult<Response> {
    render_product_module(&state, &page, &current, id, None, FormErrors::new(), StatusCode::OK).await
}

pub async fn save_product_module(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::CatalogManage>,
    Path(id): Path<ProductId>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let who = current.actor(&page.ip);
    match module_settings::save(&state, &who, id, &fields).await {
        Ok(()) => Ok(flash::redirect(
            &state,
            &format!("/admin/catalog/products/{id}/module"),
            "success",
            "Module settings saved.",
        )),
        Err(CatalogError::Invalid(errors)) => {
            render_product_module(&state, &page, &current, id, Some(&fields), errors, StatusCode::UNPROCESSABLE_ENTITY)
                .await
        }
        Err(err) => Err(AppError::from(err)),
    }
}
