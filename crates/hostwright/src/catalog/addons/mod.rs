//! Product add-ons (extra backups, a dedicated IP ...): sold with the products they apply
//! to, with their own payment type, price grid and billing cycles (decision 0009).

pub mod handlers;

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DbErr, QueryOrder, TransactionTrait};

use crate::audit::{self, Actor};
use crate::catalog::model::{addon, addon_price, addon_product};
use crate::catalog::service::{self, CatalogError, PaymentType, PriceInput, chosen_ids};
use crate::ids::{AddonId, ProductId};
use crate::state::AppState;
use crate::web::FormErrors;
use crate::web::forms::required_text;

/// Which email is sent when an add-on is activated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddonWelcome {
    None,
    Welcome,
}

impl AddonWelcome {
    pub const ALL: [AddonWelcome; 2] = [Self::None, Self::Welcome];

    pub fn key(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Welcome => "welcome",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Welcome => "Add-on welcome email",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.key() == key)
    }
}

pub async fn addons(db: &impl ConnectionTrait) -> Result<Vec<addon::Model>, DbErr> {
    addon::Entity::find().order_by_asc(addon::Column::Name).order_by_asc(addon::Column::Id).all(db).await
}

pub async fn find_addon(db: &impl ConnectionTrait, id: AddonId) -> Result<Option<addon::Model>, DbErr> {
    addon::Entity::find_by_id(id).one(db).await
}

/// An add-on's settings as staff enter them.
#[derive(Debug, Clone, Default)]
pub struct AddonInput {
    pub name: String,
    pub description: String,
    pub payment_type: String,
    pub taxable: bool,
    pub hidden: bool,
    pub retired: bool,
    pub welcome_email: String,
}

pub async fn save_addon(
    state: &AppState,
    actor: &Actor,
    id: Option<AddonId>,
    input: &AddonInput,
) -> Result<AddonId, CatalogError> {
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", &input.name, "a name", 150);
    let description = input.description.trim().to_owned();
    if description.chars().count() > 5_000 {
        errors.add("description", "Use at most 5,000 characters.");
    }
    let payment_type = PaymentType::parse(input.payment_type.trim());
    if payment_type.is_none() {
        errors.add("payment_type", "Choose how the add-on is paid for.");
    }
    let welcome = match input.welcome_email.trim() {
        "" => Some(AddonWelcome::None),
        key => AddonWelcome::parse(key),
    };
    if welcome.is_none() {
        errors.add("welcome_email", "Choose an email.");
    }
    let (Some(payment_type), Some(welcome), true) = (payment_type, welcome, errors.is_empty()) else {
        return Err(CatalogError::Invalid(errors));
    };
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let mut active = match id {
        Some(id) => find_addon(&txn, id).await?.ok_or(CatalogError::NotFound)?.into(),
        None => addon::ActiveModel { created_at: Set(now), ..Default::default() },
    };
    active.name = Set(name.clone());
    active.description = Set(description);
    active.payment_type = Set(payment_type.key().to_owned());
    active.taxable = Set(input.taxable);
    active.hidden = Set(input.hidden);
    active.retired = Set(input.retired);
    active.welcome_email = Set(welcome.key().to_owned());
    active.updated_at = Set(now);
    let saved = if id.is_some() { active.update(&txn).await? } else { active.insert(&txn).await? };
    // As for products: prices for cycles the payment type no longer offers would never be sold.
    let allowed: Vec<&str> = payment_type.cycles().iter().map(|c| c.key()).collect();
    addon_price::Entity::delete_many()
        .filter(addon_price::Column::AddonId.eq(saved.id))
        .filter(addon_price::Column::Cycle.is_not_in(allowed))
        .exec(&txn)
        .await?;
    let action = if id.is_some() { "addon.updated" } else { "addon.created" };
    audit::record(&txn, actor, action, Some(("addon", saved.id.0)), format!("Add-on {name}")).await?;
    txn.commit().await?;
    Ok(saved.id)
}

/// Deletes an add-on with its prices; refused while products offer it (decision 0009).
pub async fn delete_addon(state: &AppState, actor: &Actor, id: AddonId) -> Result<String, CatalogError> {
    let txn = state.db.begin().await?;
    let current = find_addon(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    let attached = addon_products(&txn, id).await?.len();
    if attached > 0 {
        return Err(CatalogError::Invalid(FormErrors::form(format!(
            "{} is offered with {attached} product{}. Retire it to stop selling it, or untick its products first.",
            current.name,
            if attached == 1 { "" } else { "s" }
        ))));
    }
    addon::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(&txn, actor, "addon.deleted", Some(("addon", id.0)), format!("Add-on {}", current.name)).await?;
    txn.commit().await?;
    Ok(current.name)
}

/// The products an add-on can be ordered with.
pub async fn addon_products(db: &impl ConnectionTrait, id: AddonId) -> Result<Vec<ProductId>, DbErr> {
    Ok(addon_product::Entity::find()
        .filter(addon_product::Column::AddonId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.product_id)
        .collect())
}

/// Every add-on-product link, for list pages.
pub async fn all_addon_products(db: &impl ConnectionTrait) -> Result<Vec<addon_product::Model>, DbErr> {
    addon_product::Entity::find().all(db).await
}

/// The add-ons a product can be ordered with.
pub async fn product_addons(db: &impl ConnectionTrait, id: ProductId) -> Result<Vec<AddonId>, DbErr> {
    Ok(addon_product::Entity::find()
        .filter(addon_product::Column::ProductId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.addon_id)
        .collect())
}

/// Replaces the products an add-on can be ordered with.
pub async fn save_addon_products(
    state: &AppState,
    actor: &Actor,
    id: AddonId,
    product_ids: &[String],
) -> Result<usize, CatalogError> {
    let txn = state.db.begin().await?;
    let current = find_addon(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    let products = service::products(&txn).await?;
    let known: Vec<ProductId> = products.iter().map(|p| p.id).collect();
    let chosen = chosen_ids(product_ids, &known, "products")?;
    addon_product::Entity::delete_many().filter(addon_product::Column::AddonId.eq(id)).exec(&txn).await?;
    for product_id in &chosen {
        addon_product::ActiveModel { addon_id: Set(id), product_id: Set(*product_id) }.insert(&txn).await?;
    }
    let names: Vec<&str> = products.iter().filter(|p| chosen.contains(&p.id)).map(|p| p.name.as_str()).collect();
    let summary = if names.is_empty() {
        format!("{}: offered with no product", current.name)
    } else {
        format!("{}: offered with {}", current.name, names.join(", "))
    };
    audit::record(&txn, actor, "addon.products_updated", Some(("addon", id.0)), summary).await?;
    txn.commit().await?;
    Ok(chosen.len())
}

pub async fn addon_prices(db: &impl ConnectionTrait, id: AddonId) -> Result<Vec<addon_price::Model>, DbErr> {
    addon_price::Entity::find().filter(addon_price::Column::AddonId.eq(id)).all(db).await
}

/// Replaces an add-on's price grid; nothing is saved unless every cell is valid.
pub async fn save_addon_prices(
    state: &AppState,
    actor: &Actor,
    id: AddonId,
    cells: &[PriceInput],
) -> Result<usize, CatalogError> {
    let current = find_addon(&state.db, id).await?.ok_or(CatalogError::NotFound)?;
    let payment_type = PaymentType::parse(&current.payment_type).unwrap_or(PaymentType::Free);
    let known = service::currencies(&state.db).await?;
    let rows =
        service::parse_price_grid(&known, payment_type.cycles(), cells, "This add-on is not sold in that cycle.")?;
    let txn = state.db.begin().await?;
    addon_price::Entity::delete_many().filter(addon_price::Column::AddonId.eq(id)).exec(&txn).await?;
    for row in &rows {
        addon_price::ActiveModel {
            addon_id: Set(id),
            currency_code: Set(row.currency_code.clone()),
            cycle: Set(row.cycle.key().to_owned()),
            price_minor: Set(row.price.minor()),
            setup_fee_minor: Set(row.setup_fee.minor()),
        }
        .insert(&txn)
        .await?;
    }
    audit::record(&txn, actor, "addon.prices_updated", Some(("addon", id.0)), service::price_summary(&rows)).await?;
    txn.commit().await?;
    Ok(rows.len())
}
