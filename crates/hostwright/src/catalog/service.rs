//! Catalog use cases: currencies and exchange rates, product groups, products and their
//! price matrix. Amounts are parsed and checked by `hostwright-core`; every change is
//! audited in its transaction.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use chrono::Utc;
use hostwright_core::{BillingCycle, Currency, Decimal, Money, RoundingMode, RoundingRule};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DbErr, QueryOrder, TransactionTrait};

use super::model::{currency, group, price, product, upgrade};
use crate::audit::{self, Actor};
use crate::ids::{ProductGroupId, ProductId};
use crate::state::AppState;
use crate::web::forms::{optional_text, required_text};
use crate::web::{AppError, FormErrors};

/// What kind of service a product is; decides which provisioning module fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductType {
    SharedHosting,
    ResellerHosting,
    Vps,
    DedicatedServer,
    Other,
}

impl ProductType {
    pub const ALL: [ProductType; 5] =
        [Self::SharedHosting, Self::ResellerHosting, Self::Vps, Self::DedicatedServer, Self::Other];

    pub fn key(self) -> &'static str {
        match self {
            Self::SharedHosting => "shared_hosting",
            Self::ResellerHosting => "reseller_hosting",
            Self::Vps => "vps",
            Self::DedicatedServer => "dedicated_server",
            Self::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::SharedHosting => "Shared hosting",
            Self::ResellerHosting => "Reseller hosting",
            Self::Vps => "VPS",
            Self::DedicatedServer => "Dedicated server",
            Self::Other => "Other",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.key() == key)
    }
}

/// How a product is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentType {
    Free,
    OneTime,
    Recurring,
}

impl PaymentType {
    pub const ALL: [PaymentType; 3] = [Self::Free, Self::OneTime, Self::Recurring];

    pub fn key(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::OneTime => "one_time",
            Self::Recurring => "recurring",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Free => "Free",
            Self::OneTime => "One-time payment",
            Self::Recurring => "Recurring",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.key() == key)
    }

    /// The cycles a price can be set for.
    pub fn cycles(self) -> &'static [BillingCycle] {
        match self {
            Self::Free => &[],
            Self::OneTime => &[BillingCycle::OneTime],
            Self::Recurring => &[
                BillingCycle::Monthly,
                BillingCycle::Quarterly,
                BillingCycle::SemiAnnually,
                BillingCycle::Annually,
                BillingCycle::Biennially,
                BillingCycle::Triennially,
            ],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(FormErrors),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<CatalogError> for AppError {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::NotFound => AppError::NotFound,
            CatalogError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            CatalogError::Internal(err) => AppError::Internal(err),
        }
    }
}

impl From<DbErr> for CatalogError {
    fn from(err: DbErr) -> Self {
        CatalogError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<FormErrors> for CatalogError {
    fn from(errors: FormErrors) -> Self {
        CatalogError::Invalid(errors)
    }
}

pub(crate) fn invalid(field: &str, message: &str) -> CatalogError {
    let mut errors = FormErrors::new();
    errors.add(field, message);
    CatalogError::Invalid(errors)
}

// --- currencies -------------------------------------------------------------------------

pub async fn currencies(db: &impl ConnectionTrait) -> Result<Vec<currency::Model>, DbErr> {
    currency::Entity::find()
        .order_by_desc(currency::Column::IsDefault)
        .order_by_asc(currency::Column::Code)
        .all(db)
        .await
}

/// Every currency set up, as the money core's, by code: for work over many records at once.
pub async fn currencies_by_code(db: &impl ConnectionTrait) -> Result<HashMap<String, Currency>, DbErr> {
    Ok(currencies(db).await?.iter().filter_map(|c| Some((c.code.clone(), to_core(c).ok()?))).collect())
}

/// The currency records in `code` are kept in: an unknown code is an error (its amounts
/// would print in another currency's decimals), never a fallback to another currency.
pub fn known_currency(found: Option<Currency>, code: &str) -> anyhow::Result<Currency> {
    found.ok_or_else(|| anyhow::anyhow!("currency {code:?} is not set up; amounts in it cannot be shown"))
}

/// The money-core currency a stored currency stands for, with its rounding rule.
pub fn to_core(model: &currency::Model) -> anyhow::Result<Currency> {
    let exponent = u8::try_from(model.exponent)?;
    let currency = Currency::from_code(&model.code).or_else(|_| Currency::new(&model.code, exponent))?;
    let mode = RoundingMode::from_str(&model.rounding_mode).map_err(anyhow::Error::from)?;
    let rule = RoundingRule::new(mode, u32::try_from(model.rounding_increment)?)?;
    Ok(currency.with_rounding(rule))
}

/// An exchange rate: a positive decimal of at most 10 places.
fn parse_rate(text: &str) -> Result<Decimal, &'static str> {
    let rate = Decimal::from_str(text.trim()).map_err(|_| "Enter the rate as a number, e.g. 0.92.")?;
    if rate <= Decimal::ZERO || rate > Decimal::from(1_000_000_000) || rate.scale() > 10 {
        return Err("The rate must be above 0 with at most 10 decimals.");
    }
    Ok(rate.normalize())
}

pub async fn add_currency(state: &AppState, actor: &Actor, code: &str, rate: &str) -> Result<(), CatalogError> {
    let core = Currency::from_code(code.trim()).map_err(|_| invalid("code", "Choose an ISO 4217 currency."))?;
    let rate = parse_rate(rate).map_err(|m| invalid("rate", m))?;
    let txn = state.db.begin().await?;
    if currency::Entity::find_by_id(core.code().to_owned()).one(&txn).await?.is_some() {
        return Err(invalid("code", "This currency is already set up."));
    }
    let now = Utc::now();
    currency::ActiveModel {
        code: Set(core.code().to_owned()),
        exponent: Set(i16::from(core.exponent())),
        rounding_mode: Set(RoundingMode::HalfUp.key().to_owned()),
        rounding_increment: Set(1),
        is_default: Set(false),
        rate: Set(rate.to_string()),
        rate_updated_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(&txn, actor, "currency.added", None, format!("Added {} at rate {rate}", core.code())).await?;
    txn.commit().await?;
    Ok(())
}

/// Changes a currency's exchange rate and rounding (the default's rate stays 1).
pub async fn update_currency(
    state: &AppState,
    actor: &Actor,
    code: &str,
    rate: &str,
    mode: &str,
    increment: &str,
) -> Result<(), CatalogError> {
    let txn = state.db.begin().await?;
    let current = currency::Entity::find_by_id(code.to_owned()).one(&txn).await?.ok_or(CatalogError::NotFound)?;
    let mut errors = FormErrors::new();
    let rate =
        if current.is_default { Some(Decimal::ONE) } else { parse_rate(rate).map_err(|m| errors.add("rate", m)).ok() };
    let mode = RoundingMode::from_str(mode).map_err(|_| errors.add("rounding_mode", "Choose a rounding mode.")).ok();
    let increment = increment.trim().parse::<u32>().ok().filter(|i| (1..=1000).contains(i)).or_else(|| {
        errors.add("rounding_increment", "Enter a step of 1 to 1000 minor units (5 rounds CHF to 0.05).");
        None
    });
    let (Some(rate), Some(mode), Some(increment)) = (rate, mode, increment) else {
        return Err(CatalogError::Invalid(errors));
    };
    let now = Utc::now();
    let mut active: currency::ActiveModel = current.clone().into();
    if current.rate != rate.to_string() {
        active.rate = Set(rate.to_string());
        active.rate_updated_at = Set(now);
    }
    active.rounding_mode = Set(mode.key().to_owned());
    active.rounding_increment = Set(i32::try_from(increment).unwrap_or(1));
    active.updated_at = Set(now);
    active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "currency.updated",
        None,
        format!("{code}: rate {rate}, rounding {} to {increment} minor unit(s)", mode.key()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Makes a currency the default; every other rate is re-expressed against it.
pub async fn make_default(state: &AppState, actor: &Actor, code: &str) -> Result<(), CatalogError> {
    let txn = state.db.begin().await?;
    let all = currency::Entity::find().all(&txn).await?;
    let chosen = all.iter().find(|c| c.code == code).ok_or(CatalogError::NotFound)?;
    if chosen.is_default {
        return Ok(());
    }
    let base = Decimal::from_str(&chosen.rate).map_err(|e| anyhow::anyhow!("stored rate of {code}: {e}"))?;
    let now = Utc::now();
    for c in &all {
        let old = Decimal::from_str(&c.rate).map_err(|e| anyhow::anyhow!("stored rate of {}: {e}", c.code))?;
        let rebased = if c.code == code { Decimal::ONE } else { (old / base).round_dp(10).normalize() };
        let mut active: currency::ActiveModel = c.clone().into();
        active.is_default = Set(c.code == code);
        active.rate = Set(rebased.to_string());
        active.rate_updated_at = Set(now);
        active.updated_at = Set(now);
        active.update(&txn).await?;
    }
    audit::record(&txn, actor, "currency.default_changed", None, format!("{code} is now the default currency")).await?;
    txn.commit().await?;
    Ok(())
}

// --- product groups ---------------------------------------------------------------------

pub async fn groups(db: &impl ConnectionTrait) -> Result<Vec<group::Model>, DbErr> {
    group::Entity::find().order_by_asc(group::Column::SortOrder).order_by_asc(group::Column::Name).all(db).await
}

/// A product group as staff enter it.
#[derive(Debug, Clone, Default)]
pub struct GroupInput {
    pub name: String,
    pub headline: String,
    pub sort_order: String,
    pub visible: bool,
}

pub(crate) fn parse_order(errors: &mut FormErrors, text: &str) -> i32 {
    match text.trim() {
        "" => 0,
        t => t.parse::<i32>().ok().filter(|n| (-10_000..=10_000).contains(n)).unwrap_or_else(|| {
            errors.add("sort_order", "Enter a whole number (lower shows first).");
            0
        }),
    }
}

pub async fn save_group(
    state: &AppState,
    actor: &Actor,
    id: Option<ProductGroupId>,
    input: &GroupInput,
) -> Result<ProductGroupId, CatalogError> {
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", &input.name, "a name", 100);
    let headline = optional_text(&mut errors, "headline", &input.headline, 200);
    let sort_order = parse_order(&mut errors, &input.sort_order);
    if !errors.is_empty() {
        return Err(CatalogError::Invalid(errors));
    }
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let mut active = match id {
        Some(id) => group::Entity::find_by_id(id).one(&txn).await?.ok_or(CatalogError::NotFound)?.into(),
        None => group::ActiveModel { created_at: Set(now), ..Default::default() },
    };
    active.name = Set(name.clone());
    active.headline = Set(headline);
    active.sort_order = Set(sort_order);
    active.visible = Set(input.visible);
    active.updated_at = Set(now);
    let saved = if id.is_some() { active.update(&txn).await? } else { active.insert(&txn).await? };
    let saved_id = saved.id;
    let action = if id.is_some() { "product_group.updated" } else { "product_group.created" };
    audit::record(&txn, actor, action, Some(("product_group", saved_id.0)), format!("Product group {name}")).await?;
    txn.commit().await?;
    Ok(saved_id)
}

// --- products ---------------------------------------------------------------------------

pub async fn products(db: &impl ConnectionTrait) -> Result<Vec<product::Model>, DbErr> {
    product::Entity::find().order_by_asc(product::Column::SortOrder).order_by_asc(product::Column::Name).all(db).await
}

/// Takes `units` of a stocked product: `false` when fewer are left (and nothing changed);
/// `true` when taken, or when the product does not track stock. The guarded UPDATE makes
/// concurrent sales queue on the product row, so stock never goes below zero.
pub async fn take_stock(db: &impl ConnectionTrait, product_id: ProductId, units: i32) -> Result<bool, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let update = Query::update()
        .table(product::Entity)
        .value(product::Column::StockQuantity, Expr::col(product::Column::StockQuantity).sub(units))
        .and_where(Expr::col(product::Column::Id).eq(product_id))
        .and_where(Expr::col(product::Column::StockEnabled).eq(true))
        .and_where(Expr::col(product::Column::StockQuantity).gte(units))
        .to_owned();
    if db.execute(&update).await?.rows_affected() == 1 {
        return Ok(true);
    }
    let stored = product::Entity::find_by_id(product_id).one(db).await?;
    Ok(!stored.is_some_and(|p| p.stock_enabled))
}

pub async fn find_product(db: &impl ConnectionTrait, id: ProductId) -> Result<Option<product::Model>, DbErr> {
    product::Entity::find_by_id(id).one(db).await
}

/// A product's settings as staff enter them.
#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    pub group_id: String,
    pub name: String,
    pub product_type: String,
    pub description: String,
    pub payment_type: String,
    pub taxable: bool,
    pub hidden: bool,
    pub retired: bool,
    pub stock_enabled: bool,
    pub stock_quantity: String,
    pub prorata_enabled: bool,
    pub prorata_day: String,
    pub prorata_cutoff_day: String,
    pub sort_order: String,
    /// A provisioning module key (`provisioning::KEYS`); empty means "none".
    pub module: String,
}

fn day_of_month(errors: &mut FormErrors, field: &str, text: &str) -> Option<i16> {
    match text.trim() {
        "" => None,
        t => match t.parse::<i16>() {
            Ok(day) if (1..=31).contains(&day) => Some(day),
            _ => {
                errors.add(field, "Enter a day of the month from 1 to 31.");
                None
            }
        },
    }
}

pub async fn save_product(
    state: &AppState,
    actor: &Actor,
    id: Option<ProductId>,
    input: &ProductInput,
) -> Result<ProductId, CatalogError> {
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", &input.name, "a name", 150);
    let group_id = input.group_id.trim().parse::<ProductGroupId>().ok();
    let group_exists = match group_id {
        Some(g) => group::Entity::find_by_id(g).one(&state.db).await?.is_some(),
        None => false,
    };
    if !group_exists {
        errors.add("group_id", "Choose a product group.");
    }
    let product_type = ProductType::parse(&input.product_type);
    if product_type.is_none() {
        errors.add("product_type", "Choose a product type.");
    }
    let payment_type = PaymentType::parse(&input.payment_type);
    if payment_type.is_none() {
        errors.add("payment_type", "Choose how the product is paid for.");
    }
    let description = input.description.trim().to_owned();
    if description.chars().count() > 20_000 {
        errors.add("description", "Use at most 20,000 characters.");
    }
    let stock_quantity = match input.stock_quantity.trim() {
        "" => 0,
        t => t.parse::<i32>().ok().filter(|n| (0..=10_000_000).contains(n)).unwrap_or_else(|| {
            errors.add("stock_quantity", "Enter a whole number of 0 or more.");
            0
        }),
    };
    let prorata_day = day_of_month(&mut errors, "prorata_day", &input.prorata_day).unwrap_or(1);
    let prorata_cutoff_day = day_of_month(&mut errors, "prorata_cutoff_day", &input.prorata_cutoff_day);
    if input.prorata_enabled && payment_type != Some(PaymentType::Recurring) {
        errors.add("prorata_enabled", "Pro-rata billing applies to recurring products only.");
    }
    let sort_order = parse_order(&mut errors, &input.sort_order);
    let module = match input.module.trim() {
        "" => Some("none"),
        key => crate::provisioning::KEYS.iter().copied().find(|k| *k == key),
    };
    if module.is_none() {
        errors.add("module", "Choose a provisioning module.");
    }
    let (Some(group_id), Some(product_type), Some(payment_type), Some(module), true) =
        (group_id, product_type, payment_type, module, errors.is_empty())
    else {
        return Err(CatalogError::Invalid(errors));
    };
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let mut active = match id {
        Some(id) => product::Entity::find_by_id(id).one(&txn).await?.ok_or(CatalogError::NotFound)?.into(),
        None => product::ActiveModel { created_at: Set(now), ..Default::default() },
    };
    // A module's settings belong to that module: another module starts from none.
    if active.module.try_as_ref().is_none_or(|current| current != module) {
        active.module = Set(module.into());
        active.module_settings = Set("{}".into());
    }
    active.group_id = Set(group_id);
    active.name = Set(name.clone());
    active.product_type = Set(product_type.key().into());
    active.description = Set(description);
    active.payment_type = Set(payment_type.key().into());
    active.taxable = Set(input.taxable);
    active.hidden = Set(input.hidden);
    active.retired = Set(input.retired);
    active.stock_enabled = Set(input.stock_enabled);
    active.stock_quantity = Set(stock_quantity);
    active.prorata_enabled = Set(input.prorata_enabled);
    active.prorata_day = Set(prorata_day);
    active.prorata_cutoff_day = Set(prorata_cutoff_day);
    active.sort_order = Set(sort_order);
    active.updated_at = Set(now);
    let saved = if id.is_some() { active.update(&txn).await? } else { active.insert(&txn).await? };
    let saved_id = saved.id;
    // Prices for cycles the payment type no longer offers would never be sold: drop them.
    let allowed: Vec<&str> = payment_type.cycles().iter().map(|c| c.key()).collect();
    price::Entity::delete_many()
        .filter(price::Column::ProductId.eq(saved_id))
        .filter(price::Column::Cycle.is_not_in(allowed))
        .exec(&txn)
        .await?;
    let action = if id.is_some() { "product.updated" } else { "product.created" };
    audit::record(&txn, actor, action, Some(("product", saved_id.0)), format!("Product {name}")).await?;
    txn.commit().await?;
    Ok(saved_id)
}

/// The ids ticked in a list of checkboxes: each must be one of `known` (a tampered form is
/// refused as a whole); duplicates collapse.
pub(crate) fn chosen_ids<T: Copy + Ord + FromStr>(
    texts: &[String],
    known: &[T],
    field: &str,
) -> Result<BTreeSet<T>, CatalogError> {
    let mut chosen = BTreeSet::new();
    for text in texts.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        match text.parse::<T>() {
            Ok(id) if known.contains(&id) => {
                chosen.insert(id);
            }
            _ => return Err(invalid(field, "Choose from the list.")),
        }
    }
    Ok(chosen)
}

/// The products `id` may be upgraded or downgraded to.
pub async fn upgrade_targets(db: &impl ConnectionTrait, id: ProductId) -> Result<Vec<ProductId>, DbErr> {
    Ok(upgrade::Entity::find()
        .filter(upgrade::Column::ProductId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.target_product_id)
        .collect())
}

/// Replaces the products a product may be upgraded or downgraded to.
pub async fn save_upgrades(
    state: &AppState,
    actor: &Actor,
    id: ProductId,
    targets: &[String],
) -> Result<usize, CatalogError> {
    let txn = state.db.begin().await?;
    let all = products(&txn).await?;
    let product = all.iter().find(|p| p.id == id).ok_or(CatalogError::NotFound)?;
    if targets.iter().any(|t| t.trim().parse::<ProductId>().is_ok_and(|t| t == id)) {
        return Err(invalid("upgrades", "A product cannot be upgraded to itself."));
    }
    let known: Vec<ProductId> = all.iter().map(|p| p.id).collect();
    let chosen = chosen_ids(targets, &known, "upgrades")?;
    upgrade::Entity::delete_many().filter(upgrade::Column::ProductId.eq(id)).exec(&txn).await?;
    for target in &chosen {
        upgrade::ActiveModel { product_id: Set(id), target_product_id: Set(*target) }.insert(&txn).await?;
    }
    let names: Vec<&str> = all.iter().filter(|p| chosen.contains(&p.id)).map(|p| p.name.as_str()).collect();
    let summary = if names.is_empty() {
        format!("{}: no upgrades or downgrades", product.name)
    } else {
        format!("{}: upgrades and downgrades to {}", product.name, names.join(", "))
    };
    audit::record(&txn, actor, "product.upgrades_updated", Some(("product", id.0)), summary).await?;
    txn.commit().await?;
    Ok(chosen.len())
}

pub async fn prices(db: &impl ConnectionTrait, id: ProductId) -> Result<Vec<price::Model>, DbErr> {
    price::Entity::find().filter(price::Column::ProductId.eq(id)).all(db).await
}

/// One cell of the price matrix as typed: an empty price means "not offered".
#[derive(Debug, Clone)]
pub struct PriceInput {
    pub currency: String,
    pub cycle: String,
    pub price: String,
    pub setup_fee: String,
}

fn parse_amount(errors: &mut FormErrors, field: &str, text: &str, currency: Currency) -> Option<Money> {
    match Money::parse(text.trim(), currency) {
        Ok(money) if money.is_negative() => {
            errors.add(field, "Prices cannot be negative.");
            None
        }
        Ok(money) if money.minor() > hostwright_core::MAX_UNIT_PRICE_MINOR => {
            errors.add(field, "That price is too large.");
            None
        }
        Ok(money) => Some(money),
        Err(hostwright_core::MoneyError::TooManyDecimals { .. }) => {
            errors.add(field, format!("{} has {} decimals.", currency.code(), currency.exponent()));
            None
        }
        Err(_) => {
            errors.add(field, "Enter an amount like 9.99.");
            None
        }
    }
}

/// A valid cell of a price grid, ready to store.
#[derive(Debug, Clone)]
pub struct PriceRow {
    pub currency_code: String,
    pub cycle: BillingCycle,
    pub price: Money,
    pub setup_fee: Money,
}

/// Checks a whole price grid (product, option value or add-on) against the currencies set up
/// and the cycles the thing is sold in; `not_sold` says why another cycle is refused. Field
/// names are `price.<code>.<cycle>` and `setup.<code>.<cycle>`, as the forms send them.
pub fn parse_price_grid(
    known: &[currency::Model],
    allowed: &[BillingCycle],
    cells: &[PriceInput],
    not_sold: &str,
) -> Result<Vec<PriceRow>, CatalogError> {
    let mut errors = FormErrors::new();
    let mut rows = Vec::new();
    for cell in cells {
        let field = format!("price.{}.{}", cell.currency, cell.cycle);
        // A cell the grid does not show is reported for the whole form, or nobody would see it.
        let Some(stored) = known.iter().find(|c| c.code == cell.currency) else {
            errors.add("_form", format!("Unknown currency: {}.", cell.currency));
            continue;
        };
        if cell.price.trim().is_empty() {
            if !cell.setup_fee.trim().is_empty() {
                errors.add(&field, "Set a price for a cycle that has a setup fee.");
            }
            continue;
        }
        let Some(cycle) = allowed.iter().find(|c| c.key() == cell.cycle) else {
            errors.add("_form", not_sold);
            continue;
        };
        let currency = to_core(stored)?;
        let price = parse_amount(&mut errors, &field, &cell.price, currency);
        let setup_field = format!("setup.{}.{}", cell.currency, cell.cycle);
        let setup = if cell.setup_fee.trim().is_empty() {
            Some(Money::zero(currency))
        } else {
            parse_amount(&mut errors, &setup_field, &cell.setup_fee, currency)
        };
        if let (Some(price), Some(setup_fee)) = (price, setup) {
            rows.push(PriceRow { currency_code: stored.code.clone(), cycle: *cycle, price, setup_fee });
        }
    }
    if !errors.is_empty() {
        return Err(CatalogError::Invalid(errors));
    }
    Ok(rows)
}

/// What an audit entry says about a saved price grid.
pub fn price_summary(rows: &[PriceRow]) -> String {
    if rows.is_empty() {
        return "Removed all prices".to_owned();
    }
    let cells: Vec<String> =
        rows.iter().map(|r| format!("{} {} (+{} setup)", r.cycle.key(), r.price, r.setup_fee)).collect();
    format!("Prices: {}", cells.join(", "))
}

/// Replaces a product's price matrix; nothing is saved unless every cell is valid.
pub async fn save_prices(
    state: &AppState,
    actor: &Actor,
    id: ProductId,
    cells: &[PriceInput],
) -> Result<usize, CatalogError> {
    let product = find_product(&state.db, id).await?.ok_or(CatalogError::NotFound)?;
    let payment_type = PaymentType::parse(&product.payment_type).unwrap_or(PaymentType::Free);
    let known = currencies(&state.db).await?;
    let rows = parse_price_grid(&known, payment_type.cycles(), cells, "This product is not sold in that cycle.")?;
    let txn = state.db.begin().await?;
    price::Entity::delete_many().filter(price::Column::ProductId.eq(id)).exec(&txn).await?;
    for row in &rows {
        price::ActiveModel {
            product_id: Set(id),
            currency_code: Set(row.currency_code.clone()),
            cycle: Set(row.cycle.key().to_owned()),
            price_minor: Set(row.price.minor()),
            setup_fee_minor: Set(row.setup_fee.minor()),
        }
        .insert(&txn)
        .await?;
    }
    audit::record(&txn, actor, "product.prices_updated", Some(("product", id.0)), price_summary(&rows)).await?;
    txn.commit().await?;
    Ok(rows.len())
}
