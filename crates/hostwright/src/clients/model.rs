//! Client accounts (the customers of the hosting business).

pub mod client {
    use sea_orm::entity::prelude::*;

    use crate::ids::ClientId;

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
