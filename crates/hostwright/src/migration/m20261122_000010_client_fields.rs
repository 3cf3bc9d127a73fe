//! Custom client fields (decision 0010): fields staff define (text, dropdown or checkbox),
//! asked at registration or kept for staff only, and each client's values.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("client_fields")
                .col(pk_auto("id").big_integer())
                .col(string("name").unique_key())
                // text | dropdown | checkbox; chosen at creation, never changed.
                .col(string("field_type"))
                // Dropdowns only: the choices, one per line.
                .col(text("options").default(""))
                .col(text("description").default(""))
                // registration (asked at sign-up, the client sees and edits it) | admin (staff only).
                .col(string("visibility").default("admin"))
                .col(boolean("required").default(false))
                .col(integer("sort_order").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        // A row only for a value that is set: an empty text, no choice or an unticked box has none.
        m.create_table(
            Table::create()
                .table("client_field_values")
                .col(big_integer("client_id"))
                .col(big_integer("field_id"))
                .col(text("value"))
                .col(timestamp_with_time_zone("updated_at"))
                .primary_key(Index::create().col("client_id").col("field_id"))
                .foreign_key(ForeignKey::create().from("client_field_values", "client_id").to("clients", "id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("client_field_values", "field_id")
                        .to("client_fields", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("client_field_values_field").table("client_field_values").col("field_id").to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
