//! The durable job queue. Times are milliseconds since the Unix epoch read from the
//! database's own clock (see `jobs::store`), so that claims and leases never depend on a
//! node's clock. `lease_token` grows with every claim: it is the fencing token a worker
//! presents with every write of its job.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("jobs")
                .col(pk_auto("id").big_integer())
                .col(string("kind"))
                .col(text("payload"))
                .col(string_null("unique_key").unique_key())
                .col(integer("priority").default(100))
                .col(string("status"))
                .col(integer("attempts").default(0))
                .col(integer("max_attempts"))
                .col(big_integer("run_at_ms"))
                .col(string_null("lease_owner"))
                .col(big_integer("lease_token").default(0))
                .col(big_integer_null("lease_expires_ms"))
                .col(text_null("last_error"))
                .col(big_integer("created_at_ms"))
                .col(big_integer("updated_at_ms"))
                .col(big_integer_null("finished_at_ms"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("jobs_due").table("jobs").col("status").col("run_at_ms").col("priority").to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("jobs_by_kind").table("jobs").col("kind").col("status").to_owned()).await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
