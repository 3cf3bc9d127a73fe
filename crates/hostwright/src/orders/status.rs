//! Where an order is in its life, stored as the same words as before (no migration).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed; waiting for payment or for staff to accept it.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Accepted: its services are set up (or being set up).
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    /// Marked as fraud by staff; its services are never set up.
    #[sea_orm(string_value = "fraud")]
    Fraud,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] =
        [OrderStatus::Pending, OrderStatus::Active, OrderStatus::Cancelled, OrderStatus::Fraud];

    /// The stored word, as filters and templates use it.
    pub fn key(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Active => "active",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Fraud => "fraud",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_stored_word() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.key()), Some(status));
            assert_eq!(status.to_value(), status.key());
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::Value::from(status.key())));
        }
    }
}
