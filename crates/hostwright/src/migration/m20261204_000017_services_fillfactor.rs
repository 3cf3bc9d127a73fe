//! The daily run moves every renewed service's next invoice date. On PostgreSQL, room left
//! on each page of `services` lets that update stay on its page without touching any index
//! (no index covers the next invoice date: the run reads the due services in one scan a
//! day), so invoicing a hundred thousand services does not add a hundred thousand entries
//! to every index of the table. SQLite has no such setting.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            m.get_connection().execute_unprepared("ALTER TABLE services SET (fillfactor = 85)").await?;
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
