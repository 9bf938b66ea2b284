//! The loss-marker words: does a voucher text begin with "Tap…", "Avskriv…" or "Avskrev…"?
//!
//! The rule: the text begins with a *word* starting with `tap`, `avskriv` or `avskrev`,
//! case-insensitive, after leading whitespace and punctuation. The word must come first.
//!
//! - Leading characters that are neither letters nor digits are skipped (spaces, tabs, line
//!   breaks, `-`, `–`, `*`, `#`, `(`, `«`, `"`, `•`, zero-width spaces, a byte-order mark …).
//! - Digits are **not** skipped: "10023 Tap" begins with the word "10023", so it carries no marker
//!   (see [`later_loss_word`] for the hint that catches it).
//! - A word is a run of letters (`char::is_alphabetic`, so æ, ø, å and every other script count)
//!   plus combining marks (a decomposed "å" is `a` + U+030A).
//! - Case is folded with `char::to_lowercase`, which maps Æ/Ø/Å to æ/ø/å.
//!
//! Every word that starts with a stem is a marker, as the rule says. Words that are plainly loss
//! vocabulary ("tap", "tapsført", "avskrevet", "avskrivning" …) are [`MarkerStrength::Clear`];
//! other words that merely start with `tap` ("tapt" = lost, "tapet" = wallpaper or "the loss",
//! "tape" = to lose or tape, "tapas", "tappe" …) are [`MarkerStrength::Ambiguous`], so the caller
//! can hold them for a person.

use serde::{Deserialize, Serialize};

/// Which of the three stems the first word starts with.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerStem {
    /// `tap…`: "Tap", "Tapsført", "Tapsføring" (and, ambiguously, "Tapt", "Tapet").
    Tap,
    /// `avskriv…`: "Avskriv", "Avskrives", "Avskrivning". In Norwegian accounting "avskrivning"
    /// is also depreciation of fixed assets; on a credit to a customer's ledger it means write-off.
    Avskriv,
    /// `avskrev…`: "Avskrev", "Avskrevet", "Avskrevne".
    Avskrev,
}

impl MarkerStem {
    /// The stem as it is matched (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerStem::Tap => "tap",
            MarkerStem::Avskriv => "avskriv",
            MarkerStem::Avskrev => "avskrev",
        }
    }
}

/// Whether the marker word is plain loss vocabulary or only happens to start with a stem.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerStrength {
    /// "tap", "taps…" ("tapsført", "tapsføring", "tapsføres"), "tapfør…", every `avskriv…` and
    /// `avskrev…` word.
    Clear,
    /// Any other word starting with `tap`: "tapt"/"tapte" (lost), "tapet" (wallpaper, or "the
    /// loss"), "tape"/"taper" (to lose, or tape), "tapas", "tappe" …
    Ambiguous,
}

/// The marker found at the start of a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerWord {
    /// The first word as written ("Tapsført", "AVSKREVET").
    pub word: String,
    /// The first word folded to lower case ("tapsført", "avskrevet").
    pub folded: String,
    pub stem: MarkerStem,
    pub strength: MarkerStrength,
}

/// The first word of `text` when it starts with a loss-marker stem, else `None`.
///
/// ```
/// use shared::domain::classify::{starts_with_loss_marker, MarkerStem, MarkerStrength};
/// let m = starts_with_loss_marker("  - TAPSFØRT faktura 2024-118").unwrap();
/// assert_eq!((m.stem, m.strength, m.folded.as_str()), (MarkerStem::Tap, MarkerStrength::Clear, "tapsført"));
/// assert!(starts_with_loss_marker("Betaling, tapt kvittering").is_none());
/// ```
pub fn starts_with_loss_marker(text: &str) -> Option<MarkerWord> {
    let word = first_word(text)?;
    marker_for_word(word)
}

/// The first later word (not the first one) that is clear loss vocabulary, e.g. "avskrives" in
/// "Delbetaling, rest avskrives senere" or "Tap" in "10023 Tap på fordring". Used only as a hint
/// (flag `loss_word_later`); it never makes a write-off on its own.
pub fn later_loss_word(text: &str) -> Option<MarkerWord> {
    // When the text begins with a number, that number is the first word and every run of letters
    // comes later ("10023 Tap" → "Tap").
    let first_is_letters = usize::from(!begins_with_number(text));
    letter_words(text)
        .skip(first_is_letters)
        .filter_map(marker_for_word)
        .find(|m| m.strength == MarkerStrength::Clear)
}

fn marker_for_word(word: &str) -> Option<MarkerWord> {
    let folded: String = word.chars().flat_map(char::to_lowercase).collect();
    let stem = if folded.starts_with("avskriv") {
        MarkerStem::Avskriv
    } else if folded.starts_with("avskrev") {
        MarkerStem::Avskrev
    } else if folded.starts_with("tap") {
        MarkerStem::Tap
    } else {
        return None;
    };
    let strength = match stem {
        MarkerStem::Avskriv | MarkerStem::Avskrev => MarkerStrength::Clear,
        MarkerStem::Tap
            if folded == "tap" || folded.starts_with("taps") || folded.starts_with("tapfør") =>
        {
            MarkerStrength::Clear
        }
        MarkerStem::Tap => MarkerStrength::Ambiguous,
    };
    Some(MarkerWord {
        word: word.to_string(),
        folded,
        stem,
        strength,
    })
}

/// A letter or a combining mark (so decomposed Norwegian letters stay inside their word).
fn is_word_char(c: char) -> bool {
    c.is_alphabetic() || is_combining_mark(c)
}

/// Combining diacritical marks (U+0300–U+036F), enough for decomposed æ/ø/å and their cousins.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Leading characters the rule skips: anything that is neither a letter nor a digit.
fn is_skippable(c: char) -> bool {
    !c.is_alphanumeric() && !is_combining_mark(c)
}

/// The first word after leading whitespace and punctuation; `None` when the text is empty, only
/// punctuation, or begins with a digit.
fn first_word(text: &str) -> Option<&str> {
    let start = text.find(|c: char| !is_skippable(c))?;
    let rest = &text[start..];
    let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The runs of letters in `text`, in order; digits and punctuation separate them.
fn letter_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

/// Whether the first word of `text` (after leading punctuation) is a number rather than letters.
fn begins_with_number(text: &str) -> bool {
    text.chars()
        .find(|&c| !is_skippable(c))
        .is_some_and(|c| !is_word_char(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem_of(text: &str) -> Option<(MarkerStem, MarkerStrength)> {
        starts_with_loss_marker(text).map(|m| (m.stem, m.strength))
    }

    #[test]
    fn skips_leading_whitespace_and_punctuation() {
        for t in [
            " - tap: kunde insolvent",
            "\t\n«Tap» på fordring",
            "*Tap*",
            "# Tap",
            "(Tap på fordring)",
            "\u{feff}\u{200b}Tap",
            "• Tap",
            "– Tap",
            "\"Tap\"",
        ] {
            assert_eq!(
                stem_of(t),
                Some((MarkerStem::Tap, MarkerStrength::Clear)),
                "{t:?}"
            );
        }
    }

    #[test]
    fn digits_are_a_word_not_punctuation() {
        assert_eq!(stem_of("1) Tap på fordring"), None);
        assert_eq!(stem_of("10023 tap"), None);
        assert_eq!(
            later_loss_word("10023 tap").map(|m| m.folded),
            Some("tap".into())
        );
    }

    #[test]
    fn folds_norwegian_capitals() {
        let m = starts_with_loss_marker("TAPSFØRT").unwrap();
        assert_eq!(m.folded, "tapsført");
        assert_eq!(m.word, "TAPSFØRT");
        let m = starts_with_loss_marker("AVSKREVNE krav").unwrap();
        assert_eq!(
            (m.stem, m.folded.as_str()),
            (MarkerStem::Avskrev, "avskrevne")
        );
    }

    #[test]
    fn decomposed_letters_stay_in_the_word() {
        // "Tapsførte" is fine either way; "Tåp" (a + ring, decomposed) is not "tap".
        assert_eq!(stem_of("Ta\u{30a}p"), None);
        let m = starts_with_loss_marker("Tapsfo\u{308}rt").unwrap();
        assert_eq!(m.word, "Tapsfo\u{308}rt");
    }

    #[test]
    fn later_word_is_a_hint_only() {
        assert_eq!(stem_of("Delbetaling, rest avskrives senere"), None);
        assert_eq!(
            later_loss_word("Delbetaling, rest avskrives senere").map(|m| m.stem),
            Some(MarkerStem::Avskriv)
        );
        // "tapt" later is ambiguous, so no hint.
        assert_eq!(later_loss_word("Betaling, tapt kvittering"), None);
        // The first word itself is never a "later" word.
        assert_eq!(later_loss_word("Tap på fordring"), None);
    }

    #[test]
    fn empty_and_punctuation_only() {
        for t in ["", "   ", "\t\n", " - ", "«»", "123", "..."] {
            assert_eq!(stem_of(t), None, "{t:?}");
        }
    }
}
