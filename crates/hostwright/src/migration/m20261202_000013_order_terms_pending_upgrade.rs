//! Orders remember which terms of service the client accepted (the link shown at checkout;
//! empty when none was configured), and a service has at most one pending change even when
//! two requests race (the same partial unique index on both databases).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("orders").add_column(string("terms_accepted_url").default("")).to_owned())
            .await?;
        m.alter_table(
            Table::alter().table("orders").add_column(timestamp_with_time_zone_null("terms_accepted_at")).to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX service_upgrades_one_pending ON service_upgrades (service_id) \
                 WHERE status = 'pending'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
