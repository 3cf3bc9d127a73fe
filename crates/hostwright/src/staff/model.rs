//! Staff members and their roles.

pub mod staff {
    use sea_orm::entity::prelude::*;

    use crate::ids::{RoleId, StaffId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "staff")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: StaffId,
        #[sea_orm(unique)]
        pub email: String,
        pub name: String,
        pub password_hash: Option<String>,
        pub role_id: RoleId,
        pub status: String,
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
}

pub mod role {
    use sea_orm::entity::prelude::*;

    use crate::ids::RoleId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "staff_roles")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: RoleId,
        #[sea_orm(unique)]
        pub name: String,
        pub description: String,
        pub all_permissions: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod role_permission {
    use sea_orm::entity::prelude::*;

    use crate::ids::RoleId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "staff_role_permissions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: RoleId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub permission: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
