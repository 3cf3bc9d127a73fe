//! Contacts of a client account: people who receive its billing, technical or general
//! email, and sub-users who sign in to the account with the permissions the owner gives them;
//! and the client's preferred payment method.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // How the client prefers to pay (a key of `clients::admin::PAYMENT_METHODS`; empty = none).
        m.alter_table(
            Table::alter().table("clients").add_column(string("payment_method").default("").to_owned()).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("client_contacts")
                .col(pk_auto("id").big_integer())
                .col(big_integer("client_id"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(string("email"))
                .col(string("phone").default(""))
                .col(boolean("receives_billing").default(false))
                .col(boolean("receives_technical").default(false))
                .col(boolean("receives_general").default(false))
                // A sub-user signs in with this email and their own password and second factor.
                .col(boolean("login_enabled").default(false))
                .col(string("permissions").default(""))
                .col(string_null("password_hash"))
                .col(string_null("totp_secret"))
                .col(timestamp_with_time_zone_null("totp_enabled_at"))
                .col(big_integer_null("totp_last_step"))
                .col(timestamp_with_time_zone_null("last_login_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(ForeignKey::create().from("client_contacts", "client_id").to("clients", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("client_contacts_client").table("client_contacts").col("client_id").to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("client_contacts_email").table("client_contacts").col("email").to_owned())
            .await?;
        // One sign-in per address: two sub-users cannot share an email (plain contacts may).
        // The same partial-index statement works on SQLite and PostgreSQL.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX client_contacts_login_email ON client_contacts (email) WHERE login_enabled",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
