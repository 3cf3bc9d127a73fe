//! Coupons, carts, orders and coupon uses.

pub mod coupon {
    use sea_orm::entity::prelude::*;

    use crate::ids::CouponId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "coupons")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: CouponId,
        /// Upper-case.
        pub code: String,
        /// `percent` or `fixed`.
        pub kind: String,
        /// Percent coupons: a decimal such as "12.5".
        pub percent: String,
        /// Fixed coupons: the amount off each line, in `currency_code`.
        pub amount_minor: i64,
        pub currency_code: String,
        /// JSON lists; empty means "all".
        pub product_ids: String,
        pub cycles: String,
        pub addon_ids: String,
        pub applies_to_setup: bool,
        /// `once` or `recurring`.
        pub recurrence: String,
        /// Recurring coupons: renewals discounted; `None` = forever.
        pub recurring_limit: Option<i32>,
        pub starts_on: Option<Date>,
        pub expires_on: Option<Date>,
        pub max_uses: Option<i32>,
        pub max_uses_per_client: Option<i32>,
        pub uses: i32,
        pub new_clients_only: bool,
        pub active: bool,
        pub notes: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod coupon_use {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, CouponId, OrderId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "coupon_uses")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub coupon_id: CouponId,
        pub client_id: ClientId,
        pub order_id: OrderId,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cart {
    use sea_orm::entity::prelude::*;

    use crate::ids::{CartId, ClientId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "carts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: CartId,
        /// SHA-256 of the cart cookie's token.
        pub token_hash: String,
        pub client_id: Option<ClientId>,
        pub currency_code: String,
        /// The visitor's country (taxes before sign-in); a client's own address wins.
        pub country: String,
        pub coupon_code: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cart_item {
    use sea_orm::entity::prelude::*;

    use crate::ids::{CartId, CartItemId, ProductId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cart_items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: CartItemId,
        pub cart_id: CartId,
        pub product_id: ProductId,
        /// A `BillingCycle` key.
        pub cycle: String,
        pub quantity: i32,
        pub domain: String,
        pub hostname: String,
        /// The root password chosen for a server, encrypted with the installation key.
        pub password_enc: Option<String>,
        /// JSON: the option choices (see `orders::cart::StoredChoice`).
        pub choices: String,
        /// JSON: add-on ids.
        pub addon_ids: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod order {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, CouponId, InvoiceId, OrderId};
    use crate::orders::status::OrderStatus;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: OrderId,
        pub number: String,
        pub client_id: ClientId,
        pub status: OrderStatus,
        pub currency_code: String,
        pub invoice_id: Option<InvoiceId>,
        pub coupon_id: Option<CouponId>,
        pub subtotal_minor: i64,
        pub discount_minor: i64,
        pub tax_minor: i64,
        pub total_minor: i64,
        pub payment_method: String,
        pub ip: String,
        pub idempotency_key: String,
        pub notes: String,
        /// The terms of service the client accepted at checkout (empty when none were set).
        pub terms_accepted_url: String,
        pub terms_accepted_at: Option<DateTimeUtc>,
        pub accepted_at: Option<DateTimeUtc>,
        pub cancelled_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
