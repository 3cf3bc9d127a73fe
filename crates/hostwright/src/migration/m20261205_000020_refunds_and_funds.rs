//! Refunds Hostwright asks a gateway to make: one row per refund, written before the gateway
//! is called (its id is the refund's idempotency key), tied to the credit note that corrects
//! the invoice, or to no note when the payment was never applied. And the form key of an
//! invoice a client asked for ("add funds"), so one submission makes one invoice.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("payment_refunds")
                .col(pk_auto("id").big_integer())
                .col(big_integer("payment_id"))
                .col(big_integer_null("credit_note_id"))
                .col(big_integer("amount_minor"))
                // pending (asked, or to be asked), succeeded, failed.
                .col(string("status"))
                // The gateway's id of the refund.
                .col(string_null("refund_ref"))
                .col(string("reason").default(""))
                .col(string("error").default(""))
                .col(big_integer_null("staff_id"))
                // One form submission makes one refund.
                .col(string_uniq("idempotency_key"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(ForeignKey::create().from("payment_refunds", "payment_id").to("payments", "id"))
                .foreign_key(ForeignKey::create().from("payment_refunds", "credit_note_id").to("credit_notes", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("payment_refunds_payment").table("payment_refunds").col("payment_id").to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("invoices").add_column(string_null("request_key")).to_owned()).await?;
        m.create_index(
            Index::create().name("invoices_request_key").table("invoices").col("request_key").unique().to_owned(),
        )
        .await?;
        Ok(())
    }
}
