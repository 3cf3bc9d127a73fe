//! Accounts, sessions, security, audit, outbox and settings.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::permissions::Permission;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("staff_roles")
                .col(pk_auto("id").big_integer())
                .col(string_uniq("name"))
                .col(string("description").default(""))
                .col(boolean("all_permissions").default(false))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("staff_role_permissions")
                .col(big_integer("role_id"))
                .col(string("permission"))
                .primary_key(Index::create().col("role_id").col("permission"))
                .foreign_key(
                    ForeignKey::create()
                        .from("staff_role_permissions", "role_id")
                        .to("staff_roles", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("staff")
                .col(pk_auto("id").big_integer())
                .col(string_uniq("email"))
                .col(string("name"))
                .col(string_null("password_hash"))
                .col(big_integer("role_id"))
                .col(string("status"))
                .col(text_null("totp_secret"))
                .col(timestamp_with_time_zone_null("totp_enabled_at"))
                .col(big_integer_null("totp_last_step"))
                .col(timestamp_with_time_zone_null("last_login_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(ForeignKey::create().from("staff", "role_id").to("staff_roles", "id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("clients")
                .col(pk_auto("id").big_integer())
                .col(string_uniq("email"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(string("company_name").default(""))
                .col(string_null("password_hash"))
                .col(string("status"))
                .col(timestamp_with_time_zone_null("email_verified_at"))
                .col(text_null("totp_secret"))
                .col(timestamp_with_time_zone_null("totp_enabled_at"))
                .col(big_integer_null("totp_last_step"))
                .col(timestamp_with_time_zone_null("last_login_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("clients_created_at").table("clients").col("created_at").to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table("recovery_codes")
                .col(pk_auto("id").big_integer())
                .col(string("principal_kind"))
                .col(big_integer("principal_id"))
                .col(string_uniq("code_hash"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("recovery_codes_principal")
                .table("recovery_codes")
                .col("principal_kind")
                .col("principal_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("sessions")
                .col(string("id").primary_key())
                .col(string("principal_kind"))
                .col(big_integer("principal_id"))
                .col(string("stage"))
                .col(string("ip").default(""))
                .col(string("user_agent").default(""))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("last_seen_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("sessions_principal")
                .table("sessions")
                .col("principal_kind")
                .col("principal_id")
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("sessions_expires_at").table("sessions").col("expires_at").to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table("one_time_tokens")
                .col(pk_auto("id").big_integer())
                .col(string("purpose"))
                .col(string_uniq("token_hash"))
                .col(string_null("principal_kind"))
                .col(big_integer_null("principal_id"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("throttles")
                .col(string("bucket").primary_key())
                .col(big_integer("hits"))
                .col(timestamp_with_time_zone("window_started_at"))
                .col(timestamp_with_time_zone_null("locked_until"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("audit_log")
                .col(pk_auto("id").big_integer())
                .col(timestamp_with_time_zone("occurred_at"))
                .col(string("actor_kind"))
                .col(big_integer_null("actor_id"))
                .col(string("actor_label").default(""))
                .col(string("action"))
                .col(string_null("entity_type"))
                .col(big_integer_null("entity_id"))
                .col(string("ip").default(""))
                .col(text("summary"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("audit_log_occurred_at").table("audit_log").col("occurred_at").to_owned())
            .await?;
        m.create_index(
            Index::create().name("audit_log_entity").table("audit_log").col("entity_type").col("entity_id").to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("audit_log_actor").table("audit_log").col("actor_kind").col("actor_id").to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("audit_log_action").table("audit_log").col("action").to_owned()).await?;
        m.create_table(
            Table::create()
                .table("email_outbox")
                .col(pk_auto("id").big_integer())
                .col(string("template"))
                .col(string("to_address"))
                .col(string("to_name").default(""))
                .col(string("subject"))
                .col(text("body_text"))
                .col(text("body_html"))
                .col(big_integer_null("client_id"))
                .col(string("status"))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(timestamp_with_time_zone_null("claimed_until"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("email_outbox_due")
                .table("email_outbox")
                .col("status")
                .col("next_attempt_at")
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("email_outbox_client").table("email_outbox").col("client_id").to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table("site_settings")
                .col(string("key").primary_key())
                .col(text("value"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        seed_roles(m).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}

/// The four roles every installation starts with; administrators may edit them later.
async fn seed_roles(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    let roles: [(&str, &str, bool, &[Permission]); 4] = [
        ("Administrator", "Everything, including staff, roles and settings.", true, &[]),
        ("Billing", "Clients, invoices and payments.", false, &[Permission::ClientsView, Permission::ClientsManage]),
        ("Support", "Clients and tickets.", false, &[Permission::ClientsView]),
        ("Sales", "Clients and orders.", false, &[Permission::ClientsView, Permission::ClientsManage]),
    ];
    for (id, (name, description, all, permissions)) in (1_i64..).zip(roles) {
        let insert = Query::insert()
            .into_table("staff_roles")
            .columns(["id", "name", "description", "all_permissions", "created_at", "updated_at"])
            .values_panic([id.into(), name.into(), description.into(), all.into(), now.into(), now.into()])
            .to_owned();
        m.exec_stmt(insert).await?;
        for permission in permissions.iter() {
            let insert = Query::insert()
                .into_table("staff_role_permissions")
                .columns(["role_id", "permission"])
                .values_panic([id.into(), permission.key().into()])
                .to_owned();
            m.exec_stmt(insert).await?;
        }
    }
    if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // Explicit ids above do not advance the sequence.
        m.get_connection().execute_unprepared("SELECT setval(pg_get_serial_sequence('staff_roles', 'id'), 4)").await?;
    }
    Ok(())
}
