//! Ordering and services: carts kept in the database (so a visitor's cart survives switching
//! nodes), coupons, orders, the services and add-ons an order creates, cancellation requests
//! and upgrades. Invoice lines learn which service and period they bill.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn timestamps(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table.col(timestamp_with_time_zone("created_at")).col(timestamp_with_time_zone("updated_at"))
}

async fn index(m: &SchemaManager<'_>, name: &str, table: &'static str, cols: &[&'static str]) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(*col);
    }
    m.create_index(index.to_owned()).await
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            timestamps(
                Table::create()
                    .table("coupons")
                    .col(pk_auto("id").big_integer())
                    // Stored upper-case; clients type it in any case.
                    .col(string("code").unique_key())
                    // percent | fixed
                    .col(string("kind"))
                    // Percent coupons: a decimal such as "12.5".
                    .col(string("percent").default("0"))
                    // Fixed coupons: an amount off each line it applies to, in one currency.
                    .col(big_integer("amount_minor").default(0))
                    .col(string("currency_code").default(""))
                    // JSON lists; an empty list means "all".
                    .col(text("product_ids").default("[]"))
                    .col(text("cycles").default("[]"))
                    .col(text("addon_ids").default("[]"))
                    .col(boolean("applies_to_setup").default(false))
                    // once (first invoice only) | recurring
                    .col(string("recurrence").default("once"))
                    // Recurring coupons: how many renewals are discounted; NULL = forever.
                    .col(integer_null("recurring_limit"))
                    .col(date_null("starts_on"))
                    .col(date_null("expires_on"))
                    .col(integer_null("max_uses"))
                    .col(integer_null("max_uses_per_client"))
                    .col(integer("uses").default(0))
                    .col(boolean("new_clients_only").default(false))
                    .col(boolean("active").default(true))
                    .col(text("notes").default("")),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            timestamps(
                Table::create()
                    .table("carts")
                    .col(pk_auto("id").big_integer())
                    // SHA-256 of the cart cookie's token.
                    .col(string("token_hash").unique_key())
                    .col(big_integer_null("client_id"))
                    .col(string("currency_code"))
                    // The visitor's country, for the taxes shown before they sign in.
                    .col(string("country").default(""))
                    .col(string("coupon_code").default(""))
                    .foreign_key(
                        ForeignKey::create()
                            .from("carts", "client_id")
                            .to("clients", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    ),
            )
            .to_owned(),
        )
        .await?;
        index(m, "carts_updated", "carts", &["updated_at"]).await?;
        m.create_table(
            Table::create()
                .table("cart_items")
                .col(pk_auto("id").big_integer())
                .col(big_integer("cart_id"))
                .col(big_integer("product_id"))
                .col(string("cycle"))
                .col(integer("quantity").default(1))
                .col(string("domain").default(""))
                .col(string("hostname").default(""))
                // The root password a client chose for a server, encrypted; moves to the service.
                .col(text_null("password_enc"))
                // JSON: [[option_id, {"value": id} | {"quantity": n}], ...]
                .col(text("choices").default("[]"))
                // JSON: [addon_id, ...]
                .col(text("addon_ids").default("[]"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("cart_items", "cart_id")
                        .to("carts", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("cart_items", "product_id")
                        .to("products", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "cart_items_cart", "cart_items", &["cart_id"]).await?;

        m.create_table(
            timestamps(
                Table::create()
                    .table("orders")
                    .col(pk_auto("id").big_integer())
                    // Ten random digits: says nothing about how many orders a business takes.
                    .col(string("number").unique_key())
                    .col(big_integer("client_id"))
                    // pending | active | cancelled | fraud
                    .col(string("status"))
                    .col(string("currency_code"))
                    .col(big_integer_null("invoice_id"))
                    .col(big_integer_null("coupon_id"))
                    .col(big_integer("subtotal_minor"))
                    .col(big_integer("discount_minor"))
                    .col(big_integer("tax_minor"))
                    .col(big_integer("total_minor"))
                    .col(string("payment_method"))
                    .col(string("ip").default(""))
                    // One order per submission of the checkout form.
                    .col(string("idempotency_key").unique_key())
                    .col(text("notes").default(""))
                    .col(timestamp_with_time_zone_null("accepted_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .foreign_key(ForeignKey::create().from("orders", "client_id").to("clients", "id"))
                    .foreign_key(ForeignKey::create().from("orders", "invoice_id").to("invoices", "id"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("orders", "coupon_id")
                            .to("coupons", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    ),
            )
            .to_owned(),
        )
        .await?;
        index(m, "orders_client", "orders", &["client_id"]).await?;
        index(m, "orders_status", "orders", &["status", "id"]).await?;
        index(m, "orders_invoice", "orders", &["invoice_id"]).await?;

        m.create_table(
            Table::create()
                .table("coupon_uses")
                .col(pk_auto("id").big_integer())
                .col(big_integer("coupon_id"))
                .col(big_integer("client_id"))
                .col(big_integer("order_id").unique_key())
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(ForeignKey::create().from("coupon_uses", "coupon_id").to("coupons", "id"))
                .foreign_key(ForeignKey::create().from("coupon_uses", "client_id").to("clients", "id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("coupon_uses", "order_id")
                        .to("orders", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "coupon_uses_client", "coupon_uses", &["coupon_id", "client_id"]).await?;

        m.create_table(
            timestamps(
                Table::create()
                    .table("services")
                    .col(pk_auto("id").big_integer())
                    .col(big_integer("client_id"))
                    .col(big_integer_null("order_id"))
                    .col(big_integer("product_id"))
                    // pending | active | suspended | terminated | cancelled | fraud
                    .col(string("status"))
                    .col(string("currency_code"))
                    .col(string("billing_cycle"))
                    // The price of one period, locked when ordered (options included).
                    .col(big_integer("recurring_minor"))
                    .col(big_integer("first_payment_minor"))
                    // Renew at the catalog's price of the day instead of the locked price.
                    .col(boolean("use_current_price").default(false))
                    .col(date("registration_date"))
                    // NULL for one-time and free services.
                    .col(date_null("next_due_date"))
                    .col(date_null("next_invoice_date"))
                    .col(string("domain").default(""))
                    .col(string("hostname").default(""))
                    .col(string("username").default(""))
                    // Encrypted with the installation key.
                    .col(text_null("password_enc"))
                    .col(big_integer_null("server_id"))
                    .col(text("notes").default(""))
                    .col(string("suspend_reason").default(""))
                    .col(date_null("suspended_on"))
                    .col(date_null("terminated_on"))
                    .col(date_null("cancelled_on"))
                    // A recurring coupon's discount on renewals; NULL = none, or forever with a coupon.
                    .col(big_integer_null("coupon_id"))
                    .col(integer_null("coupon_renewals_left"))
                    // What the client paid for the period ending on the next due date, and when
                    // that period began: an upgrade credits the unused part of exactly this.
                    // NULL: one cycle at the recurring amount.
                    .col(date_null("paid_period_start"))
                    .col(big_integer_null("paid_period_minor"))
                    // Staff adding a service by hand: one service per submission of the form.
                    .col(string_null("idempotency_key").unique_key())
                    .foreign_key(ForeignKey::create().from("services", "client_id").to("clients", "id"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("services", "order_id")
                            .to("orders", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("services", "product_id")
                            .to("products", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("services", "coupon_id")
                            .to("coupons", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    ),
            )
            .to_owned(),
        )
        .await?;
        index(m, "services_client", "services", &["client_id", "id"]).await?;
        index(m, "services_order", "services", &["order_id"]).await?;
        index(m, "services_status", "services", &["status", "id"]).await?;
        index(m, "services_next_due", "services", &["next_due_date"]).await?;
        index(m, "services_domain", "services", &["domain"]).await?;

        m.create_table(
            Table::create()
                .table("service_options")
                .col(big_integer("service_id"))
                .col(big_integer("option_id"))
                .col(big_integer_null("value_id"))
                .col(integer("quantity").default(0))
                .primary_key(Index::create().col("service_id").col("option_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("service_options", "service_id")
                        .to("services", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("service_options", "option_id")
                        .to("config_options", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("service_options", "value_id")
                        .to("config_option_values", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            timestamps(
                Table::create()
                    .table("service_addons")
                    .col(pk_auto("id").big_integer())
                    .col(big_integer("service_id"))
                    .col(big_integer("addon_id"))
                    .col(big_integer_null("order_id"))
                    .col(string("status"))
                    .col(string("billing_cycle"))
                    .col(big_integer("recurring_minor"))
                    .col(date("registration_date"))
                    .col(date_null("next_due_date"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("service_addons", "service_id")
                            .to("services", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("service_addons", "addon_id")
                            .to("addons", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    ),
            )
            .to_owned(),
        )
        .await?;
        index(m, "service_addons_service", "service_addons", &["service_id"]).await?;

        m.create_table(
            Table::create()
                .table("cancellation_requests")
                .col(pk_auto("id").big_integer())
                .col(big_integer("service_id"))
                // immediate | end_of_period
                .col(string("kind"))
                .col(text("reason"))
                // open | done | withdrawn | rejected
                .col(string("status"))
                .col(string("requested_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("resolved_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("cancellation_requests", "service_id")
                        .to("services", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "cancellation_requests_status", "cancellation_requests", &["status", "id"]).await?;
        // At most one open request per service; the same statement works on both databases.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX cancellation_requests_open ON cancellation_requests (service_id) \
                 WHERE status = 'open'",
            )
            .await?;

        m.create_table(
            timestamps(
                Table::create()
                    .table("service_upgrades")
                    .col(pk_auto("id").big_integer())
                    .col(big_integer("service_id"))
                    .col(big_integer_null("invoice_id"))
                    // pending (invoice unpaid) | applied | cancelled
                    .col(string("status"))
                    .col(big_integer("from_product_id"))
                    .col(big_integer("to_product_id"))
                    .col(string("from_cycle"))
                    .col(string("to_cycle"))
                    // JSON choices, as in cart_items.
                    .col(text("choices").default("[]"))
                    .col(big_integer("new_recurring_minor"))
                    // The day the change was priced for; the new price is paid from then.
                    .col(date("effective_on"))
                    .col(date("new_next_due_date"))
                    .col(big_integer("credit_minor"))
                    .col(big_integer("charge_minor"))
                    .col(big_integer("account_credit_minor"))
                    .col(string("idempotency_key").unique_key())
                    .col(timestamp_with_time_zone_null("applied_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("service_upgrades", "service_id")
                            .to("services", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(ForeignKey::create().from("service_upgrades", "invoice_id").to("invoices", "id")),
            )
            .to_owned(),
        )
        .await?;
        index(m, "service_upgrades_service", "service_upgrades", &["service_id"]).await?;
        index(m, "service_upgrades_invoice", "service_upgrades", &["invoice_id"]).await?;

        // What an invoice line bills: a service (or one of its add-ons) for a period. The daily
        // run's renewals will be unique per (service, period start).
        for col in [big_integer_null("service_id"), big_integer_null("service_addon_id")] {
            m.alter_table(Table::alter().table("invoice_lines").add_column(col.to_owned()).to_owned()).await?;
        }
        for col in [date_null("period_start"), date_null("period_end")] {
            m.alter_table(Table::alter().table("invoice_lines").add_column(col.to_owned()).to_owned()).await?;
        }
        index(m, "invoice_lines_service", "invoice_lines", &["service_id"]).await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
