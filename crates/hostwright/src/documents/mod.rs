//! Invoices, proformas and credit notes as PDF files: the legal document a customer receives.
//!
//! The layout is a Typst template, `invoice.typ`, compiled into the binary; a theme folder's
//! `templates/documents/invoice.typ` replaces it (decision 0007). The document's values reach
//! the template only as JSON in a virtual file, `/document.json`, never as template source,
//! so a client called `#import "x.typ"` is printed as those characters and nothing runs.
//!
//! The caller formats every amount and date (money rounding and locale are not this module's
//! business); the template only places strings. Fonts (Noto Sans, `fonts/`) are
//! embedded in the binary and subset into each PDF, so any Latin, Greek or Cyrillic name
//! renders on every machine.
//!
//! Build one [`PdfRenderer`] at start and share it: it holds the parsed template and the
//! fonts, and rendering is CPU-bound work to run on a blocking thread
//! (`tokio::task::spawn_blocking`).

mod renderer;
mod sample;

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

pub use renderer::PdfRenderer;
pub use sample::sample_document;

/// What kind of document this is; the template picks the title from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    Proforma,
    CreditNote,
}

/// Everything printed on one document, already formatted for display.
///
/// Amounts are strings without the currency (`"1,190.00"`, `"-20.00"`); `currency` (an ISO
/// code such as `"EUR"`) is printed next to them where the layout needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub kind: DocumentKind,
    pub number: String,
    pub issue_date: String,
    pub due_date: Option<String>,
    /// "Unpaid", "Paid", "Draft", ...
    pub status_label: String,
    pub seller: Party,
    pub buyer: Party,
    pub currency: String,
    pub lines: Vec<DocLine>,
    /// One line per tax rate.
    pub tax_lines: Vec<DocTaxLine>,
    pub subtotal: String,
    pub discount: Option<String>,
    pub tax_total: String,
    pub total: String,
    pub credit_applied: Option<String>,
    pub amount_paid: Option<String>,
    pub balance: String,
    /// Legal notes, e.g. the reverse-charge wording, printed in full.
    pub notes: Vec<String>,
    /// e.g. "Credits invoice 2026-00012".
    pub references: Vec<String>,
}

/// The seller or the buyer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Party {
    /// The person's or the organisation's name.
    pub name: String,
    /// The company, when it differs from `name` (the buyer "Zoë Ørsted" at "Müller GmbH").
    pub company: Option<String>,
    pub address_lines: Vec<String>,
    pub country: Option<String>,
    /// VAT or other tax identifier.
    pub tax_id: Option<String>,
    /// Company registration, e.g. "Amtsgericht München HRB 123456".
    pub registration: Option<String>,
    pub email: Option<String>,
}

/// One line of the items table. A `description` may hold `\n` for a second line (the period).
#[derive(Debug, Clone, Serialize)]
pub struct DocLine {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
}

/// The tax charged at one rate.
#[derive(Debug, Clone, Serialize)]
pub struct DocTaxLine {
    pub name: String,
    /// e.g. "19%".
    pub rate: String,
    pub base: String,
    pub amount: String,
}

/// Renders one document with a renderer built for the occasion.
///
/// Convenient for a one-off (the CLI); a server should keep one [`PdfRenderer`] instead,
/// which skips loading the fonts and the template on every call.
pub fn render_pdf(doc: &Document, theme_dir: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    PdfRenderer::new(theme_dir)?.render(doc)
}

/// Renders `n` copies of the 12-line sample invoice with the built-in layout and returns
/// documents per second (one thread, renderer built beforehand).
pub fn bench(n: usize) -> anyhow::Result<f64> {
    let renderer = PdfRenderer::new(None)?;
    let doc = sample_document(12);
    let started = Instant::now();
    for i in 0..n {
        let mut doc = doc.clone();
        // A different number each time, so no document is an exact cache hit.
        doc.number = format!("2026-{:05}", i + 1);
        renderer.render(&doc)?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON))
}

#[cfg(test)]
mod tests;
