//! Services, their option values and add-ons, cancellation requests and upgrades.

pub mod service {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, CouponId, OrderId, ProductId, ServiceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "services")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ServiceId,
        pub client_id: ClientId,
        pub order_id: Option<OrderId>,
        pub product_id: ProductId,
        /// See `services::status::Status`.
        pub status: String,
        pub currency_code: String,
        /// A `BillingCycle` key.
        pub billing_cycle: String,
        /// The price of one period, locked when ordered (options included).
        pub recurring_minor: i64,
        pub first_payment_minor: i64,
        pub use_current_price: bool,
        pub registration_date: Date,
        pub next_due_date: Option<Date>,
        pub next_invoice_date: Option<Date>,
        /// The day of month (1–31) its periods start on, clamped in shorter months; `None` on
        /// services older than the column until they are next edited (their registration day).
        pub billing_day: Option<i32>,
        pub domain: String,
        pub hostname: String,
        pub username: String,
        /// Encrypted with the installation key; never shown in lists or logs.
        pub password_enc: Option<String>,
        pub server_id: Option<crate::ids::ServerId>,
        pub notes: String,
        pub suspend_reason: String,
        pub suspended_on: Option<Date>,
        pub terminated_on: Option<Date>,
        pub cancelled_on: Option<Date>,
        pub coupon_id: Option<CouponId>,
        pub coupon_renewals_left: Option<i32>,
        /// When the period ending on `next_due_date` began, and what was paid for it (after
        /// discounts, before tax); `None` = one cycle at the recurring amount.
        pub paid_period_start: Option<Date>,
        pub paid_period_minor: Option<i64>,
        /// Set when staff add the service by hand: one service per submission of that form.
        pub idempotency_key: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod service_option {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ConfigOptionId, ConfigOptionValueId, ServiceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_options")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub service_id: ServiceId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub option_id: ConfigOptionId,
        pub value_id: Option<ConfigOptionValueId>,
        pub quantity: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod service_addon {
    use sea_orm::entity::prelude::*;

    use crate::ids::{AddonId, OrderId, ServiceAddonId, ServiceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_addons")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ServiceAddonId,
        pub service_id: ServiceId,
        pub addon_id: AddonId,
        pub order_id: Option<OrderId>,
        pub status: String,
        pub billing_cycle: String,
        pub recurring_minor: i64,
        pub registration_date: Date,
        pub next_due_date: Option<Date>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cancellation {
    use sea_orm::entity::prelude::*;

    use crate::ids::{CancellationRequestId, ServiceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cancellation_requests")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: CancellationRequestId,
        pub service_id: ServiceId,
        /// `immediate` or `end_of_period`.
        pub kind: String,
        pub reason: String,
        /// `open`, `done` (acted on), `withdrawn` (by the client) or `rejected` (by staff).
        pub status: String,
        pub requested_by: String,
        pub created_at: DateTimeUtc,
        pub resolved_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod upgrade {
    use sea_orm::entity::prelude::*;

    use crate::ids::{InvoiceId, ProductId, ServiceId, ServiceUpgradeId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_upgrades")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ServiceUpgradeId,
        pub service_id: ServiceId,
        pub invoice_id: Option<InvoiceId>,
        /// `pending` (its invoice is unpaid), `applied` or `cancelled`.
        pub status: String,
        pub from_product_id: ProductId,
        pub to_product_id: ProductId,
        pub from_cycle: String,
        pub to_cycle: String,
        /// JSON option choices, as in cart items.
        pub choices: String,
        pub new_recurring_minor: i64,
        /// The day the change was priced for.
        pub effective_on: Date,
        pub new_next_due_date: Date,
        pub credit_minor: i64,
        pub charge_minor: i64,
        pub account_credit_minor: i64,
        pub idempotency_key: String,
        pub applied_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
