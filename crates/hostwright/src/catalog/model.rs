//! Currencies, product groups, products and prices; configurable options, add-ons and
//! upgrade paths (decision 0009).

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
        /// The product's settings for its module (its `product_fields`), as a JSON object.
        pub module_settings: String,
        /// The group a new account's server is taken from.
        pub server_group_id: Option<crate::ids::ServerGroupId>,
        /// Days before the due date a renewal invoice is made; `None` = the automation setting.
        pub renewal_invoice_days: Option<i32>,
        /// Days overdue before the daily run suspends; `None` = the automation setting.
        pub overdue_suspend_days: Option<i32>,
        pub sort_order: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// The billing day of a service of this product started on `start`: the pro-rata billing
        /// day, or the day it started.
        pub fn billing_day_on(&self, start: chrono::NaiveDate) -> u32 {
            use chrono::Datelike;
            if self.prorata_enabled { u32::try_from(self.prorata_day).unwrap_or(1) } else { start.day() }
        }
    }
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

/// A price table row of an option value or an add-on: the same shape as `product_prices`.
macro_rules! price_entity {
    ($table:literal, $owner:ident, $owner_ty:ty) => {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = $table)]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub $owner: $owner_ty,
            #[sea_orm(primary_key, auto_increment = false)]
            pub currency_code: String,
            /// A `BillingCycle` key.
            #[sea_orm(primary_key, auto_increment = false)]
            pub cycle: String,
            pub price_minor: i64,
            pub setup_fee_minor: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod option_group {
    use sea_orm::entity::prelude::*;

    use crate::ids::ConfigOptionGroupId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "config_option_groups")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ConfigOptionGroupId,
        pub name: String,
        pub description: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Which products an option group is offered with.
pub mod option_group_product {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ConfigOptionGroupId, ProductId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "config_option_group_products")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: ConfigOptionGroupId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub product_id: ProductId,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod option {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ConfigOptionGroupId, ConfigOptionId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "config_options")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ConfigOptionId,
        pub group_id: ConfigOptionGroupId,
        pub name: String,
        /// An `OptionKind` key.
        pub kind: String,
        pub sort_order: i32,
        pub hidden: bool,
        pub quantity_min: i32,
        pub quantity_max: i32,
        pub quantity_step: i32,
        pub unit_label: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod option_value {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ConfigOptionId, ConfigOptionValueId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "config_option_values")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ConfigOptionValueId,
        pub option_id: ConfigOptionId,
        pub label: String,
        pub sort_order: i32,
        pub hidden: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The price of one option value in one currency and cycle; per unit for quantity options.
pub mod option_price {
    use crate::ids::ConfigOptionValueId;

    price_entity!("config_option_prices", value_id, ConfigOptionValueId);
}

pub mod addon {
    use sea_orm::entity::prelude::*;

    use crate::ids::AddonId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "addons")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: AddonId,
        pub name: String,
        pub description: String,
        /// A `PaymentType` key.
        pub payment_type: String,
        pub taxable: bool,
        pub hidden: bool,
        pub retired: bool,
        /// An `AddonWelcome` key.
        pub welcome_email: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Which products an add-on can be ordered with.
pub mod addon_product {
    use sea_orm::entity::prelude::*;

    use crate::ids::{AddonId, ProductId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "addon_products")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub addon_id: AddonId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub product_id: ProductId,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod addon_price {
    use crate::ids::AddonId;

    price_entity!("addon_prices", addon_id, AddonId);
}

/// The products a product may be upgraded or downgraded to.
pub mod upgrade {
    use sea_orm::entity::prelude::*;

    use crate::ids::ProductId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "product_upgrades")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub product_id: ProductId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub target_product_id: ProductId,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
