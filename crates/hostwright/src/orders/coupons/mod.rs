//! Promotion codes (decision 0013): whether a client may use a code today, what it takes off
//! each line of a cart or a first invoice, and counting uses so that concurrent checkouts
//! never exceed a coupon's limit. What staff do with
//! coupons is `admin`, its pages `handlers`.
//!
//! A coupon's uses are only ever changed by one guarded UPDATE (`uses < max_uses`), inside
//! the checkout's transaction: on PostgreSQL a second checkout waits for the first's row lock
//! and re-checks the condition on the updated row; SQLite serialises writers.

pub mod admin;
pub mod handlers;

use std::str::FromStr;

use chrono::{NaiveDate, Utc};
use hostwright_core::{BillingCycle, Currency, Decimal, Discount, Line, Money};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, DbErr, PaginatorTrait};

use crate::ids::{AddonId, ClientId, CouponId, OrderId, ProductId};
use crate::orders::model::{coupon, coupon_use, order};
use crate::orders::status::OrderStatus;

/// Why a client cannot use a code. The messages are written for the client.
#[derive(Debug, thiserror::Error)]
pub enum CouponError {
    /// Unknown or inactive: one message, so a guesser learns nothing.
    #[error("That promotion code is not valid.")]
    NotValid,
    #[error("That promotion code is not valid yet.")]
    NotStarted,
    #[error("That promotion code has expired.")]
    Expired,
    #[error("That promotion code has been used up.")]
    UsedUp,
    #[error("You have already used that promotion code.")]
    AlreadyUsed,
    #[error("That promotion code is for new clients only.")]
    NewClientsOnly,
    /// A fixed-amount coupon in another currency than the order's.
    #[error("That promotion code applies to orders in {currency} only.")]
    WrongCurrency { currency: String },
    /// For the cart: no line of it gets a discount from the code.
    #[error("That promotion code does not apply to anything in your cart.")]
    NothingApplies,
    #[error("We could not check that promotion code. Please try again.")]
    Internal(#[source] anyhow::Error),
}

impl From<DbErr> for CouponError {
    fn from(err: DbErr) -> Self {
        CouponError::Internal(anyhow::Error::new(err).context("coupons"))
    }
}

/// What a coupon is: a percentage or a fixed amount in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponKind {
    Percent,
    Fixed,
}

impl CouponKind {
    pub const ALL: [CouponKind; 2] = [Self::Percent, Self::Fixed];

    pub fn key(self) -> &'static str {
        match self {
            Self::Percent => "percent",
            Self::Fixed => "fixed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Percent => "A percentage off",
            Self::Fixed => "A fixed amount off each line",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }
}

/// Whether a coupon discounts only the first invoice or renewals too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurrence {
    Once,
    Recurring,
}

impl Recurrence {
    pub const ALL: [Recurrence; 2] = [Self::Once, Self::Recurring];

    pub fn key(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Recurring => "recurring",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Once => "The first invoice only",
            Self::Recurring => "The first invoice and renewals",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.key() == key)
    }
}

/// A code as clients type it, the way it is stored: trimmed and upper-case.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_uppercase()
}

/// The coupon behind `code` if `client_id` (or a visitor, `None`) may use it on an order in
/// `currency` on `today` (the business's date: `invoices::service::today`).
///
/// At checkout, call it before inserting the order: a new client's own pending order would
/// otherwise make them an existing client. `record_use` then counts the use atomically.
#[tracing::instrument(skip_all, fields(client.id = client_id.map(|c| c.0)))]
pub async fn find_usable(
    db: &impl ConnectionTrait,
    code: &str,
    client_id: Option<ClientId>,
    currency: Currency,
    today: NaiveDate,
) -> Result<coupon::Model, CouponError> {
    let code = normalize_code(code);
    if code.is_empty() {
        return Err(CouponError::NotValid);
    }
    let found = coupon::Entity::find().filter(coupon::Column::Code.eq(code)).one(db).await?;
    let Some(coupon) = found.filter(|c| c.active) else {
        return Err(CouponError::NotValid);
    };
    if coupon.starts_on.is_some_and(|d| today < d) {
        return Err(CouponError::NotStarted);
    }
    if coupon.expires_on.is_some_and(|d| today > d) {
        return Err(CouponError::Expired);
    }
    if CouponKind::parse(&coupon.kind) == Some(CouponKind::Fixed) && coupon.currency_code != currency.code() {
        return Err(CouponError::WrongCurrency { currency: coupon.currency_code });
    }
    if coupon.max_uses.is_some_and(|max| coupon.uses >= max) {
        return Err(CouponError::UsedUp);
    }
    let Some(client_id) = client_id else {
        return Ok(coupon);
    };
    if let Some(limit) = coupon.max_uses_per_client
        && client_uses(db, coupon.id, client_id).await? >= u64::try_from(limit).unwrap_or(0)
    {
        return Err(CouponError::AlreadyUsed);
    }
    if coupon.new_clients_only {
        let orders = order::Entity::find()
            .filter(order::Column::ClientId.eq(client_id))
            .filter(order::Column::Status.is_in([OrderStatus::Pending, OrderStatus::Active]))
            .count(db)
            .await?;
        if orders > 0 {
            return Err(CouponError::NewClientsOnly);
        }
    }
    Ok(coupon)
}

async fn client_uses(db: &impl ConnectionTrait, coupon_id: CouponId, client_id: ClientId) -> Result<u64, DbErr> {
    coupon_use::Entity::find()
        .filter(coupon_use::Column::CouponId.eq(coupon_id))
        .filter(coupon_use::Column::ClientId.eq(client_id))
        .count(db)
        .await
}

/// What a line of a cart or a first invoice bills, for deciding whether a coupon applies.
#[derive(Debug, Clone, Copy)]
pub enum LineTarget {
    /// A product's price for a period (its configurable options included).
    Product { product_id: ProductId, cycle: BillingCycle },
    /// A product's setup fee.
    Setup { product_id: ProductId, cycle: BillingCycle },
    /// An add-on ordered with a product, in the add-on's own cycle.
    Addon { addon_id: AddonId, cycle: BillingCycle },
    /// An add-on's setup fee: discounted only by a coupon for that add-on that also covers
    /// setup fees.
    AddonSetup { addon_id: AddonId, cycle: BillingCycle },
}

/// The ids or keys of a stored JSON list; `None` if the text is not one, so that a damaged
/// list applies to nothing rather than to everything.
pub(super) fn stored_list<T: serde::de::DeserializeOwned>(text: &str) -> Option<Vec<T>> {
    serde_json::from_str(text).ok()
}

/// Whether `coupon` applies to a line billing `target`, ignoring amounts.
pub fn applies_to(coupon: &coupon::Model, target: LineTarget) -> bool {
    let product_applies = |id: ProductId| {
        stored_list::<ProductId>(&coupon.product_ids).is_some_and(|ids| ids.is_empty() || ids.contains(&id))
    };
    // Add-ons are opt-in: an empty list means none.
    let addon_applies = |id: AddonId| stored_list::<AddonId>(&coupon.addon_ids).is_some_and(|ids| ids.contains(&id));
    let (target_applies, cycle) = match target {
        LineTarget::Product { product_id, cycle } => (product_applies(product_id), cycle),
        LineTarget::Setup { product_id, cycle } => (coupon.applies_to_setup && product_applies(product_id), cycle),
        LineTarget::Addon { addon_id, cycle } => (addon_applies(addon_id), cycle),
        LineTarget::AddonSetup { addon_id, cycle } => (coupon.applies_to_setup && addon_applies(addon_id), cycle),
    };
    let cycle_applies = stored_list::<String>(&coupon.cycles)
        .is_some_and(|keys| keys.is_empty() || keys.iter().any(|k| k == cycle.key()));
    target_applies && cycle_applies
}

/// The discount `coupon` gives on `line` (which bills `target`), or `None` when it does not
/// apply or would take nothing off. A fixed amount is taken off the whole line, at most the
/// line's amount, and only from a line in the coupon's currency.
pub fn discount_for(coupon: &coupon::Model, target: LineTarget, line: &Line) -> Option<Discount> {
    if !applies_to(coupon, target) {
        return None;
    }
    let amount = line.unit_price.multiply(line.quantity).ok()?;
    if !amount.is_positive() {
        return None;
    }
    match CouponKind::parse(&coupon.kind)? {
        CouponKind::Percent => {
            let percent = std::cmp::min(Decimal::from_str(&coupon.percent).ok()?, Decimal::ONE_HUNDRED);
            let off = amount.percent(percent).ok()?;
            off.is_positive().then_some(Discount::Percent(percent))
        }
        CouponKind::Fixed => {
            let currency = line.unit_price.currency();
            if coupon.currency_code != currency.code() {
                return None;
            }
            let off = Money::from_minor(std::cmp::min(coupon.amount_minor, amount.minor()), currency);
            off.is_positive().then_some(Discount::Amount(off))
        }
    }
}

/// How long a coupon keeps discounting the services it was ordered with: `None` for the first
/// invoice only; `Some(limit)` for renewals too, `limit` being how many (`None` = forever).
/// The checkout stores it on each discounted service as `coupon_renewals_left`.
pub fn renewals(coupon: &coupon::Model) -> Option<Option<i32>> {
    match Recurrence::parse(&coupon.recurrence) {
        Some(Recurrence::Recurring) => Some(coupon.recurring_limit),
        _ => None,
    }
}

/// Counts a use of `coupon` by `client_id` for `order_id`, inside the checkout's transaction.
/// Refused when the coupon is used up (or was deactivated meanwhile), the client reached their
/// own limit, or (a new-clients-only code) the client has another pending or active order;
/// the caller then rolls its transaction back.
#[tracing::instrument(skip_all, fields(coupon.id = coupon.id.0, client.id = client_id.0, order.id = order_id.0))]
pub async fn record_use(
    txn: &impl ConnectionTrait,
    coupon: &coupon::Model,
    client_id: ClientId,
    order_id: OrderId,
) -> Result<(), CouponError> {
    let take = Query::update()
        .table(coupon::Entity)
        .value(coupon::Column::Uses, Expr::col(coupon::Column::Uses).add(1))
        .and_where(Expr::col(coupon::Column::Id).eq(coupon.id))
        .and_where(Expr::col(coupon::Column::Active).eq(true))
        .and_where(
            Expr::col(coupon::Column::MaxUses)
                .is_null()
                .or(Expr::col(coupon::Column::Uses).lt(Expr::col(coupon::Column::MaxUses))),
        )
        .to_owned();
    if txn.execute(&take).await?.rows_affected() != 1 {
        let active = coupon::Entity::find_by_id(coupon.id).one(txn).await?.is_some_and(|c| c.active);
        return Err(if active { CouponError::UsedUp } else { CouponError::NotValid });
    }
    // Counted after the UPDATE: a concurrent checkout of the same coupon waits on its row, so
    // this count sees that checkout's use once it committed.
    if let Some(limit) = coupon.max_uses_per_client
        && client_uses(txn, coupon.id, client_id).await? >= u64::try_from(limit).unwrap_or(0)
    {
        // Given back at once, in case the caller goes on with its transaction.
        give_back(txn, coupon.id).await?;
        return Err(CouponError::AlreadyUsed);
    }
    // Likewise a new client's concurrent checkouts: the first to commit makes them an existing
    // client for the others. Their own order (already inserted) does not count.
    if coupon.new_clients_only {
        let others = order::Entity::find()
            .filter(order::Column::ClientId.eq(client_id))
            .filter(order::Column::Id.ne(order_id))
            .filter(order::Column::Status.is_in([OrderStatus::Pending, OrderStatus::Active]))
            .count(txn)
            .await?;
        if others > 0 {
            give_back(txn, coupon.id).await?;
            return Err(CouponError::NewClientsOnly);
        }
    }
    coupon_use::ActiveModel {
        coupon_id: Set(coupon.id),
        client_id: Set(client_id),
        order_id: Set(order_id),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

async fn give_back(txn: &impl ConnectionTrait, coupon_id: CouponId) -> Result<(), DbErr> {
    let update = Query::update()
        .table(coupon::Entity)
        .value(coupon::Column::Uses, Expr::col(coupon::Column::Uses).sub(1))
        .and_where(Expr::col(coupon::Column::Id).eq(coupon_id))
        .and_where(Expr::col(coupon::Column::Uses).gt(0))
        .to_owned();
    txn.execute(&update).await?;
    Ok(())
}

/// An order was cancelled: its use of a coupon (if any) is given back. Deleting the use row
/// first makes a second call for the same order a no-op.
#[tracing::instrument(skip_all, fields(order.id = order_id.0))]
pub async fn release_use(txn: &impl ConnectionTrait, order_id: OrderId) -> Result<(), DbErr> {
    let Some(used) = coupon_use::Entity::find().filter(coupon_use::Column::OrderId.eq(order_id)).one(txn).await? else {
        return Ok(());
    };
    let deleted = coupon_use::Entity::delete_many().filter(coupon_use::Column::Id.eq(used.id)).exec(txn).await?;
    if deleted.rows_affected == 1 {
        give_back(txn, used.coupon_id).await?;
    }
    Ok(())
}
