//! Currencies, product groups, products and prices.

pub mod currency {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "currencies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub exponent: i16,
        pub rounding_mode: String,
        pub rounding_increment: i32,
        pub is_default: bool,
        /// Units of this currency per unit of the default currency (decimal text).
        pub rate: String,
        pub rate_updated_at: DateTimeUtc,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod group {
    use sea_orm::entity::prelude::*;

    use crate::ids::ProductGroupId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "product_groups")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ProductGroupId,
        pub name: String,
        pub headline: String,
        pub sort_order: i32,
        pub visible: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod product {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ProductGroupId, ProductId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ProductId,
        pub group_id: ProductGroupId,
        pub name: String,
        pub product_type: String,
        pub description: String,
        pub payment_type: String,
        pub taxable: bool,
        pub hidden: bool,
        pub retired: bool,
        pub stock_enabled: bool,
        pub stock_quantity: i32,
        pub prorata_enabled: bool,
        pub prorata_day: i16,
        pub prorata_cutoff_day: Option<i16>,
        pub module: String,
        pub module_settings: String,
        pub sort_order: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod price {
    use sea_orm::entity::prelude::*;

    use crate::ids::ProductId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "product_prices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub product_id: ProductId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub currency_code: String,
        /// A `BillingCycle` key: `monthly`, `annually`, `one_time` …
        #[sea_orm(primary_key, auto_increment = false)]
        pub cycle: String,
        pub price_minor: i64,
        pub setup_fee_minor: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
