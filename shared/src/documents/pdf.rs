//! Draws a [`Layout`] into a PDF with krilla: A4 pages, PDF 1.7, the two DejaVu faces embedded
//! as subsets (only the glyphs used), text in DeviceGray, not encrypted, no creation date (the
//! same letter gives the same bytes; the letter's own date is in its text).

use super::fonts::{fonts, Weight};
use super::layout::{Layout, PageLayout, PAGE_HEIGHT, PAGE_WIDTH};
use super::RenderError;
use crate::domain::collection::dunning::letter::LetterDocument;
use crate::domain::collection::dunning::Language;
use krilla::color::luma;
use krilla::configure::{ConfigurationBuilder, PdfVersion};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::surface::Surface;
use krilla::text::{GlyphId, KrillaGlyph};
use krilla::{Document, SerializeSettings};

fn fill(gray: f32) -> Fill {
    let level = (gray.clamp(0.0, 1.0) * 255.0).round() as u8;
    Fill {
        paint: luma::Color::new(level).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

/// The glyphs of `text`: one per character, advances in em, each mapped back to its character
/// (so the text can be copied and extracted).
fn glyphs(text: &str, weight: Weight) -> Vec<KrillaGlyph> {
    let face = fonts().face(weight);
    text.char_indices()
        .map(|(i, c)| {
            let g = face.glyph(c);
            KrillaGlyph::new(
                GlyphId::new(u32::from(g.id)),
                g.advance,
                0.0,
                0.0,
                0.0,
                i..i + c.len_utf8(),
                None,
            )
        })
        .collect()
}

/// What the PDF says about itself (its Info dictionary and XMP metadata).
pub(crate) struct PdfMeta<'a> {
    pub title: &'a str,
    pub author: &'a str,
    /// BCP 47, e.g. `nb-NO`.
    pub language: &'a str,
    pub document_id: &'a str,
}

/// A new PDF 1.7 document, untagged, with its metadata (and no creation date: the same input
/// gives the same bytes).
pub(crate) fn document(meta: &PdfMeta<'_>) -> Result<Document, RenderError> {
    let configuration = ConfigurationBuilder::new()
        .with_version(PdfVersion::Pdf17)
        .finish()
        .map_err(|e| RenderError::Pdf(format!("{e:?}")))?;
    let settings = SerializeSettings {
        configuration,
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut pdf = Document::new_with(settings);
    pdf.set_metadata(
        Metadata::new()
            .title(meta.title.to_string())
            .authors(vec![meta.author.to_string()])
            .creator("Inndrive".to_string())
            .language(meta.language.to_string())
            .document_id(meta.document_id.to_string()),
    );
    Ok(pdf)
}

/// A4 pages.
pub(crate) fn a4() -> Result<PageSettings, RenderError> {
    PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or_else(|| RenderError::Pdf("A4 page size refused".into()))
}

/// Draws the shapes and the text of one laid-out page onto `surface`.
pub(crate) fn draw_page(surface: &mut Surface<'_>, page_layout: &PageLayout) {
    let f = fonts();
    for shape in &page_layout.shapes {
        let r = shape.rect;
        let Some(rect) = Rect::from_xywh(r.x, r.y, r.w, r.h) else {
            continue;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        if let Some(path) = pb.finish() {
            surface.set_fill(Some(fill(shape.gray)));
            surface.draw_path(&path);
        }
    }
    for b in &page_layout.boxes {
        surface.set_fill(Some(fill(b.role.gray())));
        let face = f.face(b.weight);
        surface.draw_glyphs(
            Point::from_xy(b.rect.x, b.baseline),
            &glyphs(&b.text, b.weight),
            face.font.clone(),
            &b.text,
            b.size,
            false,
        );
    }
}

/// Appends the laid-out pages to `pdf`.
pub(crate) fn append(pdf: &mut Document, layout: &Layout) -> Result<(), RenderError> {
    let page_settings = a4()?;
    for page_layout in &layout.pages {
        let mut page = pdf.start_page_with(page_settings.clone());
        let mut surface = page.surface();
        draw_page(&mut surface, page_layout);
        surface.finish();
        page.finish();
    }
    Ok(())
}

/// The finished file.
pub(crate) fn finish(pdf: Document) -> Result<Vec<u8>, RenderError> {
    pdf.finish().map_err(|e| RenderError::Pdf(format!("{e:?}")))
}

/// The PDF bytes of a laid-out letter.
pub fn write(doc: &LetterDocument, layout: &Layout) -> Result<Vec<u8>, RenderError> {
    let mut pdf = document(&PdfMeta {
        title: &doc.title,
        author: &doc.sender_name,
        language: match doc.language {
            Language::Nb => "nb-NO",
            Language::En => "en",
        },
        document_id: &doc.letter_id,
    })?;
    append(&mut pdf, layout)?;
    finish(pdf)
}
