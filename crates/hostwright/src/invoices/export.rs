//! What the invoices domain stores about a client, for a GDPR access request: their issued
//! invoices, credit notes and account-credit movements.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Map, Value, json};

use super::model::invoice;
use super::status::InvoiceStatus;
use crate::ids::ClientId;

/// The client's invoices (drafts are not documents yet), credit notes and account credit.
pub async fn for_client(db: &impl ConnectionTrait, id: ClientId) -> Result<Map<String, Value>, DbErr> {
    let invoices = invoice::Entity::find()
        .filter(invoice::Column::ClientId.eq(id))
        .filter(invoice::Column::Status.ne(InvoiceStatus::Draft))
        .order_by_asc(invoice::Column::Id)
        .all(db)
        .await?;
    let credit_notes = super::credit_notes::for_client(db, id).await?;
    let credit = super::account_credit::entries(db, id, 1_000_000).await?;
    let mut map = Map::new();
    map.insert(
        "invoices".into(),
        json!(
            invoices
                .iter()
                .map(|i| json!({
                    "number": i.display_number(), "status": i.status, "currency": i.currency_code,
                    "issue_date": i.issue_date, "due_date": i.due_date, "paid_date": i.paid_date,
                    "total_minor": i.total_minor, "balance_minor": i.balance_minor(),
                }))
                .collect::<Vec<_>>()
        ),
    );
    map.insert(
        "credit_notes".into(),
        json!(
            credit_notes
                .iter()
                .map(|n| json!({
                    "number": n.number, "issue_date": n.issue_date, "currency": n.currency_code,
                    "total_minor": n.total_minor, "reason": n.reason,
                }))
                .collect::<Vec<_>>()
        ),
    );
    map.insert(
        "account_credit".into(),
        json!(
            credit
                .iter()
                .map(|e| json!({
                    "at": e.created_at, "currency": e.currency_code, "amount_minor": e.amount_minor,
                    "balance_after_minor": e.balance_after_minor, "reason": e.reason,
                }))
                .collect::<Vec<_>>()
        ),
    );
    Ok(map)
}
