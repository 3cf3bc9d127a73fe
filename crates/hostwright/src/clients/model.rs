//! Client accounts (the customers of the hosting business).

pub mod client {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientGroupId, ClientId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clients")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ClientId,
        #[sea_orm(unique)]
        pub email: String,
        pub first_name: String,
        pub last_name: String,
        pub company_name: String,
        pub password_hash: Option<String>,
        pub status: String,
        pub email_verified_at: Option<DateTimeUtc>,
        pub totp_secret: Option<String>,
        pub totp_enabled_at: Option<DateTimeUtc>,
        pub totp_last_step: Option<i64>,
        pub last_login_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub group_id: Option<ClientGroupId>,
        pub phone: String,
        pub address1: String,
        pub address2: String,
        pub city: String,
        pub region: String,
        pub postcode: String,
        /// ISO 3166-1 alpha-2, or empty when unknown.
        pub country: String,
        pub tax_id: String,
        /// ISO 4217, or empty for the installation's default currency.
        pub currency_code: String,
        pub language: String,
        /// Lower-cased name, company and email, for the admin search.
        pub search_text: String,
        pub anonymised_at: Option<DateTimeUtc>,
        pub tax_exempt: bool,
        /// Never suspended or terminated automatically for non-payment.
        pub automation_exempt: bool,
        /// Unpaid invoices are charged to the default saved payment method when due.
        pub auto_pay: bool,
        /// A key of `clients::admin::PAYMENT_METHODS`, or empty for no preference.
        pub payment_method: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        pub fn full_name(&self) -> String {
            format!("{} {}", self.first_name, self.last_name).trim().to_owned()
        }
    }
}

pub mod group {
    use sea_orm::entity::prelude::*;

    use crate::ids::ClientGroupId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_groups")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ClientGroupId,
        #[sea_orm(unique)]
        pub name: String,
        /// A decimal percentage, e.g. "10" or "12.5".
        pub discount_percent: String,
        pub exempt_from_fees: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod note {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, ClientNoteId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ClientNoteId,
        pub client_id: ClientId,
        pub staff_id: Option<i64>,
        pub staff_name: String,
        pub body: String,
        pub pinned: bool,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod contact {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, ContactId};

    /// A contact of a client account; with `login_enabled`, a sub-user.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_contacts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ContactId,
        pub client_id: ClientId,
        pub first_name: String,
        pub last_name: String,
        pub email: String,
        pub phone: String,
        pub receives_billing: bool,
        pub receives_technical: bool,
        pub receives_general: bool,
        pub login_enabled: bool,
        /// Comma-separated keys of `clients::contacts::PERMISSIONS`.
        pub permissions: String,
        pub password_hash: Option<String>,
        pub totp_secret: Option<String>,
        pub totp_enabled_at: Option<DateTimeUtc>,
        pub totp_last_step: Option<i64>,
        pub last_login_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        pub fn full_name(&self) -> String {
            format!("{} {}", self.first_name, self.last_name).trim().to_owned()
        }

        pub fn may(&self, permission: &str) -> bool {
            self.permissions.split(',').any(|p| p == permission)
        }
    }
}

pub mod field {
    use sea_orm::entity::prelude::*;

    use crate::ids::ClientFieldId;

    /// A custom client field staff define (decision 0010).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_fields")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ClientFieldId,
        #[sea_orm(unique)]
        pub name: String,
        /// A `clients::fields::FieldType` key; never changes.
        pub field_type: String,
        /// Dropdowns only: the choices, one per line.
        pub options: String,
        /// Help shown under the field.
        pub description: String,
        /// A `clients::fields::Visibility` key.
        pub visibility: String,
        pub required: bool,
        pub sort_order: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// The choices of a dropdown, in order.
        pub fn choices(&self) -> Vec<&str> {
            self.options.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
        }
    }
}

pub mod field_value {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientFieldId, ClientId};

    /// A client's value of a custom field; there is no row for an empty value.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_field_values")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: ClientId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub field_id: ClientFieldId,
        pub value: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
