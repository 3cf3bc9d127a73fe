//! What a product costs with the options a client chose, and what an add-on costs: the
//! lines the cart and the renewal invoices pass to `compute_totals` (decision 0009).
//!
//! Every choice is checked against the catalog: the option belongs to a group offered with
//! the product, the value to the option, a quantity lies in the option's range and on its
//! step, a price exists for the cycle and currency. A new sale refuses retired products and
//! add-ons and hidden options and values; a renewal accepts them, because what a client
//! already has keeps renewing.

use std::collections::{BTreeMap, BTreeSet};

use hostwright_core::{BillingCycle, Currency, Decimal, Line, Money, MoneyError};
use sea_orm::entity::prelude::*;
use sea_orm::{DbErr, QueryOrder};

use super::model::{addon, addon_price, addon_product, currency, option, option_group, option_price, option_value};
use super::model::{price, product};
use super::options::{self, OptionKind};
use super::service::{self, PaymentType};
use crate::ids::{AddonId, ConfigOptionId, ConfigOptionValueId, ProductId};

/// Whether the lines are for a new order or for renewing what a client already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sale {
    /// The cart: only what is on sale.
    New,
    /// A renewal: hidden options and retired products and add-ons still renew.
    Renewal,
}

/// A client's choice for one option. Stored as JSON in carts, services and upgrades:
/// `{"value": 7}` or `{"quantity": 3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// A value of a dropdown or radio option, or the value of a ticked yes/no option.
    Value(ConfigOptionValueId),
    /// How many units of a quantity option.
    Quantity(i64),
}

/// Choices as stored: a JSON list of `[option id, choice]` pairs.
pub fn choices_to_json(choices: &[(ConfigOptionId, Choice)]) -> String {
    serde_json::to_string(choices).unwrap_or_else(|_| "[]".into())
}

/// Reads stored choices; anything unreadable counts as no choice (pricing then asks again).
pub fn choices_from_json(text: &str) -> Vec<(ConfigOptionId, Choice)> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The priced lines, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedSelection {
    pub currency: Currency,
    /// Charged every billing period (once for a one-time product): the product, then one
    /// line per chosen option. A renewal invoices these.
    pub charges: Vec<Line>,
    /// Charged with the first invoice only; no line for a zero fee.
    pub setup_fees: Vec<Line>,
}

impl PricedSelection {
    /// Every line, charges first: what the cart shows and the first invoice bills.
    pub fn lines(&self) -> Vec<Line> {
        self.charges.iter().chain(&self.setup_fees).cloned().collect()
    }

    /// What the recurring charges come to each period (unit price × quantity, before
    /// discounts and taxes): a service's recurring amount.
    pub fn charges_total(&self) -> Result<Money, MoneyError> {
        let amounts = self.charges.iter().map(|l| l.unit_price.multiply(l.quantity)).collect::<Result<Vec<_>, _>>()?;
        Money::sum(self.currency, amounts)
    }

    /// The sum of unit price × quantity over every line, before discounts and taxes.
    pub fn total(&self) -> Result<Money, MoneyError> {
        let amounts = self
            .charges
            .iter()
            .chain(&self.setup_fees)
            .map(|l| l.unit_price.multiply(l.quantity))
            .collect::<Result<Vec<_>, _>>()?;
        Money::sum(self.currency, amounts)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("There is no such product.")]
    UnknownProduct,
    #[error("{product} is retired and no longer sold.")]
    ProductRetired { product: String },
    #[error("{what} is not sold with the {cycle} billing cycle.")]
    CycleNotOffered { what: String, cycle: &'static str },
    #[error("{code} is not a currency set up here.")]
    UnknownCurrency { code: String },
    #[error("{what} has no {cycle} price in {code}.")]
    NotPriced { what: String, cycle: &'static str, code: String },
    #[error("There is no option #{option}.")]
    UnknownOption { option: ConfigOptionId },
    #[error("{option} is not an option of {product}.")]
    OptionNotOffered { option: String, product: String },
    #[error("{option} was chosen more than once.")]
    DuplicateChoice { option: String },
    #[error("{option} is no longer offered.")]
    OptionHidden { option: String },
    #[error("Choose a value for {option}.")]
    ChoiceRequired { option: String },
    #[error("That is not a value of {option}.")]
    ValueNotOfOption { option: String },
    #[error("{option}: {value} is no longer offered.")]
    ValueHidden { option: String, value: String },
    #[error("{option} takes one of its values, not a quantity.")]
    ValueExpected { option: String },
    #[error("{option} takes a quantity.")]
    QuantityExpected { option: String },
    #[error("{option}: choose a quantity from {min} to {max}.")]
    QuantityOutOfRange { option: String, min: i32, max: i32 },
    #[error("{option}: choose {min} plus a multiple of {step}.")]
    QuantityOffStep { option: String, min: i32, step: i32 },
    #[error("There is no such add-on.")]
    UnknownAddon,
    #[error("{addon} is retired and no longer sold.")]
    AddonRetired { addon: String },
    #[error("{addon} is not offered with {product}.")]
    AddonNotOffered { addon: String, product: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for PricingError {
    fn from(err: DbErr) -> Self {
        PricingError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<MoneyError> for PricingError {
    fn from(err: MoneyError) -> Self {
        PricingError::Internal(anyhow::Error::new(err).context("pricing"))
    }
}

async fn currency_of(db: &impl ConnectionTrait, code: &str) -> Result<Currency, PricingError> {
    let stored = currency::Entity::find_by_id(code.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| PricingError::UnknownCurrency { code: code.to_owned() })?;
    Ok(service::to_core(&stored)?)
}

/// Checks that the payment type sells in `cycle`; true when it is paid (the lines of a free
/// product or add-on are all zero).
fn check_cycle(what: &str, payment_type: &str, cycle: BillingCycle) -> Result<bool, PricingError> {
    let payment_type = PaymentType::parse(payment_type).unwrap_or(PaymentType::Free);
    let offered = match payment_type {
        PaymentType::Free => cycle == BillingCycle::Free,
        _ => payment_type.cycles().contains(&cycle),
    };
    if !offered {
        return Err(PricingError::CycleNotOffered { what: what.to_owned(), cycle: cycle.label() });
    }
    Ok(payment_type != PaymentType::Free)
}

fn money_pair(currency: Currency, price_minor: i64, setup_minor: i64) -> (Money, Money) {
    (Money::from_minor(price_minor, currency), Money::from_minor(setup_minor, currency))
}

fn taxed(line: Line, taxable: bool) -> Line {
    if taxable { line } else { line.untaxed() }
}

/// Prices a product in `cycle` and `currency` with the client's option choices: the
/// product's line, its setup fee, and one line per chosen option (quantity × unit price for
/// quantity options), plus their setup fees.
///
/// Options not chosen: a dropdown or radio option that has something to choose is required;
/// a yes/no option is "no"; a quantity option takes its minimum. Hidden options are never
/// required.
pub async fn price_selection(
    db: &impl ConnectionTrait,
    product_id: ProductId,
    cycle: BillingCycle,
    currency_code: &str,
    selections: &[(ConfigOptionId, Choice)],
    sale: Sale,
) -> Result<PricedSelection, PricingError> {
    let product = product::Entity::find_by_id(product_id).one(db).await?.ok_or(PricingError::UnknownProduct)?;
    if product.retired && sale == Sale::New {
        return Err(PricingError::ProductRetired { product: product.name });
    }
    let currency = currency_of(db, currency_code).await?;
    let paid = check_cycle(&product.name, &product.payment_type, cycle)?;
    let (price, setup) = if paid {
        let stored = price::Entity::find_by_id((product_id, currency.code().to_owned(), cycle.key().to_owned()))
            .one(db)
            .await?
            .ok_or_else(|| PricingError::NotPriced {
                what: product.name.clone(),
                cycle: cycle.label(),
                code: currency.code().to_owned(),
            })?;
        money_pair(currency, stored.price_minor, stored.setup_fee_minor)
    } else {
        (Money::zero(currency), Money::zero(currency))
    };
    let mut priced = PricedSelection { currency, charges: Vec::new(), setup_fees: Vec::new() };
    priced.charges.push(taxed(Line::new(product.name.clone(), price, 1), product.taxable));
    if setup.is_positive() {
        priced.setup_fees.push(taxed(Line::new(format!("{} setup fee", product.name), setup, 1), product.taxable));
    }

    let picks = check_choices(db, &product, selections, sale).await?;

    let picked: BTreeSet<ConfigOptionValueId> = picks.iter().map(|(_, v, _)| v.id).collect();
    let prices: Vec<option_price::Model> = if paid && !picked.is_empty() {
        option_price::Entity::find()
            .filter(option_price::Column::ValueId.is_in(picked))
            .filter(option_price::Column::CurrencyCode.eq(currency.code()))
            .filter(option_price::Column::Cycle.eq(cycle.key()))
            .all(db)
            .await?
    } else {
        Vec::new()
    };
    for (option, value, quantity) in picks {
        let description = match OptionKind::parse(&option.kind) {
            Some(OptionKind::Quantity) => {
                format!("{}: {quantity} {}", option.name, option.unit_label).trim_end().to_owned()
            }
            _ => format!("{}: {}", option.name, value.label),
        };
        let (unit, setup) = if paid {
            let stored = prices.iter().find(|p| p.value_id == value.id).ok_or_else(|| PricingError::NotPriced {
                what: format!("{}: {}", option.name, value.label),
                cycle: cycle.label(),
                code: currency.code().to_owned(),
            })?;
            money_pair(currency, stored.price_minor, stored.setup_fee_minor)
        } else {
            (Money::zero(currency), Money::zero(currency))
        };
        let quantity = Decimal::from(quantity);
        if setup.is_positive() {
            priced
                .setup_fees
                .push(taxed(Line::new(format!("{description} setup fee"), setup, quantity), product.taxable));
        }
        priced.charges.push(taxed(Line::new(description, unit, quantity), product.taxable));
    }
    Ok(priced)
}

/// Checks `selections` against the options `product` offers (for `sale`): every option is
/// the product's, chosen once, with one of its own values on sale or a quantity in range, and
/// every required choice made. Returns each option picked with its value and quantity
/// (options left at zero are left out), in the order the price list shows them.
pub async fn check_choices(
    db: &impl ConnectionTrait,
    product: &product::Model,
    selections: &[(ConfigOptionId, Choice)],
    sale: Sale,
) -> Result<Vec<(option::Model, option_value::Model, i64)>, PricingError> {
    let product_id = product.id;
    // The options offered with the product, group by group (by name), in each group's order.
    let group_ids = options::product_groups(db, product_id).await?;
    let groups = option_group::Entity::find()
        .filter(option_group::Column::Id.is_in(group_ids))
        .order_by_asc(option_group::Column::Name)
        .all(db)
        .await?;
    let mut offered = options::options_of_groups(db, groups.iter().map(|g| g.id).collect()).await?;
    offered.sort_by_key(|o| groups.iter().position(|g| g.id == o.group_id));
    let offered_ids: Vec<ConfigOptionId> = offered.iter().map(|o| o.id).collect();

    let mut chosen: BTreeMap<ConfigOptionId, Choice> = BTreeMap::new();
    for (option_id, choice) in selections {
        if !offered_ids.contains(option_id) {
            return Err(match options::find_option(db, *option_id).await? {
                Some(o) => PricingError::OptionNotOffered { option: o.name, product: product.name.clone() },
                None => PricingError::UnknownOption { option: *option_id },
            });
        }
        if chosen.insert(*option_id, *choice).is_some() {
            let name = offered.iter().find(|o| o.id == *option_id).map(|o| o.name.clone()).unwrap_or_default();
            return Err(PricingError::DuplicateChoice { option: name });
        }
    }

    let values = options::values_of_options(db, offered_ids).await?;
    let mut picks: Vec<(option::Model, option_value::Model, i64)> = Vec::new();
    for option in &offered {
        let choice = chosen.get(&option.id).copied();
        let name = || option.name.clone();
        if option.hidden && sale == Sale::New {
            if choice.is_some() {
                return Err(PricingError::OptionHidden { option: name() });
            }
            continue;
        }
        let kind = OptionKind::parse(&option.kind)
            .ok_or_else(|| anyhow::anyhow!("option {} has kind {}", option.id, option.kind))?;
        let own: Vec<&option_value::Model> = values.iter().filter(|v| v.option_id == option.id).collect();
        let on_sale = |v: &&option_value::Model| !(v.hidden && sale == Sale::New);
        let (value_id, quantity) = match (kind, choice) {
            (OptionKind::Dropdown | OptionKind::Radio, None) => {
                if option.hidden || !own.iter().any(on_sale) {
                    continue;
                }
                return Err(PricingError::ChoiceRequired { option: name() });
            }
            (OptionKind::YesNo, None) => continue,
            (OptionKind::Quantity, None) => (None, i64::from(option.quantity_min)),
            (OptionKind::Dropdown | OptionKind::Radio | OptionKind::YesNo, Some(Choice::Value(v))) => (Some(v), 1),
            (OptionKind::Dropdown | OptionKind::Radio | OptionKind::YesNo, Some(Choice::Quantity(_))) => {
                return Err(PricingError::ValueExpected { option: name() });
            }
            (OptionKind::Quantity, Some(Choice::Value(_))) => {
                return Err(PricingError::QuantityExpected { option: name() });
            }
            (OptionKind::Quantity, Some(Choice::Quantity(q))) => {
                let (min, max, step) = (option.quantity_min, option.quantity_max, option.quantity_step.max(1));
                if q < i64::from(min) || q > i64::from(max) {
                    return Err(PricingError::QuantityOutOfRange { option: name(), min, max });
                }
                if (q - i64::from(min)) % i64::from(step) != 0 {
                    return Err(PricingError::QuantityOffStep { option: name(), min, step });
                }
                (None, q)
            }
        };
        if quantity == 0 {
            continue;
        }
        let value = match value_id {
            Some(id) => {
                *own.iter().find(|v| v.id == id).ok_or_else(|| PricingError::ValueNotOfOption { option: name() })?
            }
            None => *own.first().ok_or_else(|| anyhow::anyhow!("quantity option {} has no value", option.id))?,
        };
        if !on_sale(&value) {
            return Err(PricingError::ValueHidden { option: name(), value: value.label.clone() });
        }
        picks.push((option.clone(), value.clone(), quantity));
    }

    Ok(picks)
}

/// Prices an add-on for a product in `cycle` (the add-on's own) and `currency`: its line and
/// its setup fee.
pub async fn price_addon(
    db: &impl ConnectionTrait,
    addon_id: AddonId,
    product_id: ProductId,
    cycle: BillingCycle,
    currency_code: &str,
    sale: Sale,
) -> Result<PricedSelection, PricingError> {
    let addon = addon::Entity::find_by_id(addon_id).one(db).await?.ok_or(PricingError::UnknownAddon)?;
    let product = product::Entity::find_by_id(product_id).one(db).await?.ok_or(PricingError::UnknownProduct)?;
    if addon.retired && sale == Sale::New {
        return Err(PricingError::AddonRetired { addon: addon.name });
    }
    let offered = addon_product::Entity::find_by_id((addon_id, product_id)).one(db).await?.is_some();
    if !offered {
        return Err(PricingError::AddonNotOffered { addon: addon.name, product: product.name });
    }
    let currency = currency_of(db, currency_code).await?;
    let paid = check_cycle(&addon.name, &addon.payment_type, cycle)?;
    let (price, setup) = if paid {
        let stored = addon_price::Entity::find_by_id((addon_id, currency.code().to_owned(), cycle.key().to_owned()))
            .one(db)
            .await?
            .ok_or_else(|| PricingError::NotPriced {
                what: addon.name.clone(),
                cycle: cycle.label(),
                code: currency.code().to_owned(),
            })?;
        money_pair(currency, stored.price_minor, stored.setup_fee_minor)
    } else {
        (Money::zero(currency), Money::zero(currency))
    };
    let mut priced = PricedSelection { currency, charges: Vec::new(), setup_fees: Vec::new() };
    priced.charges.push(taxed(Line::new(addon.name.clone(), price, 1), addon.taxable));
    if setup.is_positive() {
        priced.setup_fees.push(taxed(Line::new(format!("{} setup fee", addon.name), setup, 1), addon.taxable));
    }
    Ok(priced)
}
