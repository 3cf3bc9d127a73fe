//! Invoices, lines, tax lines, payments, tax rules and number series.

pub mod invoice {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, InvoiceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoices")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: InvoiceId,
        pub client_id: ClientId,
        /// The legal number, given when the invoice is issued (or paid, in proforma mode).
        pub number: Option<String>,
        pub proforma_number: Option<String>,
        pub status: String,
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
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// What is still owed.
        pub fn balance_minor(&self) -> i64 {
            self.total_minor - self.credit_applied_minor - self.amount_paid_minor
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

    use crate::ids::{InvoiceId, InvoiceLineId};

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
