//! Invoices, their lines and tax lines, manual payments, tax rules and gapless number series.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("number_sequences")
                .col(string("series"))
                .col(string("period"))
                .col(big_integer("next_value"))
                .primary_key(Index::create().col("series").col("period"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table("clients").add_column(boolean("tax_exempt").default(false).to_owned()).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("tax_rules")
                .col(pk_auto("id").big_integer())
                .col(string("name"))
                .col(string("country").default(""))
                .col(string("region").default(""))
                .col(string("rate"))
                .col(small_integer("level").default(1))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("invoices")
                .col(pk_auto("id").big_integer())
                .col(big_integer("client_id"))
                .col(string_null("number"))
                .col(string_null("proforma_number"))
                .col(string("status"))
                .col(string("currency_code"))
                .col(date_null("issue_date"))
                .col(date("due_date"))
                .col(date_null("paid_date"))
                .col(big_integer("subtotal_minor").default(0))
                .col(big_integer("discount_minor").default(0))
                .col(big_integer("tax_minor").default(0))
                .col(big_integer("total_minor").default(0))
                .col(big_integer("credit_applied_minor").default(0))
                .col(big_integer("amount_paid_minor").default(0))
                .col(string("price_mode").default("exclusive"))
                .col(string("tax_treatment").default("taxed"))
                .col(boolean("reverse_charge").default(false))
                .col(text("buyer").default("{}"))
                .col(text("seller").default("{}"))
                .col(text("notes").default(""))
                .col(string_null("pdf_key"))
                .col(timestamp_with_time_zone_null("issued_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(ForeignKey::create().from("invoices", "client_id").to("clients", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("invoices_number").table("invoices").col("number").unique().to_owned())
            .await?;
        m.create_index(
            Index::create()
                .name("invoices_proforma_number")
                .table("invoices")
                .col("proforma_number")
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("invoices_client", vec!["client_id", "id"]),
            ("invoices_status_due", vec!["status", "due_date"]),
            ("invoices_issue_date", vec!["issue_date"]),
        ] {
            let mut index = Index::create();
            index.name(name).table("invoices");
            for col in cols {
                index.col(col);
            }
            m.create_index(index.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table("invoice_lines")
                .col(pk_auto("id").big_integer())
                .col(big_integer("invoice_id"))
                .col(integer("position"))
                .col(string("kind").default("manual"))
                .col(text("description"))
                .col(string("quantity"))
                .col(big_integer("unit_price_minor"))
                .col(big_integer("amount_minor"))
                .col(big_integer("discount_minor").default(0))
                .col(big_integer("tax_minor").default(0))
                .col(boolean("taxed").default(true))
                .foreign_key(
                    ForeignKey::create()
                        .from("invoice_lines", "invoice_id")
                        .to("invoices", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("invoice_lines_invoice").table("invoice_lines").col("invoice_id").to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("invoice_tax_lines")
                .col(pk_auto("id").big_integer())
                .col(big_integer("invoice_id"))
                .col(string("name"))
                .col(string("rate"))
                .col(small_integer("level"))
                .col(big_integer("base_minor"))
                .col(big_integer("amount_minor"))
                .foreign_key(
                    ForeignKey::create()
                        .from("invoice_tax_lines", "invoice_id")
                        .to("invoices", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("invoice_tax_lines_invoice").table("invoice_tax_lines").col("invoice_id").to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("invoice_payments")
                .col(pk_auto("id").big_integer())
                .col(big_integer("invoice_id"))
                .col(big_integer("amount_minor"))
                .col(big_integer("fee_minor").default(0))
                .col(string("method"))
                .col(string("reference").default(""))
                .col(date("paid_on"))
                .col(big_integer_null("staff_id"))
                // One submission of the payment form records one payment, however often it arrives.
                .col(string_uniq("idempotency_key"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(ForeignKey::create().from("invoice_payments", "invoice_id").to("invoices", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("invoice_payments_invoice").table("invoice_payments").col("invoice_id").to_owned(),
        )
        .await?;
        // The seeded Billing role works with invoices; Support and Sales may look at them.
        for (role, permission) in
            [(2_i64, "invoices.view"), (2, "invoices.manage"), (3, "invoices.view"), (4, "invoices.view")]
        {
            let grant = Query::insert()
                .into_table("staff_role_permissions")
                .columns(["role_id", "permission"])
                .values_panic([role.into(), permission.into()])
                .on_conflict(OnConflict::columns(["role_id", "permission"]).do_nothing().to_owned())
                .to_owned();
            m.exec_stmt(grant).await?;
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
