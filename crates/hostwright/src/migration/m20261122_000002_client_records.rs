//! Client records for the admin area: contact details, groups, notes, search.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("client_groups")
                .col(pk_auto("id").big_integer())
                .col(string_uniq("name"))
                .col(string("discount_percent").default("0"))
                .col(boolean("exempt_from_fees").default(false))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        // SQLite adds one column per ALTER TABLE.
        let columns: [ColumnDef; 13] = [
            big_integer_null("group_id"),
            string("phone").default("").to_owned(),
            string("address1").default("").to_owned(),
            string("address2").default("").to_owned(),
            string("city").default("").to_owned(),
            string("region").default("").to_owned(),
            string("postcode").default("").to_owned(),
            string("country").default("").to_owned(),
            string("tax_id").default("").to_owned(),
            string("currency_code").default("").to_owned(),
            string("language").default("en").to_owned(),
            string("search_text").default("").to_owned(),
            timestamp_with_time_zone_null("anonymised_at"),
        ];
        for column in columns {
            m.alter_table(Table::alter().table("clients").add_column(column).to_owned()).await?;
        }
        m.get_connection()
            .execute_unprepared(
                "UPDATE clients SET search_text = LOWER(first_name || ' ' || last_name || ' ' || company_name || ' ' || email)",
            )
            .await?;
        for (name, column) in
            [("clients_status", "status"), ("clients_group_id", "group_id"), ("clients_last_name", "last_name")]
        {
            m.create_index(Index::create().name(name).table("clients").col(column).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table("client_notes")
                .col(pk_auto("id").big_integer())
                .col(big_integer("client_id"))
                .col(big_integer_null("staff_id"))
                .col(string("staff_name").default(""))
                .col(text("body"))
                .col(boolean("pinned").default(false))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(ForeignKey::create().from("client_notes", "client_id").to("clients", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("client_notes_client").table("client_notes").col("client_id").to_owned())
            .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
