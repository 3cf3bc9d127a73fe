//! Where a payment is at its gateway, stored as the same words as before (no migration).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Written before the gateway was called; waiting for the client or the gateway.
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    /// The gateway did not answer; a job asks it later.
    #[sea_orm(string_value = "unknown")]
    Unknown,
    #[sea_orm(string_value = "expired")]
    Expired,
    #[sea_orm(string_value = "partially_refunded")]
    PartiallyRefunded,
    #[sea_orm(string_value = "refunded")]
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 7] = [
        PaymentStatus::Pending,
        PaymentStatus::Succeeded,
        PaymentStatus::Failed,
        PaymentStatus::Unknown,
        PaymentStatus::Expired,
        PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded,
    ];

    /// The stored word, as filters and templates use it.
    pub fn key(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Unknown => "unknown",
            PaymentStatus::Expired => "expired",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "Pending",
            PaymentStatus::Succeeded => "Succeeded",
            PaymentStatus::Failed => "Failed",
            PaymentStatus::Unknown => "Unknown (being checked)",
            PaymentStatus::Expired => "Expired",
            PaymentStatus::PartiallyRefunded => "Partially refunded",
            PaymentStatus::Refunded => "Refunded",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_stored_word() {
        for status in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(status.key()), Some(status));
            assert_eq!(status.to_value(), status.key());
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::Value::from(status.key())));
        }
    }
}
