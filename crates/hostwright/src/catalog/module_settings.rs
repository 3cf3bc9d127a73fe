//! A product's module settings: the server group its accounts go to and the module's
//! product fields (the package or plan on the panel).

use std::collections::BTreeMap;

use chrono::Utc;
use hostwright_provisioning::FieldKind;
use sea_orm::TransactionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use super::model::product;
use super::service::CatalogError;
use crate::audit::{self, Actor};
use crate::ids::{ProductId, ServerGroupId};
use crate::provisioning::{AnyModule, servers};
use crate::state::AppState;
use crate::web::FormErrors;

pub fn settings(p: &product::Model) -> BTreeMap<String, String> {
    serde_json::from_str(&p.module_settings).unwrap_or_default()
}

/// Saves the group and the module's fields typed as `setting.<key>`.
pub async fn save(
    state: &AppState,
    actor: &Actor,
    id: ProductId,
    fields: &BTreeMap<String, String>,
) -> Result<(), CatalogError> {
    let p = super::service::find_product(&state.db, id).await?.ok_or(CatalogError::NotFound)?;
    let module = AnyModule::get(&p.module, &state.http).ok_or(CatalogError::NotFound)?;
    let info = module.info();
    let mut errors = FormErrors::new();
    let group = match fields.get("server_group_id").map_or("", |g| g.trim()) {
        "" => None,
        g => match g.parse::<ServerGroupId>() {
            Ok(g) if servers::find_group(&state.db, g).await?.is_some() => Some(g),
            _ => {
                errors.add("server_group_id", "Choose a server group.");
                None
            }
        },
    };
    if module.needs_server() && group.is_none() && !errors.has("server_group_id") {
        errors.add("server_group_id", "Choose the group whose servers take this product's accounts.");
    }
    let mut values = BTreeMap::new();
    for field in &info.product_fields {
        let value = fields.get(&format!("setting.{}", field.key)).map_or("", |v| v.trim()).to_owned();
        let name = format!("setting.{}", field.key);
        if field.required && value.is_empty() {
            errors.add(&name, format!("{} is required.", field.label));
        }
        if let FieldKind::Choice(options) = &field.kind
            && !value.is_empty()
            && !options.contains(&value)
        {
            errors.add(&name, format!("Choose one of {}.", options.join(", ")));
        }
        if value.chars().count() > 500 {
            errors.add(&name, "Use at most 500 characters.");
        }
        values.insert(field.key.to_owned(), value);
    }
    if !errors.is_empty() {
        return Err(CatalogError::Invalid(errors));
    }
    let json = serde_json::to_string(&values).map_err(anyhow::Error::from)?;
    let txn = state.db.begin().await?;
    let update = Query::update()
        .table(product::Entity)
        .value(product::Column::ServerGroupId, group)
        .value(product::Column::ModuleSettings, json.clone())
        .value(product::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(product::Column::Id).eq(id))
        .to_owned();
    sea_orm::ConnectionTrait::execute(&txn, &update).await?;
    audit::record(&txn, actor, "product.module_saved", Some(("product", id.0)), format!("{}: {json}", info.key))
        .await?;
    txn.commit().await?;
    Ok(())
}
