//! Ordering settings staff edit: the terms a client accepts at checkout, whether paid orders
//! are accepted automatically, what a downgrade's unused credit becomes. One JSON value in
//! `site_settings`, like the billing settings, so every node reads the same.

use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

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
    super::load_json(db, KEY).await
}

pub async fn save(db: &impl ConnectionTrait, settings: &OrderSettings) -> Result<(), DbErr> {
    super::save_json(db, KEY, settings).await
}
