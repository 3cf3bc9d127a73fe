//! Configurable options (groups of options attached to products, their values and a price
//! per value, cycle and currency), add-ons with their own prices, and the upgrades a
//! product allows. Prices mirror `product_prices`: a `BillingCycle` key, minor units.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A price table keyed like `product_prices`: (owner, currency, cycle).
fn price_table(table: &'static str, owner: &'static str, owner_table: &'static str) -> TableCreateStatement {
    Table::create()
        .table(table)
        .col(big_integer(owner))
        .col(string("currency_code"))
        .col(string("cycle"))
        .col(big_integer("price_minor"))
        .col(big_integer("setup_fee_minor").default(0))
        .primary_key(Index::create().col(owner).col("currency_code").col("cycle"))
        .foreign_key(ForeignKey::create().from(table, owner).to(owner_table, "id").on_delete(ForeignKeyAction::Cascade))
        .to_owned()
}

/// A many-to-many link to products. The owner side restricts deletion (the use case detaches
/// first, on purpose); a product's links go with it.
fn product_link(table: &'static str, owner: &'static str, owner_table: &'static str) -> TableCreateStatement {
    Table::create()
        .table(table)
        .col(big_integer(owner))
        .col(big_integer("product_id"))
        .primary_key(Index::create().col(owner).col("product_id"))
        .foreign_key(
            ForeignKey::create().from(table, owner).to(owner_table, "id").on_delete(ForeignKeyAction::Restrict),
        )
        .foreign_key(
            ForeignKey::create().from(table, "product_id").to("products", "id").on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("config_option_groups")
                .col(pk_auto("id").big_integer())
                .col(string("name"))
                .col(text("description").default(""))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(product_link("config_option_group_products", "group_id", "config_option_groups")).await?;
        m.create_index(
            Index::create()
                .name("config_option_group_products_product")
                .table("config_option_group_products")
                .col("product_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("config_options")
                .col(pk_auto("id").big_integer())
                .col(big_integer("group_id"))
                .col(string("name"))
                // dropdown | radio | yesno | quantity; chosen at creation, never changed.
                .col(string("kind"))
                .col(integer("sort_order").default(0))
                .col(boolean("hidden").default(false))
                // Quantity options only: the range a client may choose and the unit shown.
                .col(integer("quantity_min").default(0))
                .col(integer("quantity_max").default(0))
                .col(integer("quantity_step").default(1))
                .col(string("unit_label").default(""))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("config_options", "group_id")
                        .to("config_option_groups", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("config_options_group").table("config_options").col("group_id").to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table("config_option_values")
                .col(pk_auto("id").big_integer())
                .col(big_integer("option_id"))
                .col(string("label"))
                .col(integer("sort_order").default(0))
                .col(boolean("hidden").default(false))
                .foreign_key(
                    ForeignKey::create()
                        .from("config_option_values", "option_id")
                        .to("config_options", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("config_option_values_option")
                .table("config_option_values")
                .col("option_id")
                .to_owned(),
        )
        .await?;
        m.create_table(price_table("config_option_prices", "value_id", "config_option_values")).await?;

        m.create_table(
            Table::create()
                .table("addons")
                .col(pk_auto("id").big_integer())
                .col(string("name"))
                .col(text("description").default(""))
                .col(string("payment_type"))
                .col(boolean("taxable").default(true))
                .col(boolean("hidden").default(false))
                .col(boolean("retired").default(false))
                // Which email activation sends: `none` or `welcome`.
                .col(string("welcome_email").default("none"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(product_link("addon_products", "addon_id", "addons")).await?;
        m.create_index(
            Index::create().name("addon_products_product").table("addon_products").col("product_id").to_owned(),
        )
        .await?;
        m.create_table(price_table("addon_prices", "addon_id", "addons")).await?;

        m.create_table(
            Table::create()
                .table("product_upgrades")
                .col(big_integer("product_id"))
                .col(big_integer("target_product_id"))
                .primary_key(Index::create().col("product_id").col("target_product_id"))
                .check(("product_upgrades_not_itself", Expr::col("product_id").ne(Expr::col("target_product_id"))))
                .foreign_key(
                    ForeignKey::create()
                        .from("product_upgrades", "product_id")
                        .to("products", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("product_upgrades", "target_product_id")
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
