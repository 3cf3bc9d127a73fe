//! On PostgreSQL, a trigram index makes the admin client search (`LIKE '%term%'`) use an
//! index instead of reading every client. Where the `pg_trgm` extension cannot be created
//! (no privilege, contrib not installed) the search keeps working without it.

use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        m.get_connection()
            .execute_unprepared(
                "DO $$ BEGIN
                     CREATE EXTENSION IF NOT EXISTS pg_trgm;
                 EXCEPTION WHEN OTHERS THEN
                     RAISE NOTICE 'pg_trgm is not available; client search will scan';
                 END $$;
                 DO $$ BEGIN
                     IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
                         CREATE INDEX IF NOT EXISTS clients_search_trgm ON clients USING gin (search_text gin_trgm_ops);
                     END IF;
                 END $$;",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
