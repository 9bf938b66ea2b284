//! Documents: the dunning letter and the legal documents as PDF (feature `documents`).
//!
//! [`render`] turns a composed [`LetterDocument`] (what the letter says, decided in
//! `domain::collection::dunning::letter`) into PDF bytes: [`layout`] places every line on A4
//! pages by the print rules (the address in the C5 window, nothing in the printer's barcode
//! zone, at most 14 pages), then krilla writes PDF 1.7 with DejaVu Sans embedded.
//!
//! The legal documents (begjæring om utlegg, forliksklage) use the same engine with a form's
//! first page ([`layout_legal`], [`render_legal`]); their attachments become one PDF
//! ([`bundle`]) and the approved document is stamped ([`approve`]).
//!
//! Pure and in-process: no files, no fonts from the system, no clock. The same letter gives the
//! same bytes.

mod fonts;
mod layout;
mod legal;
mod pdf;

pub use legal::{approve, bundle, render_legal, sha256_hex, Approved, BundlePart, PartContent};

pub use fonts::Weight;
pub use layout::{
    layout, layout_legal, Layout, PageLayout, Rect, Role, Shape, TextBox, BARCODE_ZONE, MAX_PAGES,
    MM, PAGE_HEIGHT, PAGE_WIDTH, WINDOW,
};

use crate::domain::collection::dunning::letter::LetterDocument;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the address does not fit the envelope window (at most 6 lines of 10 pt, 97 mm wide)")]
    AddressDoesNotFit,
    #[error("the creditor's name and address are too long for the space above the window")]
    SenderBlockTooTall,
    #[error("the date and references do not fit beside the window")]
    MetaTooTall,
    #[error("the claims table is too wide for the page even at 7 pt")]
    TableTooWide,
    #[error("the creditor's contact details are too long for the footer")]
    FooterTooTall,
    #[error("the letter would need more than {0} pages, the most a print partner takes")]
    TooManyPages(usize),
    #[error("writing the PDF failed: {0}")]
    Pdf(String),
    #[error("attachment {number}: {reason}")]
    InvalidAttachment { number: u32, reason: String },
    #[error("the approved document is not a readable PDF: {0}")]
    InvalidPdf(String),
    #[error("the approver's name is required")]
    NoApprover,
}

/// The letter as PDF bytes.
pub fn render(doc: &LetterDocument) -> Result<Vec<u8>, RenderError> {
    let placed = layout(doc)?;
    pdf::write(doc, &placed)
}
