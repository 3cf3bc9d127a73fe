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
}

impl Default for AutomationSettings {
    fn default() -> Self {
        Self { run_hour: 3, renewal_invoice_days: 14, group_renewals: true }
    }
}

pub async fn load(db: &impl ConnectionTrait) -> Result<AutomationSettings, DbErr> {
    crate::site_settings::load_json(db, KEY).await
}

pub async fn save(db: &impl ConnectionTrait, settings: &AutomationSettings) -> Result<(), DbErr> {
    crate::site_settings::save_json(db, KEY, settings).await
}
