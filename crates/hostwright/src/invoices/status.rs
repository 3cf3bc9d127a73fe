//! Where an invoice is in its life, stored as the same words as before (no migration).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Being written; no number, not shown to the client.
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "unpaid")]
    Unpaid,
    #[sea_orm(string_value = "paid")]
    Paid,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    #[sea_orm(string_value = "refunded")]
    Refunded,
    /// Overdue and handed on; still payable.
    #[sea_orm(string_value = "collections")]
    Collections,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 6] = [
        InvoiceStatus::Draft,
        InvoiceStatus::Unpaid,
        InvoiceStatus::Paid,
        InvoiceStatus::Cancelled,
        InvoiceStatus::Refunded,
        InvoiceStatus::Collections,
    ];

    /// The stored word, as filters and templates use it.
    pub fn key(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Unpaid => "unpaid",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Cancelled => "cancelled",
            InvoiceStatus::Refunded => "refunded",
            InvoiceStatus::Collections => "collections",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Whether money may still be received on it.
    pub fn is_payable(self) -> bool {
        matches!(self, InvoiceStatus::Unpaid | InvoiceStatus::Collections)
    }
}

impl std::fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_stored_word() {
        for status in InvoiceStatus::ALL {
            assert_eq!(InvoiceStatus::parse(status.key()), Some(status));
            assert_eq!(status.to_value(), status.key());
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::Value::from(status.key())));
        }
    }
}
