//! The legal documents on A4 (the begjæring om utlegg, the forliksklage, the pages of their
//! attachments), with the letter's engine: the same word wrap, paragraphs, totals, page breaks
//! and page furniture, plus what a form needs: numbered sections, label/value fields, tables whose
//! text column wraps, fields left empty to fill in by hand, yes/no choices and the signature
//! lines.
//!
//! No envelope window here (the documents are filed, not posted to the debtor): the first page
//! starts with the creditor, the title and to whom it goes. The top 13 mm of every page stay
//! empty for the approval stamp (`documents::approve`).

use super::{
    wrap, Engine, Frame, Layout, PageLayout, Piece, Rect, Role, Shape, CELL_PAD, LEFT, MM, RIGHT,
    SENDER_NAME_SIZE, SMALL_SIZE, TITLE_SIZE, WIDTH,
};
use super::{BODY_LEADING, BODY_SIZE, FLOW_BOTTOM, PARAGRAPH_GAP};
use crate::documents::fonts::{fonts, Weight};
use crate::documents::RenderError;
use crate::domain::collection::dunning::letter::{Align, ClaimTable, Field, Paragraph};
use crate::domain::collection::legal::document::{Block, LegalDocument};

/// The first line of the creditor's name (below the stamp band).
const TOP: f32 = 15.0 * MM;
const SECTION_SIZE: f32 = 11.0;
const TABLE_SIZE: f32 = 8.5;
/// The narrowest a wrapping column may become.
const MIN_WRAP_COLUMN: f32 = 18.0 * MM;
const BOX_HEIGHT: f32 = 9.0 * MM;

/// Lays a legal document out on A4 pages.
pub fn layout_legal(doc: &LegalDocument) -> Result<Layout, RenderError> {
    let mut e = Engine {
        fonts: fonts(),
        pages: vec![PageLayout::default()],
        current: 0,
        y: 0.0,
    };
    e.legal_first_page(doc)?;
    for section in &doc.sections {
        e.section_heading(&section.heading)?;
        for block in &section.blocks {
            e.block(block)?;
        }
    }
    e.furniture(&Frame {
        continuation_header: &doc.continuation_header,
        footer: &doc.footer,
        page_label: &|page, pages| doc.page_label(page, pages),
    })?;
    Ok(Layout { pages: e.pages })
}

impl Engine {
    fn legal_first_page(&mut self, doc: &LegalDocument) -> Result<(), RenderError> {
        let name = wrap(
            self.fonts,
            &[(doc.creditor_name.clone(), Weight::Bold)],
            SENDER_NAME_SIZE,
            WIDTH,
        );
        let mut y = self.lines_at(
            LEFT,
            TOP,
            SENDER_NAME_SIZE * 1.25,
            SENDER_NAME_SIZE,
            Role::SenderName,
            &name,
        );
        y += 8.0 * MM;
        let title = wrap(
            self.fonts,
            &[(doc.title.clone(), Weight::Bold)],
            TITLE_SIZE + 3.0,
            WIDTH,
        );
        y = self.lines_at(
            LEFT,
            y,
            (TITLE_SIZE + 3.0) * 1.2,
            TITLE_SIZE + 3.0,
            Role::Title,
            &title,
        );
        let subtitle = wrap(
            self.fonts,
            &[(doc.subtitle.clone(), Weight::Regular)],
            BODY_SIZE,
            WIDTH,
        );
        y = self.lines_at(
            LEFT,
            y + 1.0,
            BODY_LEADING,
            BODY_SIZE,
            Role::Body,
            &subtitle,
        );
        self.y = y + 4.0 * MM;
        self.fields(&doc.meta)?;
        self.y += 2.0 * MM;
        self.rule(LEFT, self.y, WIDTH, 0.8, 0.2);
        self.y += 4.0 * MM;
        Ok(())
    }

    /// A section heading, kept with at least three lines of what follows.
    fn section_heading(&mut self, heading: &str) -> Result<(), RenderError> {
        let lines = wrap(
            self.fonts,
            &[(heading.to_string(), Weight::Bold)],
            SECTION_SIZE,
            WIDTH,
        );
        let h = lines.len() as f32 * SECTION_SIZE * 1.3;
        self.y += 3.0 * MM;
        self.ensure(h + 2.0 * MM + 3.0 * BODY_LEADING)?;
        self.y = self.lines_at(
            LEFT,
            self.y,
            SECTION_SIZE * 1.3,
            SECTION_SIZE,
            Role::Title,
            &lines,
        );
        self.rule(LEFT, self.y, WIDTH, 0.4, 0.6);
        self.y += 2.0 * MM;
        Ok(())
    }

    fn block(&mut self, block: &Block) -> Result<(), RenderError> {
        match block {
            Block::Paragraph(p) => self.legal_paragraph(p),
            Block::Fields { fields } => {
                self.fields(fields)?;
                self.y += PARAGRAPH_GAP;
                Ok(())
            }
            Block::Table(t) => {
                self.wrapped_table(t)?;
                self.y += PARAGRAPH_GAP;
                Ok(())
            }
            Block::Totals { lines } => {
                self.totals(lines)?;
                self.y += PARAGRAPH_GAP;
                Ok(())
            }
            Block::FillIn { label, note } => self.fill_in(label, note),
            Block::Choice { label, yes } => self.choice(label, *yes),
            Block::Signature { name, role } => self.signature(name, role),
        }
    }

    /// A paragraph; a heading without text is a sub-heading kept with what follows.
    fn legal_paragraph(&mut self, p: &Paragraph) -> Result<(), RenderError> {
        if p.runs.is_empty() {
            if let Some(h) = &p.heading {
                self.ensure(3.0 * BODY_LEADING)?;
                let lines = wrap(self.fonts, &[(h.clone(), Weight::Bold)], BODY_SIZE, WIDTH);
                self.y =
                    self.lines_at(LEFT, self.y, BODY_LEADING, BODY_SIZE, Role::Heading, &lines);
                self.y += 1.0;
            }
            return Ok(());
        }
        self.paragraph(p, 0.0)
    }

    /// Label and value pairs: the labels in a column as wide as the widest (at most 60 mm), the
    /// values wrapped beside them.
    fn fields(&mut self, fields: &[Field]) -> Result<(), RenderError> {
        let label_size = BODY_SIZE - 1.0;
        let regular = self.face(Weight::Regular);
        let label_w = fields
            .iter()
            .map(|f| regular.width(&f.label, label_size))
            .fold(0.0, f32::max)
            .min(60.0 * MM)
            + 5.0 * MM;
        let value_x = LEFT + label_w;
        for f in fields {
            let weight = if f.strong {
                Weight::Bold
            } else {
                Weight::Regular
            };
            let values = wrap(
                self.fonts,
                &[(f.value.clone(), weight)],
                BODY_SIZE,
                RIGHT - value_x,
            );
            let labels = wrap(
                self.fonts,
                &[(f.label.clone(), Weight::Regular)],
                label_size,
                label_w - 3.0 * MM,
            );
            let rows = values.len().max(labels.len()).max(1);
            self.ensure(rows as f32 * BODY_LEADING)?;
            let top = self.y;
            // The label sits on the value's baseline.
            let shift = regular.ascent * (BODY_SIZE - label_size);
            self.lines_at(
                LEFT,
                top + shift,
                BODY_LEADING,
                label_size,
                Role::MetaLabel,
                &labels,
            );
            self.lines_at(value_x, top, BODY_LEADING, BODY_SIZE, Role::Body, &values);
            self.y = top + rows as f32 * BODY_LEADING;
        }
        Ok(())
    }

    /// A table whose widest text column wraps when the columns do not fit; amounts stay on one
    /// line, right-aligned. Long tables continue on the next page under a repeated header.
    fn wrapped_table(&mut self, t: &ClaimTable) -> Result<(), RenderError> {
        let n = t.columns.len();
        if n == 0 {
            return Ok(());
        }
        let size = TABLE_SIZE;
        let regular = self.face(Weight::Regular);
        let bold = self.face(Weight::Bold);
        let natural: Vec<f32> = (0..n)
            .map(|i| {
                t.rows
                    .iter()
                    .map(|r| r.get(i).map_or(0.0, |c| regular.width(c, size)))
                    .fold(bold.width(&t.columns[i].title, size), f32::max)
                    + 2.0 * CELL_PAD
            })
            .collect();
        // Amounts keep their natural width; the text columns share the rest, in proportion to
        // what they would need on one line, and wrap when that is less (the slack, when there
        // is some, goes to the widest text column).
        let is_text = |i: usize| t.columns[i].align == Align::Left;
        let fixed: f32 = (0..n).filter(|i| !is_text(*i)).map(|i| natural[i]).sum();
        let text_natural: f32 = (0..n).filter(|i| is_text(*i)).map(|i| natural[i]).sum();
        let room = WIDTH - fixed;
        let widest = (0..n)
            .filter(|i| is_text(*i))
            .max_by(|a, b| natural[*a].total_cmp(&natural[*b]));
        let mut widths = natural.clone();
        if text_natural <= room {
            if let Some(w) = widest {
                widths[w] += room - text_natural;
            }
        } else {
            // Narrow text columns (dates, short labels) keep their width while it is within a
            // fair share; the wider ones share what is left, in proportion, and wrap.
            let mut order: Vec<usize> = (0..n).filter(|i| is_text(*i)).collect();
            order.sort_by(|a, b| natural[*a].total_cmp(&natural[*b]));
            let mut left = room;
            for (pos, &i) in order.iter().enumerate() {
                let fair = left / (order.len() - pos) as f32;
                if natural[i] <= fair {
                    left -= natural[i];
                    continue;
                }
                let rest: f32 = order[pos..].iter().map(|j| natural[*j]).sum();
                for &j in &order[pos..] {
                    widths[j] = left * natural[j] / rest;
                }
                break;
            }
        }
        if (0..n).any(|i| is_text(i) && widths[i] < MIN_WRAP_COLUMN.min(natural[i])) {
            return Err(RenderError::TableTooWide);
        }
        let xs: Vec<f32> = widths
            .iter()
            .scan(LEFT, |x, w| {
                let here = *x;
                *x += w;
                Some(here)
            })
            .collect();
        let line_h = size * 1.35;
        let pad_v = size * 0.35;
        let cell_lines = |e: &Engine, i: usize, text: &str, weight: Weight| -> Vec<Vec<Piece>> {
            if is_text(i) {
                wrap(
                    e.fonts,
                    &[(text.to_string(), weight)],
                    size,
                    widths[i] - 2.0 * CELL_PAD,
                )
            } else {
                vec![vec![Piece {
                    text: text.to_string(),
                    weight,
                    x: 0.0,
                    width: e.face(weight).width(text, size),
                }]]
            }
        };
        let draw_row = |e: &mut Engine, cells: Vec<Vec<Vec<Piece>>>, role: Role| {
            let rows = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let top = e.y + pad_v;
            for (i, lines) in cells.iter().enumerate() {
                for (k, line) in lines.iter().enumerate() {
                    let y = top + k as f32 * line_h;
                    let line_w: f32 = line.last().map_or(0.0, |p| p.x + p.width);
                    let x0 = match t.columns[i].align {
                        Align::Left => xs[i] + CELL_PAD,
                        Align::Right => xs[i] + widths[i] - CELL_PAD - line_w,
                    };
                    for p in line {
                        e.text_at(x0 + p.x, y, size, p.weight, role, &p.text);
                    }
                }
            }
            e.y += rows as f32 * line_h + 2.0 * pad_v;
        };
        let header_cells = |e: &Engine| -> Vec<Vec<Vec<Piece>>> {
            (0..n)
                .map(|i| cell_lines(e, i, &t.columns[i].title, Weight::Bold))
                .collect()
        };
        let height_of = |cells: &[Vec<Vec<Piece>>]| {
            cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * line_h + 2.0 * pad_v
        };
        let header = |e: &mut Engine| {
            let cells = header_cells(e);
            draw_row(e, cells, Role::TableHeader);
            e.rule(LEFT, e.y - 0.3, WIDTH, 0.8, 0.2);
        };
        let first_h = t
            .rows
            .first()
            .map(|r| {
                let cells: Vec<_> = (0..n)
                    .map(|i| {
                        cell_lines(
                            self,
                            i,
                            r.get(i).map_or("", String::as_str),
                            Weight::Regular,
                        )
                    })
                    .collect();
                height_of(&cells)
            })
            .unwrap_or(0.0);
        self.ensure(height_of(&header_cells(self)) + first_h)?;
        header(self);
        for (ri, row) in t.rows.iter().enumerate() {
            let cells: Vec<Vec<Vec<Piece>>> = (0..n)
                .map(|i| {
                    cell_lines(
                        self,
                        i,
                        row.get(i).map_or("", String::as_str),
                        Weight::Regular,
                    )
                })
                .collect();
            if self.y + height_of(&cells) > FLOW_BOTTOM {
                self.new_page()?;
                header(self);
            } else if ri > 0 {
                self.rule(LEFT, self.y - 0.15, WIDTH, 0.3, 0.75);
            }
            draw_row(self, cells, Role::TableCell);
        }
        self.rule(LEFT, self.y - 0.3, WIDTH, 0.8, 0.2);
        Ok(())
    }

    /// A field to fill in by hand: the label, an empty box, and why it is empty.
    fn fill_in(&mut self, label: &str, note: &str) -> Result<(), RenderError> {
        let notes = wrap(
            self.fonts,
            &[(note.to_string(), Weight::Regular)],
            SMALL_SIZE,
            WIDTH,
        );
        let h = BODY_LEADING + BOX_HEIGHT + 1.5 * MM + notes.len() as f32 * SMALL_SIZE * 1.3;
        self.ensure(h)?;
        let lines = wrap(
            self.fonts,
            &[(label.to_string(), Weight::Bold)],
            BODY_SIZE,
            WIDTH,
        );
        self.y = self.lines_at(LEFT, self.y, BODY_LEADING, BODY_SIZE, Role::Body, &lines);
        let top = self.y + 0.5 * MM;
        let w = 80.0 * MM;
        // An outlined box: a dark rectangle with a white one inside.
        self.page().shapes.push(Shape {
            rect: Rect {
                x: LEFT,
                y: top,
                w,
                h: BOX_HEIGHT,
            },
            gray: 0.25,
        });
        self.page().shapes.push(Shape {
            rect: Rect {
                x: LEFT + 0.7,
                y: top + 0.7,
                w: w - 1.4,
                h: BOX_HEIGHT - 1.4,
            },
            gray: 1.0,
        });
        self.y = top + BOX_HEIGHT + 1.0 * MM;
        self.y = self.lines_at(
            LEFT,
            self.y,
            SMALL_SIZE * 1.3,
            SMALL_SIZE,
            Role::MetaLabel,
            &notes,
        );
        self.y += PARAGRAPH_GAP;
        Ok(())
    }

    /// A yes/no choice: the question, then «☒ Ja  ☐ Nei».
    fn choice(&mut self, label: &str, yes: bool) -> Result<(), RenderError> {
        let lines = wrap(
            self.fonts,
            &[(label.to_string(), Weight::Regular)],
            BODY_SIZE,
            WIDTH,
        );
        self.ensure((lines.len() + 1) as f32 * BODY_LEADING)?;
        self.y = self.lines_at(LEFT, self.y, BODY_LEADING, BODY_SIZE, Role::Body, &lines);
        let (y_mark, n_mark) = if yes { ('☒', '☐') } else { ('☐', '☒') };
        let w = self.text_at(
            LEFT + 4.0 * MM,
            self.y,
            BODY_SIZE,
            if yes { Weight::Bold } else { Weight::Regular },
            Role::Body,
            &format!("{y_mark} Ja"),
        );
        self.text_at(
            LEFT + 4.0 * MM + w + 8.0 * MM,
            self.y,
            BODY_SIZE,
            if yes { Weight::Regular } else { Weight::Bold },
            Role::Body,
            &format!("{n_mark} Nei"),
        );
        self.y += BODY_LEADING + PARAGRAPH_GAP;
        Ok(())
    }

    /// «Sted og dato» and «Underskrift» lines, the name under the signature.
    fn signature(&mut self, name: &str, role: &str) -> Result<(), RenderError> {
        let h = 14.0 * MM + 3.0 * BODY_LEADING;
        self.ensure(h)?;
        let line_y = self.y + 14.0 * MM;
        let left_w = 60.0 * MM;
        let right_x = LEFT + left_w + 15.0 * MM;
        self.rule(LEFT, line_y, left_w, 0.6, 0.2);
        self.rule(right_x, line_y, RIGHT - right_x, 0.6, 0.2);
        let below = line_y + 1.5 * MM;
        self.text_at(
            LEFT,
            below,
            SMALL_SIZE,
            Weight::Regular,
            Role::MetaLabel,
            "Sted og dato",
        );
        self.text_at(
            right_x,
            below,
            SMALL_SIZE,
            Weight::Regular,
            Role::MetaLabel,
            "Underskrift",
        );
        self.text_at(
            right_x,
            below + SMALL_SIZE * 1.4,
            BODY_SIZE,
            Weight::Bold,
            Role::Body,
            &format!("{name}, {role}"),
        );
        self.y = below + SMALL_SIZE * 1.4 + BODY_LEADING + PARAGRAPH_GAP;
        Ok(())
    }
}
