//! The two embedded faces (DejaVu Sans and DejaVu Sans Bold, `shared/fonts/`) and their metrics.
//!
//! The layout needs each character's glyph and advance width; skrifa (the font reader krilla
//! itself uses) reads them once per process from the character map (`cmap`) and the horizontal
//! metrics (`hmtx`). No shaping: one character is one glyph, no kerning. For Latin text in a
//! letter that is what a reader sees anyway; it saves rustybuzz (see docs/performance.md).

use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};
use std::collections::HashMap;
use std::sync::OnceLock;

static REGULAR: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");

/// Characters below this code point are looked up in a table; the rest in a map. Covers Latin
/// (with every Nordic and European letter), Greek, Cyrillic, punctuation and currency signs.
const DENSE: usize = 0x2200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Weight {
    Regular,
    Bold,
}

/// A glyph and its advance width in em.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GlyphInfo {
    pub id: u16,
    pub advance: f32,
}

pub(crate) struct Face {
    pub font: krilla::text::Font,
    /// Ascender and descender (positive, below the baseline) in em.
    pub ascent: f32,
    pub descent: f32,
    dense: Vec<Option<GlyphInfo>>,
    sparse: HashMap<u32, GlyphInfo>,
    notdef: GlyphInfo,
}

impl Face {
    fn load(data: &'static [u8]) -> Face {
        let font_ref =
            FontRef::new(data).expect("the embedded DejaVu font is a valid TrueType font");
        let metrics = font_ref.metrics(Size::unscaled(), LocationRef::default());
        let upem = f32::from(metrics.units_per_em);
        let glyph_metrics = font_ref.glyph_metrics(Size::unscaled(), LocationRef::default());
        let info = |gid: skrifa::GlyphId| GlyphInfo {
            id: u16::try_from(gid.to_u32()).unwrap_or(0),
            advance: glyph_metrics.advance_width(gid).unwrap_or(0.0) / upem,
        };
        let mut dense = vec![None; DENSE];
        let mut sparse = HashMap::new();
        for (cp, gid) in font_ref.charmap().mappings() {
            let g = info(gid);
            match usize::try_from(cp) {
                Ok(i) if i < DENSE => dense[i] = Some(g),
                _ => {
                    sparse.insert(cp, g);
                }
            }
        }
        let font =
            krilla::text::Font::new(data.into(), 0).expect("krilla reads the embedded DejaVu font");
        Face {
            font,
            ascent: metrics.ascent / upem,
            descent: -metrics.descent / upem,
            dense,
            sparse,
            notdef: info(skrifa::GlyphId::new(0)),
        }
    }

    /// The glyph for `c`; the font's .notdef box for a character the font lacks (the text
    /// still extracts correctly: the PDF maps glyphs back to the characters).
    pub fn glyph(&self, c: char) -> GlyphInfo {
        let cp = c as usize;
        let found = if cp < DENSE {
            self.dense[cp]
        } else {
            self.sparse.get(&(c as u32)).copied()
        };
        found.unwrap_or(self.notdef)
    }

    /// Advance width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).advance).sum::<f32>() * size
    }

    /// Whether the font has a glyph for `c`.
    #[cfg(test)]
    pub fn covers(&self, c: char) -> bool {
        let cp = c as usize;
        if cp < DENSE {
            self.dense[cp].is_some()
        } else {
            self.sparse.contains_key(&(c as u32))
        }
    }
}

pub(crate) struct Fonts {
    pub regular: Face,
    pub bold: Face,
}

impl Fonts {
    pub fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

/// Loaded once per process (a warm Lambda reuses them).
pub(crate) fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts {
        regular: Face::load(REGULAR),
        bold: Face::load(BOLD),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norwegian_letters_and_the_signs_of_a_letter_have_glyphs_with_widths() {
        let f = fonts();
        for c in "æøåÆØÅäöüéèšžčñß§%–«»·€ \u{a0}0123456789".chars() {
            for face in [&f.regular, &f.bold] {
                assert!(face.covers(c), "{c:?}");
                assert!(face.glyph(c).advance > 0.0, "{c:?}");
            }
        }
        // DejaVu's digits are tabular: every digit has the same width, so amounts align.
        let w0 = f.regular.glyph('0').advance;
        assert!("123456789"
            .chars()
            .all(|c| (f.regular.glyph(c).advance - w0).abs() < 1e-6));
        // Bold is wider than regular; a no-break space is as wide as a space.
        assert!(f.bold.width("Inkassovarsel", 10.0) > f.regular.width("Inkassovarsel", 10.0));
        assert_eq!(
            f.regular.glyph('\u{a0}').advance,
            f.regular.glyph(' ').advance
        );
        assert!(f.regular.ascent > 0.7 && f.regular.descent > 0.1);
    }

    #[test]
    fn a_character_outside_the_font_falls_back_to_notdef() {
        let f = fonts();
        assert!(!f.regular.covers('\u{4e2d}'));
        assert_eq!(f.regular.glyph('\u{4e2d}').id, 0);
    }
}
