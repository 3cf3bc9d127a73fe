//! Delivers queued email over SMTP. Every `serve` node runs the loop; claims keep each
//! message to one sender at a time.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::watch;

use super::outbox;
use crate::config::{SmtpSecurity, SmtpSettings};
use crate::state::AppState;

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The SMTP transport the settings describe, or `None` when no server is configured.
pub fn transport(smtp: &SmtpSettings) -> anyhow::Result<Option<Transport>> {
    let Some(host) = smtp.host.as_deref().filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let mut builder = match smtp.security {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpSecurity::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).context("configuring SMTP with STARTTLS")?
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).context("configuring SMTP over TLS")?,
    }
    .port(smtp.port)
    .timeout(Some(Duration::from_secs(smtp.timeout_seconds)));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
    }
    Ok(Some(builder.build()))
}

/// The bodies as sent: the one-time link, unsealed, where its placeholder stands.
fn bodies(key: &crate::crypto::SecretKey, message: &outbox::Model) -> anyhow::Result<(String, String)> {
    let Some(sealed) = &message.sealed_link else {
        return Ok((message.body_text.clone(), message.body_html.clone()));
    };
    let link = String::from_utf8(key.decrypt(sealed).context("unsealing the message's link")?)
        .context("the message's link is not text")?;
    let html_link = link.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    Ok((
        message.body_text.replace(super::LINK_PLACEHOLDER, &link),
        message.body_html.replace(super::LINK_PLACEHOLDER, &html_link),
    ))
}

fn build_message(
    smtp: &SmtpSettings,
    key: &crate::crypto::SecretKey,
    message: &outbox::Model,
) -> anyhow::Result<Message> {
    let (text, html) = bodies(key, message)?;
    let from = Mailbox::new(
        Some(smtp.from_name.clone()),
        smtp.from_email.parse().context("the configured from_email is not an email address")?,
    );
    let to = Mailbox::new(
        (!message.to_name.is_empty()).then(|| message.to_name.clone()),
        message.to_address.parse().context("the recipient is not an email address")?,
    );
    Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        .message_id(None)
        .multipart(MultiPart::alternative_plain_html(text, html))
        .context("building the message")
}

/// Sends what is due now; returns how many were sent.
pub async fn deliver_due(state: &AppState) -> anyhow::Result<usize> {
    let Some(transport) = transport(&state.settings.smtp)? else {
        return Ok(0);
    };
    let mut sent = 0;
    loop {
        let batch = outbox::claim_due(&state.db, 20).await.context("claiming due email")?;
        if batch.is_empty() {
            return Ok(sent);
        }
        for message in batch {
            let result = match build_message(&state.settings.smtp, &state.key, &message) {
                Ok(built) => transport.send(built).await.map(|_| ()).map_err(|e| format!("{e}")),
                Err(err) => Err(format!("{err:#}")),
            };
            match result {
                Ok(()) => {
                    outbox::mark_sent(&state.db, message.id).await.context("recording a sent email")?;
                    metrics::counter!("emails_sent_total").increment(1);
                    tracing::info!(email.id = %message.id, email.template = %message.template, "email sent");
                    sent += 1;
                }
                Err(error) => {
                    outbox::mark_failed(&state.db, &message, &error).await.context("recording a failed email")?;
                    metrics::counter!("email_failures_total").increment(1);
                    tracing::warn!(email.id = %message.id, error = %error, attempts = message.attempts, "email not sent");
                }
            }
        }
    }
}

/// Runs until `stop` changes: delivers due email every few seconds, or at once when woken.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    if state.settings.smtp.host.as_deref().is_none_or(str::is_empty) {
        tracing::warn!("no SMTP server configured: email is queued in the outbox but not sent");
    }
    loop {
        if let Err(err) = deliver_due(&state).await {
            tracing::error!(error = format!("{err:#}"), "email delivery failed");
        }
        tokio::select! {
            _ = state.outbox_wakeup.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
            _ = stop.changed() => return,
        }
    }
}
