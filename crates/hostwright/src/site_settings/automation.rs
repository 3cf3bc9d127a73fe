//! The automation settings staff edit: when the daily run starts and how it bills. Stored as
//! one JSON value so every node reads the same.

use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

const KEY: &str = "automation";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutomationSettings {
    /// The hour (0–23, in the business's time zone) from which the daily run starts.
    pub run_hour: u32,
    /// Days before a service's due date its renewal invoice is made (a product may say
    /// otherwise).
    pub renewal_invoice_days: u32,
    /// One renewal invoice per client for everything due together, rather than one per
    /// service.
    pub group_renewals: bool,
    /// Days from an unpaid invoice's due date on which a reminder goes out: -7 a week
    /// before, 0 on the day, 3 three days late. Empty: no reminders.
    pub reminder_days: Vec<i32>,
    /// Days overdue before a service is suspended (a product may say otherwise); `None`:
    /// never automatically.
    pub suspend_after_days: Option<u32>,
    /// Days overdue before a service is terminated; `None`: never automatically.
    pub terminate_after_days: Option<u32>,
    /// Days after which an order nobody paid anything for is cancelled; `None`: kept.
    pub cancel_unpaid_orders_after_days: Option<u32>,
    /// Days overdue after which an unpaid invoice is charged a late fee; `None`: no fees.
    pub late_fee_after_days: Option<u32>,
    /// The fee's fixed part, in the invoice's currency (e.g. `5.00`).
    pub late_fee_fixed: String,
    /// The fee's share of what is still to pay, in percent (e.g. `2`).
    pub late_fee_percent: String,
    /// The least a late fee is, in the invoice's currency.
    pub late_fee_minimum: String,
    /// Days before an invoice's due date its automatic charge is first tried (0: on the day).
    pub auto_charge_days_before: u32,
    /// Days after the first automatic charge on which a failed one is tried again, e.g. 1,
    /// 3, 5. Empty: no retries.
    pub auto_charge_retry_days: Vec<u32>,
    /// Days a sent email is kept in the outbox (and the client's email log) before it is
    /// deleted.
    pub email_retention_days: u32,
    /// Days a cart nobody touched is kept before it is deleted.
    pub cart_retention_days: u32,
}

impl Default for AutomationSettings {
    fn default() -> Self {
        Self {
            run_hour: 3,
            renewal_invoice_days: 14,
            group_renewals: true,
            reminder_days: vec![-7, 0, 1, 3, 7],
            suspend_after_days: Some(7),
            terminate_after_days: None,
            cancel_unpaid_orders_after_days: None,
            late_fee_after_days: None,
            late_fee_fixed: "0".into(),
            late_fee_percent: "0".into(),
            late_fee_minimum: "0".into(),
            auto_charge_days_before: 0,
            auto_charge_retry_days: vec![1, 3, 5],
            email_retention_days: 365,
            cart_retention_days: 30,
        }
    }
}

pub async fn load(db: &impl ConnectionTrait) -> Result<AutomationSettings, DbErr> {
    super::load_json(db, KEY).await
}

pub async fn save(db: &impl ConnectionTrait, settings: &AutomationSettings) -> Result<(), DbErr> {
    super::save_json(db, KEY, settings).await
}
