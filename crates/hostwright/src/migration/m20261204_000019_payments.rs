//! Payments through gateways (decision 0020): gateway settings with encrypted secrets,
//! payment records with their state, webhook events stored once per gateway and event id,
//! the gateways' customers and saved payment methods, and clients' automatic payment.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("payment_gateways")
                .col(string("key").primary_key())
                .col(boolean("enabled").default(false))
                .col(string("display_name"))
                // ISO codes separated by commas; empty means every currency.
                .col(string("currencies").default(""))
                .col(boolean("test_mode").default(true))
                // Options that are not secret (JSON), like bank transfer instructions.
                .col(text("options").default("{}"))
                // API keys and webhook secrets: JSON encrypted with the installation key.
                .col(text("secrets").default(""))
                .col(integer("sort_order").default(0))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("payments")
                .col(pk_auto("id").big_integer())
                .col(big_integer("client_id"))
                .col(big_integer_null("invoice_id"))
                .col(string("gateway"))
                // checkout (the client on the gateway's page) or automatic (a saved method).
                .col(string("kind"))
                .col(string("status"))
                .col(big_integer("amount_minor"))
                .col(string("currency_code"))
                .col(big_integer("refunded_minor").default(0))
                // The gateway's id of the payment (Stripe: the payment intent).
                .col(string_null("gateway_ref"))
                // The hosted page it was started on (Stripe: the checkout session).
                .col(string_null("session_ref"))
                .col(big_integer_null("method_id"))
                // One submission, or one automatic attempt, makes one payment.
                .col(string_uniq("attempt_key"))
                // Why staff must look at it (another amount or currency, an invoice no longer
                // payable, a refund made at the gateway); empty when nothing is wrong.
                .col(string("flag").default(""))
                .col(string("error").default(""))
                .col(timestamp_with_time_zone_null("applied_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(ForeignKey::create().from("payments", "client_id").to("clients", "id"))
                .foreign_key(ForeignKey::create().from("payments", "invoice_id").to("invoices", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("payments_gateway_ref")
                .table("payments")
                .col("gateway")
                .col("gateway_ref")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("payments_session").table("payments").col("gateway").col("session_ref").to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("payments_invoice").table("payments").col("invoice_id").to_owned()).await?;
        m.create_index(
            Index::create().name("payments_client").table("payments").col("client_id").col("created_at").to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("payments_created").table("payments").col("created_at").to_owned()).await?;
        m.create_table(
            Table::create()
                .table("payment_events")
                .col(pk_auto("id").big_integer())
                .col(string("gateway"))
                .col(string("event_id"))
                .col(string("event_type"))
                .col(big_integer_null("payment_id"))
                .col(text("payload"))
                .col(timestamp_with_time_zone("received_at"))
                .col(timestamp_with_time_zone_null("processed_at"))
                .col(string("outcome").default(""))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("payment_events_once")
                .table("payment_events")
                .col("gateway")
                .col("event_id")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("payment_events_payment").table("payment_events").col("payment_id").to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("gateway_customers")
                .col(big_integer("client_id"))
                .col(string("gateway"))
                .col(string("customer_ref"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("client_id").col("gateway"))
                .foreign_key(ForeignKey::create().from("gateway_customers", "client_id").to("clients", "id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("payment_methods")
                .col(pk_auto("id").big_integer())
                .col(big_integer("client_id"))
                .col(string("gateway"))
                .col(string("method_ref"))
                .col(string("brand"))
                .col(string("last4"))
                .col(integer("exp_month"))
                .col(integer("exp_year"))
                .col(boolean("is_default").default(false))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(ForeignKey::create().from("payment_methods", "client_id").to("clients", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("payment_methods_once")
                .table("payment_methods")
                .col("gateway")
                .col("method_ref")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("payment_methods_client").table("payment_methods").col("client_id").to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("clients").add_column(boolean("auto_pay").default(false)).to_owned())
            .await?;
        m.alter_table(Table::alter().table("invoice_payments").add_column(big_integer_null("payment_id")).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
