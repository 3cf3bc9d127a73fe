//! Invoices, lines, tax lines, payments, tax rules, credit notes and account credit.

pub mod invoice {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, InvoiceId};
    use crate::invoices::status::InvoiceStatus;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoices")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: InvoiceId,
        pub client_id: ClientId,
        /// The legal number, given when the invoice is issued (or paid, in proforma mode).
        pub number: Option<String>,
        pub proforma_number: Option<String>,
        pub status: InvoiceStatus,
        pub currency_code: String,
        pub issue_date: Option<Date>,
        pub due_date: Date,
        pub paid_date: Option<Date>,
        pub subtotal_minor: i64,
        pub discount_minor: i64,
        pub tax_minor: i64,
        pub total_minor: i64,
        pub credit_applied_minor: i64,
        pub amount_paid_minor: i64,
        /// What credit notes took off the invoice.
        pub credited_minor: i64,
        /// What of the money received (payments, applied credit) was given back by credit notes.
        pub refunded_minor: i64,
        pub price_mode: String,
        pub tax_treatment: String,
        pub reverse_charge: bool,
        /// The buyer's details as they were when the invoice was issued (JSON).
        pub buyer: String,
        /// The seller's details as they were when the invoice was issued (JSON).
        pub seller: String,
        pub notes: String,
        pub pdf_key: Option<String>,
        pub issued_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// The form submission that asked for this invoice (a client adding funds), unique.
        pub request_key: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// What is still owed: the total, less credit notes, less what was received and kept.
        pub fn balance_minor(&self) -> i64 {
            self.total_minor - self.credited_minor - self.received_minor()
        }

        /// Money received (payments and applied account credit) and not given back.
        pub fn received_minor(&self) -> i64 {
            self.credit_applied_minor + self.amount_paid_minor - self.refunded_minor
        }

        /// The number people see: the legal one, else the proforma one, else "Draft".
        pub fn display_number(&self) -> String {
            self.number
                .clone()
                .or_else(|| self.proforma_number.clone())
                .unwrap_or_else(|| format!("Draft #{}", self.id))
        }
    }
}

pub mod line {
    use sea_orm::entity::prelude::*;

    use crate::ids::{InvoiceId, InvoiceLineId, ServiceAddonId, ServiceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoice_lines")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: InvoiceLineId,
        pub invoice_id: InvoiceId,
        pub position: i32,
        pub kind: String,
        pub description: String,
        /// A decimal quantity as text.
        pub quantity: String,
        pub unit_price_minor: i64,
        pub amount_minor: i64,
        pub discount_minor: i64,
        pub tax_minor: i64,
        pub taxed: bool,
        /// The service (or add-on of a service) the line bills, and for which period.
        pub service_id: Option<ServiceId>,
        pub service_addon_id: Option<ServiceAddonId>,
        pub period_start: Option<Date>,
        pub period_end: Option<Date>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tax_line {
    use sea_orm::entity::prelude::*;

    use crate::ids::InvoiceId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoice_tax_lines")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub invoice_id: InvoiceId,
        pub name: String,
        pub rate: String,
        pub level: i16,
        pub base_minor: i64,
        pub amount_minor: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payment {
    use sea_orm::entity::prelude::*;

    use crate::ids::{InvoiceId, PaymentId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoice_payments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: PaymentId,
        pub invoice_id: InvoiceId,
        pub amount_minor: i64,
        pub fee_minor: i64,
        pub method: String,
        pub reference: String,
        pub paid_on: Date,
        pub staff_id: Option<i64>,
        #[sea_orm(unique)]
        pub idempotency_key: String,
        pub created_at: DateTimeUtc,
        /// The gateway payment this records, when it came through a gateway.
        pub payment_id: Option<crate::ids::GatewayPaymentId>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tax_rule {
    use sea_orm::entity::prelude::*;

    use crate::ids::TaxRuleId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tax_rules")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: TaxRuleId,
        pub name: String,
        /// ISO country code, or empty for every country.
        pub country: String,
        pub region: String,
        /// A percentage as decimal text.
        pub rate: String,
        pub level: i16,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod credit_note {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, CreditNoteId, InvoiceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credit_notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: CreditNoteId,
        #[sea_orm(unique)]
        pub number: String,
        pub invoice_id: InvoiceId,
        pub client_id: ClientId,
        pub currency_code: String,
        pub issue_date: Date,
        pub reason: String,
        pub net_minor: i64,
        pub tax_minor: i64,
        pub total_minor: i64,
        /// The part of the total that reduced what the invoice still owed.
        pub settled_minor: i64,
        /// The part given back to the client.
        pub refunded_minor: i64,
        /// How it was given back: `account_credit`, `external`, or empty.
        pub refund_method: String,
        pub reverse_charge: bool,
        /// The buyer as printed on the invoice (JSON).
        pub buyer: String,
        /// The seller when the note was issued (JSON).
        pub seller: String,
        pub pdf_key: Option<String>,
        pub staff_id: Option<i64>,
        #[sea_orm(unique)]
        pub idempotency_key: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod credit_note_line {
    use sea_orm::entity::prelude::*;

    use crate::ids::{CreditNoteId, InvoiceLineId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credit_note_lines")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub credit_note_id: CreditNoteId,
        pub invoice_line_id: InvoiceLineId,
        pub position: i32,
        pub description: String,
        pub net_minor: i64,
        pub tax_minor: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod credit_note_tax_line {
    use sea_orm::entity::prelude::*;

    use crate::ids::CreditNoteId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credit_note_tax_lines")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub credit_note_id: CreditNoteId,
        pub invoice_tax_line_id: i64,
        pub name: String,
        pub rate: String,
        pub level: i16,
        pub base_minor: i64,
        pub amount_minor: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod credit_balance {
    use sea_orm::entity::prelude::*;

    use crate::ids::ClientId;

    /// A client's account credit in one currency.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_credit_balances")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: ClientId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub currency_code: String,
        pub balance_minor: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod credit_entry {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, CreditEntryId, CreditNoteId, InvoiceId};

    /// One movement of a client's account credit; the ledger is append-only.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_credit_entries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: CreditEntryId,
        pub client_id: ClientId,
        pub currency_code: String,
        /// Positive when credit is added, negative when it is used or removed.
        pub amount_minor: i64,
        pub balance_after_minor: i64,
        pub kind: String,
        pub reason: String,
        pub invoice_id: Option<InvoiceId>,
        pub credit_note_id: Option<CreditNoteId>,
        pub staff_id: Option<i64>,
        pub staff_name: String,
        pub idempotency_key: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
