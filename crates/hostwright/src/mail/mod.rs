//! Email: composed from templates, written to the outbox in the transaction of the change
//! that causes it, and delivered over SMTP by whichever node claims it first.
//!
//! A message carrying a one-time link (password reset, invitation, address confirmation) is
//! stored with a placeholder where the link goes and the link itself sealed with the
//! installation key; the sender puts it in at delivery and then forgets it. No stored body,
//! export or admin page ever holds a live link (decision 0026).

pub mod outbox;
pub mod sender;

use minijinja::{Value, context};

use crate::ids::ClientId;
use crate::state::AppState;

/// A message ready to be queued.
#[derive(Debug, Clone)]
pub struct Email {
    pub template: String,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub client_id: Option<ClientId>,
    /// Queue it once for this key (see `outbox::Model::dedupe_key`).
    pub dedupe_key: Option<String>,
    /// The one-time link that replaces [`LINK_PLACEHOLDER`] at delivery, encrypted with the
    /// installation key.
    pub sealed_link: Option<String>,
}

/// Stands in the stored body where a one-time link goes (letters and dashes only, so no
/// template escaping changes it).
pub const LINK_PLACEHOLDER: &str = "hw-one-time-link-placeholder";

/// What people reading a stored message see instead of its one-time link.
pub const LINK_WITHHELD: &str = "[one-time link, sent to the recipient and not kept]";

impl Email {
    /// Renders `emails/<template>.subject.txt`, `.txt` and `.html` with `extra` plus the
    /// site's name and address.
    pub fn compose(
        state: &AppState,
        template: &str,
        to_address: &str,
        to_name: &str,
        extra: Value,
    ) -> anyhow::Result<Email> {
        let ctx = context! {
            ..extra,
            ..context! {
                site => context! { name => state.settings.site_name.clone(), url => state.settings.url("/") },
                recipient => context! { name => to_name, email => to_address },
            }
        };
        let render = |suffix: &str| state.templates.render(&format!("emails/{template}.{suffix}"), ctx.clone());
        let subject = render("subject.txt")?.lines().next().unwrap_or_default().trim().to_owned();
        Ok(Email {
            template: template.to_owned(),
            to_address: to_address.to_owned(),
            to_name: to_name.to_owned(),
            subject,
            text: render("txt")?,
            html: render("html")?,
            client_id: None,
            dedupe_key: None,
            sealed_link: None,
        })
    }

    /// [`Email::compose`] for a message whose `link` is a one-time secret: templates see
    /// `link` as the placeholder, and the link is kept only sealed until it is sent.
    pub fn compose_with_link(
        state: &AppState,
        template: &str,
        to_address: &str,
        to_name: &str,
        link: &str,
        extra: Value,
    ) -> anyhow::Result<Email> {
        let extra = context! { link => LINK_PLACEHOLDER, ..extra };
        let mut email = Email::compose(state, template, to_address, to_name, extra)?;
        email.sealed_link = Some(state.key.encrypt(link.as_bytes()));
        Ok(email)
    }

    pub fn for_client(mut self, client_id: ClientId) -> Self {
        self.client_id = Some(client_id);
        self
    }

    /// Queued once for `key`.
    pub fn once_for(mut self, key: String) -> Self {
        self.dedupe_key = Some(key);
        self
    }
}
