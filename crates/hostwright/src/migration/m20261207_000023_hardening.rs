//! The security review's changes to stored data: an email's one-time link is kept sealed
//! until it is sent (never in its body), and bodies that held such links are scrubbed; a
//! service keeps its billing day, so periods after a short month return to it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The templates whose messages carried a live one-time link in their body.
const LINK_TEMPLATES: &str = "('password_reset', 'staff_invite', 'contact_invite', 'verify_email', 'client_welcome')";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("email_outbox").add_column(text_null("sealed_link")).to_owned()).await?;
        // Messages that will not be sent again lose the link they were stored with; a pending
        // one is still sent as it was stored.
        m.get_connection()
            .execute_unprepared(&format!(
                "UPDATE email_outbox SET body_text = '[removed: this message held a one-time link]', \
                 body_html = '<p>[removed: this message held a one-time link]</p>' \
                 WHERE template IN {LINK_TEMPLATES} AND status <> 'pending'"
            ))
            .await?;
        m.alter_table(Table::alter().table("services").add_column(integer_null("billing_day")).to_owned()).await?;
        // The day each service is due on now; where that is the last day of a short month and
        // the registration day is later, the registration day (the clamp's source).
        let sql = match m.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "UPDATE services SET billing_day = CASE \
                 WHEN EXTRACT(DAY FROM registration_date) > EXTRACT(DAY FROM next_due_date) \
                  AND next_due_date = (date_trunc('month', next_due_date) + interval '1 month - 1 day')::date \
                 THEN EXTRACT(DAY FROM registration_date)::int ELSE EXTRACT(DAY FROM next_due_date)::int END \
                 WHERE next_due_date IS NOT NULL"
            }
            _ => {
                "UPDATE services SET billing_day = CASE \
                 WHEN CAST(strftime('%d', registration_date) AS INTEGER) > CAST(strftime('%d', next_due_date) AS INTEGER) \
                  AND next_due_date = date(next_due_date, 'start of month', '+1 month', '-1 day') \
                 THEN CAST(strftime('%d', registration_date) AS INTEGER) \
                 ELSE CAST(strftime('%d', next_due_date) AS INTEGER) END \
                 WHERE next_due_date IS NOT NULL"
            }
        };
        m.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("migrations are forward-only".into()))
    }
}
