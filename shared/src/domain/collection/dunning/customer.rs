//! The debtor as the planner sees it: a small borrowed view of the mirrored customer and the
//! register's stop flags, built cheaply from the stored records.

use crate::domain::collection::letters::DebtorKind;
use crate::domain::ledger::registry::StopReason;
use crate::domain::ledger::{MirroredCustomer, PostalAddress};
use serde::{Serialize, Serializer};

/// What the planner needs to know about the debtor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerView<'a> {
    pub debtor_kind: DebtorKind,
    /// Why dunning must stop for this debtor (Enhetsregisteret: bankrupt, under liquidation, …);
    /// empty = it may go on. The stored customer's `registry.stopReasons`.
    pub stop_reasons: &'a [StopReason],
    /// The address notices are e-mailed to ([`notice_email`]).
    pub email: Option<&'a str>,
    /// The postal address printed letters go to, when it can carry a letter
    /// ([`is_deliverable`]).
    pub postal_address: Option<&'a PostalAddress>,
}

impl<'a> CustomerView<'a> {
    /// The view of a mirrored customer with the register's stop reasons (`&[]` when the register
    /// was not asked or found nothing).
    pub fn of(customer: &'a MirroredCustomer, stop_reasons: &'a [StopReason]) -> Self {
        Self {
            debtor_kind: customer.debtor_kind,
            stop_reasons,
            email: notice_email(customer),
            postal_address: customer
                .postal_address
                .as_ref()
                .filter(|a| is_deliverable(a)),
        }
    }
}

/// The e-mail a notice goes to: the customer's overdue-notice address, else its invoice
/// address, else its general address; the first one that is a usable address
/// ([`is_valid_email`]). Several addresses in one field ("a@x.no; b@y.no") are not usable.
pub fn notice_email(customer: &MirroredCustomer) -> Option<&str> {
    [
        &customer.overdue_notice_email,
        &customer.invoice_email,
        &customer.email,
    ]
    .into_iter()
    .filter_map(|e| e.as_deref().map(str::trim))
    .find(|e| is_valid_email(e))
}

/// A plain syntactic check of one e-mail address (`local@domain.tld`): at most 254 characters,
/// one `@`, a local part of 1–64 characters without spaces, control characters, commas,
/// semicolons, angle brackets or quotes, and a domain of at least two dot-separated labels of
/// letters, digits and hyphens (not at a label's ends). Whether the mailbox exists is for the
/// mail system to find out.
pub fn is_valid_email(s: &str) -> bool {
    if s.is_empty() || s.len() > 254 {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            !c.is_whitespace()
                && !c.is_control()
                && !matches!(
                    c,
                    '@' | ',' | ';' | '<' | '>' | '"' | '(' | ')' | '[' | ']' | '\\'
                )
        });
    let mut labels = 0;
    let domain_ok = domain.split('.').all(|label| {
        labels += 1;
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    local_ok && domain_ok && labels >= 2
}

/// An address a printed letter can be sent to: at least one street or box line, and a postal
/// code or a city.
pub fn is_deliverable(address: &PostalAddress) -> bool {
    address.lines.iter().any(|l| !l.trim().is_empty())
        && (non_blank(&address.postal_code) || non_blank(&address.city))
}

fn non_blank(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// A set of [`StopReason`]s (`Copy`, no allocation), in the register's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StopReasons(u8);

impl StopReasons {
    const ALL: [StopReason; 5] = [
        StopReason::Bankrupt,
        StopReason::UnderLiquidation,
        StopReason::ForcedDissolution,
        StopReason::Deleted,
        StopReason::RemovedFromRegister,
    ];

    fn bit(r: StopReason) -> u8 {
        match r {
            StopReason::Bankrupt => 1,
            StopReason::UnderLiquidation => 2,
            StopReason::ForcedDissolution => 4,
            StopReason::Deleted => 8,
            StopReason::RemovedFromRegister => 16,
        }
    }

    pub fn of(reasons: &[StopReason]) -> Self {
        Self(reasons.iter().fold(0, |acc, r| acc | Self::bit(*r)))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, r: StopReason) -> bool {
        self.0 & Self::bit(r) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = StopReason> {
        Self::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

/// In the API: the list of reasons (what it serializes to).
impl utoipa::PartialSchema for StopReasons {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(<StopReason as utoipa::PartialSchema>::schema())
            .into()
    }
}

impl utoipa::ToSchema for StopReasons {}

impl Serialize for StopReasons {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The register's stop reason in bokmål, as a letter or a hold names it.
pub fn stop_reason_nb(r: StopReason) -> &'static str {
    match r {
        StopReason::Bankrupt => "konkurs",
        StopReason::UnderLiquidation => "under avvikling",
        StopReason::ForcedDissolution => "under tvangsavvikling eller tvangsoppløsning",
        StopReason::Deleted => "slettet",
        StopReason::RemovedFromRegister => "fjernet fra Enhetsregisteret",
    }
}

pub fn stop_reason_en(r: StopReason) -> &'static str {
    match r {
        StopReason::Bankrupt => "bankrupt",
        StopReason::UnderLiquidation => "under liquidation",
        StopReason::ForcedDissolution => "under forced dissolution",
        StopReason::Deleted => "deleted",
        StopReason::RemovedFromRegister => "removed from the register",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer() -> MirroredCustomer {
        MirroredCustomer {
            id: 7,
            version: None,
            name: "Kunde AS".into(),
            customer_number: None,
            organization_number: None,
            invalid_organization_number: None,
            debtor_kind: DebtorKind::Business,
            inactive: false,
            email: Some("post@kunde.no".into()),
            invoice_email: Some("faktura@kunde".into()),
            overdue_notice_email: Some("a@kunde.no; b@kunde.no".into()),
            postal_address: Some(PostalAddress {
                lines: vec!["Storgata 1".into()],
                postal_code: Some("0150".into()),
                city: Some("Oslo".into()),
                country_code: Some("NO".into()),
            }),
            payment_terms: None,
        }
    }

    #[test]
    fn the_first_usable_address_is_chosen_in_order_overdue_invoice_general() {
        let mut c = customer();
        // Two addresses in one field and a domain without a dot are skipped.
        assert_eq!(notice_email(&c), Some("post@kunde.no"));
        c.invoice_email = Some(" faktura@kunde.no ".into());
        assert_eq!(notice_email(&c), Some("faktura@kunde.no"));
        c.overdue_notice_email = Some("purring@kunde.no".into());
        assert_eq!(notice_email(&c), Some("purring@kunde.no"));
        c.overdue_notice_email = None;
        c.invoice_email = None;
        c.email = Some("ikke en adresse".into());
        assert_eq!(notice_email(&c), None);
    }

    #[test]
    fn email_syntax() {
        for ok in [
            "a@b.no",
            "ola.nordmann+faktura@firma-navn.co.uk",
            "æøå@bø.no",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a@b",
            "@b.no",
            "a@.no",
            "a@b..no",
            "a b@c.no",
            "a@b.no,c@d.no",
            "a@-b.no",
            ".a@b.no",
            "a..b@c.no",
            "a@b@c.no",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn a_letter_needs_a_line_and_a_postal_code_or_city() {
        let c = customer();
        let v = CustomerView::of(&c, &[]);
        assert!(v.postal_address.is_some());
        let mut a = c.postal_address.clone().unwrap();
        a.postal_code = None;
        assert!(is_deliverable(&a));
        a.city = Some(" ".into());
        assert!(!is_deliverable(&a));
        let no_lines = PostalAddress {
            lines: vec![],
            postal_code: Some("0150".into()),
            city: Some("Oslo".into()),
            country_code: None,
        };
        assert!(!is_deliverable(&no_lines));
    }

    #[test]
    fn stop_reasons_as_a_set() {
        let s = StopReasons::of(&[StopReason::Deleted, StopReason::Bankrupt]);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![StopReason::Bankrupt, StopReason::Deleted]
        );
        assert!(StopReasons::of(&[]).is_empty());
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"["bankrupt","deleted"]"#
        );
        for r in StopReasons::ALL {
            assert!(StopReasons::of(&[r]).contains(r));
            assert!(!stop_reason_nb(r).is_empty() && !stop_reason_en(r).is_empty());
        }
    }
}
