//! Ordering settings staff edit: the terms a client accepts at checkout, whether paid orders
//! are accepted automatically, what a downgrade's unused credit becomes. One JSON value in
//! `site_settings`, like the billing settings, so every node reads the same.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};

use crate::site_settings::{ActiveModel, Column, Entity};

const KEY: &str = "ordering";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderSettings {
    /// The terms of service a client must accept to order; empty = no terms to accept.
    pub terms_url: String,
    /// Accept an order (and set up its services) as soon as its first invoice is paid.
    pub auto_accept_paid: bool,
    /// A downgrade's unused credit goes to the client's account credit (otherwise it lapses).
    pub downgrade_credit_to_account: bool,
    /// Days until an order's first invoice is due.
    pub first_invoice_due_days: u32,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            terms_url: String::new(),
            auto_accept_paid: true,
            downgrade_credit_to_account: true,
            first_invoice_due_days: 0,
        }
    }
}

pub async fn load(db: &impl ConnectionTrait) -> Result<OrderSettings, DbErr> {
    let row = Entity::find_by_id(KEY.to_owned()).one(db).await?;
    Ok(row.and_then(|r| serde_json::from_str(&r.value).ok()).unwrap_or_default())
}

pub async fn save(db: &impl ConnectionTrait, settings: &OrderSettings) -> Result<(), DbErr> {
    let value = serde_json::to_string(settings).map_err(|e| DbErr::Custom(e.to_string()))?;
    Entity::insert(ActiveModel { key: Set(KEY.into()), value: Set(value), updated_at: Set(Utc::now()) })
        .on_conflict(OnConflict::column(Column::Key).update_columns([Column::Value, Column::UpdatedAt]).to_owned())
        .exec(db)
        .await?;
    Ok(())
}
