//! Reading and writing clients.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;

use super::model::client;
use crate::ids::ClientId;

pub const ACTIVE: &str = "active";
pub const CLOSED: &str = "closed";

pub async fn find(db: &impl ConnectionTrait, id: ClientId) -> Result<Option<client::Model>, DbErr> {
    client::Entity::find_by_id(id).one(db).await
}

/// The clients with these ids, loaded a thousand at a time.
pub async fn find_many(
    db: &impl ConnectionTrait,
    ids: &[ClientId],
) -> Result<std::collections::HashMap<ClientId, client::Model>, DbErr> {
    let mut clients = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        for c in client::Entity::find().filter(client::Column::Id.is_in(chunk.iter().copied())).all(db).await? {
            clients.insert(c.id, c);
        }
    }
    Ok(clients)
}

pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<client::Model>, DbErr> {
    client::Entity::find().filter(client::Column::Email.eq(email)).one(db).await
}
