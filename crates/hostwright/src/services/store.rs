//! Reading and writing services, their option values and add-ons. Writers take the caller's
//! transaction: an order, staff adding a service and an upgrade each write several rows at once.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use hostwright_core::{BillingCycle, Money};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use super::model::{service, service_addon, service_option};
use super::status::Status;
use crate::catalog::model::{option, option_value};
use crate::catalog::options::OptionKind;
use crate::catalog::pricing::Choice;
use crate::crypto::SecretKey;
use crate::ids::{AddonId, ClientId, ConfigOptionId, CouponId, OrderId, ProductId, ServiceAddonId, ServiceId};

/// A service to create.
pub struct NewService<'a> {
    pub client_id: ClientId,
    pub order_id: Option<OrderId>,
    pub product_id: ProductId,
    pub status: Status,
    pub cycle: BillingCycle,
    pub recurring: Money,
    pub first_payment: Money,
    pub registration_date: NaiveDate,
    pub next_due_date: Option<NaiveDate>,
    /// The day of month its periods start on (see `service::Model::billing_day`).
    pub billing_day: u32,
    pub domain: &'a str,
    pub hostname: &'a str,
    /// The root or account password the client chose; stored encrypted.
    pub password: Option<&'a str>,
    pub choices: &'a [(ConfigOptionId, Choice)],
    /// A recurring coupon: which, and how many renewals it still discounts (`None` = forever).
    pub coupon: Option<(CouponId, Option<i32>)>,
}

pub async fn insert(
    txn: &impl ConnectionTrait,
    key: &SecretKey,
    new: &NewService<'_>,
) -> Result<service::Model, DbErr> {
    let now = Utc::now();
    let created = service::ActiveModel {
        client_id: Set(new.client_id),
        order_id: Set(new.order_id),
        product_id: Set(new.product_id),
        status: Set(new.status.key().to_owned()),
        currency_code: Set(new.recurring.currency().code().to_owned()),
        billing_cycle: Set(new.cycle.key().to_owned()),
        recurring_minor: Set(new.recurring.minor()),
        first_payment_minor: Set(new.first_payment.minor()),
        use_current_price: Set(false),
        registration_date: Set(new.registration_date),
        next_due_date: Set(new.next_due_date),
        next_invoice_date: Set(new.next_due_date),
        billing_day: Set(Some(i32::try_from(new.billing_day).unwrap_or(1))),
        domain: Set(new.domain.to_owned()),
        hostname: Set(new.hostname.to_owned()),
        username: Set(String::new()),
        password_enc: Set(new.password.filter(|p| !p.is_empty()).map(|p| key.encrypt(p.as_bytes()))),
        server_id: Set(None),
        notes: Set(String::new()),
        suspend_reason: Set(String::new()),
        suspended_on: Set(None),
        terminated_on: Set(None),
        cancelled_on: Set(None),
        coupon_id: Set(new.coupon.map(|(id, _)| id)),
        coupon_renewals_left: Set(new.coupon.and_then(|(_, left)| left)),
        paid_period_start: Set(None),
        paid_period_minor: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    save_choices(txn, created.id, new.choices).await?;
    Ok(created)
}

/// Replaces a service's option values with `choices`.
pub async fn save_choices(
    txn: &impl ConnectionTrait,
    id: ServiceId,
    choices: &[(ConfigOptionId, Choice)],
) -> Result<(), DbErr> {
    service_option::Entity::delete_many().filter(service_option::Column::ServiceId.eq(id)).exec(txn).await?;
    for (option_id, choice) in choices {
        let (value_id, quantity) = match choice {
            Choice::Value(value) => (Some(*value), 0),
            Choice::Quantity(n) => (None, i32::try_from(*n).unwrap_or(i32::MAX)),
        };
        service_option::ActiveModel {
            service_id: Set(id),
            option_id: Set(*option_id),
            value_id: Set(value_id),
            quantity: Set(quantity),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// An add-on to attach to a service.
pub struct NewAddon {
    pub service_id: ServiceId,
    pub addon_id: AddonId,
    pub order_id: Option<OrderId>,
    pub status: Status,
    pub cycle: BillingCycle,
    pub recurring: Money,
    pub registration_date: NaiveDate,
    pub next_due_date: Option<NaiveDate>,
}

pub async fn insert_addon(txn: &impl ConnectionTrait, new: &NewAddon) -> Result<service_addon::Model, DbErr> {
    let now = Utc::now();
    service_addon::ActiveModel {
        service_id: Set(new.service_id),
        addon_id: Set(new.addon_id),
        order_id: Set(new.order_id),
        status: Set(new.status.key().to_owned()),
        billing_cycle: Set(new.cycle.key().to_owned()),
        recurring_minor: Set(new.recurring.minor()),
        registration_date: Set(new.registration_date),
        next_due_date: Set(new.next_due_date),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
}

pub async fn find(db: &impl ConnectionTrait, id: ServiceId) -> Result<Option<service::Model>, DbErr> {
    service::Entity::find_by_id(id).one(db).await
}

/// A client's services, newest first.
pub async fn for_client(db: &impl ConnectionTrait, client_id: ClientId) -> Result<Vec<service::Model>, DbErr> {
    service::Entity::find()
        .filter(service::Column::ClientId.eq(client_id))
        .order_by_desc(service::Column::Id)
        .limit(500)
        .all(db)
        .await
}

pub async fn for_order(db: &impl ConnectionTrait, order_id: OrderId) -> Result<Vec<service::Model>, DbErr> {
    service::Entity::find()
        .filter(service::Column::OrderId.eq(order_id))
        .order_by_asc(service::Column::Id)
        .all(db)
        .await
}

pub async fn options_of(db: &impl ConnectionTrait, id: ServiceId) -> Result<Vec<service_option::Model>, DbErr> {
    service_option::Entity::find().filter(service_option::Column::ServiceId.eq(id)).all(db).await
}

/// A service's option values as pricing choices.
pub async fn choices_of(db: &impl ConnectionTrait, id: ServiceId) -> Result<Vec<(ConfigOptionId, Choice)>, DbErr> {
    Ok(options_of(db, id)
        .await?
        .into_iter()
        .map(|o| {
            let choice = match o.value_id {
                Some(value) => Choice::Value(value),
                None => Choice::Quantity(i64::from(o.quantity)),
            };
            (o.option_id, choice)
        })
        .collect())
}

/// Option choices as people read them, (option, value) in the options' order: "Location",
/// "Paris"; "Extra disk", "2 GB"; a yes/no option "Yes". Choices of options that no longer
/// exist are left out.
pub async fn describe_choices(
    db: &impl ConnectionTrait,
    chosen: &[(ConfigOptionId, Choice)],
) -> Result<Vec<(String, String)>, DbErr> {
    let options: BTreeMap<ConfigOptionId, option::Model> = option::Entity::find()
        .filter(option::Column::Id.is_in(chosen.iter().map(|(id, _)| *id)))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let value_ids = chosen.iter().filter_map(|(_, c)| match c {
        Choice::Value(v) => Some(*v),
        Choice::Quantity(_) => None,
    });
    let values: BTreeMap<_, option_value::Model> = option_value::Entity::find()
        .filter(option_value::Column::Id.is_in(value_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let mut rows: Vec<(i32, (String, String))> = chosen
        .iter()
        .filter_map(|(option_id, choice)| {
            let o = options.get(option_id)?;
            let value = match (OptionKind::parse(&o.kind), choice) {
                (Some(OptionKind::Quantity), Choice::Quantity(n)) => {
                    format!("{n} {}", o.unit_label).trim_end().to_owned()
                }
                (Some(OptionKind::YesNo), Choice::Value(v)) if values.contains_key(v) => "Yes".to_owned(),
                (_, Choice::Value(v)) => values.get(v).map_or_else(|| "—".to_owned(), |v| v.label.clone()),
                (_, Choice::Quantity(n)) => n.to_string(),
            };
            Some((o.sort_order, (o.name.clone(), value)))
        })
        .collect();
    rows.sort_by_key(|(order, _)| *order);
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

pub async fn addons_of(db: &impl ConnectionTrait, id: ServiceId) -> Result<Vec<service_addon::Model>, DbErr> {
    service_addon::Entity::find()
        .filter(service_addon::Column::ServiceId.eq(id))
        .order_by_asc(service_addon::Column::Id)
        .all(db)
        .await
}

pub async fn find_addon(db: &impl ConnectionTrait, id: ServiceAddonId) -> Result<Option<service_addon::Model>, DbErr> {
    service_addon::Entity::find_by_id(id).one(db).await
}

/// The service added with the form submission `key`, if any.
pub async fn find_by_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<service::Model>, DbErr> {
    service::Entity::find().filter(service::Column::IdempotencyKey.eq(key)).one(db).await
}

/// Marks a service as added by the form submission `key`; a second service for the same key
/// fails on the unique index, so a double submit adds one service.
pub async fn set_idempotency_key(txn: &impl ConnectionTrait, id: ServiceId, key: &str) -> Result<(), DbErr> {
    service::Entity::update_many()
        .col_expr(service::Column::IdempotencyKey, Expr::value(key))
        .filter(service::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Records what the client paid for the period that began on `start` and ends on the next
/// due date (the first invoice, an applied upgrade, a renewal).
pub async fn set_paid_period(
    txn: &impl ConnectionTrait,
    id: ServiceId,
    start: NaiveDate,
    paid: Money,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::ExprTrait;
    let update = sea_orm::sea_query::Query::update()
        .table(service::Entity)
        .value(service::Column::PaidPeriodStart, start)
        .value(service::Column::PaidPeriodMinor, paid.minor())
        .and_where(sea_orm::sea_query::Expr::col(service::Column::Id).eq(id))
        .to_owned();
    txn.execute(&update).await?;
    Ok(())
}
