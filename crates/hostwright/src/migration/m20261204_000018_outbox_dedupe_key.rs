//! An email queued for a cause that may be retried (a job that runs again after its worker
//! died) carries a key naming that cause, and is queued once per key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("email_outbox").add_column(string_null("dedupe_key")).to_owned()).await?;
        m.create_index(
            Index::create().name("email_outbox_dedupe_key").table("email_outbox").col("dedupe_key").unique().to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
