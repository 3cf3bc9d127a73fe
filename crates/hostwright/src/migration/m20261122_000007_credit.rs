//! Credit notes (corrections of issued invoices, with their own gapless series) and the
//! clients' account credit: a balance per currency and a ledger of every movement.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // What credit notes took off an invoice, and what of the money received was given back.
        for column in
            [big_integer("credited_minor").default(0).to_owned(), big_integer("refunded_minor").default(0).to_owned()]
        {
            m.alter_table(Table::alter().table("invoices").add_column(column).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table("credit_notes")
                .col(pk_auto("id").big_integer())
                .col(string_uniq("number"))
                .col(big_integer("invoice_id"))
                .col(big_integer("client_id"))
                .col(string("currency_code"))
                .col(date("issue_date"))
                .col(text("reason"))
                .col(big_integer("net_minor"))
                .col(big_integer("tax_minor"))
                .col(big_integer("total_minor"))
                // How much of the total reduced what was owed, and how much was given back
                // (to account credit, or paid back outside Hostwright).
                .col(big_integer("settled_minor"))
                .col(big_integer("refunded_minor"))
                .col(string("refund_method").default(""))
                .col(boolean("reverse_charge").default(false))
                .col(text("buyer").default("{}"))
                .col(text("seller").default("{}"))
                .col(string_null("pdf_key"))
                .col(big_integer_null("staff_id"))
                .col(string_uniq("idempotency_key"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(ForeignKey::create().from("credit_notes", "invoice_id").to("invoices", "id"))
                .foreign_key(ForeignKey::create().from("credit_notes", "client_id").to("clients", "id"))
                .to_owned(),
        )
        .await?;
        for (name, column) in [("credit_notes_invoice", "invoice_id"), ("credit_notes_client", "client_id")] {
            m.create_index(Index::create().name(name).table("credit_notes").col(column).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table("credit_note_lines")
                .col(pk_auto("id").big_integer())
                .col(big_integer("credit_note_id"))
                .col(big_integer("invoice_line_id"))
                .col(integer("position"))
                .col(text("description"))
                .col(big_integer("net_minor"))
                .col(big_integer("tax_minor"))
                .foreign_key(
                    ForeignKey::create()
                        .from("credit_note_lines", "credit_note_id")
                        .to("credit_notes", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create().from("credit_note_lines", "invoice_line_id").to("invoice_lines", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("credit_note_lines_note").table("credit_note_lines").col("credit_note_id").to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("credit_note_lines_invoice_line")
                .table("credit_note_lines")
                .col("invoice_line_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("credit_note_tax_lines")
                .col(pk_auto("id").big_integer())
                .col(big_integer("credit_note_id"))
                .col(big_integer("invoice_tax_line_id"))
                .col(string("name"))
                .col(string("rate"))
                .col(small_integer("level"))
                .col(big_integer("base_minor"))
                .col(big_integer("amount_minor"))
                .foreign_key(
                    ForeignKey::create()
                        .from("credit_note_tax_lines", "credit_note_id")
                        .to("credit_notes", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("credit_note_tax_lines_note")
                .table("credit_note_tax_lines")
                .col("credit_note_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("client_credit_balances")
                .col(big_integer("client_id"))
                .col(string("currency_code"))
                .col(big_integer("balance_minor").default(0))
                .primary_key(Index::create().col("client_id").col("currency_code"))
                .foreign_key(ForeignKey::create().from("client_credit_balances", "client_id").to("clients", "id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("client_credit_entries")
                .col(pk_auto("id").big_integer())
                .col(big_integer("client_id"))
                .col(string("currency_code"))
                .col(big_integer("amount_minor"))
                .col(big_integer("balance_after_minor"))
                .col(string("kind"))
                .col(text("reason"))
                .col(big_integer_null("invoice_id"))
                .col(big_integer_null("credit_note_id"))
                .col(big_integer_null("staff_id"))
                .col(string("staff_name").default(""))
                // One submission of a credit form moves credit once, however often it arrives.
                .col(string_null("idempotency_key").unique_key())
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(ForeignKey::create().from("client_credit_entries", "client_id").to("clients", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("client_credit_entries_client")
                .table("client_credit_entries")
                .col("client_id")
                .col("id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
