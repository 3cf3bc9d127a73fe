//! Coupons as staff manage them: listing, checking and saving a coupon's rules, deleting
//! one nobody used.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{NaiveDate, Utc};
use hostwright_core::{BillingCycle, Decimal, Money, MoneyError};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DbErr, PaginatorTrait, QueryOrder, TransactionTrait};

use super::{CouponKind, Recurrence, normalize_code, stored_list};
use crate::audit::{self, Actor};
use crate::catalog::model::currency;
use crate::catalog::{addons, service as catalog};
use crate::ids::{AddonId, CouponId, ProductId};
use crate::orders::model::{coupon, coupon_use, order};
use crate::services::model::service;
use crate::state::AppState;
use crate::web::forms::is_unique_violation;
use crate::web::{AppError, FormErrors};

/// Why staff could not save or delete a coupon.
#[derive(Debug, thiserror::Error)]
pub enum CouponAdminError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(FormErrors),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<CouponAdminError> for AppError {
    fn from(err: CouponAdminError) -> Self {
        match err {
            CouponAdminError::NotFound => AppError::NotFound,
            CouponAdminError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            CouponAdminError::Internal(err) => AppError::Internal(err),
        }
    }
}

impl From<DbErr> for CouponAdminError {
    fn from(err: DbErr) -> Self {
        CouponAdminError::Internal(anyhow::Error::new(err).context("coupons"))
    }
}

pub async fn coupons(db: &impl ConnectionTrait) -> Result<Vec<coupon::Model>, DbErr> {
    coupon::Entity::find().order_by_asc(coupon::Column::Code).all(db).await
}

pub async fn find_coupon(db: &impl ConnectionTrait, id: CouponId) -> Result<Option<coupon::Model>, DbErr> {
    coupon::Entity::find_by_id(id).one(db).await
}

/// The products, cycle keys and add-ons a stored coupon is limited to (empty lists: see
/// `applies_to`).
pub fn stored_targets(coupon: &coupon::Model) -> (Vec<ProductId>, Vec<String>, Vec<AddonId>) {
    (
        stored_list(&coupon.product_ids).unwrap_or_default(),
        stored_list(&coupon.cycles).unwrap_or_default(),
        stored_list(&coupon.addon_ids).unwrap_or_default(),
    )
}

/// A fixed coupon's amount, in its currency as set up (`None` for percent coupons or a
/// currency no longer set up).
pub fn fixed_amount(coupon: &coupon::Model, currencies: &[currency::Model]) -> Option<Money> {
    if CouponKind::parse(&coupon.kind) != Some(CouponKind::Fixed) {
        return None;
    }
    let stored = currencies.iter().find(|c| c.code == coupon.currency_code)?;
    Some(Money::from_minor(coupon.amount_minor, catalog::to_core(stored).ok()?))
}

/// "10 %" or "5.00 EUR", for staff.
pub fn discount_label(coupon: &coupon::Model, currencies: &[currency::Model]) -> String {
    match CouponKind::parse(&coupon.kind) {
        Some(CouponKind::Percent) => format!("{} %", coupon.percent),
        Some(CouponKind::Fixed) => fixed_amount(coupon, currencies)
            .map_or_else(|| format!("{} minor units {}", coupon.amount_minor, coupon.currency_code), |m| m.to_string()),
        None => String::new(),
    }
}

/// A coupon's settings as staff typed them.
#[derive(Debug, Clone, Default)]
pub struct CouponInput {
    pub code: String,
    pub kind: String,
    pub percent: String,
    pub amount: String,
    pub currency_code: String,
    pub product_ids: Vec<String>,
    pub cycles: Vec<String>,
    pub addon_ids: Vec<String>,
    pub applies_to_setup: bool,
    pub recurrence: String,
    pub recurring_limit: String,
    pub starts_on: String,
    pub expires_on: String,
    pub max_uses: String,
    pub max_uses_per_client: String,
    pub new_clients_only: bool,
    pub active: bool,
    pub notes: String,
}

/// A checked coupon, ready to store.
struct ValidCoupon {
    code: String,
    kind: CouponKind,
    percent: String,
    amount_minor: i64,
    currency_code: String,
    product_ids: BTreeSet<ProductId>,
    cycles: Vec<BillingCycle>,
    addon_ids: BTreeSet<AddonId>,
    recurrence: Recurrence,
    recurring_limit: Option<i32>,
    starts_on: Option<NaiveDate>,
    expires_on: Option<NaiveDate>,
    max_uses: Option<i32>,
    max_uses_per_client: Option<i32>,
    notes: String,
}

fn parse_code(errors: &mut FormErrors, text: &str) -> String {
    let code = normalize_code(text);
    let length = code.chars().count();
    if code.is_empty() {
        errors.add("code", "Enter a code.");
    } else if !(3..=40).contains(&length) {
        errors.add("code", "Use 3 to 40 characters.");
    } else if !code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        errors.add("code", "Use only letters A to Z, digits, - and _.");
    }
    code
}

/// A percentage above 0 and at most 100, with at most 2 decimals.
fn parse_percent(text: &str) -> Result<Decimal, &'static str> {
    let percent = Decimal::from_str(text.trim().trim_end_matches('%').trim())
        .map_err(|_| "Enter the percentage as a number, e.g. 10 or 12.5.")?
        .normalize();
    if percent <= Decimal::ZERO || percent > Decimal::ONE_HUNDRED || percent.scale() > 2 {
        return Err("Enter a percentage above 0 and at most 100, with at most 2 decimals.");
    }
    Ok(percent)
}

fn parse_fixed(
    errors: &mut FormErrors,
    amount: &str,
    code: &str,
    currencies: &[currency::Model],
) -> Result<Option<Money>, anyhow::Error> {
    let Some(stored) = currencies.iter().find(|c| c.code == code.trim()) else {
        errors.add("currency_code", "Choose a currency that is set up.");
        return Ok(None);
    };
    let currency = catalog::to_core(stored)?;
    match Money::parse(amount.trim(), currency) {
        Ok(money) if !money.is_positive() => errors.add("amount", "Enter an amount above 0."),
        Ok(money) if money.minor() > hostwright_core::MAX_UNIT_PRICE_MINOR => {
            errors.add("amount", "That amount is too large.");
        }
        Ok(money) => return Ok(Some(money)),
        Err(MoneyError::TooManyDecimals { .. }) => {
            errors.add("amount", format!("{} has {} decimals.", currency.code(), currency.exponent()));
        }
        Err(_) => errors.add("amount", "Enter an amount like 5.00."),
    }
    Ok(None)
}

/// An optional whole number of at least 1.
fn optional_count(errors: &mut FormErrors, field: &str, text: &str) -> Option<i32> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<i32>() {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            errors.add(field, "Enter a whole number of at least 1, or leave it empty.");
            None
        }
    }
}

fn optional_date(errors: &mut FormErrors, field: &str, text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| errors.add(field, "Enter a date like 2026-12-31.")).ok()
}

/// The chosen ids, each of which must be one of `known`.
fn chosen<T: Copy + Ord + FromStr>(errors: &mut FormErrors, field: &str, texts: &[String], known: &[T]) -> BTreeSet<T> {
    let mut ids = BTreeSet::new();
    for text in texts.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        match text.parse::<T>() {
            Ok(id) if known.contains(&id) => {
                ids.insert(id);
            }
            _ => errors.add(field, "Choose from the list."),
        }
    }
    ids
}

async fn validate(state: &AppState, input: &CouponInput) -> Result<ValidCoupon, CouponAdminError> {
    let mut errors = FormErrors::new();
    let code = parse_code(&mut errors, &input.code);
    let kind = CouponKind::parse(input.kind.trim());
    let (mut percent, mut amount_minor, mut currency_code) = ("0".to_owned(), 0, String::new());
    match kind {
        Some(CouponKind::Percent) => match parse_percent(&input.percent) {
            Ok(p) => percent = p.to_string(),
            Err(message) => errors.add("percent", message),
        },
        Some(CouponKind::Fixed) => {
            let currencies = catalog::currencies(&state.db).await?;
            if let Some(money) = parse_fixed(&mut errors, &input.amount, &input.currency_code, &currencies)? {
                amount_minor = money.minor();
                currency_code = money.currency().code().to_owned();
            }
        }
        None => errors.add("kind", "Choose a percentage or a fixed amount."),
    }
    let products: Vec<ProductId> = catalog::products(&state.db).await?.iter().map(|p| p.id).collect();
    let product_ids = chosen(&mut errors, "products", &input.product_ids, &products);
    let addon_list: Vec<AddonId> = addons::addons(&state.db).await?.iter().map(|a| a.id).collect();
    let addon_ids = chosen(&mut errors, "addons", &input.addon_ids, &addon_list);
    let mut cycles = Vec::new();
    for key in input.cycles.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        match BillingCycle::from_str(key) {
            Ok(cycle) if !cycles.contains(&cycle) => cycles.push(cycle),
            Ok(_) => {}
            Err(_) => errors.add("cycles", "Choose from the list."),
        }
    }
    cycles.sort();
    let recurrence = Recurrence::parse(input.recurrence.trim());
    if recurrence.is_none() {
        errors.add("recurrence", "Choose which invoices are discounted.");
    }
    let recurring_limit = optional_count(&mut errors, "recurring_limit", &input.recurring_limit);
    let starts_on = optional_date(&mut errors, "starts_on", &input.starts_on);
    let expires_on = optional_date(&mut errors, "expires_on", &input.expires_on);
    if let (Some(start), Some(end)) = (starts_on, expires_on)
        && end < start
    {
        errors.add("expires_on", "The code cannot expire before it starts.");
    }
    let max_uses = optional_count(&mut errors, "max_uses", &input.max_uses);
    let max_uses_per_client = optional_count(&mut errors, "max_uses_per_client", &input.max_uses_per_client);
    let notes = input.notes.trim().to_owned();
    if notes.chars().count() > 2_000 {
        errors.add("notes", "Use at most 2,000 characters.");
    }
    let (Some(kind), Some(recurrence), true) = (kind, recurrence, errors.is_empty()) else {
        return Err(CouponAdminError::Invalid(errors));
    };
    Ok(ValidCoupon {
        code,
        kind,
        percent,
        amount_minor,
        currency_code,
        product_ids,
        cycles,
        addon_ids,
        recurrence,
        recurring_limit: if recurrence == Recurrence::Recurring { recurring_limit } else { None },
        starts_on,
        expires_on,
        max_uses,
        max_uses_per_client,
        notes,
    })
}

fn taken() -> CouponAdminError {
    let mut errors = FormErrors::new();
    errors.add("code", "That code is taken.");
    CouponAdminError::Invalid(errors)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CouponAdminError> {
    serde_json::to_string(value).map_err(|e| CouponAdminError::Internal(anyhow::Error::new(e).context("coupon lists")))
}

/// Creates (`id` none) or updates a coupon; nothing is saved unless every field is valid.
#[tracing::instrument(skip_all, fields(coupon.id = id.map(|i| i.0)))]
pub async fn save_coupon(
    state: &AppState,
    actor: &Actor,
    id: Option<CouponId>,
    input: &CouponInput,
) -> Result<CouponId, CouponAdminError> {
    let valid = validate(state, input).await?;
    let txn = state.db.begin().await?;
    let existing = coupon::Entity::find().filter(coupon::Column::Code.eq(valid.code.clone())).one(&txn).await?;
    if existing.is_some_and(|c| Some(c.id) != id) {
        return Err(taken());
    }
    let now = Utc::now();
    let mut active = match id {
        Some(id) => find_coupon(&txn, id).await?.ok_or(CouponAdminError::NotFound)?.into(),
        None => coupon::ActiveModel { uses: Set(0), created_at: Set(now), ..Default::default() },
    };
    let cycle_keys: Vec<&str> = valid.cycles.iter().map(|c| c.key()).collect();
    active.code = Set(valid.code.clone());
    active.kind = Set(valid.kind.key().to_owned());
    active.percent = Set(valid.percent.clone());
    active.amount_minor = Set(valid.amount_minor);
    active.currency_code = Set(valid.currency_code.clone());
    active.product_ids = Set(to_json(&valid.product_ids)?);
    active.cycles = Set(to_json(&cycle_keys)?);
    active.addon_ids = Set(to_json(&valid.addon_ids)?);
    active.applies_to_setup = Set(input.applies_to_setup);
    active.recurrence = Set(valid.recurrence.key().to_owned());
    active.recurring_limit = Set(valid.recurring_limit);
    active.starts_on = Set(valid.starts_on);
    active.expires_on = Set(valid.expires_on);
    active.max_uses = Set(valid.max_uses);
    active.max_uses_per_client = Set(valid.max_uses_per_client);
    active.new_clients_only = Set(input.new_clients_only);
    active.active = Set(input.active);
    active.notes = Set(valid.notes);
    active.updated_at = Set(now);
    let saved = if id.is_some() { active.update(&txn).await } else { active.insert(&txn).await };
    let saved = match saved {
        Ok(saved) => saved,
        // Two staff saving the same code at once: the unique index decides.
        Err(err) if is_unique_violation(&err) => return Err(taken()),
        Err(err) => return Err(err.into()),
    };
    let currencies = catalog::currencies(&txn).await?;
    let summary = format!(
        "{}: {}{}",
        saved.code,
        discount_label(&saved, &currencies),
        if saved.active { "" } else { " (inactive)" }
    );
    let action = if id.is_some() { "coupon.updated" } else { "coupon.created" };
    audit::record(&txn, actor, action, Some(("coupon", saved.id.0)), summary).await?;
    txn.commit().await?;
    Ok(saved.id)
}

/// Deletes a coupon nobody used; a used one can only be deactivated, so the orders and
/// services that carry it keep saying which discount they had.
#[tracing::instrument(skip_all, fields(coupon.id = id.0))]
pub async fn delete_coupon(state: &AppState, actor: &Actor, id: CouponId) -> Result<String, CouponAdminError> {
    let txn = state.db.begin().await?;
    let current = find_coupon(&txn, id).await?.ok_or(CouponAdminError::NotFound)?;
    let uses = coupon_use::Entity::find().filter(coupon_use::Column::CouponId.eq(id)).count(&txn).await?;
    let orders = order::Entity::find().filter(order::Column::CouponId.eq(id)).count(&txn).await?;
    let services = service::Entity::find().filter(service::Column::CouponId.eq(id)).count(&txn).await?;
    if current.uses > 0 || uses > 0 || orders > 0 || services > 0 {
        return Err(CouponAdminError::Invalid(FormErrors::form(format!(
            "{} has been used, so it cannot be deleted. Untick \u{201c}Active\u{201d} to stop it being used.",
            current.code
        ))));
    }
    coupon::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(&txn, actor, "coupon.deleted", Some(("coupon", id.0)), format!("Promotion code {}", current.code))
        .await?;
    txn.commit().await?;
    Ok(current.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::coupons::{LineTarget, applies_to};

    #[test]
    fn codes_are_upper_cased_and_checked() {
        let mut errors = FormErrors::new();
        assert_eq!(parse_code(&mut errors, " spring-26_x "), "SPRING-26_X");
        assert!(errors.is_empty());
        for bad in ["", "ab", "with space", "ÉTÉ2026", &"A".repeat(41), "semi;colon"] {
            let mut errors = FormErrors::new();
            parse_code(&mut errors, bad);
            assert!(errors.has("code"), "{bad:?} should be refused");
        }
    }

    fn coupon(product_ids: &str, addon_ids: &str, applies_to_setup: bool) -> coupon::Model {
        coupon::Model {
            id: CouponId(1),
            code: "TEST".into(),
            kind: "percent".into(),
            percent: "10".into(),
            amount_minor: 0,
            currency_code: "EUR".into(),
            product_ids: product_ids.into(),
            cycles: "[]".into(),
            addon_ids: addon_ids.into(),
            applies_to_setup,
            recurrence: "once".into(),
            recurring_limit: None,
            starts_on: None,
            expires_on: None,
            max_uses: None,
            max_uses_per_client: None,
            uses: 0,
            new_clients_only: false,
            active: true,
            notes: String::new(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn setup_fees_are_discounted_only_by_codes_that_cover_them() {
        let monthly = BillingCycle::Monthly;
        let (product, addon) = (ProductId(1), AddonId(7));
        let targets = |c: &coupon::Model| {
            [
                applies_to(c, LineTarget::Product { product_id: product, cycle: monthly }),
                applies_to(c, LineTarget::Setup { product_id: product, cycle: monthly }),
                applies_to(c, LineTarget::Addon { addon_id: addon, cycle: monthly }),
                applies_to(c, LineTarget::AddonSetup { addon_id: addon, cycle: monthly }),
            ]
        };
        assert_eq!(targets(&coupon("[]", "[7]", false)), [true, false, true, false]);
        assert_eq!(targets(&coupon("[]", "[7]", true)), [true, true, true, true]);
        // Add-ons are opt-in, setup fees included.
        assert_eq!(targets(&coupon("[1]", "[]", true)), [true, true, false, false]);
        assert_eq!(targets(&coupon("[2]", "[8]", true)), [false, false, false, false]);
    }

    #[test]
    fn percentages_are_above_zero_at_most_100_with_two_decimals() {
        assert_eq!(parse_percent("12.5").map(|p| p.to_string()), Ok("12.5".into()));
        assert_eq!(parse_percent("100").map(|p| p.to_string()), Ok("100".into()));
        assert_eq!(parse_percent("10.00").map(|p| p.to_string()), Ok("10".into()));
        for bad in ["0", "-5", "100.01", "12.345", "ten", ""] {
            assert!(parse_percent(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
