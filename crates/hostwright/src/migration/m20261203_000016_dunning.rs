//! What the daily run's dunning tasks remember: reminders sent per invoice and step, late
//! fees charged per invoice; clients exempt from automatic suspension; a product's own
//! suspension delay.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("invoice_reminders")
                .col(big_integer("invoice_id"))
                // Days from the due date: -7 is a week before, 3 is three days overdue.
                .col(integer("step"))
                .col(date("sent_on"))
                .primary_key(Index::create().col("invoice_id").col("step"))
                .foreign_key(ForeignKey::create().from("invoice_reminders", "invoice_id").to("invoices", "id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("late_fees")
                .col(big_integer("invoice_id").primary_key())
                .col(big_integer("fee_invoice_id"))
                .col(big_integer("amount_minor"))
                .col(date("charged_on"))
                .foreign_key(ForeignKey::create().from("late_fees", "invoice_id").to("invoices", "id"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table("clients").add_column(boolean("automation_exempt").default(false)).to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table("products").add_column(integer_null("overdue_suspend_days")).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
