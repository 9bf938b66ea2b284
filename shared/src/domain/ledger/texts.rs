//! What Inndrive says to people about the mirrored ledger, in Norwegian (bokmål) and English:
//! why an item is not in the ledger ([`skip_texts`], one exhaustive match used by the ledger API
//! and the ready mail) and the "your ledger is ready" mail ([`ready_mail`]).
//!
//! These are content, not I/O: they depend on domain values only, so they live in the domain,
//! where the API and the mail share them and they are tested without AWS. The mail adapter sends
//! a [`MailText`]; it does not know what it says.

use serde::{Deserialize, Serialize};

use super::{SkipReason, SyncCounts};

/// A text in Norwegian and English.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Texts {
    pub no: String,
    pub en: String,
}

impl Texts {
    pub fn new(no: &str, en: &str) -> Self {
        Self {
            no: no.into(),
            en: en.into(),
        }
    }
}

fn texts(no: &str, en: &str) -> Texts {
    Texts::new(no, en)
}

/// The texts of one skip reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipTexts {
    /// A few words, for a list ("mangler forfallsdato").
    pub label: Texts,
    /// "Why is this item not in my ledger?": the reason for a person, and what changes it.
    pub explanation: Texts,
}

/// The texts of a skip reason.
pub fn skip_texts(reason: SkipReason) -> SkipTexts {
    let (label, explanation) = match reason {
        SkipReason::BeforeFetchFrom => (
            texts("datert før startdatoen for henting", "dated before the fetch-from date"),
            texts(
                "Posten er datert før «Hent fra»-datoen i integrasjonen. Flytt «Hent fra» bakover for å ta den med.",
                "The item is dated before the integration's «fetch from» date. Move «fetch from» back to include it.",
            ),
        ),
        SkipReason::MissingDueDate => (
            texts("mangler forfallsdato", "no due date"),
            texts(
                "Posten mangler forfallsdato (typisk importert via SAF-T). Slå på «Ta med SAF-T-importerte poster» for å ta den med.",
                "The item has no due date (typically imported via SAF-T). Turn on «Include SAF-T imported items» to include it; the due date is then estimated from the customer's payment terms.",
            ),
        ),
        SkipReason::NullVoucherType => (
            texts("bilag uten bilagstype", "voucher without a voucher type"),
            texts(
                "Posten kommer fra et manuelt bilag uten bilagstype. Slå på «Ta med bilag uten bilagstype» for å ta den med.",
                "The item comes from a manual voucher without a voucher type. Turn on «Include vouchers without voucher type» to include it.",
            ),
        ),
        SkipReason::UnknownCustomer => (
            texts("kunden ble ikke funnet", "customer not found"),
            texts(
                "Kunden på posten ble ikke funnet blant kundene i Tripletex. Sjekk kunden i Tripletex; posten kommer med ved neste synkronisering når kunden finnes.",
                "The item's customer was not among the customers read from Tripletex. Check the customer in Tripletex; the item is included at the next sync once the customer is there.",
            ),
        ),
        SkipReason::MalformedItem => (
            texts("kunne ikke leses", "could not be read"),
            texts(
                "Posten kunne ikke leses fra Tripletex. Den er satt til side; resten av reskontroen er synkronisert.",
                "The record could not be read from Tripletex. It was set aside; the rest of the ledger was synced.",
            ),
        ),
        SkipReason::MissingId => (
            texts("mangler id", "no id"),
            texts(
                "Posten mangler id i Tripletex og kan ikke følges opp.",
                "The record has no id in Tripletex and cannot be followed up.",
            ),
        ),
        SkipReason::MissingCustomer => (
            texts("mangler kunde", "no customer"),
            texts(
                "Posten står i kundereskontroen uten kunde. Før den på riktig kunde i Tripletex.",
                "The item is on the customer ledger without a customer. Book it on the right customer in Tripletex.",
            ),
        ),
        SkipReason::MalformedAmount => (
            texts("ugyldig beløp", "invalid amount"),
            texts(
                "Beløpet på posten mangler eller er ikke et gyldig kronebeløp. Rett posten i Tripletex.",
                "The item's amount is missing or not a valid amount in whole øre. Correct it in Tripletex.",
            ),
        ),
        SkipReason::MalformedDate => (
            texts("ugyldig dato", "invalid date"),
            texts(
                "Datoen på posten mangler eller har feil format. Rett posten i Tripletex.",
                "The item's date is missing or malformed. Correct it in Tripletex.",
            ),
        ),
        SkipReason::MissingInvoiceNumber => (
            texts("mangler fakturanummer", "no invoice number"),
            texts(
                "Fakturaen mangler fakturanummer i Tripletex.",
                "The invoice has no invoice number in Tripletex.",
            ),
        ),
        SkipReason::UnknownVoucherType => (
            texts("ukjent bilagstype", "unknown voucher type"),
            texts(
                "Bilagstypen til posten kunne ikke leses, så vi vet ikke om den er et manuelt bilag. Den prøves igjen ved neste synkronisering.",
                "The item's voucher type could not be read, so whether it is a manual voucher is unknown. It is tried again at the next sync.",
            ),
        ),
    };
    SkipTexts { label, explanation }
}

/// A mail's words: subject, plain text and (optionally) HTML. Recipients and sending are the mail
/// adapter's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailText {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// Control characters (line breaks) out, runs of spaces collapsed: safe in a subject line.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The mail to the organisation's contact when an account's first sync has succeeded: Norwegian
/// subject and body (text and HTML), with an English summary line.
pub fn ready_mail(account_name: &str, counts: &SyncCounts) -> MailText {
    let account = one_line(account_name);
    let account = if account.is_empty() {
        "kontoen".to_string()
    } else {
        account
    };
    let skipped_total = counts.skipped_total();
    let mut skip_lines: Vec<(String, u32)> = counts
        .skipped
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| (skip_texts(*r).label.no, *n))
        .collect();
    skip_lines.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let mut text = String::new();
    text.push_str("Hei,\n\n");
    text.push_str(&format!(
        "Første synkronisering fra Tripletex for {account} er fullført, og reskontroen er klar i Inndrive.\n\n"
    ));
    text.push_str(&format!("Kunder: {}\n", counts.customers));
    text.push_str(&format!("Åpne poster: {}\n", counts.open_items));
    text.push_str(&format!("Forfalte poster: {}\n", counts.overdue_items));
    text.push_str(&format!("Poster som ikke er tatt med: {skipped_total}\n"));
    for (label, n) in &skip_lines {
        text.push_str(&format!("  - {label}: {n}\n"));
    }
    if skipped_total > 0 {
        text.push_str(
            "\nI Inndrive ser du hvilke poster som ikke er tatt med, og hvorfor. De fleste kan tas med ved å endre innstillingene for integrasjonen.\n",
        );
    }
    text.push_str(&format!(
        "\nIn English: the first Tripletex sync for {account} is complete and the customer ledger is ready in Inndrive: {} customers, {} open items, {} overdue, {} skipped.\n",
        counts.customers, counts.open_items, counts.overdue_items, skipped_total
    ));
    text.push_str("\nHilsen\nInndrive\n");

    let a = html_escape(&account);
    let mut html = String::new();
    html.push_str("<p>Hei,</p>\n");
    html.push_str(&format!(
        "<p>Første synkronisering fra Tripletex for <strong>{a}</strong> er fullført, og reskontroen er klar i Inndrive.</p>\n"
    ));
    html.push_str("<table>\n");
    for (label, n) in [
        ("Kunder", counts.customers),
        ("Åpne poster", counts.open_items),
        ("Forfalte poster", counts.overdue_items),
        ("Poster som ikke er tatt med", skipped_total),
    ] {
        html.push_str(&format!("<tr><td>{label}</td><td>{n}</td></tr>\n"));
    }
    html.push_str("</table>\n");
    if !skip_lines.is_empty() {
        html.push_str("<ul>\n");
        for (label, n) in &skip_lines {
            html.push_str(&format!("<li>{}: {n}</li>\n", html_escape(label)));
        }
        html.push_str("</ul>\n");
    }
    html.push_str(&format!(
        "<p lang=\"en\">In English: the first Tripletex sync for {a} is complete and the customer ledger is ready in Inndrive: {} customers, {} open items, {} overdue, {} skipped.</p>\n",
        counts.customers, counts.open_items, counts.overdue_items, skipped_total
    ));
    html.push_str("<p>Hilsen<br>Inndrive</p>\n");

    MailText {
        subject: format!(
            "Inndrive: reskontroen for {} er klar",
            account.chars().take(200).collect::<String>()
        ),
        text,
        html: Some(html),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_skip_reason_has_a_label_and_an_explanation_in_both_languages() {
        let mut labels = std::collections::BTreeSet::new();
        for r in SkipReason::ALL {
            let t = skip_texts(r);
            for text in [&t.label, &t.explanation] {
                assert!(
                    !text.no.trim().is_empty() && !text.en.trim().is_empty(),
                    "{r:?}"
                );
                assert_ne!(text.no, text.en, "{r:?}");
            }
            assert!(t.label.no.len() < t.explanation.no.len(), "{r:?}");
            assert!(
                labels.insert(t.label.no.clone()),
                "{r:?}: labels are distinct"
            );
        }
        assert!(skip_texts(SkipReason::MissingDueDate)
            .explanation
            .no
            .contains("Ta med SAF-T-importerte poster"));
    }

    #[test]
    fn the_ready_mail_lists_skips_with_their_labels_largest_first() {
        let mut counts = SyncCounts {
            customers: 7,
            open_items: 6,
            overdue_items: 2,
            closed_items: 30,
            ..SyncCounts::default()
        };
        for _ in 0..2 {
            counts.count_skip(SkipReason::MalformedAmount);
        }
        counts.count_skip(SkipReason::UnknownCustomer);
        let m = ready_mail("Konto", &counts);
        let t = &m.text;
        assert!(t.contains("Poster som ikke er tatt med: 3\n"), "{t}");
        let amount = t.find("  - ugyldig beløp: 2\n").expect(t);
        let customer = t.find("  - kunden ble ikke funnet: 1\n").expect(t);
        assert!(amount < customer, "{t}");
        assert!(
            t.contains("7 customers, 6 open items, 2 overdue, 3 skipped"),
            "{t}"
        );
        let h = m.html.as_deref().unwrap();
        assert!(h.contains("<li>ugyldig beløp: 2</li>"), "{h}");
        assert_eq!(m.subject, "Inndrive: reskontroen for Konto er klar");
    }
}
