//! The legal documents as PDF: the document itself, its attachments as one PDF, and the signed
//! (approved and stamped) document.
//!
//! - [`render_legal`]: a [`LegalDocument`] (the begjæring, the forliksklage, or a generated
//!   attachment page) laid out by the letter's engine and written by krilla.
//! - [`bundle`]: one PDF of the attachments in their order: PDFs as they are (the invoice copy
//!   from Tripletex, each notice as sent) and generated pages (the payment history, the
//!   objection). Existing PDFs are embedded page by page with krilla's own `pdf` feature (the
//!   pages become form XObjects read by hayro, the parser krilla uses), so no second PDF
//!   library is needed; each page gets the label «Bilag 2: … – side 1 av 2» in the top margin.
//! - [`approve`]: the approved PDF stamped on every page with the approver's name and the time
//!   (Europe/Oslo), and the SHA-256 of the exact bytes approved, recorded in the [`Approval`].
//!
//! Deterministic: no creation date; the same input gives the same bytes.

use super::fonts::Weight;
use super::layout::{layout_legal, overlay, MM};
use super::pdf::{self, PdfMeta};
use super::RenderError;
use crate::domain::collection::legal::document::{Approval, Attachment, LegalDocument};
use chrono::{DateTime, Utc};
use krilla::geom::Size;
use krilla::page::PageSettings;
use krilla::pdf::{Pdf, PdfDocument};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Left edge and top of the labels and the stamp (inside the 13 mm band the layouts leave free).
const MARK_LEFT: f32 = 25.0 * MM;
const MARK_TOP: f32 = 4.0 * MM;
const MARK_WIDTH: f32 = 165.0 * MM;

/// The document as PDF bytes.
pub fn render_legal(doc: &LegalDocument) -> Result<Vec<u8>, RenderError> {
    let placed = layout_legal(doc)?;
    let mut out = pdf::document(&PdfMeta {
        title: &doc.title,
        author: &doc.creditor_name,
        language: "nb-NO",
        document_id: &doc.document_id,
    })?;
    pdf::append(&mut out, &placed)?;
    pdf::finish(out)
}

/// What one attachment is made of.
#[derive(Debug, Clone, Copy)]
pub enum PartContent<'a> {
    /// A PDF as it is (the invoice copy, a notice as sent).
    Pdf(&'a [u8]),
    /// A page Inndrive writes (the payment history, the objection).
    Page(&'a LegalDocument),
}

/// One attachment of the bundle, in the document's order.
#[derive(Debug, Clone, Copy)]
pub struct BundlePart<'a> {
    pub attachment: &'a Attachment,
    pub content: PartContent<'a>,
}

fn invalid(a: &Attachment, reason: impl Into<String>) -> RenderError {
    RenderError::InvalidAttachment {
        number: a.number,
        reason: reason.into(),
    }
}

/// The PDF, ready to embed, with its pages' sizes.
fn load(bytes: &[u8]) -> Result<(PdfDocument, Vec<(f32, f32)>), String> {
    let parsed = Pdf::new(bytes.to_vec()).map_err(|e| format!("not a readable PDF ({e:?})"))?;
    let sizes: Vec<(f32, f32)> = parsed
        .pages()
        .iter()
        .map(|p| p.render_dimensions())
        .collect();
    if sizes.is_empty() {
        return Err("the PDF has no pages".into());
    }
    Ok((PdfDocument::new(Arc::new(parsed)), sizes))
}

/// Draws `source`'s pages as new pages of `out`, each with the mark `mark(page, pages)` over it.
fn embed(
    out: &mut krilla::Document,
    source: &PdfDocument,
    sizes: &[(f32, f32)],
    mark: &dyn Fn(usize, usize) -> Vec<(String, f32, Weight)>,
) -> Result<(), RenderError> {
    let n = sizes.len();
    for (i, (w, h)) in sizes.iter().enumerate() {
        let settings = PageSettings::from_wh(*w, *h)
            .ok_or_else(|| RenderError::Pdf(format!("page {} has no size", i + 1)))?;
        let size = Size::from_wh(*w, *h)
            .ok_or_else(|| RenderError::Pdf(format!("page {} has no size", i + 1)))?;
        let mut page = out.start_page_with(settings);
        let mut surface = page.surface();
        surface.draw_pdf_page(source, size, i);
        let lines = mark(i + 1, n);
        if !lines.is_empty() {
            let width = (w - 2.0 * MARK_LEFT).max(60.0 * MM).min(MARK_WIDTH);
            pdf::draw_page(&mut surface, &overlay(&lines, MARK_LEFT, MARK_TOP, width));
        }
        surface.finish();
        page.finish();
    }
    Ok(())
}

/// The attachments as one PDF, in the given order, each page labelled with its attachment.
pub fn bundle(
    title: &str,
    author: &str,
    document_id: &str,
    parts: &[BundlePart<'_>],
) -> Result<Vec<u8>, RenderError> {
    let mut out = pdf::document(&PdfMeta {
        title,
        author,
        language: "nb-NO",
        document_id,
    })?;
    for part in parts {
        let a = part.attachment;
        let label = |page: usize, pages: usize| {
            vec![(
                format!("Bilag {} – side {page} av {pages}: {}", a.number, a.title),
                7.0,
                Weight::Regular,
            )]
        };
        match part.content {
            PartContent::Pdf(bytes) => {
                let (doc, sizes) = load(bytes).map_err(|r| invalid(a, r))?;
                embed(&mut out, &doc, &sizes, &label)?;
            }
            PartContent::Page(page) => {
                let (doc, sizes) = load(&render_legal(page)?).map_err(RenderError::Pdf)?;
                embed(&mut out, &doc, &sizes, &label)?;
            }
        }
    }
    pdf::finish(out)
}

/// The SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The signed document and the record of its approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    /// The approved PDF with the stamp on every page.
    pub pdf: Vec<u8>,
    pub approval: Approval,
}

/// Stamps the approved PDF `approved` with `approver` and `at` (shown in Norwegian time) and
/// the SHA-256 of `approved` itself, which the [`Approval`] records.
pub fn approve(
    approved: &[u8],
    approver: &str,
    at: DateTime<Utc>,
) -> Result<Approved, RenderError> {
    let approver = approver.trim();
    if approver.is_empty() {
        return Err(RenderError::NoApprover);
    }
    let sha256 = sha256_hex(approved);
    let (source, sizes) = load(approved).map_err(RenderError::InvalidPdf)?;
    let oslo = at.with_timezone(&chrono_tz::Europe::Oslo);
    let stamp = |page: usize, pages: usize| {
        vec![
            (
                format!(
                    "GODKJENT OG SIGNERT av {approver} {} (side {page} av {pages})",
                    oslo.format("%d.%m.%Y kl. %H:%M")
                ),
                7.5,
                Weight::Bold,
            ),
            (
                format!("SHA-256 av det godkjente dokumentet: {sha256}"),
                6.5,
                Weight::Regular,
            ),
        ]
    };
    let mut out = pdf::document(&PdfMeta {
        title: "Signert dokument",
        author: approver,
        language: "nb-NO",
        document_id: &sha256,
    })?;
    embed(&mut out, &source, &sizes, &stamp)?;
    Ok(Approved {
        pdf: pdf::finish(out)?,
        approval: Approval {
            by: approver.to_string(),
            at,
            sha256,
        },
    })
}
