//! Configurable options (decision 0009): option groups attached to products, options of four
//! kinds, their values, and a price per value, billing cycle and currency. Changes to an
//! option or a value are audited against their group, so the group's history tells the
//! whole story.

pub mod handlers;

use chrono::Utc;
use hostwright_core::BillingCycle;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DbErr, QueryOrder, TransactionTrait};

use crate::audit::{self, Actor};
use crate::catalog::model::{option, option_group, option_group_product, option_price, option_value};
use crate::catalog::service::{self, CatalogError, PriceInput, chosen_ids, parse_order};
use crate::ids::{ConfigOptionGroupId, ConfigOptionId, ConfigOptionValueId, ProductId};
use crate::state::AppState;
use crate::web::FormErrors;
use crate::web::forms::{optional_text, required_text};

/// The cycles an option value or an add-on can be priced in: one-time and every recurring
/// cycle, so one option group serves one-time and recurring products alike.
pub const PRICED_CYCLES: [BillingCycle; 7] = [
    BillingCycle::OneTime,
    BillingCycle::Monthly,
    BillingCycle::Quarterly,
    BillingCycle::SemiAnnually,
    BillingCycle::Annually,
    BillingCycle::Biennially,
    BillingCycle::Triennially,
];

/// The largest quantity a quantity option may allow (the money core's line limit).
pub const MAX_OPTION_QUANTITY: i32 = 1_000_000;

/// How a client chooses an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// One value from a list.
    Dropdown,
    /// One value from a list, shown as radio buttons.
    Radio,
    /// A tick box; its one value ("Yes") is charged when ticked.
    YesNo,
    /// A number of units; its one value's price is per unit.
    Quantity,
}

impl OptionKind {
    pub const ALL: [OptionKind; 4] = [Self::Dropdown, Self::Radio, Self::YesNo, Self::Quantity];

    pub fn key(self) -> &'static str {
        match self {
            Self::Dropdown => "dropdown",
            Self::Radio => "radio",
            Self::YesNo => "yesno",
            Self::Quantity => "quantity",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Dropdown => "Dropdown",
            Self::Radio => "Radio buttons",
            Self::YesNo => "Yes/no",
            Self::Quantity => "Quantity",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Yes/no and quantity options have exactly one value, made with the option.
    pub fn has_single_value(self) -> bool {
        matches!(self, Self::YesNo | Self::Quantity)
    }
}

// --- groups -----------------------------------------------------------------------------

pub async fn groups(db: &impl ConnectionTrait) -> Result<Vec<option_group::Model>, DbErr> {
    option_group::Entity::find().order_by_asc(option_group::Column::Name).all(db).await
}

pub async fn find_group(
    db: &impl ConnectionTrait,
    id: ConfigOptionGroupId,
) -> Result<Option<option_group::Model>, DbErr> {
    option_group::Entity::find_by_id(id).one(db).await
}

/// An option group as staff enter it.
#[derive(Debug, Clone, Default)]
pub struct GroupInput {
    pub name: String,
    pub description: String,
}

pub async fn save_group(
    state: &AppState,
    actor: &Actor,
    id: Option<ConfigOptionGroupId>,
    input: &GroupInput,
) -> Result<ConfigOptionGroupId, CatalogError> {
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", &input.name, "a name", 100);
    let description = optional_text(&mut errors, "description", &input.description, 500);
    if !errors.is_empty() {
        return Err(CatalogError::Invalid(errors));
    }
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let mut active = match id {
        Some(id) => find_group(&txn, id).await?.ok_or(CatalogError::NotFound)?.into(),
        None => option_group::ActiveModel { created_at: Set(now), ..Default::default() },
    };
    active.name = Set(name.clone());
    active.description = Set(description);
    active.updated_at = Set(now);
    let saved = if id.is_some() { active.update(&txn).await? } else { active.insert(&txn).await? };
    let action = if id.is_some() { "option_group.updated" } else { "option_group.created" };
    audit::record(&txn, actor, action, Some(("option_group", saved.id.0)), format!("Option group {name}")).await?;
    txn.commit().await?;
    Ok(saved.id)
}

/// Deletes a group with its options, values and prices; refused while products offer it, so
/// taking options off sale is always a deliberate step of its own.
pub async fn delete_group(state: &AppState, actor: &Actor, id: ConfigOptionGroupId) -> Result<String, CatalogError> {
    let txn = state.db.begin().await?;
    let group = find_group(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    let attached = group_products(&txn, id).await?.len();
    if attached > 0 {
        return Err(CatalogError::Invalid(FormErrors::form(format!(
            "{} is offered with {attached} product{}. Untick them under \"Products\" first.",
            group.name,
            if attached == 1 { "" } else { "s" }
        ))));
    }
    option_group::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        "option_group.deleted",
        Some(("option_group", id.0)),
        format!("Option group {}", group.name),
    )
    .await?;
    txn.commit().await?;
    Ok(group.name)
}

/// The products a group is offered with.
pub async fn group_products(db: &impl ConnectionTrait, id: ConfigOptionGroupId) -> Result<Vec<ProductId>, DbErr> {
    Ok(option_group_product::Entity::find()
        .filter(option_group_product::Column::GroupId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.product_id)
        .collect())
}

/// The option groups offered with a product.
pub async fn product_groups(db: &impl ConnectionTrait, id: ProductId) -> Result<Vec<ConfigOptionGroupId>, DbErr> {
    Ok(option_group_product::Entity::find()
        .filter(option_group_product::Column::ProductId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.group_id)
        .collect())
}

/// Replaces the products a group is offered with (the group's page).
pub async fn save_group_products(
    state: &AppState,
    actor: &Actor,
    id: ConfigOptionGroupId,
    product_ids: &[String],
) -> Result<usize, CatalogError> {
    let txn = state.db.begin().await?;
    let group = find_group(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    let products = service::products(&txn).await?;
    let known: Vec<ProductId> = products.iter().map(|p| p.id).collect();
    let chosen = chosen_ids(product_ids, &known, "products")?;
    option_group_product::Entity::delete_many().filter(option_group_product::Column::GroupId.eq(id)).exec(&txn).await?;
    for product_id in &chosen {
        option_group_product::ActiveModel { group_id: Set(id), product_id: Set(*product_id) }.insert(&txn).await?;
    }
    let names: Vec<&str> = products.iter().filter(|p| chosen.contains(&p.id)).map(|p| p.name.as_str()).collect();
    let summary = if names.is_empty() {
        format!("{}: offered with no product", group.name)
    } else {
        format!("{}: offered with {}", group.name, names.join(", "))
    };
    audit::record(&txn, actor, "option_group.products_updated", Some(("option_group", id.0)), summary).await?;
    txn.commit().await?;
    Ok(chosen.len())
}

/// Replaces the option groups offered with a product (the product's page).
pub async fn save_product_groups(
    state: &AppState,
    actor: &Actor,
    id: ProductId,
    group_ids: &[String],
) -> Result<usize, CatalogError> {
    let txn = state.db.begin().await?;
    let product = service::find_product(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    let all = groups(&txn).await?;
    let known: Vec<ConfigOptionGroupId> = all.iter().map(|g| g.id).collect();
    let chosen = chosen_ids(group_ids, &known, "option_groups")?;
    option_group_product::Entity::delete_many()
        .filter(option_group_product::Column::ProductId.eq(id))
        .exec(&txn)
        .await?;
    for group_id in &chosen {
        option_group_product::ActiveModel { group_id: Set(*group_id), product_id: Set(id) }.insert(&txn).await?;
    }
    let names: Vec<&str> = all.iter().filter(|g| chosen.contains(&g.id)).map(|g| g.name.as_str()).collect();
    let summary = if names.is_empty() {
        format!("{}: no configurable options", product.name)
    } else {
        format!("{}: configurable options {}", product.name, names.join(", "))
    };
    audit::record(&txn, actor, "product.option_groups_updated", Some(("product", id.0)), summary).await?;
    txn.commit().await?;
    Ok(chosen.len())
}

// --- options ----------------------------------------------------------------------------

pub async fn options_of(db: &impl ConnectionTrait, group: ConfigOptionGroupId) -> Result<Vec<option::Model>, DbErr> {
    options_of_groups(db, vec![group]).await
}

/// The options of several groups, each group's in its order.
pub async fn options_of_groups(
    db: &impl ConnectionTrait,
    groups: Vec<ConfigOptionGroupId>,
) -> Result<Vec<option::Model>, DbErr> {
    option::Entity::find()
        .filter(option::Column::GroupId.is_in(groups))
        .order_by_asc(option::Column::SortOrder)
        .order_by_asc(option::Column::Id)
        .all(db)
        .await
}

/// Every group-product link, for list pages.
pub async fn all_group_products(db: &impl ConnectionTrait) -> Result<Vec<option_group_product::Model>, DbErr> {
    option_group_product::Entity::find().all(db).await
}

pub async fn find_option(db: &impl ConnectionTrait, id: ConfigOptionId) -> Result<Option<option::Model>, DbErr> {
    option::Entity::find_by_id(id).one(db).await
}

/// The options among `ids`, in one query.
pub async fn find_options(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = ConfigOptionId>,
) -> Result<Vec<option::Model>, DbErr> {
    option::Entity::find().filter(option::Column::Id.is_in(ids)).all(db).await
}

/// An option as staff enter it. `kind` counts only when the option is created.
#[derive(Debug, Clone, Default)]
pub struct OptionInput {
    pub name: String,
    pub kind: String,
    pub sort_order: String,
    pub hidden: bool,
    pub quantity_min: String,
    pub quantity_max: String,
    pub quantity_step: String,
    pub unit_label: String,
}

/// The checked fields of an option.
struct ValidOption {
    name: String,
    sort_order: i32,
    hidden: bool,
    quantity: (i32, i32, i32),
    unit_label: String,
}

fn whole_number(errors: &mut FormErrors, field: &str, text: &str, min: i32, message: &str) -> Option<i32> {
    match text.trim().parse::<i32>() {
        Ok(n) if (min..=MAX_OPTION_QUANTITY).contains(&n) => Some(n),
        _ => {
            errors.add(field, message);
            None
        }
    }
}

fn check_option(input: &OptionInput, kind: OptionKind) -> Result<ValidOption, CatalogError> {
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", &input.name, "a name", 100);
    let sort_order = parse_order(&mut errors, &input.sort_order);
    let (quantity, unit_label) = if kind == OptionKind::Quantity {
        let min = if input.quantity_min.trim().is_empty() {
            Some(0)
        } else {
            whole_number(&mut errors, "quantity_min", &input.quantity_min, 0, "Enter a whole number of 0 or more.")
        };
        let max = whole_number(
            &mut errors,
            "quantity_max",
            &input.quantity_max,
            1,
            "Enter the largest quantity a client may choose, from 1 to 1,000,000.",
        );
        let step = if input.quantity_step.trim().is_empty() {
            Some(1)
        } else {
            whole_number(&mut errors, "quantity_step", &input.quantity_step, 1, "Enter a step of 1 or more.")
        };
        if let (Some(min), Some(max), Some(step)) = (min, max, step) {
            if max < min {
                errors.add("quantity_max", "The maximum must be at least the minimum.");
            } else if (max - min) % step != 0 {
                errors.add("quantity_max", "The maximum must be the minimum plus a whole number of steps.");
            }
        }
        let unit = optional_text(&mut errors, "unit_label", &input.unit_label, 30);
        ((min.unwrap_or(0), max.unwrap_or(0), step.unwrap_or(1)), unit)
    } else {
        ((0, 0, 1), String::new())
    };
    if !errors.is_empty() {
        return Err(CatalogError::Invalid(errors));
    }
    Ok(ValidOption { name, sort_order, hidden: input.hidden, quantity, unit_label })
}

fn apply(active: &mut option::ActiveModel, valid: ValidOption) {
    active.name = Set(valid.name);
    active.sort_order = Set(valid.sort_order);
    active.hidden = Set(valid.hidden);
    active.quantity_min = Set(valid.quantity.0);
    active.quantity_max = Set(valid.quantity.1);
    active.quantity_step = Set(valid.quantity.2);
    active.unit_label = Set(valid.unit_label);
    active.updated_at = Set(Utc::now());
}

/// Adds an option to a group; a yes/no or quantity option gets its one value at once.
pub async fn create_option(
    state: &AppState,
    actor: &Actor,
    group: ConfigOptionGroupId,
    input: &OptionInput,
) -> Result<(ConfigOptionId, OptionKind), CatalogError> {
    let Some(kind) = OptionKind::parse(input.kind.trim()) else {
        let mut errors = match check_option(input, OptionKind::Dropdown) {
            Err(CatalogError::Invalid(errors)) => errors,
            _ => FormErrors::new(),
        };
        errors.add("kind", "Choose how clients pick this option.");
        return Err(CatalogError::Invalid(errors));
    };
    let valid = check_option(input, kind)?;
    let txn = state.db.begin().await?;
    find_group(&txn, group).await?.ok_or(CatalogError::NotFound)?;
    let name = valid.name.clone();
    let mut active = option::ActiveModel {
        group_id: Set(group),
        kind: Set(kind.key().to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    apply(&mut active, valid);
    let saved = active.insert(&txn).await?;
    let single = match kind {
        OptionKind::YesNo => Some("Yes"),
        OptionKind::Quantity => Some("Per unit"),
        OptionKind::Dropdown | OptionKind::Radio => None,
    };
    if let Some(label) = single {
        option_value::ActiveModel {
            option_id: Set(saved.id),
            label: Set(label.to_owned()),
            sort_order: Set(0),
            hidden: Set(false),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    audit::record(
        &txn,
        actor,
        "config_option.created",
        Some(("option_group", group.0)),
        format!("Added the {} option {name}", kind.label().to_lowercase()),
    )
    .await?;
    txn.commit().await?;
    Ok((saved.id, kind))
}

pub async fn update_option(
    state: &AppState,
    actor: &Actor,
    id: ConfigOptionId,
    input: &OptionInput,
) -> Result<(), CatalogError> {
    let current = find_option(&state.db, id).await?.ok_or(CatalogError::NotFound)?;
    let kind =
        OptionKind::parse(&current.kind).ok_or_else(|| anyhow::anyhow!("option {id} has kind {}", current.kind))?;
    let valid = check_option(input, kind)?;
    let summary = match kind {
        OptionKind::Quantity => format!(
            "Option {}: {} to {} by {} {}",
            valid.name, valid.quantity.0, valid.quantity.1, valid.quantity.2, valid.unit_label
        ),
        _ => format!("Option {}", valid.name),
    };
    let txn = state.db.begin().await?;
    let mut active: option::ActiveModel = find_option(&txn, id).await?.ok_or(CatalogError::NotFound)?.into();
    apply(&mut active, valid);
    active.update(&txn).await?;
    audit::record(&txn, actor, "config_option.updated", Some(("option_group", current.group_id.0)), summary.trim_end())
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Options and values of a group that products offer may have been sold: they can be hidden,
/// not deleted (decision 0009).
async fn refuse_if_offered(
    db: &impl ConnectionTrait,
    group: ConfigOptionGroupId,
    what: &str,
) -> Result<(), CatalogError> {
    let attached = group_products(db, group).await?.len();
    if attached == 0 {
        return Ok(());
    }
    Err(CatalogError::Invalid(FormErrors::form(format!(
        "{what} belongs to a group offered with {attached} product{}: hide it instead, or untick the group's products first.",
        if attached == 1 { "" } else { "s" }
    ))))
}

/// Deletes an option with its values and prices, while its group is not on sale.
pub async fn delete_option(
    state: &AppState,
    actor: &Actor,
    id: ConfigOptionId,
) -> Result<ConfigOptionGroupId, CatalogError> {
    let txn = state.db.begin().await?;
    let current = find_option(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    refuse_if_offered(&txn, current.group_id, &format!("The option {}", current.name)).await?;
    option::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        "config_option.deleted",
        Some(("option_group", current.group_id.0)),
        format!("Deleted the option {}", current.name),
    )
    .await?;
    txn.commit().await?;
    Ok(current.group_id)
}

// --- values -----------------------------------------------------------------------------

pub async fn values_of(db: &impl ConnectionTrait, option: ConfigOptionId) -> Result<Vec<option_value::Model>, DbErr> {
    values_of_options(db, vec![option]).await
}

/// The values of several options, each option's in its order.
pub async fn values_of_options(
    db: &impl ConnectionTrait,
    options: Vec<ConfigOptionId>,
) -> Result<Vec<option_value::Model>, DbErr> {
    option_value::Entity::find()
        .filter(option_value::Column::OptionId.is_in(options))
        .order_by_asc(option_value::Column::SortOrder)
        .order_by_asc(option_value::Column::Id)
        .all(db)
        .await
}

pub async fn find_value(
    db: &impl ConnectionTrait,
    id: ConfigOptionValueId,
) -> Result<Option<option_value::Model>, DbErr> {
    option_value::Entity::find_by_id(id).one(db).await
}

/// A value as staff enter it.
#[derive(Debug, Clone, Default)]
pub struct ValueInput {
    pub label: String,
    pub sort_order: String,
    pub hidden: bool,
}

fn check_value(input: &ValueInput) -> Result<(String, i32), CatalogError> {
    let mut errors = FormErrors::new();
    let label = required_text(&mut errors, "label", &input.label, "a label", 100);
    let sort_order = parse_order(&mut errors, &input.sort_order);
    if !errors.is_empty() {
        return Err(CatalogError::Invalid(errors));
    }
    Ok((label, sort_order))
}

fn kind_of(option: &option::Model) -> Result<OptionKind, CatalogError> {
    OptionKind::parse(&option.kind)
        .ok_or_else(|| CatalogError::Internal(anyhow::anyhow!("option {} has kind {}", option.id, option.kind)))
}

/// Adds a value to a dropdown or radio option.
pub async fn add_value(
    state: &AppState,
    actor: &Actor,
    option_id: ConfigOptionId,
    input: &ValueInput,
) -> Result<ConfigOptionValueId, CatalogError> {
    let txn = state.db.begin().await?;
    let option = find_option(&txn, option_id).await?.ok_or(CatalogError::NotFound)?;
    if kind_of(&option)?.has_single_value() {
        return Err(CatalogError::Invalid(FormErrors::form("This option has exactly one value; edit that one.")));
    }
    let (label, sort_order) = check_value(input)?;
    let saved = option_value::ActiveModel {
        option_id: Set(option_id),
        label: Set(label.clone()),
        sort_order: Set(sort_order),
        hidden: Set(input.hidden),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "config_option_value.created",
        Some(("option_group", option.group_id.0)),
        format!("Option {}: added the value {label}", option.name),
    )
    .await?;
    txn.commit().await?;
    Ok(saved.id)
}

pub async fn update_value(
    state: &AppState,
    actor: &Actor,
    id: ConfigOptionValueId,
    input: &ValueInput,
) -> Result<(), CatalogError> {
    let (label, sort_order) = check_value(input)?;
    let txn = state.db.begin().await?;
    let value = find_value(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    let option = find_option(&txn, value.option_id).await?.ok_or(CatalogError::NotFound)?;
    let mut active: option_value::ActiveModel = value.into();
    active.label = Set(label.clone());
    active.sort_order = Set(sort_order);
    active.hidden = Set(input.hidden);
    active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "config_option_value.updated",
        Some(("option_group", option.group_id.0)),
        format!("Option {}: value {label}{}", option.name, if input.hidden { " (hidden)" } else { "" }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Deletes a value of a dropdown or radio option, with its prices, while its group is not on
/// sale.
pub async fn delete_value(
    state: &AppState,
    actor: &Actor,
    id: ConfigOptionValueId,
) -> Result<ConfigOptionId, CatalogError> {
    let txn = state.db.begin().await?;
    let value = find_value(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    let option = find_option(&txn, value.option_id).await?.ok_or(CatalogError::NotFound)?;
    if kind_of(&option)?.has_single_value() {
        return Err(CatalogError::Invalid(FormErrors::form(
            "This option has exactly one value. Delete the option instead.",
        )));
    }
    refuse_if_offered(&txn, option.group_id, &format!("The value {}", value.label)).await?;
    option_value::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        "config_option_value.deleted",
        Some(("option_group", option.group_id.0)),
        format!("Option {}: deleted the value {}", option.name, value.label),
    )
    .await?;
    txn.commit().await?;
    Ok(option.id)
}

pub async fn value_prices(
    db: &impl ConnectionTrait,
    id: ConfigOptionValueId,
) -> Result<Vec<option_price::Model>, DbErr> {
    values_prices(db, vec![id]).await
}

/// The prices of several values.
pub async fn values_prices(
    db: &impl ConnectionTrait,
    ids: Vec<ConfigOptionValueId>,
) -> Result<Vec<option_price::Model>, DbErr> {
    option_price::Entity::find().filter(option_price::Column::ValueId.is_in(ids)).all(db).await
}

/// Replaces a value's price grid; nothing is saved unless every cell is valid. A quantity
/// option's prices are per unit.
pub async fn save_value_prices(
    state: &AppState,
    actor: &Actor,
    id: ConfigOptionValueId,
    cells: &[PriceInput],
) -> Result<usize, CatalogError> {
    let known = service::currencies(&state.db).await?;
    let rows = service::parse_price_grid(&known, &PRICED_CYCLES, cells, "Options are not priced in that cycle.")?;
    let txn = state.db.begin().await?;
    let value = find_value(&txn, id).await?.ok_or(CatalogError::NotFound)?;
    let option = find_option(&txn, value.option_id).await?.ok_or(CatalogError::NotFound)?;
    option_price::Entity::delete_many().filter(option_price::Column::ValueId.eq(id)).exec(&txn).await?;
    for row in &rows {
        option_price::ActiveModel {
            value_id: Set(id),
            currency_code: Set(row.currency_code.clone()),
            cycle: Set(row.cycle.key().to_owned()),
            price_minor: Set(row.price.minor()),
            setup_fee_minor: Set(row.setup_fee.minor()),
        }
        .insert(&txn)
        .await?;
    }
    audit::record(
        &txn,
        actor,
        "config_option_value.prices_updated",
        Some(("option_group", option.group_id.0)),
        format!("Option {}, value {}: {}", option.name, value.label, service::price_summary(&rows)),
    )
    .await?;
    txn.commit().await?;
    Ok(rows.len())
}
