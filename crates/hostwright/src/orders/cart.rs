//! The cart: kept in the database under a random token in the visitor's cookie, so it
//! survives a visitor switching nodes, and attached to the client once they sign in.
//!
//! A cart stores only choices (product, cycle, options, add-ons, quantity, domain). Every
//! price is computed when the cart is shown and again at checkout ([`quote`]): the catalog,
//! the coupon and the tax rules of that moment decide, never anything the browser sent. The
//! quote's lines are exactly the lines the first invoice gets, one set per unit ordered, and
//! its totals come from the same function the invoice uses.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use hostwright_core::{BillingCycle, Currency, DueSchedule, Line, Money, Period, ProRataPlan, Totals};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, QueryOrder};

use super::coupons::{self, LineTarget};
use super::model::{cart, cart_item, coupon};
use crate::catalog::model::{addon, product};
use crate::catalog::pricing::{self, Choice, PricingError, Sale};
use crate::catalog::service::{PaymentType, ProductType};
use crate::clients::model::client;
use crate::crypto::{SecretKey, random_token, token_hash};
use crate::ids::{AddonId, CartId, CartItemId, ClientId, ConfigOptionId, ProductId};
use crate::invoices::drafts::TaxBuyer;
use crate::invoices::service::{self as invoices, InvoiceError};
use crate::invoices::settings::BillingSettings;
use crate::web::AppError;

/// The cookie holding the cart's token.
pub const COOKIE: &str = crate::web::cookies::CART;

/// Carts nobody touched for this long are forgotten.
pub const LIFETIME_DAYS: i64 = 30;

/// The most units of one product in one cart line.
pub const MAX_QUANTITY: i32 = 20;

/// The most lines in one cart.
pub const MAX_ITEMS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("{0}")]
    Invalid(String),
    #[error("{product} is out of stock.")]
    OutOfStock { product: String },
    #[error("Only {left} of {product} are left.")]
    NotEnoughStock { product: String, left: i32 },
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Coupon(#[from] coupons::CouponError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<CartError> for AppError {
    fn from(err: CartError) -> Self {
        match err {
            CartError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for CartError {
    fn from(err: DbErr) -> Self {
        CartError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<hostwright_core::MoneyError> for CartError {
    fn from(err: hostwright_core::MoneyError) -> Self {
        CartError::Internal(anyhow::Error::new(err).context("cart amounts"))
    }
}

impl From<InvoiceError> for CartError {
    fn from(err: InvoiceError) -> Self {
        match err {
            InvoiceError::Invalid(errors) => CartError::Invalid(errors.messages()),
            InvoiceError::NotAllowed(message) => CartError::Invalid(message.to_owned()),
            InvoiceError::NotFound => CartError::Invalid("Something in the cart no longer exists.".into()),
            InvoiceError::Internal(err) => CartError::Internal(err),
        }
    }
}

/// What a product asks for besides its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Hosting: the domain the account is for.
    Domain,
    /// A server: its hostname and a root password.
    Server,
    Nothing,
}

pub fn needs(product: &product::Model) -> Needs {
    match ProductType::parse(&product.product_type) {
        Some(ProductType::SharedHosting | ProductType::ResellerHosting) => Needs::Domain,
        Some(ProductType::Vps | ProductType::DedicatedServer) => Needs::Server,
        _ => Needs::Nothing,
    }
}

/// A domain or hostname as typed: lower-cased, two or more labels of letters, digits and
/// inner hyphens, at most 253 characters.
pub fn parse_hostname(text: &str) -> Option<String> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (name.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok)).then_some(name)
}

/// The root password policy: 12 to 128 characters with a lower-case letter, an upper-case
/// letter and a digit.
pub fn check_root_password(password: &str) -> Result<(), &'static str> {
    let long_enough = (12..=128).contains(&password.chars().count());
    let mixed = password.chars().any(|c| c.is_ascii_lowercase())
        && password.chars().any(|c| c.is_ascii_uppercase())
        && password.chars().any(|c| c.is_ascii_digit());
    if long_enough && mixed {
        Ok(())
    } else {
        Err("Choose a root password of 12 to 128 characters with upper- and lower-case letters and a digit.")
    }
}

/// A product as the client configured it, before it is in a cart.
#[derive(Debug, Clone)]
pub struct ItemInput {
    pub product_id: ProductId,
    pub cycle: String,
    pub quantity: i32,
    pub domain: String,
    pub hostname: String,
    pub password: String,
    pub choices: Vec<(ConfigOptionId, Choice)>,
    pub addon_ids: Vec<AddonId>,
}

/// The cart of a token, if it exists and is not stale.
pub async fn by_token(db: &impl ConnectionTrait, token: &str) -> Result<Option<cart::Model>, DbErr> {
    if token.is_empty() {
        return Ok(None);
    }
    let found = cart::Entity::find().filter(cart::Column::TokenHash.eq(token_hash(token))).one(db).await?;
    Ok(found.filter(|c| c.updated_at > Utc::now() - Duration::days(LIFETIME_DAYS)))
}

/// Starts an empty cart; returns it and the token for the cookie.
pub async fn create(
    db: &impl ConnectionTrait,
    client_id: Option<ClientId>,
    currency_code: &str,
) -> Result<(cart::Model, String), DbErr> {
    let token = random_token();
    let now = Utc::now();
    let created = cart::ActiveModel {
        token_hash: Set(token_hash(&token)),
        client_id: Set(client_id),
        currency_code: Set(currency_code.to_owned()),
        country: Set(String::new()),
        coupon_code: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((created, token))
}

pub async fn items(db: &impl ConnectionTrait, id: CartId) -> Result<Vec<cart_item::Model>, DbErr> {
    cart_item::Entity::find().filter(cart_item::Column::CartId.eq(id)).order_by_asc(cart_item::Column::Id).all(db).await
}

/// Changes the cart row (currency, country, coupon, owner) and marks it used.
async fn touch(
    db: &impl ConnectionTrait,
    id: CartId,
    column: cart::Column,
    value: sea_orm::Value,
) -> Result<(), DbErr> {
    let update = Query::update()
        .table(cart::Entity)
        .value(column, value)
        .value(cart::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(cart::Column::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Marks the cart used (it lives [`LIFETIME_DAYS`] from its last change).
async fn bump(db: &impl ConnectionTrait, id: CartId) -> Result<(), DbErr> {
    let update = Query::update()
        .table(cart::Entity)
        .value(cart::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(cart::Column::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

pub async fn set_currency(db: &impl ConnectionTrait, id: CartId, code: &str) -> Result<(), CartError> {
    if invoices::find_currency(db, code).await?.is_none() {
        return Err(CartError::Invalid("Choose one of the currencies we sell in.".into()));
    }
    Ok(touch(db, id, cart::Column::CurrencyCode, code.into()).await?)
}

pub async fn set_country(db: &impl ConnectionTrait, id: CartId, code: &str) -> Result<(), CartError> {
    let code = code.trim().to_ascii_uppercase();
    if !code.is_empty() && crate::clients::countries::name(&code).is_none() {
        return Err(CartError::Invalid("Choose your country from the list.".into()));
    }
    Ok(touch(db, id, cart::Column::Country, code.into()).await?)
}

/// The currency a client is billed in, once they have one (their first order sets it).
pub fn account_currency(client: &client::Model) -> Option<&str> {
    Some(client.currency_code.as_str()).filter(|c| !c.is_empty())
}

/// Attaches the cart to the signed-in client; a client with a currency shops in it.
pub async fn claim(db: &impl ConnectionTrait, id: CartId, client: &client::Model) -> Result<(), DbErr> {
    touch(db, id, cart::Column::ClientId, client.id.0.into()).await?;
    match account_currency(client) {
        Some(code) => touch(db, id, cart::Column::CurrencyCode, code.into()).await,
        None => Ok(()),
    }
}

/// Checks a promotion code against the cart's contents and keeps it.
pub async fn set_coupon(
    db: &impl ConnectionTrait,
    billing: &BillingSettings,
    cart: &cart::Model,
    client: Option<&client::Model>,
    code: &str,
) -> Result<(), CartError> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Ok(touch(db, cart.id, cart::Column::CouponCode, "".into()).await?);
    }
    let trial = cart::Model { coupon_code: code.clone(), ..cart.clone() };
    let quote = quote(db, billing, &trial, client).await?;
    if let Some(err) = quote.coupon_error {
        return Err(CartError::Invalid(err));
    }
    if quote.totals.as_ref().is_some_and(|t| t.discount_total.minor() == 0) {
        return Err(coupons::CouponError::NothingApplies.into());
    }
    Ok(touch(db, cart.id, cart::Column::CouponCode, code.into()).await?)
}

/// Checks a configured product and puts it in the cart. Nothing is written when anything is
/// wrong with it.
pub async fn add(
    db: &impl ConnectionTrait,
    key: &SecretKey,
    cart: &cart::Model,
    input: &ItemInput,
) -> Result<CartItemId, CartError> {
    let existing = items(db, cart.id).await?;
    if existing.len() >= MAX_ITEMS {
        return Err(CartError::Invalid(format!("A cart holds at most {MAX_ITEMS} products; place this order first.")));
    }
    let checked = check_item(db, cart, input, &existing).await?;
    let created = cart_item::ActiveModel {
        cart_id: Set(cart.id),
        product_id: Set(input.product_id),
        cycle: Set(checked.cycle.key().to_owned()),
        quantity: Set(input.quantity),
        domain: Set(checked.domain),
        hostname: Set(checked.hostname),
        password_enc: Set((!input.password.is_empty()).then(|| key.encrypt(input.password.as_bytes()))),
        choices: Set(pricing::choices_to_json(&input.choices)),
        addon_ids: Set(serde_json::to_string(&input.addon_ids).unwrap_or_else(|_| "[]".into())),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    bump(db, cart.id).await?;
    Ok(created.id)
}

struct CheckedItem {
    cycle: BillingCycle,
    domain: String,
    hostname: String,
}

async fn check_item(
    db: &impl ConnectionTrait,
    cart: &cart::Model,
    input: &ItemInput,
    existing: &[cart_item::Model],
) -> Result<CheckedItem, CartError> {
    let product = product::Entity::find_by_id(input.product_id).one(db).await?.ok_or(PricingError::UnknownProduct)?;
    if product.retired {
        return Err(PricingError::ProductRetired { product: product.name }.into());
    }
    let cycle: BillingCycle = input
        .cycle
        .parse()
        .map_err(|_| CartError::Invalid(format!("Choose how often to pay for {}.", product.name)))?;
    if !(1..=MAX_QUANTITY).contains(&input.quantity) {
        return Err(CartError::Invalid(format!("Order 1 to {MAX_QUANTITY} of {} at a time.", product.name)));
    }
    let in_cart: i32 = existing.iter().filter(|i| i.product_id == product.id).map(|i| i.quantity).sum();
    check_stock(&product, in_cart + input.quantity)?;
    let (domain, hostname) = match needs(&product) {
        Needs::Domain => {
            let domain = parse_hostname(&input.domain).ok_or_else(|| {
                CartError::Invalid(format!("Enter the domain {} is for, like example.com.", product.name))
            })?;
            (domain, String::new())
        }
        Needs::Server => {
            let hostname = parse_hostname(&input.hostname)
                .ok_or_else(|| CartError::Invalid("Enter the server's hostname, like server1.example.com.".into()))?;
            check_root_password(&input.password).map_err(|m| CartError::Invalid(m.into()))?;
            (String::new(), hostname)
        }
        Needs::Nothing => (String::new(), String::new()),
    };
    pricing::price_selection(db, product.id, cycle, &cart.currency_code, &input.choices, Sale::New).await?;
    let mut seen = Vec::new();
    for addon_id in &input.addon_ids {
        if seen.contains(addon_id) {
            return Err(CartError::Invalid("Each add-on can be chosen once.".into()));
        }
        seen.push(*addon_id);
        let addon = addon::Entity::find_by_id(*addon_id).one(db).await?.ok_or(PricingError::UnknownAddon)?;
        // A hidden add-on is one staff add; it is not on the order form.
        if addon.hidden {
            return Err(PricingError::UnknownAddon.into());
        }
        pricing::price_addon(db, *addon_id, product.id, addon_cycle(&addon, cycle), &cart.currency_code, Sale::New)
            .await?;
    }
    Ok(CheckedItem { cycle, domain, hostname })
}

/// Refuses more units than the product has in stock.
pub fn check_stock(product: &product::Model, wanted: i32) -> Result<(), CartError> {
    if !product.stock_enabled || wanted <= product.stock_quantity {
        return Ok(());
    }
    if product.stock_quantity <= 0 {
        Err(CartError::OutOfStock { product: product.name.clone() })
    } else {
        Err(CartError::NotEnoughStock { product: product.name.clone(), left: product.stock_quantity })
    }
}

/// An add-on bills with its service's cycle when it can; a one-time or free add-on bills once.
pub fn addon_cycle(addon: &addon::Model, service_cycle: BillingCycle) -> BillingCycle {
    match PaymentType::parse(&addon.payment_type) {
        Some(PaymentType::Free) | None => BillingCycle::Free,
        Some(PaymentType::OneTime) => BillingCycle::OneTime,
        Some(_) => service_cycle,
    }
}

pub async fn set_quantity(
    db: &impl ConnectionTrait,
    cart: &cart::Model,
    id: CartItemId,
    quantity: i32,
) -> Result<(), CartError> {
    let all = items(db, cart.id).await?;
    let item = all.iter().find(|i| i.id == id).ok_or_else(|| CartError::Invalid("That is not in your cart.".into()))?;
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(CartError::Invalid(format!("Order 1 to {MAX_QUANTITY} at a time.")));
    }
    let product = product::Entity::find_by_id(item.product_id).one(db).await?.ok_or(PricingError::UnknownProduct)?;
    let others: i32 = all.iter().filter(|i| i.product_id == item.product_id && i.id != id).map(|i| i.quantity).sum();
    check_stock(&product, others + quantity)?;
    let update = Query::update()
        .table(cart_item::Entity)
        .value(cart_item::Column::Quantity, quantity)
        .and_where(Expr::col(cart_item::Column::Id).eq(id))
        .and_where(Expr::col(cart_item::Column::CartId).eq(cart.id))
        .to_owned();
    db.execute(&update).await?;
    Ok(bump(db, cart.id).await?)
}

/// Takes a line out of the cart; a line of another cart is not found.
pub async fn remove(db: &impl ConnectionTrait, cart: &cart::Model, id: CartItemId) -> Result<(), CartError> {
    let removed = cart_item::Entity::delete_many()
        .filter(cart_item::Column::Id.eq(id))
        .filter(cart_item::Column::CartId.eq(cart.id))
        .exec(db)
        .await?;
    if removed.rows_affected == 0 {
        return Err(CartError::Invalid("That is not in your cart.".into()));
    }
    Ok(bump(db, cart.id).await?)
}

/// One line of the first invoice, and what it bills.
#[derive(Debug, Clone)]
pub struct QuotedLine {
    pub line: Line,
    /// `service`, `setup`, `addon` or `addon_setup`.
    pub kind: &'static str,
    /// The add-on the line is for (add-on lines only).
    pub addon_id: Option<AddonId>,
    pub period: Option<Period>,
}

/// One cart item, priced for one unit.
#[derive(Debug, Clone)]
pub struct ItemQuote {
    pub item: cart_item::Model,
    pub product: product::Model,
    pub cycle: BillingCycle,
    pub choices: Vec<(ConfigOptionId, Choice)>,
    /// The first invoice's lines for one unit (discounts applied).
    pub lines: Vec<QuotedLine>,
    /// What one unit costs every period from the next due date (options included).
    pub recurring: Money,
    /// The add-ons, each with its cycle and recurring amount.
    pub addons: Vec<(AddonId, BillingCycle, Money)>,
    pub next_due: Option<NaiveDate>,
}

/// The cart, priced now.
#[derive(Debug)]
pub struct Quote {
    pub currency: Currency,
    pub items: Vec<ItemQuote>,
    /// Items that can no longer be ordered as they are (retired product, option gone …).
    pub problems: Vec<(cart_item::Model, String)>,
    pub coupon: Option<coupon::Model>,
    /// Why the code in the cart does not apply.
    pub coupon_error: Option<String>,
    /// Every line of the first invoice in order: each item's lines, once per unit.
    pub lines: Vec<Line>,
    /// `None` for an empty cart.
    pub totals: Option<Totals>,
}

/// Prices the cart for `client` (or the visitor's country), as the first invoice will.
pub async fn quote(
    db: &impl ConnectionTrait,
    billing: &BillingSettings,
    cart: &cart::Model,
    client: Option<&client::Model>,
) -> Result<Quote, CartError> {
    let today = billing.today();
    let currency_code = client.and_then(account_currency).unwrap_or(&cart.currency_code);
    let currency = invoices::find_currency(db, currency_code)
        .await?
        .ok_or_else(|| CartError::Invalid(format!("{currency_code} is no longer a currency we sell in.")))?;
    let (coupon, coupon_error) = match cart.coupon_code.as_str() {
        "" => (None, None),
        code => match coupons::find_usable(db, code, client.map(|c| c.id), currency, today).await {
            Ok(found) => (Some(found), None),
            Err(coupons::CouponError::Internal(err)) => return Err(CartError::Internal(err)),
            Err(err) => (None, Some(err.to_string())),
        },
    };
    let mut quoted = Vec::new();
    let mut problems = Vec::new();
    for item in items(db, cart.id).await? {
        match quote_item(db, &item, currency, today, coupon.as_ref()).await {
            Ok(q) => quoted.push(q),
            Err(CartError::Internal(err)) => return Err(CartError::Internal(err)),
            Err(err) => problems.push((item, err.to_string())),
        }
    }
    let mut lines = Vec::new();
    for q in &quoted {
        for _ in 0..q.item.quantity {
            lines.extend(q.lines.iter().map(|l| l.line.clone()));
        }
    }
    let totals = if lines.is_empty() {
        None
    } else {
        let buyer = match client {
            Some(c) => TaxBuyer::client(c),
            None => TaxBuyer::visitor(&cart.country),
        };
        Some(crate::invoices::drafts::totals_for(db, billing, buyer, currency, &lines).await?)
    };
    Ok(Quote { currency, items: quoted, problems, coupon, coupon_error, lines, totals })
}

fn discounted(line: Line, coupon: Option<&coupon::Model>, target: LineTarget) -> Line {
    match coupon.and_then(|c| coupons::discount_for(c, target, &line)) {
        Some(discount) => line.with_discount(discount),
        None => line,
    }
}

/// The first period of a service ordered `today`: the product's pro-rata plan decides where
/// it ends, otherwise one whole cycle.
fn first_period(
    product: &product::Model,
    cycle: BillingCycle,
    today: NaiveDate,
) -> Result<Option<(Period, Option<ProRataPlan>)>, CartError> {
    if !cycle.is_recurring() {
        return Ok(None);
    }
    if product.prorata_enabled {
        let plan = ProRataPlan::new(
            u32::try_from(product.prorata_day).unwrap_or(1),
            product.prorata_cutoff_day.and_then(|d| u32::try_from(d).ok()),
        )
        .map_err(|e| anyhow::anyhow!("product {}: {e}", product.id))?;
        let start = plan.first_invoice(cycle, Money::zero(Currency::USD), today).map_err(anyhow::Error::from)?;
        return Ok(Some((start.period, Some(plan))));
    }
    let end = DueSchedule::new(today, cycle).due_date(1).ok_or_else(|| anyhow::anyhow!("due date out of range"))?;
    Ok(Some((Period { start: today, end }, None)))
}

/// What the first period charges for a recurring price.
fn first_charge(
    price: Money,
    cycle: BillingCycle,
    plan: Option<ProRataPlan>,
    today: NaiveDate,
) -> Result<Money, CartError> {
    match plan {
        Some(plan) => Ok(plan.first_invoice(cycle, price, today).map_err(anyhow::Error::from)?.amount),
        None => Ok(price),
    }
}

/// What a service line names after the product: ` — its domain`, else ` — its hostname`.
pub(crate) fn subject(domain: &str, hostname: &str) -> String {
    match (domain, hostname) {
        ("", "") => String::new(),
        ("", host) => format!(" — {host}"),
        (domain, _) => format!(" — {domain}"),
    }
}

/// A line's description with the period it bills, as every service line shows it.
pub(crate) fn with_period(description: &str, period: Option<Period>) -> String {
    match period {
        Some(p) => format!("{description} ({} – {})", p.start, p.end),
        None => description.to_owned(),
    }
}

async fn quote_item(
    db: &impl ConnectionTrait,
    item: &cart_item::Model,
    currency: Currency,
    today: NaiveDate,
    coupon: Option<&coupon::Model>,
) -> Result<ItemQuote, CartError> {
    let product = product::Entity::find_by_id(item.product_id).one(db).await?.ok_or(PricingError::UnknownProduct)?;
    if product.retired {
        return Err(PricingError::ProductRetired { product: product.name }.into());
    }
    check_stock(&product, item.quantity)?;
    let cycle: BillingCycle = item.cycle.parse().map_err(|_| CartError::Invalid("Choose a billing cycle.".into()))?;
    let choices = pricing::choices_from_json(&item.choices);
    let priced = pricing::price_selection(db, product.id, cycle, currency.code(), &choices, Sale::New).await?;
    let recurring = priced.charges_total()?;
    let period = first_period(&product, cycle, today)?;
    let plan = period.and_then(|(_, plan)| plan);
    let period = period.map(|(p, _)| p);
    let target = LineTarget::Product { product_id: product.id, cycle };
    let setup_target = LineTarget::Setup { product_id: product.id, cycle };
    let subject = subject(&item.domain, &item.hostname);
    let mut lines = Vec::new();
    for (i, charge) in priced.charges.iter().enumerate() {
        let mut line = charge.clone();
        line.unit_price = first_charge(line.unit_price, cycle, plan, today)?;
        let description = if i == 0 { format!("{}{subject}", line.description) } else { line.description.clone() };
        line.description = with_period(&description, period);
        lines.push(QuotedLine { line: discounted(line, coupon, target), kind: "service", addon_id: None, period });
    }
    for fee in &priced.setup_fees {
        lines.push(QuotedLine {
            line: discounted(fee.clone(), coupon, setup_target),
            kind: "setup",
            addon_id: None,
            period: None,
        });
    }
    let mut addons = Vec::new();
    let addon_ids: Vec<AddonId> = serde_json::from_str(&item.addon_ids).unwrap_or_default();
    for addon_id in addon_ids {
        let addon = addon::Entity::find_by_id(addon_id).one(db).await?.ok_or(PricingError::UnknownAddon)?;
        let addon_cycle = addon_cycle(&addon, cycle);
        let priced = pricing::price_addon(db, addon_id, product.id, addon_cycle, currency.code(), Sale::New).await?;
        let addon_recurring = priced.charges_total()?;
        // An add-on in the service's cycle shares its first period (and pro-rata); another
        // cycle starts its own.
        let (addon_period, addon_plan) = if addon_cycle == cycle {
            (period, plan)
        } else {
            first_period(&product, addon_cycle, today)?.map_or((None, None), |(p, plan)| (Some(p), plan))
        };
        let target = LineTarget::Addon { addon_id, cycle: addon_cycle };
        let setup_target = LineTarget::AddonSetup { addon_id, cycle: addon_cycle };
        for charge in &priced.charges {
            let mut line = charge.clone();
            line.unit_price = first_charge(line.unit_price, addon_cycle, addon_plan, today)?;
            line.description = with_period(&line.description, addon_period);
            lines.push(QuotedLine {
                line: discounted(line, coupon, target),
                kind: "addon",
                addon_id: Some(addon_id),
                period: addon_period,
            });
        }
        for fee in &priced.setup_fees {
            lines.push(QuotedLine {
                line: discounted(fee.clone(), coupon, setup_target),
                kind: "addon_setup",
                addon_id: Some(addon_id),
                period: None,
            });
        }
        addons.push((addon_id, addon_cycle, addon_recurring));
    }
    Ok(ItemQuote {
        item: item.clone(),
        product,
        cycle,
        choices,
        lines,
        recurring,
        addons,
        next_due: period.map(|p| p.end),
    })
}

/// Counts units per product (for stock).
pub fn units_per_product(items: &[ItemQuote]) -> BTreeMap<ProductId, i32> {
    let mut units = BTreeMap::new();
    for q in items {
        *units.entry(q.product.id).or_insert(0) += q.item.quantity;
    }
    units
}

/// Forgets carts nobody touched for [`LIFETIME_DAYS`].
pub async fn purge_stale(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let cutoff = Utc::now() - Duration::days(LIFETIME_DAYS);
    Ok(cart::Entity::delete_many().filter(cart::Column::UpdatedAt.lt(cutoff)).exec(db).await?.rows_affected)
}

pub async fn delete(db: &impl ConnectionTrait, id: CartId) -> Result<(), DbErr> {
    cart::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
