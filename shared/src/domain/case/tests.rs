use super::*;
use crate::domain::claim::{ClaimEvent, Credit, Mirror, PostingRef, Reversal};
use crate::domain::classify::CreditKind;
use crate::domain::money::Money;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn account() -> AccountId {
    AccountId::from_suffix("01hzy3k9q7m2v8x4c6n5b1t0ra").unwrap()
}

fn claim_for(invoice: i64, customer: i64, principal: i64) -> ClaimState {
    let id = ClaimId::invoice(invoice).unwrap();
    let mut c = ClaimState::new(OrgId::parse("org_acme").unwrap(), account(), id.clone());
    c.apply(ClaimEvent::mirrored(
        &id,
        Mirror {
            invoice_id: Some(invoice),
            invoice_number: None,
            voucher_id: Some(invoice * 10),
            customer_id: customer,
            principal: Money::from_kroner(principal),
            invoice_date: d("2026-01-05"),
            // A Monday.
            due_date: d("2026-01-19"),
            due_date_estimated: false,
            version: Some(1),
            cross_check: None,
        },
    ))
    .unwrap();
    c
}

fn claim() -> ClaimState {
    claim_for(1001, 77, 1_000)
}

fn pay(c: &mut ClaimState, posting: i64, voucher: i64, kr: i64, kind: CreditKind) {
    let a = c
        .apply(ClaimEvent::credit(Credit {
            posting: PostingRef {
                id: posting,
                version: Some(1),
            },
            voucher_id: voucher,
            date: d("2026-02-10"),
            amount: Money::from_kroner(kr),
            kind,
            flags: vec![],
            description: None,
            reversed_by: None,
        }))
        .unwrap();
    assert!(matches!(a, crate::domain::claim::Applied::Changed { .. }));
}

const T0: &str = "2026-02-03T08:00:00Z";

fn open_case() -> Case {
    Case::open(&claim(), d("2026-02-03"), 14, t(T0)).unwrap()
}

fn user() -> Actor {
    Actor::user("user-1")
}

// ---------------------------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------------------------

#[test]
fn opens_when_overdue_by_days_past_due() {
    let c = claim();
    // Effective due Monday 2026-01-19; 14 days later is 2026-02-02.
    assert_eq!(
        Case::open(&c, d("2026-02-01"), 14, t(T0)),
        Err(CaseError::NotOverdue {
            days_past_due: 13,
            required: 14
        })
    );
    let case = Case::open(&c, d("2026-02-02"), 14, t(T0)).unwrap();
    assert_eq!(case.id.to_string(), "case_inv_1001");
    assert_eq!(case.id.claim_id(), &c.claim_id);
    assert_eq!(case.customer_id, 77);
    assert_eq!(case.state(), CaseState::Open);
    assert_eq!(
        case.status,
        CaseStatus::Open {
            reason: OpenReason::Overdue { days_past_due: 14 }
        }
    );
    assert_eq!(case.timeline.len(), 1);
    assert_eq!(case.timeline[0].by, Actor::System);
    // Opening twice names the same case.
    let again = Case::open(&c, d("2026-02-05"), 14, t(T0)).unwrap();
    assert_eq!(again.id, case.id);
}

#[test]
fn never_opens_on_the_due_date_nor_for_closed_or_unmirrored_claims() {
    let c = claim();
    assert!(matches!(
        Case::open(&c, d("2026-01-19"), 0, t(T0)),
        Err(CaseError::NotOverdue { required: 1, .. })
    ));
    assert!(Case::open(&c, d("2026-01-20"), 0, t(T0)).is_ok());
    let mut paid = claim();
    pay(&mut paid, 1, 601, 1_000, CreditKind::Payment);
    assert_eq!(
        Case::open(&paid, d("2026-03-01"), 14, t(T0)),
        Err(CaseError::ClaimNotCollectible {
            status: ClaimStatus::ClosedPaid
        })
    );
    let bare = ClaimState::new(
        OrgId::parse("org_acme").unwrap(),
        account(),
        ClaimId::invoice(5).unwrap(),
    );
    assert_eq!(
        Case::open(&bare, d("2026-03-01"), 14, t(T0)),
        Err(CaseError::ClaimNotMirrored)
    );
}

#[test]
fn a_written_off_claim_gets_a_case() {
    let mut c = claim();
    pay(&mut c, 1, 700, 1_000, CreditKind::WriteOff);
    assert_eq!(c.status, ClaimStatus::WrittenOff);
    let case = Case::open(&c, d("2026-03-01"), 14, t(T0)).unwrap();
    assert!(case.is_active());
}

// ---------------------------------------------------------------------------------------------
// Pause and resume
// ---------------------------------------------------------------------------------------------

#[test]
fn pause_resumes_by_itself_on_the_deadline() {
    let mut case = open_case();
    case.pause(
        d("2026-03-01"),
        "Kunden har lovet å betale innen 1. mars",
        user(),
        d("2026-02-10"),
        t("2026-02-10T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(case.state(), CaseState::Paused);
    assert!(!case.is_active());
    assert_eq!(case.resumes_on(), Some(d("2026-03-01")));
    assert!(!case.resume_due(d("2026-02-28"), t("2026-02-28T05:00:00Z")));
    assert_eq!(case.state(), CaseState::Paused);
    let before = case.timeline.len();
    assert!(case.resume_due(d("2026-03-01"), t("2026-03-01T05:00:00Z")));
    assert_eq!(
        case.status,
        CaseStatus::Open {
            reason: OpenReason::Resumed { automatic: true }
        }
    );
    assert_eq!(case.timeline.len(), before + 1);
    let last = case.timeline.last().unwrap();
    assert_eq!(last.by, Actor::System);
    assert_eq!(last.event, CaseEvent::Resumed { automatic: true });
    // Running the job again changes nothing.
    let snapshot = case.clone();
    assert!(!case.resume_due(d("2026-03-01"), t("2026-03-01T06:00:00Z")));
    assert_eq!(case, snapshot);
}

#[test]
fn a_missed_daily_run_catches_up() {
    let mut case = open_case();
    case.pause(d("2026-03-01"), "avtale", user(), d("2026-02-10"), t(T0))
        .unwrap();
    assert!(case.resume_due(d("2026-03-04"), t("2026-03-04T05:00:00Z")));
    assert!(case.is_active());
}

#[test]
fn pause_needs_a_note_and_a_future_deadline() {
    let mut case = open_case();
    let snapshot = case.clone();
    assert_eq!(
        case.pause(d("2026-03-01"), "  ", user(), d("2026-02-10"), t(T0)),
        Err(CaseError::TextRequired { field: "note" })
    );
    assert_eq!(
        case.pause(d("2026-02-10"), "x", user(), d("2026-02-10"), t(T0)),
        Err(CaseError::PauseNotInFuture {
            until: d("2026-02-10"),
            today: d("2026-02-10")
        })
    );
    assert_eq!(
        case.pause(
            d("2026-03-01"),
            &"x".repeat(MAX_TEXT_CHARS + 1),
            user(),
            d("2026-02-10"),
            t(T0)
        ),
        Err(CaseError::TooLong {
            field: "note",
            max: MAX_TEXT_CHARS
        })
    );
    assert_eq!(
        case.pause(
            d("2026-03-01"),
            "x",
            Actor::user(" "),
            d("2026-02-10"),
            t(T0)
        ),
        Err(CaseError::AuthorRequired)
    );
    assert_eq!(case, snapshot);
}

#[test]
fn pausing_a_paused_case_moves_the_deadline_and_manual_resume_works() {
    let mut case = open_case();
    case.pause(d("2026-03-01"), "første", user(), d("2026-02-10"), t(T0))
        .unwrap();
    case.pause(d("2026-03-15"), "utsatt", user(), d("2026-02-20"), t(T0))
        .unwrap();
    assert_eq!(
        case.status,
        CaseStatus::Paused {
            until: d("2026-03-15"),
            note: "utsatt".into(),
            since: d("2026-02-10")
        }
    );
    assert!(matches!(
        case.timeline.last().unwrap().event,
        CaseEvent::PauseChanged { .. }
    ));
    assert!(!case.resume_due(d("2026-03-01"), t(T0)));
    case.resume(user(), t(T0)).unwrap();
    assert_eq!(
        case.status,
        CaseStatus::Open {
            reason: OpenReason::Resumed { automatic: false }
        }
    );
    assert_eq!(
        case.resume(user(), t(T0)),
        Err(CaseError::InvalidTransition {
            action: CaseAction::Resume,
            from: CaseState::Open
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Close and reopen
// ---------------------------------------------------------------------------------------------

#[test]
fn close_with_each_reason() {
    let reasons = [
        (CloseReason::Withdrawn, "vi trekker saken"),
        (CloseReason::DebtorInsolvent, "skyldner er insolvent"),
        (CloseReason::Paid, "betalt"),
        (CloseReason::Credited, "kreditert"),
        (
            CloseReason::Other {
                text: "Avtalt motregning".into(),
            },
            "annet: Avtalt motregning",
        ),
    ];
    for (reason, label) in reasons {
        let mut case = open_case();
        case.close(
            reason.clone(),
            Some("  notat "),
            user(),
            d("2026-02-10"),
            t(T0),
        )
        .unwrap();
        assert_eq!(reason.label_no(), label);
        match &case.status {
            CaseStatus::Closed {
                reason: r,
                note,
                closed_on,
                by,
            } => {
                assert_eq!(r, &reason);
                assert_eq!(note.as_deref(), Some("notat"));
                assert_eq!(*closed_on, d("2026-02-10"));
                assert_eq!(by, &user());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            case.timeline.last().unwrap().event,
            CaseEvent::Closed {
                reason: reason.clone(),
                note: Some("notat".into())
            }
        );
        // Round trip of the code.
        let text = match &reason {
            CloseReason::Other { text } => Some(text.as_str()),
            _ => None,
        };
        assert_eq!(CloseReason::parse(reason.code(), text).unwrap(), reason);
    }
}

#[test]
fn annet_requires_a_text() {
    assert_eq!(
        CloseReason::parse("other", None),
        Err(CaseError::OtherNeedsText)
    );
    assert_eq!(
        CloseReason::parse("other", Some("   ")),
        Err(CaseError::OtherNeedsText)
    );
    assert_eq!(
        CloseReason::parse("other", Some(" grunn ")).unwrap(),
        CloseReason::Other {
            text: "grunn".into()
        }
    );
    assert!(matches!(
        CloseReason::parse("whatever", None),
        Err(CaseError::UnknownCloseReason(_))
    ));
    // Also when built directly (e.g. deserialised).
    let mut case = open_case();
    let snapshot = case.clone();
    let e = case
        .close(
            CloseReason::Other { text: "".into() },
            None,
            user(),
            d("2026-02-10"),
            t(T0),
        )
        .unwrap_err();
    assert_eq!(e, CaseError::OtherNeedsText);
    assert_eq!(e.field(), Some("text"));
    assert_eq!(case, snapshot);
    let r: Result<CloseReason, _> = serde_json::from_str(r#"{"code":"other","text":"x"}"#);
    assert_eq!(r.unwrap(), CloseReason::Other { text: "x".into() });
}

#[test]
fn invalid_transitions_are_rejected_and_change_nothing() {
    let mut case = open_case();
    case.close(CloseReason::Withdrawn, None, user(), d("2026-02-10"), t(T0))
        .unwrap();
    let snapshot = case.clone();
    let e = case
        .pause(d("2026-03-01"), "x", user(), d("2026-02-10"), t(T0))
        .unwrap_err();
    assert_eq!(
        e,
        CaseError::InvalidTransition {
            action: CaseAction::Pause,
            from: CaseState::Closed
        }
    );
    assert_eq!(e.code(), "invalid_transition");
    assert_eq!(e.to_string(), "cannot pause a closed case");
    assert!(matches!(
        case.close(CloseReason::Paid, None, user(), d("2026-02-10"), t(T0)),
        Err(CaseError::InvalidTransition {
            action: CaseAction::Close,
            ..
        })
    ));
    assert!(matches!(
        case.resume(user(), t(T0)),
        Err(CaseError::InvalidTransition { .. })
    ));
    assert!(!case.resume_due(d("2030-01-01"), t(T0)));
    assert!(matches!(
        case.record_step(LetterKind::Purring, t(T0)),
        Err(CaseError::InvalidTransition { .. })
    ));
    assert_eq!(case, snapshot);

    let mut open = open_case();
    assert_eq!(
        open.reopen(ClaimStatus::Open, None, user(), t(T0)),
        Err(CaseError::InvalidTransition {
            action: CaseAction::Reopen,
            from: CaseState::Open
        })
    );
}

#[test]
fn paused_case_can_be_closed_and_closed_case_reopened() {
    let mut case = open_case();
    case.pause(d("2026-03-01"), "avtale", user(), d("2026-02-10"), t(T0))
        .unwrap();
    case.close(
        CloseReason::DebtorInsolvent,
        None,
        user(),
        d("2026-02-12"),
        t(T0),
    )
    .unwrap();
    assert_eq!(case.state(), CaseState::Closed);
    // A closed case is not resumed by the pause's old deadline.
    assert!(!case.resume_due(d("2026-03-01"), t(T0)));
    case.reopen(
        ClaimStatus::Open,
        Some("Bostyret betaler likevel"),
        user(),
        t(T0),
    )
    .unwrap();
    assert_eq!(
        case.status,
        CaseStatus::Open {
            reason: OpenReason::Reopened {
                note: Some("Bostyret betaler likevel".into())
            }
        }
    );
    assert!(case.is_active());
    // A paid claim has nothing to reopen.
    case.close(CloseReason::Withdrawn, None, user(), d("2026-02-12"), t(T0))
        .unwrap();
    assert_eq!(
        case.reopen(ClaimStatus::ClosedPaid, None, user(), t(T0)),
        Err(CaseError::ClaimNotCollectible {
            status: ClaimStatus::ClosedPaid
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Following the claim
// ---------------------------------------------------------------------------------------------

#[test]
fn follows_the_claim_closed_paid_then_reopened_by_a_reversal() {
    let mut c = claim();
    let mut case = Case::open(&c, d("2026-02-03"), 14, t(T0)).unwrap();
    pay(&mut c, 1, 601, 1_000, CreditKind::Payment);
    let ev = case.follow_claim(c.status, d("2026-02-10"), t(T0)).unwrap();
    assert_eq!(
        ev,
        CaseEvent::Closed {
            reason: CloseReason::Paid,
            note: None
        }
    );
    assert!(matches!(
        case.status,
        CaseStatus::Closed {
            reason: CloseReason::Paid,
            by: Actor::System,
            ..
        }
    ));
    // Idempotent.
    assert_eq!(case.follow_claim(c.status, d("2026-02-10"), t(T0)), None);
    c.apply(ClaimEvent::reversal(Reversal {
        voucher_id: 650,
        reverses_voucher_id: 601,
        date: d("2026-02-12"),
    }))
    .unwrap();
    assert_eq!(c.status, ClaimStatus::Open);
    let ev = case.follow_claim(c.status, d("2026-02-12"), t(T0)).unwrap();
    assert_eq!(
        ev,
        CaseEvent::Reopened {
            reason: OpenReason::ClaimReopened
        }
    );
    assert!(case.is_active());
}

#[test]
fn follows_a_credited_claim_but_not_a_write_off_and_keeps_user_closures() {
    let mut c = claim();
    let mut case = Case::open(&c, d("2026-02-03"), 14, t(T0)).unwrap();
    pay(&mut c, 1, 700, 1_000, CreditKind::WriteOff);
    assert_eq!(case.follow_claim(c.status, d("2026-02-10"), t(T0)), None);
    assert!(case.is_active(), "written off stays open in collection");
    pay(&mut c, 2, 701, 1_000, CreditKind::CreditNote);
    assert_eq!(
        case.follow_claim(c.status, d("2026-02-10"), t(T0)),
        Some(CaseEvent::Closed {
            reason: CloseReason::Credited,
            note: None
        })
    );

    // A user's "vi trekker saken" is not undone by the claim.
    let mut case = open_case();
    case.close(CloseReason::Withdrawn, None, user(), d("2026-02-10"), t(T0))
        .unwrap();
    assert_eq!(
        case.follow_claim(ClaimStatus::Open, d("2026-02-11"), t(T0)),
        None
    );
    assert_eq!(case.state(), CaseState::Closed);
}

#[test]
fn paused_case_closes_when_the_claim_is_paid() {
    let mut case = open_case();
    case.pause(d("2026-03-01"), "avtale", user(), d("2026-02-10"), t(T0))
        .unwrap();
    assert!(case
        .follow_claim(ClaimStatus::ClosedPaid, d("2026-02-15"), t(T0))
        .is_some());
    assert_eq!(case.state(), CaseState::Closed);
}

// ---------------------------------------------------------------------------------------------
// Notes, timeline, serde
// ---------------------------------------------------------------------------------------------

#[test]
fn notes_have_author_and_time_in_any_state() {
    let mut case = open_case();
    let id = case
        .add_note("user-1", " Ringte kunden ", t("2026-02-04T12:00:00Z"))
        .unwrap();
    assert_eq!(id, 1);
    case.close(CloseReason::Withdrawn, None, user(), d("2026-02-10"), t(T0))
        .unwrap();
    let id2 = case
        .add_note("user-2", "Lukket etter avtale", t("2026-02-10T12:00:00Z"))
        .unwrap();
    assert_eq!(id2, 2);
    assert_eq!(case.notes[0].author, "user-1");
    assert_eq!(case.notes[0].text, "Ringte kunden");
    assert_eq!(case.notes[0].at, t("2026-02-04T12:00:00Z"));
    assert_eq!(
        case.timeline.last().unwrap().event,
        CaseEvent::NoteAdded { note_id: 2 }
    );
    assert_eq!(case.timeline.last().unwrap().by, Actor::user("user-2"));
    assert_eq!(
        case.add_note("user-1", "   ", t(T0)),
        Err(CaseError::TextRequired { field: "text" })
    );
    assert_eq!(
        case.add_note("", "x", t(T0)),
        Err(CaseError::AuthorRequired)
    );
    assert_eq!(case.notes.len(), 2);
}

#[test]
fn every_transition_is_on_the_timeline_in_order() {
    let mut case = open_case();
    case.pause(d("2026-03-01"), "avtale", user(), d("2026-02-10"), t(T0))
        .unwrap();
    case.resume_due(d("2026-03-01"), t(T0));
    case.record_step(LetterKind::Purring, t(T0)).unwrap();
    case.close(CloseReason::Paid, None, user(), d("2026-03-05"), t(T0))
        .unwrap();
    case.reopen(ClaimStatus::Open, None, user(), t(T0)).unwrap();
    case.add_note("user-1", "x", t(T0)).unwrap();
    let kinds: Vec<&str> = case
        .timeline
        .iter()
        .map(|e| match e.event {
            CaseEvent::Opened { .. } => "opened",
            CaseEvent::Paused { .. } => "paused",
            CaseEvent::PauseChanged { .. } => "pauseChanged",
            CaseEvent::Resumed { .. } => "resumed",
            CaseEvent::Closed { .. } => "closed",
            CaseEvent::Reopened { .. } => "reopened",
            CaseEvent::NoteAdded { .. } => "note",
            CaseEvent::StepReached { .. } => "step",
            CaseEvent::NoticeSent(_) => "notice",
            CaseEvent::ObjectionRecorded { .. }
            | CaseEvent::ObjectionAssessed { .. }
            | CaseEvent::ObjectionCorrected { .. } => "objection",
            CaseEvent::DebtAcknowledged { .. } => "acknowledged",
            CaseEvent::LegalStepFiled { .. } => "filed",
            CaseEvent::LegalStepsReady { .. } => "ready",
            CaseEvent::LimitationWarning { .. } => "limitationWarning",
        })
        .collect();
    assert_eq!(
        kinds,
        ["opened", "paused", "resumed", "step", "closed", "reopened", "note"]
    );
    let seqs: Vec<u64> = case.timeline.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<u64>>());
    assert_eq!(case.version, 7);
    assert_eq!(case.step, Some(LetterKind::Purring));
}

#[test]
fn case_serialises_in_camel_case() {
    let mut case = open_case();
    case.pause(d("2026-03-01"), "avtale", user(), d("2026-02-10"), t(T0))
        .unwrap();
    let v = serde_json::to_value(&case).unwrap();
    assert_eq!(v["id"], "case_inv_1001");
    assert_eq!(v["claimId"], "inv_1001");
    assert_eq!(v["customerId"], 77);
    assert_eq!(v["status"]["state"], "paused");
    assert_eq!(v["status"]["until"], "2026-03-01");
    assert_eq!(v["openedOn"], "2026-02-03");
    assert_eq!(v["timeline"][1]["by"]["kind"], "user");
    assert_eq!(v["timeline"][0]["event"]["type"], "opened");
    assert_eq!(v["timeline"][0]["event"]["daysPastDue"], 15);
    let back: Case = serde_json::from_value(v).unwrap();
    assert_eq!(back, case);
    assert!(serde_json::from_str::<CaseId>("\"case_x\"").is_err());
    assert_eq!(
        CaseId::parse("case_item_12").unwrap().claim_id().as_str(),
        "item_12"
    );
    let closed = serde_json::to_value(CaseStatus::Closed {
        reason: CloseReason::DebtorInsolvent,
        note: None,
        closed_on: d("2026-02-10"),
        by: Actor::System,
    })
    .unwrap();
    assert_eq!(closed["reason"]["code"], "debtorInsolvent");
    assert_eq!(closed["closedOn"], "2026-02-10");
}

// ---------------------------------------------------------------------------------------------
// The debtor view and merging
// ---------------------------------------------------------------------------------------------

#[test]
fn debtor_view_groups_and_merges_only_at_the_same_step() {
    let today = d("2026-02-10");
    let mk =
        |inv: i64, cust: i64| Case::open(&claim_for(inv, cust, 500), today, 14, t(T0)).unwrap();
    let a = mk(1, 77);
    let b = mk(2, 77);
    let mut c = mk(3, 77);
    let mut p = mk(4, 77);
    let other = mk(5, 88);
    assert_eq!(may_merge(&a, &b), Ok(()));
    assert_eq!(may_merge(&a, &a), Err(MergeRefusal::SameCase));
    assert_eq!(may_merge(&a, &other), Err(MergeRefusal::OtherDebtor));
    c.record_step(LetterKind::Purring, t(T0)).unwrap();
    assert_eq!(may_merge(&a, &c), Err(MergeRefusal::DifferentStep));
    p.pause(d("2026-03-01"), "avtale", user(), today, t(T0))
        .unwrap();
    assert_eq!(may_merge(&a, &p), Err(MergeRefusal::NotOpen));

    let groups = group_by_debtor(&[other.clone(), c.clone(), p.clone(), b.clone(), a.clone()]);
    assert_eq!(groups.len(), 2);
    let g = &groups[0];
    assert_eq!(g.customer_id, 77);
    assert_eq!(g.open, vec![a.id.clone(), b.id.clone(), c.id.clone()]);
    assert_eq!(g.paused, vec![p.id.clone()]);
    assert!(g.closed.is_empty());
    assert_eq!(g.mergeable, vec![vec![a.id.clone(), b.id.clone()]]);
    assert_eq!(groups[1].customer_id, 88);
    assert!(groups[1].mergeable.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Notices on the timeline
// ---------------------------------------------------------------------------------------------

fn sent_notice(step: crate::domain::collection::dunning::Step, letter: &str) -> SentNotice {
    use crate::domain::collection::dunning::{Channel, Language};
    SentNotice {
        notice_id: format!("case_inv_1001.{}", step.key()),
        letter_id: letter.into(),
        line: NoticeLine {
            step,
            send_date: d("2026-02-10"),
            deadline: d("2026-02-24"),
            channel: Channel::Email,
            requested_channel: Channel::Email,
            language: Language::Nb,
            due_date: d("2026-01-19"),
            principal: Money::from_kroner(1_000),
            interest: None,
            interest_increment: Money::ZERO,
            interest_due: Money::ZERO,
            earlier_fees: Money::ZERO,
            fee: None,
            compensation: None,
            total: Money::from_kroner(1_000),
            fee_reason: "fee-not-in-policy".into(),
            rules: vec!["deadline:purring@inkf§1-2".into()],
        },
        record: crate::domain::collection::dunning::NoticeRecord {
            letter_id: letter.into(),
            step,
            sent: d("2026-02-10"),
            deadline: d("2026-02-24"),
            fee_nominal: Money::ZERO,
            fee: Money::ZERO,
            compensation_nominal: None,
            compensation: Money::ZERO,
            interest_total: Money::ZERO,
            interest_increment: Money::ZERO,
        },
        approved_by: Some("user-1".into()),
        confirmed_by: None,
    }
}

#[test]
fn a_sent_notice_sets_the_step_once_never_back_and_in_any_state() {
    use crate::domain::collection::dunning::Step;
    let mut c = open_case();
    let v = c.version;
    assert!(c.record_notice(sent_notice(Step::Purring, "ltr_a"), t(T0)));
    assert_eq!(c.step, Some(LetterKind::Purring));
    assert_eq!(c.version, v + 1);
    assert!(!c.record_notice(sent_notice(Step::Purring, "ltr_a"), t(T0)));
    assert_eq!(c.version, v + 1, "the same letter twice changes nothing");
    // Closed meanwhile: the letter went out all the same.
    c.close(
        CloseReason::Paid,
        None,
        Actor::System,
        d("2026-02-11"),
        t(T0),
    )
    .unwrap();
    assert!(c.record_notice(sent_notice(Step::Paminnelse, "ltr_b"), t(T0)));
    assert_eq!(
        c.step,
        Some(LetterKind::Purring),
        "an earlier step never moves it back"
    );
    let last = c.timeline.last().unwrap();
    let json = serde_json::to_value(last).unwrap();
    assert_eq!(json["event"]["type"], "noticeSent");
    assert_eq!(json["event"]["letterId"], "ltr_b");
    assert_eq!(json["event"]["approvedBy"], "user-1");
    assert_eq!(json["event"]["line"]["total"], "1000.00");
    let back: CaseEntry = serde_json::from_value(json).unwrap();
    assert_eq!(&back, last);
    let letters: Vec<&str> = c.notice_records().map(|r| r.letter_id.as_str()).collect();
    assert_eq!(letters, ["ltr_a", "ltr_b"]);
}
// Objections, acknowledgements, legal steps filed
// ---------------------------------------------------------------------------------------------

mod legal {
    use super::*;
    use crate::domain::collection::legal::radar::WarningLevel;
    use crate::domain::collection::legal::{keys, Route};

    fn objected() -> (Case, u32) {
        let mut c = open_case();
        let id = c
            .record_objection(
                "  Varene kom aldri fram  ",
                d("2026-02-05"),
                ObjectionChannel::Phone,
                user(),
                d("2026-02-06"),
                t("2026-02-06T09:00:00Z"),
            )
            .unwrap();
        (c, id)
    }

    #[test]
    fn an_objection_is_recorded_with_text_date_channel_and_who_and_stops_the_chain() {
        let (c, id) = objected();
        assert_eq!(id, 1);
        let o = &c.objections[0];
        assert_eq!(o.text, "Varene kom aldri fram");
        assert_eq!(o.channel, ObjectionChannel::Phone);
        assert_eq!(o.state(), ObjectionState::Open);
        assert_eq!(o.recorded_by, user());
        assert_eq!(
            c.objection(),
            Some(crate::domain::Objection {
                raised_on: d("2026-02-05"),
                obviously_groundless: false
            })
        );
        assert!(!c.is_disputed());
        let last = c.timeline.last().unwrap();
        assert_eq!(last.by, user());
        assert_eq!(
            last.event,
            CaseEvent::ObjectionRecorded {
                objection_id: 1,
                received_on: d("2026-02-05"),
                channel: ObjectionChannel::Phone
            }
        );
        let json = serde_json::to_value(&last.event).unwrap();
        assert_eq!(json["type"], "objectionRecorded");
        assert_eq!(json["channel"], "phone");
    }

    #[test]
    fn a_groundless_assessment_needs_a_reason_lets_the_chain_go_on_and_makes_the_claim_disputed() {
        let (mut c, id) = objected();
        let before = c.clone();
        assert_eq!(
            ObjectionOutcome::parse("groundless", Some("  ")),
            Err(CaseError::TextRequired { field: "reason" })
        );
        assert_eq!(
            c.assess_objection(
                id,
                ObjectionOutcome::Groundless { reason: " ".into() },
                user(),
                t(T0)
            ),
            Err(CaseError::TextRequired { field: "reason" })
        );
        assert_eq!(
            c.assess_objection(
                id,
                ObjectionOutcome::Justified { note: None },
                Actor::System,
                t(T0)
            ),
            Err(CaseError::AuthorRequired)
        );
        assert_eq!(c, before);
        let outcome =
            ObjectionOutcome::parse("groundless", Some("Levert 02.01., kvittering")).unwrap();
        c.assess_objection(id, outcome.clone(), Actor::user("leder"), t(T0))
            .unwrap();
        assert_eq!(c.objections[0].state(), ObjectionState::Groundless);
        assert!(c.is_disputed());
        assert_eq!(c.objection().map(|o| o.obviously_groundless), Some(true));
        let last = c.timeline.last().unwrap();
        assert_eq!(last.by, Actor::user("leder"));
        assert_eq!(
            last.event,
            CaseEvent::ObjectionAssessed {
                objection_id: id,
                outcome
            }
        );
        // Assessed once.
        assert_eq!(
            c.assess_objection(
                id,
                ObjectionOutcome::Justified { note: None },
                user(),
                t(T0)
            ),
            Err(CaseError::ObjectionAlreadyAssessed { id })
        );
        // A new objection blocks again.
        c.record_objection(
            "Nå er jeg uenig igjen",
            d("2026-02-07"),
            ObjectionChannel::Email,
            user(),
            d("2026-02-07"),
            t(T0),
        )
        .unwrap();
        assert_eq!(
            c.objection().map(|o| (o.raised_on, o.obviously_groundless)),
            Some((d("2026-02-07"), false))
        );
    }

    #[test]
    fn a_justified_objection_blocks_until_corrected_and_is_not_a_dispute() {
        let (mut c, id) = objected();
        assert_eq!(
            c.objection_corrected(id, "kreditert", user(), t(T0)),
            Err(CaseError::ObjectionNotJustified { id })
        );
        c.assess_objection(
            id,
            ObjectionOutcome::parse("justified", None).unwrap(),
            user(),
            t(T0),
        )
        .unwrap();
        assert_eq!(c.objections[0].state(), ObjectionState::Justified);
        assert!(c.blocking_objection().is_some());
        c.objection_corrected(id, "Kreditnota 2001 for den ene varen", user(), t(T0))
            .unwrap();
        assert_eq!(c.objections[0].state(), ObjectionState::Corrected);
        assert!(c.blocking_objection().is_none());
        assert!(!c.is_disputed());
        assert_eq!(c.objection().map(|o| o.obviously_groundless), Some(true));
        assert_eq!(
            c.assess_objection(
                99,
                ObjectionOutcome::Justified { note: None },
                user(),
                t(T0)
            ),
            Err(CaseError::ObjectionNotFound { id: 99 })
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let mut c = open_case();
        let e = c
            .record_objection(
                "x",
                d("2026-02-10"),
                ObjectionChannel::Email,
                user(),
                d("2026-02-09"),
                t(T0),
            )
            .unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("date_in_future", Some("receivedOn"))
        );
        let e = c
            .record_objection(
                " ",
                d("2026-02-01"),
                ObjectionChannel::Email,
                user(),
                d("2026-02-09"),
                t(T0),
            )
            .unwrap_err();
        assert_eq!(e.field(), Some("text"));
        let e = ObjectionChannel::parse("fax").unwrap_err();
        assert_eq!((e.code(), e.field()), ("unknown_channel", Some("channel")));
        for ch in ObjectionChannel::ALL {
            assert_eq!(ObjectionChannel::parse(ch.key()), Ok(ch));
        }
        let e = ObjectionOutcome::parse("maybe", None).unwrap_err();
        assert_eq!((e.code(), e.field()), ("unknown_outcome", Some("outcome")));
        assert!(c.objections.is_empty());
    }

    #[test]
    fn acknowledgements_and_a_filed_step_are_the_cases_limitation_events() {
        let mut c = open_case();
        c.record_acknowledgement(
            d("2026-03-01"),
            "Lovet å betale i april",
            user(),
            d("2026-03-02"),
            t(T0),
        )
        .unwrap();
        c.record_filed(
            Route::Utlegg,
            d("2026-04-02"),
            Some("doc_1"),
            user(),
            d("2026-04-02"),
            t(T0),
        )
        .unwrap();
        let ints: Vec<_> = c.limitation_interruptions().collect();
        assert_eq!(ints.len(), 2);
        assert_eq!(
            ints[0].kind,
            crate::domain::InterruptionKind::Acknowledgement
        );
        assert_eq!(ints[1].kind, crate::domain::InterruptionKind::LegalStep);
        assert_eq!(c.filed().unwrap().document_id.as_deref(), Some("doc_1"));
        assert_eq!(
            c.record_filed(
                Route::Forliksklage,
                d("2026-04-03"),
                None,
                user(),
                d("2026-04-03"),
                t(T0)
            ),
            Err(CaseError::AlreadyFiled {
                route: Route::Utlegg,
                filed_on: d("2026-04-02")
            })
        );
        assert!(matches!(
            c.timeline.last().unwrap().event,
            CaseEvent::LegalStepFiled {
                route: Route::Utlegg,
                ..
            }
        ));
    }

    #[test]
    fn a_notice_keyed_once_is_recorded_once() {
        let mut c = open_case();
        let key = keys::limitation_warning(WarningLevel::ThreeMonths, d("2029-01-20"));
        let ev = CaseEvent::LimitationWarning {
            level: WarningLevel::ThreeMonths,
            time_barred_on: d("2029-01-20"),
        };
        assert!(c.notify_once(&key, ev.clone(), t(T0)));
        let v = c.version;
        assert!(!c.notify_once(&key, ev, t(T0)));
        assert_eq!(c.version, v);
        assert!(c.was_notified(&key));
        assert_ne!(
            key,
            keys::limitation_warning(WarningLevel::OneMonth, d("2029-01-20"))
        );
        assert_ne!(
            key,
            keys::limitation_warning(WarningLevel::ThreeMonths, d("2029-06-01"))
        );
    }

    #[test]
    fn a_case_stored_before_objections_existed_still_reads() {
        let (c, _) = objected();
        let mut v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["objections"][0]["channel"], "phone");
        for k in ["objections", "acknowledgements", "legalSteps", "notified"] {
            v.as_object_mut().unwrap().remove(k);
        }
        // The timeline of an old case has no objection events either.
        v["timeline"].as_array_mut().unwrap().pop();
        let old: Case = serde_json::from_value(v).unwrap();
        assert!(old.objections.is_empty() && old.notified.is_empty() && old.filed().is_none());
        assert_eq!(old.objection(), None);
        let back: Case = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
