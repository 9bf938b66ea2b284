//! What the creditor is told about legal steps and limitation, and in which words: one
//! notification per account and case for each notice that goes out once ("legal steps may now be
//! taken", each limitation warning), and the organization's daily digest mail («3 saker er klare
//! for rettslige skritt»).
//!
//! The notice's key on the case ([`super::keys`], recorded with `Case::notify_once`) is also the
//! notification's identity, so the daily job that runs twice creates nothing twice. Content only:
//! the store keeps the notifications, the mail adapter sends the digest.

use super::radar::WarningLevel;
use super::Route;
use crate::domain::case::CaseId;
use crate::domain::ledger::texts::{MailText, Texts};
use crate::domain::money::Money;
use crate::domain::setup::{AccountId, OrgId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What a notification is about.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseNotice {
    /// Legal steps may now be taken, by `route`.
    #[serde(rename_all = "camelCase")]
    LegalStepsReady {
        route: Route,
        betalingsoppfordring_sent: NaiveDate,
        /// The betalingsoppfordring is good for legal steps through this day.
        file_by: NaiveDate,
        owed: Money,
    },
    /// The claim becomes time-barred: file a legal step before `file_before`.
    #[serde(rename_all = "camelCase")]
    LimitationWarning {
        level: WarningLevel,
        file_before: NaiveDate,
        time_barred_on: NaiveDate,
        /// Interest already lost to limitation.
        interest_lost: Money,
    },
}

impl CaseNotice {
    /// The notification kind as the API names it.
    pub fn kind(&self) -> &'static str {
        match self {
            CaseNotice::LegalStepsReady { .. } => "legal_steps_ready",
            CaseNotice::LimitationWarning { .. } => "limitation_warning",
        }
    }
}

/// A notification about one case, per account (`GET /v1/accounts/{id}/notifications`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseNotification {
    /// `{caseId}.{key}` with the key's `:` as `.` (URL-safe, stable).
    pub id: String,
    /// The notice's key on the case.
    pub key: String,
    pub org: OrgId,
    pub account_id: AccountId,
    pub case_id: CaseId,
    pub customer_id: i64,
    pub customer_name: Option<String>,
    pub invoice_number: Option<String>,
    pub notice: CaseNotice,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub seen_at: Option<DateTime<Utc>>,
    /// The organization's digest mail it goes out in (its idempotency key; `None`: not yet in
    /// one).
    #[serde(default)]
    pub digest: Option<String>,
}

/// The notification id of the notice `key` on `case`.
pub fn notification_id(case: &CaseId, key: &str) -> String {
    format!("{case}.{}", key.replace(':', "."))
}

fn nb(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

fn level_nb(l: WarningLevel) -> &'static str {
    match l {
        WarningLevel::SixMonths => "6 måneder",
        WarningLevel::ThreeMonths => "3 måneder",
        WarningLevel::OneMonth => "1 måned",
    }
}

fn level_en(l: WarningLevel) -> &'static str {
    match l {
        WarningLevel::SixMonths => "6 months",
        WarningLevel::ThreeMonths => "3 months",
        WarningLevel::OneMonth => "1 month",
    }
}

impl CaseNotification {
    /// The claim as a person names it: «faktura 10023 (Bølgen AS)».
    fn claim_label(&self) -> (String, String) {
        let inv = self
            .invoice_number
            .as_deref()
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        let who = self
            .customer_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        (format!("faktura{inv}{who}"), format!("invoice{inv}{who}"))
    }

    pub fn title(&self) -> Texts {
        match &self.notice {
            CaseNotice::LegalStepsReady { .. } => {
                Texts::new("Rettslige skritt kan tas", "Legal steps may now be taken")
            }
            CaseNotice::LimitationWarning { level, .. } => Texts {
                no: format!("Kravet foreldes om {}", level_nb(*level)),
                en: format!("The claim becomes time-barred in {}", level_en(*level)),
            },
        }
    }

    pub fn message(&self) -> Texts {
        let (no, en) = self.claim_label();
        match &self.notice {
            CaseNotice::LegalStepsReady {
                route,
                betalingsoppfordring_sent,
                file_by,
                owed,
            } => Texts {
                no: format!(
                    "For {no} kan {} nå sendes: betalingsoppfordringen fra {} og varselet etter tvangsfullbyrdelsesloven § 4-18 er utløpt. Skyldig: {owed} kr. Betalingsoppfordringen kan brukes til og med {}.",
                    route.name_no(),
                    nb(*betalingsoppfordring_sent),
                    nb(*file_by)
                ),
                en: format!(
                    "For {en} a {route} may now be filed: the betalingsoppfordring of {betalingsoppfordring_sent} and the § 4-18 notice have run out. Owed: NOK {owed}. The betalingsoppfordring may be relied on through {file_by}."
                ),
            },
            CaseNotice::LimitationWarning {
                file_before,
                time_barred_on,
                interest_lost,
                ..
            } => Texts {
                no: format!(
                    "{} foreldes {}: send begjæring om utlegg eller forliksklage før {} for å avbryte foreldelsen. Renter som allerede er foreldet: {interest_lost} kr.",
                    capital(&no),
                    nb(*time_barred_on),
                    nb(*file_before)
                ),
                en: format!(
                    "{} becomes time-barred on {time_barred_on}: file a legal step before {file_before} to interrupt limitation. Interest already time-barred: NOK {interest_lost}.",
                    capital(&en)
                ),
            },
        }
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn saker(n: usize) -> String {
    match n {
        1 => "1 sak".to_string(),
        n => format!("{n} saker"),
    }
}

/// The organization's digest of notifications not mailed before, or `None` when there are none.
/// The subject counts the ready cases first («3 saker er klare for rettslige skritt»), then the
/// limitation warnings.
pub fn digest_mail(notes: &[CaseNotification]) -> Option<MailText> {
    if notes.is_empty() {
        return None;
    }
    let ready: Vec<&CaseNotification> = notes
        .iter()
        .filter(|n| matches!(n.notice, CaseNotice::LegalStepsReady { .. }))
        .collect();
    let warnings: Vec<&CaseNotification> = notes
        .iter()
        .filter(|n| matches!(n.notice, CaseNotice::LimitationWarning { .. }))
        .collect();
    let mut parts = Vec::new();
    if !ready.is_empty() {
        let ready_word = if ready.len() == 1 { "klar" } else { "klare" };
        parts.push(format!(
            "{} er {ready_word} for rettslige skritt",
            saker(ready.len())
        ));
    }
    if !warnings.is_empty() {
        parts.push(format!(
            "{} nærmer seg foreldelse",
            if warnings.len() == 1 {
                "1 krav".to_string()
            } else {
                format!("{} krav", warnings.len())
            }
        ));
    }
    let subject = capital(&parts.join(", og "));
    let mut text = String::from("Hei,\n\n");
    let mut section = |title: &str, list: &[&CaseNotification]| {
        if list.is_empty() {
            return;
        }
        text.push_str(title);
        text.push('\n');
        for n in list {
            text.push_str(&format!("- {}\n", n.message().no));
        }
        text.push('\n');
    };
    section("Klare for rettslige skritt:", &ready);
    section("Foreldelse:", &warnings);
    text.push_str(
        "Inndrive sender ingenting til namsmannen eller forliksrådet: du lager dokumentet i saken, godkjenner og signerer det, og sender det inn selv.\n\n",
    );
    text.push_str(&format!(
        "In English: {} case(s) may now go to legal steps, {} claim(s) approach limitation. See the cases in Inndrive.\n",
        ready.len(),
        warnings.len()
    ));
    text.push_str("\nHilsen\nInndrive\n");
    Some(MailText {
        subject,
        text,
        html: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::claim::ClaimId;

    fn note(case: i64, notice: CaseNotice) -> CaseNotification {
        let case_id = CaseId::for_claim(&ClaimId::invoice(case).unwrap());
        let key = match &notice {
            CaseNotice::LegalStepsReady {
                route,
                betalingsoppfordring_sent,
                ..
            } => super::super::keys::ready(*route, *betalingsoppfordring_sent),
            CaseNotice::LimitationWarning {
                level,
                time_barred_on,
                ..
            } => super::super::keys::limitation_warning(*level, *time_barred_on),
        };
        CaseNotification {
            id: notification_id(&case_id, &key),
            key,
            org: OrgId::parse("org_a").unwrap(),
            account_id: AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap(),
            case_id,
            customer_id: 7,
            customer_name: Some("Bølgen AS".into()),
            invoice_number: Some(case.to_string()),
            notice,
            created_at: "2026-07-16T05:30:00Z".parse().unwrap(),
            seen_at: None,
            digest: None,
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn ready(case: i64) -> CaseNotification {
        note(
            case,
            CaseNotice::LegalStepsReady {
                route: Route::Utlegg,
                betalingsoppfordring_sent: d("2026-07-01"),
                file_by: d("2027-01-01"),
                owed: Money::from_kroner(10_500),
            },
        )
    }

    #[test]
    fn the_id_is_the_case_and_the_notice_key_and_is_url_safe() {
        let n = ready(10023);
        assert_eq!(n.id, "case_inv_10023.legal-ready.utlegg.2026-07-01");
        assert!(n
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
    }

    #[test]
    fn the_digest_counts_the_ready_cases_and_the_warnings() {
        let warn = note(
            10030,
            CaseNotice::LimitationWarning {
                level: WarningLevel::ThreeMonths,
                file_before: d("2026-10-17"),
                time_barred_on: d("2026-10-18"),
                interest_lost: Money::from_kroner(12),
            },
        );
        let m = digest_mail(&[ready(1), ready(2), ready(3)]).unwrap();
        assert_eq!(m.subject, "3 saker er klare for rettslige skritt");
        assert_eq!(
            m.text.matches("kan begjæring om utlegg nå sendes").count(),
            3
        );
        let m = digest_mail(&[ready(1), warn.clone()]).unwrap();
        assert_eq!(
            m.subject,
            "1 sak er klar for rettslige skritt, og 1 krav nærmer seg foreldelse"
        );
        assert!(m.text.contains("før 17.10.2026"), "{}", m.text);
        assert_eq!(
            digest_mail(&[warn]).unwrap().subject,
            "1 krav nærmer seg foreldelse"
        );
        assert!(digest_mail(&[]).is_none());
    }
}
