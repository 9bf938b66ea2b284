//! A realistic case that has run the whole chain, for the CLI (`inndrive legal render`), the PDF
//! tests and the examples: an invoice of kr 12 500 due Monday 18 May 2026, a part payment of
//! kr 2 000 on 10 June, and every notice the default dunning policy sends, planned day by day by
//! the real planner and recorded as the dunning service records them (påminnelse, purring,
//! inkassovarsel, betalingsoppfordring with the § 4-18 varsel). The case is ready for legal
//! steps the day after the betalingsoppfordring's deadline. For the forliksklage the debtor
//! objected before that day, and a person found the objection groundless.

use super::document::{
    DocumentKind, DraftError, DraftInput, Forum, LegalDocumentInput, Party, PartyId, SentNotice,
};
use super::police::PoliceDistrict;
use super::policy::LegalStepsPolicy;
use crate::domain::case::{Actor, Case, ObjectionChannel, ObjectionOutcome};
use crate::domain::claim::{
    ClaimEvent, ClaimEventKind, ClaimId, ClaimState, Credit, EventKey, Mirror, PostingRef,
};
use crate::domain::classify::CreditKind;
use crate::domain::collection::dunning::letter::{sample_recipient, sample_sender};
use crate::domain::collection::dunning::{
    compensation_claimed, plan, Channel, CustomerView, DunningPolicy, Language, NoticeRecord,
    PlanDecision, PlanInput,
};
use crate::domain::collection::kid::Kid;
use crate::domain::collection::letters::{DebtorKind, SentLetter};
use crate::domain::collection::rulebook::{add_days, Rulebook};
use crate::domain::ledger::MirroredCustomer;
use crate::domain::money::Money;
use crate::domain::setup::{AccountId, OrgId};
use crate::domain::OrgNumber;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// The sample invoice's number.
pub const INVOICE: i64 = 10023;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    #[error("the sample chain did not reach the betalingsoppfordring: {0}")]
    Chain(String),
    #[error(transparent)]
    Draft(#[from] DraftError),
}

/// The case with everything drafting and readiness read.
#[derive(Debug, Clone)]
pub struct SampleCase {
    pub claim: ClaimState,
    pub case: Case,
    pub customer: MirroredCustomer,
    pub policy: DunningPolicy,
    /// The notices as recorded, with their channels, oldest first.
    pub records: Vec<(NoticeRecord, Channel)>,
    /// The letters the notices were (for the planner and readiness).
    pub letters: Vec<SentLetter>,
    pub debtor: Party,
    pub kid: Kid,
    /// The first day legal steps may be taken (the day after the betalingsoppfordring's
    /// deadline).
    pub ready_on: NaiveDate,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
}

fn at(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(6, 0, 0).unwrap_or_default())
}

/// The sample debtor as a party to the case.
pub fn sample_debtor(kind: DebtorKind) -> Party {
    let r = sample_recipient(Language::Nb, kind);
    // The business debtor is a company with an organisasjonsnummer (a valid, made-up one).
    let id = match kind {
        DebtorKind::Consumer => PartyId::Person,
        DebtorKind::Business => match OrgNumber::parse("912345602") {
            Ok(number) => PartyId::Organisation { number },
            Err(_) => PartyId::Person,
        },
    };
    Party {
        name: r.name,
        address: r.address,
        id,
    }
}

/// Where the sample debtor is sued: Sandvika is in Bærum, which belongs to Oslo police
/// district; Trondheim to Trøndelag.
pub fn sample_forum(kind: DocumentKind, debtor: DebtorKind) -> Forum {
    match (kind, debtor) {
        (DocumentKind::BegjaeringOmUtlegg, DebtorKind::Consumer) => Forum::Namsmann {
            district: Some(PoliceDistrict::Oslo),
            reason: "Saksøkte bor i Bærum kommune".into(),
        },
        (DocumentKind::BegjaeringOmUtlegg, DebtorKind::Business) => Forum::Namsmann {
            district: Some(PoliceDistrict::Trondelag),
            reason: "Saksøktes forretningskontor er i Trondheim kommune".into(),
        },
        (DocumentKind::Forliksklage, DebtorKind::Consumer) => Forum::Forliksrad {
            municipality: Some("Bærum".into()),
        },
        (DocumentKind::Forliksklage, DebtorKind::Business) => Forum::Forliksrad {
            municipality: Some("Trondheim".into()),
        },
    }
}

/// Runs the sample chain. `disputed`: the debtor objects (on the betalingsoppfordring's
/// deadline) and a person finds the objection groundless the next day.
pub fn sample_case(
    book: &Rulebook,
    debtor: DebtorKind,
    disputed: bool,
) -> Result<SampleCase, SampleError> {
    let chain = |e: &dyn std::fmt::Debug| SampleError::Chain(format!("{e:?}"));
    let account = AccountId::from_suffix("01hzy3k9q7m2v8x4c6n5b1t0ra").map_err(|e| chain(&e))?;
    let org = OrgId::parse("org_sample").map_err(|e| chain(&e))?;
    let id = ClaimId::invoice(INVOICE).map_err(|e| chain(&e))?;
    let mut claim = ClaimState::new(org, account, id.clone());
    let due = d(2026, 5, 18);
    claim
        .apply(ClaimEvent::mirrored(
            &id,
            Mirror {
                invoice_id: Some(INVOICE),
                invoice_number: Some(INVOICE.to_string()),
                voucher_id: Some(INVOICE * 10),
                customer_id: 77,
                principal: Money::from_kroner(12_500),
                invoice_date: d(2026, 5, 4),
                due_date: due,
                due_date_estimated: false,
                version: Some(1),
                cross_check: None,
            },
        ))
        .map_err(|e| chain(&e))?;
    let recipient = sample_recipient(Language::Nb, debtor);
    let customer = MirroredCustomer {
        id: 77,
        version: None,
        name: recipient.name.clone(),
        customer_number: Some(5011),
        organization_number: match debtor {
            DebtorKind::Business => OrgNumber::parse("912345602").ok(),
            DebtorKind::Consumer => None,
        },
        invalid_organization_number: None,
        debtor_kind: debtor,
        inactive: false,
        email: Some("post@example.no".into()),
        invoice_email: None,
        overdue_notice_email: None,
        postal_address: Some(recipient.address.clone()),
        payment_terms: None,
    };
    let policy = DunningPolicy {
        enabled: true,
        sender: Some(sample_sender()),
        ..DunningPolicy::default()
    };
    let mut case =
        Case::open(&claim, add_days(due, 1), 1, at(add_days(due, 1))).map_err(|e| chain(&e))?;
    let mut records: Vec<(NoticeRecord, Channel)> = Vec::new();
    let mut letters: Vec<SentLetter> = Vec::new();
    let payment_day = d(2026, 6, 10);
    let mut day = add_days(due, 1);
    let last = add_days(due, 120);
    let mut ready_on = None;
    while day <= last && ready_on.is_none() {
        if day == payment_day {
            claim
                .apply(ClaimEvent::credit(Credit {
                    posting: PostingRef {
                        id: 9001,
                        version: Some(1),
                    },
                    voucher_id: 9001,
                    date: day,
                    amount: Money::from_kroner(2_000),
                    kind: CreditKind::Payment,
                    flags: vec![],
                    description: Some("Delbetaling".into()),
                    reversed_by: None,
                }))
                .map_err(|e| chain(&e))?;
        }
        let just_records: Vec<NoticeRecord> = records.iter().map(|(r, _)| r.clone()).collect();
        let decision = plan(&PlanInput {
            claim: &claim,
            case: &case,
            customer: CustomerView::of(&customer, &[]),
            letters: &letters,
            compensation_claimed: compensation_claimed(&just_records),
            policy: &policy,
            book,
            today: day,
        });
        match decision {
            PlanDecision::Send(n) => {
                let rec = NoticeRecord::new(&format!("ltr_{}_{}", n.step, day), &n);
                letters.extend(rec.sent_letters());
                claim
                    .apply(ClaimEvent::new(
                        EventKey::new(&format!("charges:{}", rec.letter_id))
                            .map_err(|e| chain(&e))?,
                        ClaimEventKind::ChargesDemanded(rec.charges_demanded()),
                    ))
                    .map_err(|e| chain(&e))?;
                case.record_step(n.step.letter_kind(), at(day))
                    .map_err(|e| chain(&e))?;
                records.push((rec, n.channel));
            }
            PlanDecision::Done => {
                let bo = records
                    .iter()
                    .map(|(r, _)| r)
                    .find(|r| {
                        r.step == crate::domain::collection::dunning::Step::Betalingsoppfordring
                    })
                    .ok_or_else(|| SampleError::Chain("no betalingsoppfordring".into()))?;
                if day > bo.deadline {
                    ready_on = Some(day);
                } else if disputed && day == bo.deadline {
                    let objection = case
                        .record_objection(
                            "Jeg mener arbeidet ikke ble utført som avtalt, og vil ikke betale før det er rettet.",
                            day,
                            ObjectionChannel::Email,
                            Actor::user("regnskap@bolgen-skjaergard.no"),
                            day,
                            at(day),
                        )
                        .map_err(|e| chain(&e))?;
                    case.assess_objection(
                        objection,
                        ObjectionOutcome::Groundless {
                            reason: "Arbeidet ble utført og godkjent av kunden ved overlevering 30.04.2026 (signert arbeidsordre); reklamasjonen kom først etter inkassovarselet og angir ingen konkret mangel.".into(),
                        },
                        Actor::user("leder@bolgen-skjaergard.no"),
                        at(day),
                    )
                    .map_err(|e| chain(&e))?;
                }
            }
            PlanDecision::WaitUntil { .. } => {}
            PlanDecision::Hold(h) => {
                if !disputed {
                    return Err(SampleError::Chain(h.code().to_string()));
                }
            }
        }
        day = add_days(day, 1);
    }
    let ready_on = ready_on.ok_or_else(|| SampleError::Chain("never ready".into()))?;
    let kid = Kid::generate_mod10(&format!("{INVOICE:0>8}")).map_err(|e| chain(&e))?;
    Ok(SampleCase {
        claim,
        case,
        customer,
        policy,
        records,
        letters,
        debtor: sample_debtor(debtor),
        kid,
        ready_on,
    })
}

/// The sample's document of `kind`, drafted on the first day it may be filed. The forliksklage
/// is the disputed sample.
pub fn sample_document(
    book: &Rulebook,
    kind: DocumentKind,
    debtor: DebtorKind,
) -> Result<(SampleCase, LegalDocumentInput), SampleError> {
    let s = sample_case(book, debtor, kind == DocumentKind::Forliksklage)?;
    let notices: Vec<SentNotice<'_>> = s
        .records
        .iter()
        .map(|(record, channel)| SentNotice {
            record,
            channel: *channel,
        })
        .collect();
    let sender = sample_sender();
    let policy = LegalStepsPolicy::default();
    let forum = sample_forum(kind, debtor);
    let input = LegalDocumentInput::draft(&DraftInput {
        kind,
        document_id: &format!("doc_{}_{}", kind.key(), INVOICE),
        claim: &s.claim,
        case: &s.case,
        notices: &notices,
        creditor: &sender,
        debtor: &s.debtor,
        description: "Rørleggerarbeid: utskifting av varmtvannsbereder",
        kid: Some(&s.kid),
        forum: &forum,
        policy: &policy,
        book,
        date: s.ready_on,
    })?;
    Ok((s, input))
}
