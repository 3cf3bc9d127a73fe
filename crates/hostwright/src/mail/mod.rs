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
use serde::Serialize;

use crate::ids::ClientId;
use crate::state::AppState;

/// The context of one email, and the templates it fills: `emails/<TEMPLATE>.subject.txt`,
/// `.txt` and `.html`. Like a page's view, its fields are the templates' variables.
pub trait EmailView: Serialize {
    /// The templates' base name, e.g. `password_reset`.
    const TEMPLATE: &'static str;
}

/// What every email's templates see besides the message's own context.
fn shared_context(site_name: &str, site_url: &str, to_name: &str, to_address: &str) -> Value {
    context! {
        site => context! { name => site_name, url => site_url },
        recipient => context! { name => to_name, email => to_address },
    }
}

/// The three templates of an email, each with the context `Email::compose` gives it: for the
/// template test.
#[cfg(test)]
pub fn samples<V: EmailView>(view: &V) -> Vec<crate::web::view::Sample> {
    sample_context(V::TEMPLATE, Value::from_serialize(view))
}

/// [`samples`] of a message composed with [`Email::from_view_with_link`].
#[cfg(test)]
pub fn samples_with_link<V: EmailView>(view: &V) -> Vec<crate::web::view::Sample> {
    sample_context(V::TEMPLATE, context! { link => LINK_PLACEHOLDER, ..Value::from_serialize(view) })
}

#[cfg(test)]
fn sample_context(template: &str, own: Value) -> Vec<crate::web::view::Sample> {
    let shared =
        shared_context("Acme Hosting", "https://hosting.example.com/", crate::web::view::SCRIPT, "jo@example.com");
    let context = context! { ..own, ..shared };
    ["subject.txt", "txt", "html"]
        .into_iter()
        .map(|suffix| crate::web::view::Sample::new(format!("emails/{template}.{suffix}"), context.clone()))
        .collect()
}

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
        let shared = shared_context(&state.settings.site_name, &state.settings.url("/"), to_name, to_address);
        let ctx = context! { ..extra, ..shared };
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

    /// Composes the email `view` describes (see [`EmailView`]).
    pub fn from_view<V: EmailView>(
        state: &AppState,
        to_address: &str,
        to_name: &str,
        view: &V,
    ) -> anyhow::Result<Email> {
        Email::compose(state, V::TEMPLATE, to_address, to_name, Value::from_serialize(view))
    }

    /// [`Email::from_view`] for a message carrying a one-time `link` (see
    /// [`Email::compose_with_link`]): the view has no `link`, templates see the placeholder.
    pub fn from_view_with_link<V: EmailView>(
        state: &AppState,
        to_address: &str,
        to_name: &str,
        link: &str,
        view: &V,
    ) -> anyhow::Result<Email> {
        Email::compose_with_link(state, V::TEMPLATE, to_address, to_name, link, Value::from_serialize(view))
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
