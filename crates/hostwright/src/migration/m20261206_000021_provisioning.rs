//! Provisioning: the servers accounts live on (their module settings, secrets encrypted with
//! the installation key), server groups that choose a server for a new account, the module
//! log (one row per call a module made, its exchanges redacted), and a subject on jobs so a
//! service's page can list the work queued for it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("servers")
                .col(pk_auto("id").big_integer())
                .col(string_uniq("name"))
                .col(string("hostname"))
                .col(string("module"))
                // The module's settings that are not secret, as a JSON object.
                .col(text("settings").default("{}"))
                // The secret ones, as an encrypted JSON object.
                .col(text_null("secrets_enc"))
                // 0 = no limit.
                .col(integer("max_accounts").default(0))
                // One per line.
                .col(text("nameservers").default(""))
                .col(boolean("enabled").default(true))
                .col(string("last_test").default(""))
                .col(timestamp_with_time_zone_null("last_test_at"))
                .col(boolean_null("last_test_ok"))
                // The packages (plans) the server offered when last asked, as a JSON array.
                .col(text("packages").default("[]"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("server_groups")
                .col(pk_auto("id").big_integer())
                .col(string_uniq("name"))
                // least_accounts | fill
                .col(string("fill_strategy"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("server_group_members")
                .col(big_integer("group_id"))
                .col(big_integer("server_id"))
                .primary_key(Index::create().col("group_id").col("server_id"))
                .foreign_key(ForeignKey::create().from("server_group_members", "group_id").to("server_groups", "id"))
                .foreign_key(ForeignKey::create().from("server_group_members", "server_id").to("servers", "id"))
                .to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("products").add_column(big_integer_null("server_group_id")).to_owned())
            .await?;
        m.create_index(
            Index::create().name("services_server").table("services").col("server_id").col("status").to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("module_calls")
                .col(pk_auto("id").big_integer())
                .col(big_integer_null("service_id"))
                .col(big_integer_null("server_id"))
                .col(big_integer_null("job_id"))
                .col(string("module"))
                .col(string("action"))
                .col(boolean("ok"))
                // The outcome, or the error as staff read it.
                .col(text("message"))
                // The exchanges with the server, redacted, as a JSON array.
                .col(text("exchanges"))
                .col(big_integer("duration_ms"))
                .col(string("actor").default(""))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("module_calls_service").table("module_calls").col("service_id").col("id").to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("module_calls_server").table("module_calls").col("server_id").col("id").to_owned(),
        )
        .await?;
        // What a module last reported an account uses, refreshed by a job.
        m.create_table(
            Table::create()
                .table("service_usage")
                .col(big_integer("service_id").primary_key())
                .col(big_integer("disk_used_mb"))
                .col(big_integer_null("disk_limit_mb"))
                .col(big_integer("bandwidth_used_mb"))
                .col(big_integer_null("bandwidth_limit_mb"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        // A client's request that needs the panel (single sign-on, a module's own action):
        // a job answers it, and the client's page waits for the answer.
        m.create_table(
            Table::create()
                .table("module_tickets")
                .col(pk_auto("id").big_integer())
                .col(string_uniq("token_hash"))
                .col(big_integer("service_id"))
                .col(big_integer("client_id"))
                // sso | action:<key>
                .col(string("call"))
                // The client's address, for panels that tie a sign-on to it.
                .col(string("client_ip").default(""))
                // pending | ready | failed | used
                .col(string("status"))
                // A sign-in address, encrypted (it is a credential).
                .col(text_null("url_enc"))
                .col(text("message").default(""))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("jobs").add_column(string_null("subject")).to_owned()).await?;
        m.create_index(Index::create().name("jobs_subject").table("jobs").col("subject").col("status").to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
