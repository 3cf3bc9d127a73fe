//! The catalog: currencies, product groups, products and their price matrix.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("currencies")
                .col(string("code").primary_key())
                .col(small_integer("exponent"))
                .col(string("rounding_mode").default("half_up"))
                .col(integer("rounding_increment").default(1))
                .col(boolean("is_default").default(false))
                // Units of this currency per unit of the default currency, as a decimal string.
                .col(string("rate").default("1"))
                .col(timestamp_with_time_zone("rate_updated_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        let now = chrono::Utc::now();
        let seed = Query::insert()
            .into_table("currencies")
            .columns(["code", "exponent", "is_default", "rate", "rate_updated_at", "created_at", "updated_at"])
            .values_panic(["USD".into(), 2_i16.into(), true.into(), "1".into(), now.into(), now.into(), now.into()])
            .to_owned();
        m.exec_stmt(seed).await?;
        m.create_table(
            Table::create()
                .table("product_groups")
                .col(pk_auto("id").big_integer())
                .col(string("name"))
                .col(string("headline").default(""))
                .col(integer("sort_order").default(0))
                .col(boolean("visible").default(true))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("products")
                .col(pk_auto("id").big_integer())
                .col(big_integer("group_id"))
                .col(string("name"))
                .col(string("product_type"))
                .col(text("description").default(""))
                .col(string("payment_type"))
                .col(boolean("taxable").default(true))
                .col(boolean("hidden").default(false))
                .col(boolean("retired").default(false))
                .col(boolean("stock_enabled").default(false))
                .col(integer("stock_quantity").default(0))
                .col(boolean("prorata_enabled").default(false))
                .col(small_integer("prorata_day").default(1))
                .col(small_integer_null("prorata_cutoff_day"))
                .col(string("module").default("none"))
                .col(text("module_settings").default("{}"))
                .col(integer("sort_order").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(ForeignKey::create().from("products", "group_id").to("product_groups", "id"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("products_group").table("products").col("group_id").to_owned()).await?;
        m.create_table(
            Table::create()
                .table("product_prices")
                .col(big_integer("product_id"))
                .col(string("currency_code"))
                .col(string("cycle"))
                .col(big_integer("price_minor"))
                .col(big_integer("setup_fee_minor").default(0))
                .primary_key(Index::create().col("product_id").col("currency_code").col("cycle"))
                .foreign_key(
                    ForeignKey::create()
                        .from("product_prices", "product_id")
                        .to("products", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
