//! Billing settings staff edit: who issues the invoices, how they are numbered, when they
//! fall due, how prices are meant. Stored as one JSON value so every node reads the same.

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};

const KEY: &str = "billing";

/// The seller's identity and the numbering rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingSettings {
    pub company_name: String,
    /// Street, postcode and city, one per line.
    pub address: String,
    /// ISO 3166-1 alpha-2 of the seller, for tax decisions.
    pub country: String,
    pub tax_id: String,
    pub registration: String,
    pub email: String,
    pub invoice_pattern: String,
    pub invoice_yearly_reset: bool,
    pub credit_note_pattern: String,
    /// Unpaid invoices carry a proforma number; the legal number comes with payment.
    pub proforma_mode: bool,
    pub proforma_pattern: String,
    pub default_due_days: u32,
    /// Whether catalog prices include tax.
    pub prices_include_tax: bool,
    /// The business's IANA time zone: invoice, due and payment dates are calendar dates there.
    pub time_zone: String,
}

impl BillingSettings {
    /// The business's time zone (UTC when the stored name is unknown).
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::UTC)
    }

    /// Today's date where the business is.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.tz()).date_naive()
    }
}

/// Checks a time zone name staff typed (e.g. `Europe/Berlin`).
pub fn parse_time_zone(name: &str) -> Result<Tz, &'static str> {
    name.trim().parse().map_err(|_| "Enter a time zone from the IANA database, e.g. Europe/Berlin or America/New_York.")
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            company_name: String::new(),
            address: String::new(),
            country: String::new(),
            tax_id: String::new(),
            registration: String::new(),
            email: String::new(),
            invoice_pattern: "{YYYY}-{SEQ:5}".into(),
            invoice_yearly_reset: true,
            credit_note_pattern: "CN-{YYYY}-{SEQ:5}".into(),
            proforma_mode: false,
            proforma_pattern: "PF-{SEQ:6}".into(),
            default_due_days: 14,
            prices_include_tax: false,
            time_zone: "UTC".into(),
        }
    }
}

pub async fn load(db: &impl ConnectionTrait) -> Result<BillingSettings, DbErr> {
    crate::site_settings::load_json(db, KEY).await
}

pub async fn save(db: &impl ConnectionTrait, settings: &BillingSettings) -> Result<(), DbErr> {
    crate::site_settings::save_json(db, KEY, settings).await
}
