//! Gateway settings, payment records, webhook events, the gateways' customers and saved
//! payment methods (decision 0020).

pub mod gateway {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_gateways")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub enabled: bool,
        pub display_name: String,
        /// ISO codes separated by commas; empty means every currency.
        pub currencies: String,
        pub test_mode: bool,
        /// Options that are not secret, as JSON.
        pub options: String,
        /// The secrets as JSON, encrypted with the installation key; empty when none.
        pub secrets: String,
        pub sort_order: i32,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payment {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, GatewayPaymentId, InvoiceId, PaymentMethodId};
    use crate::payments::status::PaymentStatus;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: GatewayPaymentId,
        pub client_id: ClientId,
        pub invoice_id: Option<InvoiceId>,
        pub gateway: String,
        pub kind: String,
        pub status: PaymentStatus,
        pub amount_minor: i64,
        pub currency_code: String,
        pub refunded_minor: i64,
        pub gateway_ref: Option<String>,
        pub session_ref: Option<String>,
        pub method_id: Option<PaymentMethodId>,
        #[sea_orm(unique)]
        pub attempt_key: String,
        pub flag: String,
        pub error: String,
        pub applied_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod event {
    use sea_orm::entity::prelude::*;

    use crate::ids::{GatewayPaymentId, PaymentEventId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: PaymentEventId,
        pub gateway: String,
        pub event_id: String,
        pub event_type: String,
        pub payment_id: Option<GatewayPaymentId>,
        pub payload: String,
        pub received_at: DateTimeUtc,
        pub processed_at: Option<DateTimeUtc>,
        pub outcome: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod customer {
    use sea_orm::entity::prelude::*;

    use crate::ids::ClientId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "gateway_customers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: ClientId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub gateway: String,
        pub customer_ref: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod method {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, PaymentMethodId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_methods")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: PaymentMethodId,
        pub client_id: ClientId,
        pub gateway: String,
        pub method_ref: String,
        pub brand: String,
        pub last4: String,
        pub exp_month: i32,
        pub exp_year: i32,
        pub is_default: bool,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refund {
    use sea_orm::entity::prelude::*;

    use crate::ids::{CreditNoteId, GatewayPaymentId, PaymentRefundId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_refunds")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: PaymentRefundId,
        pub payment_id: GatewayPaymentId,
        pub credit_note_id: Option<CreditNoteId>,
        pub amount_minor: i64,
        pub status: String,
        pub refund_ref: Option<String>,
        pub reason: String,
        pub error: String,
        pub staff_id: Option<i64>,
        #[sea_orm(unique)]
        pub idempotency_key: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
