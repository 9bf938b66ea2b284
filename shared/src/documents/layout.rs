//! The letter on A4: where every line of text goes.
//!
//! A small layout engine for one kind of document: fixed parts on the first page (the creditor
//! top left, the address block in the window of a C5 envelope, date and references beside it,
//! the heading), then a flow of paragraphs (greedy word wrap with the font's advance widths),
//! the claims table (right-aligned amounts; long tables continue on the next page under a
//! repeated header), the totals, the payment box and the closing; a footer with the creditor's
//! contact details and «Side 1 av 2» on every page.
//!
//! The result is a list of placed text boxes and filled rectangles per page, so the print rules
//! can be checked on the layout itself (see [`BARCODE_ZONE`], [`WINDOW`]); the PDF writer only
//! draws what is here. Units are PDF points (1/72 inch), origin top left, y downwards.

mod legal;

pub use legal::layout_legal;

use super::fonts::{fonts, Face, Fonts, Weight};
use super::RenderError;
use crate::domain::collection::dunning::letter::{
    Align, ClaimTable, Field, LetterDocument, Paragraph, Run, TotalLine, MAX_ADDRESS_LINES,
};
use serde::Serialize;

/// One millimetre in points.
pub const MM: f32 = 72.0 / 25.4;
/// A4.
pub const PAGE_WIDTH: f32 = 210.0 * MM;
pub const PAGE_HEIGHT: f32 = 297.0 * MM;

/// Digipost's print rules (`printability-validator`): no text here, where the printer puts its
/// own barcode (x 0–18 mm, y 100–170 mm from the top left).
pub const BARCODE_ZONE: Rect = Rect {
    x: 0.0,
    y: 100.0 * MM,
    w: 18.0 * MM,
    h: 70.0 * MM,
};

/// The window of a C5 envelope: 44 mm from the top, 20 mm from the left, 105 × 35 mm. The address
/// block, and nothing else, goes inside it.
pub const WINDOW: Rect = Rect {
    x: 20.0 * MM,
    y: 44.0 * MM,
    w: 105.0 * MM,
    h: 35.0 * MM,
};

/// The most pages a print partner takes (Digipost: 14).
pub const MAX_PAGES: usize = 14;

/// Left and right edge of the text.
const LEFT: f32 = 25.0 * MM;
const RIGHT: f32 = 190.0 * MM;
const WIDTH: f32 = RIGHT - LEFT;
/// The address inside the window: 5 mm from its left edge, 4 mm from its top, 3 mm clear of
/// its bottom and right edges.
const ADDRESS_X: f32 = WINDOW.x + 5.0 * MM;
const ADDRESS_TOP: f32 = WINDOW.y + 4.0 * MM;
const ADDRESS_BOTTOM: f32 = WINDOW.y + WINDOW.h - 3.0 * MM;
const ADDRESS_RIGHT: f32 = WINDOW.x + WINDOW.w - 3.0 * MM;
/// Date and references, right of the window.
const META_X: f32 = 135.0 * MM;
/// The creditor's block ends above the window.
const SENDER_TOP: f32 = 15.0 * MM;
const SENDER_BOTTOM: f32 = WINDOW.y - 3.0 * MM;
const TITLE_TOP: f32 = 86.0 * MM;
const CONTINUATION_TOP: f32 = 15.0 * MM;
const CONTINUATION_FLOW_TOP: f32 = 28.0 * MM;
/// The flow ends here; the footer is below.
const FLOW_BOTTOM: f32 = 270.0 * MM;
const FOOTER_RULE: f32 = 274.0 * MM;
const FOOTER_TOP: f32 = 277.0 * MM;

const BODY_SIZE: f32 = 9.5;
const BODY_LEADING: f32 = 13.3;
const PARAGRAPH_GAP: f32 = 6.0;
const TITLE_SIZE: f32 = 15.0;
const SENDER_NAME_SIZE: f32 = 13.0;
const SMALL_SIZE: f32 = 8.5;
const META_VALUE_SIZE: f32 = 9.5;
const FOOTER_SIZE: f32 = 7.5;
const TABLE_SIZES: [f32; 4] = [8.5, 8.0, 7.5, 7.0];
const CELL_PAD: f32 = 4.0;
const ADDRESS_SIZES: [f32; 2] = [11.0, 10.0];

/// A rectangle in points, origin top left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn right(&self) -> f32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }

    /// The rectangles share an area (touching edges do not count).
    pub fn intersects(&self, o: &Rect) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }

    /// `o` lies entirely inside.
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x && o.right() <= self.right() && o.y >= self.y && o.bottom() <= self.bottom()
    }
}

/// What a text box is, for the renderer (colour) and for the tests (print rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    SenderName,
    SenderLine,
    Address,
    MetaLabel,
    MetaValue,
    Title,
    Heading,
    Body,
    TableHeader,
    TableCell,
    TotalLabel,
    TotalAmount,
    PaymentTitle,
    PaymentLabel,
    PaymentValue,
    Closing,
    PageHeader,
    Footer,
    PageNumber,
}

impl Role {
    /// Grey level of the text: 0 black, 1 white. Labels and page furniture are dark grey.
    pub fn gray(self) -> f32 {
        match self {
            Role::SenderLine
            | Role::MetaLabel
            | Role::PaymentLabel
            | Role::PageHeader
            | Role::Footer
            | Role::PageNumber => 0.33,
            _ => 0.0,
        }
    }
}

/// One line (or part of a line) of text in one face and size.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TextBox {
    /// From the top of the ascender to the bottom of the descender, as wide as the text.
    pub rect: Rect,
    pub baseline: f32,
    pub size: f32,
    pub weight: Weight,
    pub role: Role,
    pub text: String,
}

/// A filled rectangle (rules, the payment box): `gray` 0 black … 1 white.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Shape {
    pub rect: Rect,
    pub gray: f32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PageLayout {
    pub boxes: Vec<TextBox>,
    pub shapes: Vec<Shape>,
}

/// The placed letter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layout {
    pub pages: Vec<PageLayout>,
}

impl Layout {
    /// Every text box with its page index.
    pub fn boxes(&self) -> impl Iterator<Item = (usize, &TextBox)> {
        self.pages
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.boxes.iter().map(move |b| (i, b)))
    }
}

/// Lays the letter out on A4 pages.
pub fn layout(doc: &LetterDocument) -> Result<Layout, RenderError> {
    let mut e = Engine {
        fonts: fonts(),
        pages: vec![PageLayout::default()],
        current: 0,
        y: 0.0,
    };
    e.first_page(doc)?;
    e.flow(doc)?;
    e.furniture(&Frame {
        continuation_header: &doc.continuation_header,
        footer: &doc.footer,
        page_label: &|page, pages| doc.page_label(page, pages),
    })?;
    Ok(Layout { pages: e.pages })
}

/// Lines of small text placed from `top` at `left`, each wrapped to `max_w`: the label of an
/// attachment's page, the approval stamp. Drawn over an existing page.
pub(crate) fn overlay(
    lines: &[(String, f32, Weight)],
    left: f32,
    top: f32,
    max_w: f32,
) -> PageLayout {
    let mut e = Engine {
        fonts: fonts(),
        pages: vec![PageLayout::default()],
        current: 0,
        y: top,
    };
    for (text, size, weight) in lines {
        let wrapped = wrap(e.fonts, &[(text.clone(), *weight)], *size, max_w);
        e.y = e.lines_at(left, e.y, size * 1.25, *size, Role::PageHeader, &wrapped);
    }
    e.pages.swap_remove(0)
}

// ---------------------------------------------------------------------------------------------
// Word wrap
// ---------------------------------------------------------------------------------------------

/// A piece of a line: text in one weight at an x offset from the line start.
#[derive(Debug, Clone, PartialEq)]
struct Piece {
    text: String,
    weight: Weight,
    x: f32,
    width: f32,
}

/// A word: no breakable space inside (a no-break space does not break), possibly in two weights
/// («17.11.2026» bold followed by «.» regular).
#[derive(Debug, Default)]
struct Word {
    parts: Vec<(String, Weight)>,
    width: f32,
    /// Width of the space before the word (zero at the start of a paragraph).
    space_before: f32,
    space_weight: Option<Weight>,
}

fn words(fonts: &Fonts, runs: &[(String, Weight)], size: f32) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut cur = Word::default();
    let mut pending_space: Option<Weight> = None;
    for (text, weight) in runs {
        let face = fonts.face(*weight);
        for c in text.chars() {
            if c == ' ' || c == '\n' || c == '\t' {
                if !cur.parts.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                pending_space = Some(*weight);
                continue;
            }
            if cur.parts.is_empty() {
                if let Some(w) = pending_space.take() {
                    if !out.is_empty() {
                        cur.space_before = fonts.face(w).glyph(' ').advance * size;
                        cur.space_weight = Some(w);
                    }
                }
            }
            match cur.parts.last_mut() {
                Some((s, w)) if w == weight => s.push(c),
                _ => cur.parts.push((c.to_string(), *weight)),
            }
            cur.width += face.glyph(c).advance * size;
        }
    }
    if !cur.parts.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits a word wider than `max` into pieces that fit, character by character (an e-mail
/// address or a reference without spaces).
fn split_long(fonts: &Fonts, word: Word, size: f32, max: f32) -> Vec<Word> {
    let mut out = Vec::new();
    let mut cur = Word {
        space_before: word.space_before,
        space_weight: word.space_weight,
        ..Word::default()
    };
    for (text, weight) in word.parts {
        let face = fonts.face(weight);
        for c in text.chars() {
            let w = face.glyph(c).advance * size;
            if cur.width + w > max && !cur.parts.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            match cur.parts.last_mut() {
                Some((s, cw)) if *cw == weight => s.push(c),
                _ => cur.parts.push((c.to_string(), weight)),
            }
            cur.width += w;
        }
    }
    if !cur.parts.is_empty() {
        out.push(cur);
    }
    out
}

/// Greedy line breaking: as many words per line as fit in `max`.
fn wrap(fonts: &Fonts, runs: &[(String, Weight)], size: f32, max: f32) -> Vec<Vec<Piece>> {
    let mut lines: Vec<Vec<Piece>> = Vec::new();
    let mut line: Vec<Piece> = Vec::new();
    let mut x = 0.0f32;
    let push = |line: &mut Vec<Piece>, text: &str, weight: Weight, x: f32, width: f32| match line
        .last_mut()
    {
        Some(p) if p.weight == weight && (p.x + p.width - x).abs() < 0.01 => {
            p.text.push_str(text);
            p.width += width;
        }
        _ => line.push(Piece {
            text: text.to_string(),
            weight,
            x,
            width,
        }),
    };
    for word in words(fonts, runs, size) {
        let parts = if word.width > max {
            split_long(fonts, word, size, max)
        } else {
            vec![word]
        };
        for word in parts {
            let fits = x + word.space_before + word.width <= max + 0.01;
            if line.is_empty() || !fits {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                x = 0.0;
            } else if let Some(w) = word.space_weight {
                push(&mut line, " ", w, x, word.space_before);
                x += word.space_before;
            }
            for (text, weight) in &word.parts {
                let width = fonts.face(*weight).width(text, size);
                push(&mut line, text, *weight, x, width);
                x += width;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

/// What every page carries: the header of the second and later pages, the footer and the page
/// number.
pub(crate) struct Frame<'a> {
    pub continuation_header: &'a str,
    pub footer: &'a [String],
    pub page_label: &'a dyn Fn(usize, usize) -> String,
}

pub(crate) struct Engine {
    fonts: &'static Fonts,
    pages: Vec<PageLayout>,
    /// The page being drawn on.
    current: usize,
    /// The top of the next line of the flow.
    y: f32,
}

fn runs_of(p: &[Run]) -> Vec<(String, Weight)> {
    p.iter()
        .map(|r| {
            (
                r.text.clone(),
                if r.strong {
                    Weight::Bold
                } else {
                    Weight::Regular
                },
            )
        })
        .collect()
}

impl Engine {
    fn face(&self, w: Weight) -> &'static Face {
        self.fonts.face(w)
    }

    fn page(&mut self) -> &mut PageLayout {
        &mut self.pages[self.current]
    }

    /// Places `text` with the top of its line box at `top`; returns the box's advance width.
    fn text_at(
        &mut self,
        x: f32,
        top: f32,
        size: f32,
        weight: Weight,
        role: Role,
        text: &str,
    ) -> f32 {
        let face = self.face(weight);
        let width = face.width(text, size);
        let baseline = top + face.ascent * size;
        self.page().boxes.push(TextBox {
            rect: Rect {
                x,
                y: top,
                w: width,
                h: (face.ascent + face.descent) * size,
            },
            baseline,
            size,
            weight,
            role,
            text: text.to_string(),
        });
        width
    }

    /// Places `text` right-aligned at `right`.
    fn text_right(
        &mut self,
        right: f32,
        top: f32,
        size: f32,
        weight: Weight,
        role: Role,
        text: &str,
    ) {
        let w = self.face(weight).width(text, size);
        self.text_at(right - w, top, size, weight, role, text);
    }

    fn rule(&mut self, x: f32, y: f32, w: f32, thickness: f32, gray: f32) {
        self.page().shapes.push(Shape {
            rect: Rect {
                x,
                y,
                w,
                h: thickness,
            },
            gray,
        });
    }

    /// Places wrapped lines from `top`; returns the top of the next line.
    fn lines_at(
        &mut self,
        x: f32,
        top: f32,
        leading: f32,
        size: f32,
        role: Role,
        lines: &[Vec<Piece>],
    ) -> f32 {
        let mut y = top;
        for line in lines {
            for p in line {
                self.text_at(x + p.x, y, size, p.weight, role, &p.text);
            }
            y += leading;
        }
        y
    }

    fn new_page(&mut self) -> Result<(), RenderError> {
        if self.pages.len() >= MAX_PAGES {
            return Err(RenderError::TooManyPages(MAX_PAGES));
        }
        self.pages.push(PageLayout::default());
        self.current = self.pages.len() - 1;
        self.y = CONTINUATION_FLOW_TOP;
        Ok(())
    }

    /// Makes room for `height` points of flow: a new page if it does not fit on this one.
    fn ensure(&mut self, height: f32) -> Result<(), RenderError> {
        if self.y + height > FLOW_BOTTOM {
            self.new_page()?;
        }
        Ok(())
    }

    // -- first page -------------------------------------------------------------------------

    fn first_page(&mut self, doc: &LetterDocument) -> Result<(), RenderError> {
        // The creditor, top left.
        let mut y = SENDER_TOP;
        let name_lines = wrap(
            self.fonts,
            &[(doc.sender_name.clone(), Weight::Bold)],
            SENDER_NAME_SIZE,
            WIDTH,
        );
        y = self.lines_at(
            LEFT,
            y,
            SENDER_NAME_SIZE * 1.25,
            SENDER_NAME_SIZE,
            Role::SenderName,
            &name_lines,
        );
        y += 1.5;
        for line in &doc.sender_lines {
            let lines = wrap(
                self.fonts,
                &[(line.clone(), Weight::Regular)],
                SMALL_SIZE,
                META_X - LEFT - 8.0 * MM,
            );
            y = self.lines_at(
                LEFT,
                y,
                SMALL_SIZE * 1.35,
                SMALL_SIZE,
                Role::SenderLine,
                &lines,
            );
        }
        if y > SENDER_BOTTOM {
            return Err(RenderError::SenderBlockTooTall);
        }

        self.address(&doc.recipient_lines)?;
        self.meta(&doc.meta)?;

        // The heading.
        let title_lines = wrap(
            self.fonts,
            &[(doc.title.clone(), Weight::Bold)],
            TITLE_SIZE,
            WIDTH,
        );
        self.y = self.lines_at(
            LEFT,
            TITLE_TOP,
            TITLE_SIZE * 1.25,
            TITLE_SIZE,
            Role::Title,
            &title_lines,
        );
        self.y += 5.0 * MM - TITLE_SIZE * 0.25;
        Ok(())
    }

    /// The address block: 11 pt (10 pt if it needs more room), regular, every line inside the
    /// window, no blank lines. Too long a line wraps; an address that cannot fit is an error,
    /// never a letter the envelope would cut.
    fn address(&mut self, lines: &[String]) -> Result<(), RenderError> {
        let max_w = ADDRESS_RIGHT - ADDRESS_X;
        for size in ADDRESS_SIZES {
            let leading = size * 1.2;
            let wrapped: Vec<Vec<Piece>> = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .flat_map(|l| wrap(self.fonts, &[(l.clone(), Weight::Regular)], size, max_w))
                .collect();
            let face = self.face(Weight::Regular);
            let height =
                leading * (wrapped.len().max(1) - 1) as f32 + (face.ascent + face.descent) * size;
            if wrapped.len() <= MAX_ADDRESS_LINES && ADDRESS_TOP + height <= ADDRESS_BOTTOM {
                self.lines_at(
                    ADDRESS_X,
                    ADDRESS_TOP,
                    leading,
                    size,
                    Role::Address,
                    &wrapped,
                );
                return Ok(());
            }
        }
        Err(RenderError::AddressDoesNotFit)
    }

    /// Date, reference, deadline: label above value, right of the window.
    fn meta(&mut self, fields: &[Field]) -> Result<(), RenderError> {
        let mut y = ADDRESS_TOP;
        let max_w = RIGHT - META_X;
        for f in fields {
            self.text_at(
                META_X,
                y,
                SMALL_SIZE - 1.0,
                Weight::Regular,
                Role::MetaLabel,
                &f.label,
            );
            y += (SMALL_SIZE - 1.0) * 1.3;
            let weight = if f.strong {
                Weight::Bold
            } else {
                Weight::Regular
            };
            let lines = wrap(
                self.fonts,
                &[(f.value.clone(), weight)],
                META_VALUE_SIZE,
                max_w,
            );
            y = self.lines_at(
                META_X,
                y,
                META_VALUE_SIZE * 1.25,
                META_VALUE_SIZE,
                Role::MetaValue,
                &lines,
            );
            y += 3.0;
        }
        if y > TITLE_TOP - 4.0 * MM {
            return Err(RenderError::MetaTooTall);
        }
        Ok(())
    }

    // -- the flow ---------------------------------------------------------------------------

    fn flow(&mut self, doc: &LetterDocument) -> Result<(), RenderError> {
        for p in &doc.intro {
            self.paragraph(p, 0.0)?;
        }
        self.y += 1.0 * MM;
        self.table(&doc.table)?;
        self.totals(&doc.totals)?;
        self.y += 3.0 * MM;
        self.payment(doc)?;
        self.y += 4.0 * MM;
        // The closing never stands alone on a page: it keeps the last paragraph with it.
        let closing = self.closing_height(doc);
        let last = doc.body.len().saturating_sub(1);
        for (i, p) in doc.body.iter().enumerate() {
            self.paragraph(p, if i == last { closing } else { 0.0 })?;
        }
        self.closing(doc)
    }

    /// A paragraph; a heading stays with the first two lines, and a paragraph split over two
    /// pages leaves at least two lines on each. `keep_with_next` is the height of what must
    /// follow the paragraph on the same page (the closing after the last one).
    fn paragraph(&mut self, p: &Paragraph, keep_with_next: f32) -> Result<(), RenderError> {
        let lines = wrap(self.fonts, &runs_of(&p.runs), BODY_SIZE, WIDTH);
        let heading = p
            .heading
            .as_ref()
            .map(|h| wrap(self.fonts, &[(h.clone(), Weight::Bold)], BODY_SIZE, WIDTH));
        let heading_h = heading
            .as_ref()
            .map_or(0.0, |h| h.len() as f32 * BODY_LEADING);
        let total = heading_h + lines.len() as f32 * BODY_LEADING;
        if keep_with_next > 0.0
            && self.y + total + PARAGRAPH_GAP + keep_with_next > FLOW_BOTTOM
            && self.y > CONTINUATION_FLOW_TOP
        {
            self.new_page()?;
        }
        if self.y + total > FLOW_BOTTOM {
            let first = lines.len().min(2);
            let fits_first = self.y + heading_h + first as f32 * BODY_LEADING <= FLOW_BOTTOM;
            let room = ((FLOW_BOTTOM - self.y - heading_h) / BODY_LEADING).floor() as usize;
            if !fits_first || room < 2 || lines.len() < 4 || lines.len() - room.min(lines.len()) < 2
            {
                self.new_page()?;
            }
        }
        if let Some(h) = heading {
            self.y = self.lines_at(LEFT, self.y, BODY_LEADING, BODY_SIZE, Role::Heading, &h);
        }
        for line in &lines {
            if self.y + BODY_LEADING > FLOW_BOTTOM {
                self.new_page()?;
            }
            self.y = self.lines_at(
                LEFT,
                self.y,
                BODY_LEADING,
                BODY_SIZE,
                Role::Body,
                std::slice::from_ref(line),
            );
        }
        self.y += PARAGRAPH_GAP;
        Ok(())
    }

    fn table(&mut self, t: &ClaimTable) -> Result<(), RenderError> {
        let n = t.columns.len();
        let regular = self.face(Weight::Regular);
        let bold = self.face(Weight::Bold);
        // The largest size at which every column fits its widest cell.
        let (size, natural) = TABLE_SIZES
            .iter()
            .map(|&size| {
                let widths: Vec<f32> = (0..n)
                    .map(|i| {
                        let header = bold.width(&t.columns[i].title, size);
                        t.rows
                            .iter()
                            .map(|r| r.get(i).map_or(0.0, |c| regular.width(c, size)))
                            .fold(header, f32::max)
                            + 2.0 * CELL_PAD
                    })
                    .collect();
                (size, widths)
            })
            .find(|(_, w)| w.iter().sum::<f32>() <= WIDTH)
            .ok_or(RenderError::TableTooWide)?;
        let slack = (WIDTH - natural.iter().sum::<f32>()) / n as f32;
        let widths: Vec<f32> = natural.iter().map(|w| w + slack).collect();
        let xs: Vec<f32> = widths
            .iter()
            .scan(LEFT, |x, w| {
                let here = *x;
                *x += w;
                Some(here)
            })
            .collect();
        let row_h = size * 1.6;
        let text_top = |top: f32| top + (row_h - (regular.ascent + regular.descent) * size) / 2.0;

        let header = |e: &mut Engine| {
            let top = e.y;
            for (i, c) in t.columns.iter().enumerate() {
                match c.align {
                    Align::Left => {
                        e.text_at(
                            xs[i] + CELL_PAD,
                            text_top(top),
                            size,
                            Weight::Bold,
                            Role::TableHeader,
                            &c.title,
                        );
                    }
                    Align::Right => e.text_right(
                        xs[i] + widths[i] - CELL_PAD,
                        text_top(top),
                        size,
                        Weight::Bold,
                        Role::TableHeader,
                        &c.title,
                    ),
                }
            }
            e.y += row_h;
            e.rule(LEFT, e.y - 0.3, WIDTH, 0.8, 0.2);
        };

        // The header and at least two rows (or all, if fewer) together.
        self.ensure(row_h * (1 + t.rows.len().min(2)) as f32)?;
        header(self);
        for (ri, row) in t.rows.iter().enumerate() {
            if self.y + row_h > FLOW_BOTTOM {
                self.new_page()?;
                header(self);
            } else if ri > 0 {
                self.rule(LEFT, self.y - 0.15, WIDTH, 0.3, 0.75);
            }
            let top = self.y;
            for (i, cell) in row.iter().enumerate().take(n) {
                match t.columns[i].align {
                    Align::Left => {
                        self.text_at(
                            xs[i] + CELL_PAD,
                            text_top(top),
                            size,
                            Weight::Regular,
                            Role::TableCell,
                            cell,
                        );
                    }
                    Align::Right => self.text_right(
                        xs[i] + widths[i] - CELL_PAD,
                        text_top(top),
                        size,
                        Weight::Regular,
                        Role::TableCell,
                        cell,
                    ),
                }
            }
            self.y += row_h;
        }
        self.rule(LEFT, self.y - 0.3, WIDTH, 0.8, 0.2);
        Ok(())
    }

    /// The totals, right-aligned under the last column; the amount to pay bold, under a rule.
    fn totals(&mut self, totals: &[TotalLine]) -> Result<(), RenderError> {
        let size = 9.0;
        let leading = size * 1.55;
        let regular = self.face(Weight::Regular);
        let bold = self.face(Weight::Bold);
        let amount_right = RIGHT - CELL_PAD;
        let amount_w = totals
            .iter()
            .map(|t| bold.width(&t.amount, size))
            .fold(0.0, f32::max);
        let label_right = amount_right - amount_w - 6.0 * MM;
        let label_w = totals
            .iter()
            .map(|t| {
                bold.width(&t.label, size)
                    .max(regular.width(&t.label, size))
            })
            .fold(0.0, f32::max);
        let block_left = (label_right - label_w).max(LEFT);
        let height = leading * totals.len() as f32 + 3.0 * MM;
        self.y += 2.0;
        self.ensure(height)?;
        let last = totals.len().saturating_sub(1);
        for (i, t) in totals.iter().enumerate() {
            if i == last && last > 0 {
                self.y += 2.0;
                self.rule(block_left, self.y - 1.0, RIGHT - block_left, 0.6, 0.2);
                self.y += 1.0;
            }
            let weight = if t.strong {
                Weight::Bold
            } else {
                Weight::Regular
            };
            let top = self.y + (leading - (regular.ascent + regular.descent) * size) / 2.0;
            self.text_right(label_right, top, size, weight, Role::TotalLabel, &t.label);
            self.text_right(
                amount_right,
                top,
                size,
                weight,
                Role::TotalAmount,
                &t.amount,
            );
            self.y += leading;
        }
        Ok(())
    }

    /// The payment box: a light grey panel with account, KID or message, amount and deadline.
    fn payment(&mut self, doc: &LetterDocument) -> Result<(), RenderError> {
        let pad = 3.0 * MM;
        let label_size = 9.0;
        let value_size = 10.0;
        let leading = value_size * 1.45;
        let regular = self.face(Weight::Regular);
        let label_w = doc
            .payment
            .fields
            .iter()
            .map(|f| regular.width(&f.label, label_size))
            .fold(0.0, f32::max)
            + 6.0 * MM;
        let value_x = LEFT + pad + label_w;
        let value_max = RIGHT - pad - value_x;
        let rows: Vec<(String, Vec<Vec<Piece>>)> = doc
            .payment
            .fields
            .iter()
            .map(|f| {
                let weight = if f.strong {
                    Weight::Bold
                } else {
                    Weight::Regular
                };
                (
                    f.label.clone(),
                    wrap(
                        self.fonts,
                        &[(f.value.clone(), weight)],
                        value_size,
                        value_max,
                    ),
                )
            })
            .collect();
        let title_h = BODY_LEADING + 2.0;
        let rows_h: f32 = rows.iter().map(|(_, l)| l.len() as f32 * leading).sum();
        let height = pad + title_h + rows_h + pad - (leading - value_size * 1.2);
        self.ensure(height)?;
        let top = self.y;
        self.page().shapes.push(Shape {
            rect: Rect {
                x: LEFT,
                y: top,
                w: WIDTH,
                h: height,
            },
            gray: 0.93,
        });
        self.page().shapes.push(Shape {
            rect: Rect {
                x: LEFT,
                y: top,
                w: 1.2 * MM,
                h: height,
            },
            gray: 0.25,
        });
        let mut y = top + pad;
        self.text_at(
            LEFT + pad,
            y,
            BODY_SIZE,
            Weight::Bold,
            Role::PaymentTitle,
            &doc.payment.title,
        );
        y += title_h;
        for (label, lines) in &rows {
            // The label sits on the value's first baseline.
            let label_top = y + (regular.ascent * value_size - regular.ascent * label_size);
            self.text_at(
                LEFT + pad,
                label_top,
                label_size,
                Weight::Regular,
                Role::PaymentLabel,
                label,
            );
            y = self.lines_at(value_x, y, leading, value_size, Role::PaymentValue, lines);
        }
        self.y = top + height;
        Ok(())
    }

    fn closing_height(&self, doc: &LetterDocument) -> f32 {
        1.0 * MM + BODY_LEADING * (doc.closing.len() as f32 + 0.6)
    }

    fn closing(&mut self, doc: &LetterDocument) -> Result<(), RenderError> {
        let n = doc.closing.len();
        self.ensure(self.closing_height(doc))?;
        self.y += 1.0 * MM;
        for (i, line) in doc.closing.iter().enumerate() {
            if i + 1 == n && n > 1 {
                self.y += BODY_LEADING * 0.6;
            }
            let weight = if i + 1 == n && n > 1 {
                Weight::Bold
            } else {
                Weight::Regular
            };
            self.text_at(LEFT, self.y, BODY_SIZE, weight, Role::Closing, line);
            self.y += BODY_LEADING;
        }
        Ok(())
    }

    // -- page furniture ---------------------------------------------------------------------

    /// The continuation header on pages 2 … n and the footer with «Side i av n» on every page.
    fn furniture(&mut self, frame: &Frame<'_>) -> Result<(), RenderError> {
        let count = self.pages.len();
        let regular = self.face(Weight::Regular);
        for index in 0..count {
            self.current = index;
            if index > 0 {
                let header = wrap(
                    self.fonts,
                    &[(frame.continuation_header.to_string(), Weight::Regular)],
                    SMALL_SIZE,
                    WIDTH,
                );
                let below = self.lines_at(
                    LEFT,
                    CONTINUATION_TOP,
                    SMALL_SIZE * 1.3,
                    SMALL_SIZE,
                    Role::PageHeader,
                    &header,
                );
                self.rule(LEFT, below + 1.0, WIDTH, 0.5, 0.6);
            }
            self.rule(LEFT, FOOTER_RULE, WIDTH, 0.5, 0.6);
            let label = (frame.page_label)(index + 1, count);
            let label_w = regular.width(&label, FOOTER_SIZE);
            self.text_right(
                RIGHT,
                FOOTER_TOP,
                FOOTER_SIZE,
                Weight::Regular,
                Role::PageNumber,
                &label,
            );
            let max = WIDTH - label_w - 8.0 * MM;
            let mut y = FOOTER_TOP;
            for line in frame.footer {
                let lines = wrap(
                    self.fonts,
                    &[(line.clone(), Weight::Regular)],
                    FOOTER_SIZE,
                    max,
                );
                y = self.lines_at(
                    LEFT,
                    y,
                    FOOTER_SIZE * 1.35,
                    FOOTER_SIZE,
                    Role::Footer,
                    &lines,
                );
            }
            if y > PAGE_HEIGHT - 8.0 * MM {
                return Err(RenderError::FooterTooTall);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Vec<(String, Weight)> {
        vec![(s.to_string(), Weight::Regular)]
    }

    fn line_text(line: &[Piece]) -> String {
        line.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn wrapping_is_greedy_fills_each_line_and_keeps_no_break_spaces_together() {
        let f = fonts();
        let text = "Vi har ikke mottatt betaling for faktura 10023, som forfalt til betaling \
                    02.09.2026. Vi ber deg betale kr\u{a0}10\u{a0}722,00 innen 17.11.2026.";
        let max = 60.0 * MM;
        let lines = wrap(f, &plain(text), 10.0, max);
        assert!(lines.len() >= 3);
        let joined: Vec<String> = lines.iter().map(|l| line_text(l)).collect();
        // Nothing lost: the lines put back together are the text.
        assert_eq!(joined.join(" "), text);
        for (i, l) in lines.iter().enumerate() {
            let w = f.regular.width(&line_text(l), 10.0);
            assert!(w <= max + 0.01, "line {i} is {w} wide");
            // Greedy: the next line's first word would not have fitted.
            if let Some(next) = joined.get(i + 1) {
                let first = next.split(' ').next().unwrap();
                let with = f.regular.width(&format!("{} {first}", line_text(l)), 10.0);
                assert!(with > max, "line {i} could have taken {first:?}");
            }
        }
        assert!(joined.iter().any(|l| l.contains("kr\u{a0}10\u{a0}722,00")));
    }

    #[test]
    fn bold_runs_keep_their_weight_and_positions_follow_the_advance_widths() {
        let f = fonts();
        let runs = vec![
            ("Betal innen ".to_string(), Weight::Regular),
            ("17.11.2026".to_string(), Weight::Bold),
            (".".to_string(), Weight::Regular),
        ];
        let lines = wrap(f, &runs, 10.0, 200.0 * MM);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].text, "17.11.2026");
        assert_eq!(l[1].weight, Weight::Bold);
        let expected_x = f.regular.width("Betal innen ", 10.0);
        assert!((l[1].x - expected_x).abs() < 0.01);
        assert!((l[2].x - (expected_x + f.bold.width("17.11.2026", 10.0))).abs() < 0.01);
    }

    #[test]
    fn a_word_longer_than_the_line_is_broken_by_character() {
        let f = fonts();
        let long = "faktura@en-veldig-lang-adresse-uten-mellomrom.example.no";
        let lines = wrap(f, &plain(long), 10.0, 30.0 * MM);
        assert!(lines.len() > 1);
        let joined: String = lines.iter().map(|l| line_text(l)).collect();
        assert_eq!(joined, long);
        assert!(lines
            .iter()
            .all(|l| f.regular.width(&line_text(l), 10.0) <= 30.0 * MM + 0.01));
    }

    #[test]
    fn the_print_rectangles_are_where_the_rules_say() {
        assert!((PAGE_WIDTH - 595.2756).abs() < 0.01);
        assert!((PAGE_HEIGHT - 841.8898).abs() < 0.01);
        assert!((WINDOW.y / MM - 44.0).abs() < 1e-4);
        assert!((WINDOW.bottom() / MM - 79.0).abs() < 1e-4);
        assert!((BARCODE_ZONE.bottom() / MM - 170.0).abs() < 1e-4);
        assert!(LEFT > BARCODE_ZONE.right());
        let a = Rect {
            x: 0.0,
            y: 0.0,
            w: 10.0,
            h: 10.0,
        };
        let touching = Rect {
            x: 10.0,
            y: 0.0,
            w: 5.0,
            h: 5.0,
        };
        assert!(!a.intersects(&touching));
        assert!(a.intersects(&Rect {
            x: 9.0,
            y: 9.0,
            w: 5.0,
            h: 5.0
        }));
        assert!(a.contains(&Rect {
            x: 1.0,
            y: 1.0,
            w: 2.0,
            h: 2.0
        }));
    }
}
