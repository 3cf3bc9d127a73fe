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

pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<client::Model>, DbErr> {
    client::Entity::find().filter(client::Column::Email.eq(email)).one(db).await
}
