//! Nodes: each running process says it is alive every few seconds (times on the database's
//! clock), so `hostwright cluster status` can list the cluster as the database sees it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("nodes")
                // The name its job claims and leases are held under.
                .col(string("id").primary_key())
                .col(string("host"))
                .col(big_integer("pid"))
                .col(string("version"))
                // serve | worker
                .col(string("role"))
                .col(boolean("draining").default(false))
                .col(big_integer("started_ms"))
                .col(big_integer("seen_ms"))
                // Set when it stopped cleanly.
                .col(big_integer_null("stopped_ms"))
                .to_owned(),
        )
        .await
    }
}
