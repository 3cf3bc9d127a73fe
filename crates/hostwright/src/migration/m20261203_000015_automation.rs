//! The automation's lease (one holder at a time, with a fencing token), the record of each
//! task's runs, the per-product renewal lead time, and the index that lets a service's
//! period be invoiced for renewal once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Times in milliseconds on the database's clock, as in `jobs`.
        m.create_table(
            Table::create()
                .table("leases")
                .col(string("name").primary_key())
                .col(string("holder"))
                .col(big_integer("token"))
                .col(big_integer("expires_ms"))
                .col(big_integer("acquired_ms"))
                .col(big_integer("renewed_ms"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("automation_runs")
                .col(pk_auto("id").big_integer())
                .col(string("task"))
                .col(date("run_date"))
                .col(string("holder"))
                .col(big_integer("token"))
                .col(string("status"))
                .col(text("counts"))
                .col(text_null("error"))
                .col(big_integer("started_ms"))
                .col(big_integer_null("finished_ms"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("automation_runs_by_task").table("automation_runs").col("task").col("id").to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("products").add_column(integer_null("renewal_invoice_days")).to_owned())
            .await?;
        // One renewal line per service and period, whatever runs twice.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX invoice_lines_renewal_once ON invoice_lines (service_id, period_start) \
                 WHERE kind = 'renewal'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
