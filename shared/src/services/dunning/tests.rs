//! The dunning service against in-memory fakes of its ports (DynamoDB, SES, S3, Tripletex, the
//! renderer and SQS are met in the dunning function's tests, against moto and the sandbox). The
//! fakes keep the conditional semantics of the real store (versions, one transaction per
//! letter), and can crash (panic) at the points the exactly-once design names.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::ports::*;
use super::*;
use crate::adapters::letters::BucketError;
use crate::adapters::mail::{LetterMail, MailError};
use crate::adapters::queue::{DunningJob, QueueError};
use crate::adapters::store::claims::{AccountRef, CaseWrite, ClaimRecord, Save, StoredCase};
use crate::adapters::store::dunning::{DunningBook, StoredPolicy};
use crate::adapters::store::ledger::StoredCustomer;
use crate::adapters::store::StoreError;
use crate::domain::case::{Case, CaseEvent, CaseId};
use crate::domain::claim::{ClaimEvent, ClaimId, ClaimState, Mirror};
use crate::domain::collection::dunning::letter::{sample_sender, LetterDocument};
use crate::domain::collection::dunning::notice::{Current, RecheckVerdict};
use crate::domain::collection::dunning::{
    BatchRecord, CancelReason, LetterId, LetterRecord, LetterStatus, Mode, Notice, NoticeId,
    NoticeStatus, RunRecord, Step,
};
use crate::domain::collection::letters::{DebtorKind, LetterKind};
use crate::domain::ledger::{MirroredCustomer, PostalAddress};
use crate::domain::setup::{AccountId, OrgId};
use crate::domain::Money;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// 08:00 in Oslo on `day`.
fn morning(day: &str) -> DateTime<Utc> {
    let d = d(day);
    Utc.with_ymd_and_hms(2026, 1, 1, 6, 0, 0).unwrap()
        + Duration::days((d - self::d("2026-01-01")).num_days())
}

// ---------------------------------------------------------------------------------------------
// Fakes
// ---------------------------------------------------------------------------------------------

/// Where a fake crashes (panics), once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    /// After the letter and its notices were reserved (nothing left).
    AfterReserve,
    /// After the PDF was archived in S3.
    AfterArchive,
    /// After SES took the mail, before `sent` was recorded.
    AfterSes,
    /// After `sent` was recorded, before the effects.
    AfterSent,
}

#[derive(Default)]
struct Data {
    accounts: Vec<(OrgId, AccountId)>,
    policies: HashMap<(OrgId, AccountId), StoredPolicy>,
    notices: BTreeMap<(OrgId, AccountId, NoticeId), Notice>,
    letters: BTreeMap<(OrgId, AccountId, NaiveDate, LetterId), LetterRecord>,
    batches: BTreeMap<(OrgId, AccountId, NaiveDate), BatchRecord>,
    runs: BTreeMap<(OrgId, AccountId, NaiveDate), RunRecord>,
    claims: HashMap<(OrgId, AccountId, ClaimId), ClaimRecord>,
    cases: BTreeMap<(OrgId, AccountId, CaseId), StoredCase>,
    customers: HashMap<(OrgId, AccountId, i64), StoredCustomer>,
}

#[derive(Default)]
struct MemStore {
    data: Mutex<Data>,
    crash: Mutex<Option<Crash>>,
}

impl MemStore {
    fn crash_if(&self, at: Crash) {
        let hit = {
            let mut c = lock(&self.crash);
            if *c == Some(at) {
                *c = None;
                true
            } else {
                false
            }
        };
        if hit {
            panic!("injected crash {at:?}");
        }
    }
}

fn check(current: Option<u64>, expected: Option<u64>) -> bool {
    current == expected
}

#[async_trait]
impl DunningStore for MemStore {
    async fn account_exists(&self, org: &OrgId, account: &AccountId) -> Result<bool, StoreError> {
        Ok(lock(&self.data)
            .accounts
            .iter()
            .any(|(o, a)| o == org && a == account))
    }
    async fn sender_facts(
        &self,
        _org: &OrgId,
        _account: &AccountId,
    ) -> Result<SenderSuggestion, StoreError> {
        Ok(SenderSuggestion {
            name: Some("Fjordkraft Rørlegger AS".into()),
            organization_number: None,
        })
    }
    async fn accounts_of(&self, org: &OrgId) -> Result<Vec<AccountId>, StoreError> {
        Ok(lock(&self.data)
            .accounts
            .iter()
            .filter(|(o, _)| o == org)
            .map(|(_, a)| a.clone())
            .collect())
    }
    async fn get_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<StoredPolicy>, StoreError> {
        Ok(lock(&self.data)
            .policies
            .get(&(org.clone(), account.clone()))
            .cloned())
    }
    async fn put_policy(
        &self,
        org: &OrgId,
        account: &AccountId,
        policy: &StoredPolicy,
        expected: Option<u64>,
    ) -> Result<Save, StoreError> {
        let mut d = lock(&self.data);
        let k = (org.clone(), account.clone());
        if !check(d.policies.get(&k).map(|p| p.version), expected) {
            return Ok(Save::Conflict);
        }
        d.policies.insert(k, policy.clone());
        Ok(Save::Saved)
    }
    async fn enabled_accounts(&self) -> Result<Vec<AccountRef>, StoreError> {
        Ok(lock(&self.data)
            .policies
            .iter()
            .filter(|(_, p)| p.policy.enabled)
            .map(|((o, a), _)| AccountRef {
                org: o.clone(),
                account_id: a.clone(),
            })
            .collect())
    }
    async fn book(&self, org: &OrgId, account: &AccountId) -> Result<DunningBook, StoreError> {
        let d = lock(&self.data);
        let cases: Vec<StoredCase> = d
            .cases
            .iter()
            .filter(|((o, a, _), c)| {
                o == org && a == account && c.case.state() != crate::domain::case::CaseState::Closed
            })
            .map(|(_, c)| c.clone())
            .collect();
        let claims = cases
            .iter()
            .filter_map(|c| {
                d.claims
                    .get(&(org.clone(), account.clone(), c.case.claim_id.clone()))
                    .map(|r| (c.case.claim_id.clone(), r.clone()))
            })
            .collect();
        let customers = cases
            .iter()
            .filter_map(|c| {
                d.customers
                    .get(&(org.clone(), account.clone(), c.case.customer_id))
                    .map(|s| (c.case.customer_id, s.clone()))
            })
            .collect();
        Ok(DunningBook {
            cases,
            claims,
            customers,
        })
    }
    async fn active_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<Notice>, StoreError> {
        Ok(lock(&self.data)
            .notices
            .iter()
            .filter(|((o, a, _), n)| o == org && a == account && n.is_active())
            .map(|(_, n)| n.clone())
            .collect())
    }
    async fn notices_of_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Vec<Notice>, StoreError> {
        Ok(lock(&self.data)
            .notices
            .iter()
            .filter(|((o, a, id), _)| o == org && a == account && &id.case_id == case)
            .map(|(_, n)| n.clone())
            .collect())
    }
    async fn get_notices(
        &self,
        org: &OrgId,
        account: &AccountId,
        ids: &[NoticeId],
    ) -> Result<Vec<Notice>, StoreError> {
        let d = lock(&self.data);
        Ok(ids
            .iter()
            .filter_map(|id| {
                d.notices
                    .get(&(org.clone(), account.clone(), id.clone()))
                    .cloned()
            })
            .collect())
    }
    async fn put_notice(&self, notice: &Notice, expected: Option<u64>) -> Result<Save, StoreError> {
        let mut d = lock(&self.data);
        let k = (
            notice.org.clone(),
            notice.account_id.clone(),
            notice.id.clone(),
        );
        if !check(d.notices.get(&k).map(|n| n.version), expected) {
            return Ok(Save::Conflict);
        }
        d.notices.insert(k, notice.clone());
        Ok(Save::Saved)
    }
    async fn write_letter(
        &self,
        letter: &LetterRecord,
        expected_letter: Option<u64>,
        notices: &[(&Notice, Option<u64>)],
    ) -> Result<Save, StoreError> {
        assert!(notices.len() < 100, "a transaction takes at most 100 items");
        {
            let mut d = lock(&self.data);
            let lk = (
                letter.org.clone(),
                letter.account_id.clone(),
                letter.send_date,
                letter.letter_id.clone(),
            );
            if !check(d.letters.get(&lk).map(|l| l.version), expected_letter) {
                return Ok(Save::Conflict);
            }
            for (n, expected) in notices {
                let k = (n.org.clone(), n.account_id.clone(), n.id.clone());
                if !check(d.notices.get(&k).map(|x| x.version), *expected) {
                    return Ok(Save::Conflict);
                }
            }
            d.letters.insert(lk, letter.clone());
            for (n, _) in notices {
                d.notices.insert(
                    (n.org.clone(), n.account_id.clone(), n.id.clone()),
                    (*n).clone(),
                );
            }
        }
        match letter.status {
            LetterStatus::Planned => self.crash_if(Crash::AfterReserve),
            LetterStatus::Sent if !letter.effects_applied => self.crash_if(Crash::AfterSent),
            _ => {}
        }
        Ok(Save::Saved)
    }
    async fn get_letter(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
        letter: &LetterId,
    ) -> Result<Option<LetterRecord>, StoreError> {
        Ok(lock(&self.data)
            .letters
            .get(&(org.clone(), account.clone(), send_date, letter.clone()))
            .cloned())
    }
    async fn letters_of_day(
        &self,
        org: &OrgId,
        account: &AccountId,
        send_date: NaiveDate,
    ) -> Result<Vec<LetterRecord>, StoreError> {
        Ok(lock(&self.data)
            .letters
            .iter()
            .filter(|((o, a, day, _), _)| o == org && a == account && *day == send_date)
            .map(|(_, l)| l.clone())
            .collect())
    }
    async fn put_batch_if_absent(&self, batch: &BatchRecord) -> Result<bool, StoreError> {
        let mut d = lock(&self.data);
        let k = (batch.org.clone(), batch.account_id.clone(), batch.date);
        if d.batches.contains_key(&k) {
            return Ok(false);
        }
        d.batches.insert(k, batch.clone());
        Ok(true)
    }
    async fn batches(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<BatchRecord>, StoreError> {
        Ok(lock(&self.data)
            .batches
            .iter()
            .filter(|((o, a, _), _)| o == org && a == account)
            .map(|(_, b)| b.clone())
            .collect())
    }
    async fn put_run(&self, run: &RunRecord, expected: Option<u64>) -> Result<Save, StoreError> {
        let mut d = lock(&self.data);
        let k = (run.org.clone(), run.account_id.clone(), run.date);
        if !check(d.runs.get(&k).map(|r| r.version), expected) {
            return Ok(Save::Conflict);
        }
        d.runs.insert(k, run.clone());
        Ok(Save::Saved)
    }
    async fn get_run(
        &self,
        org: &OrgId,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Option<RunRecord>, StoreError> {
        Ok(lock(&self.data)
            .runs
            .get(&(org.clone(), account.clone(), date))
            .cloned())
    }
    async fn get_claim(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
    ) -> Result<Option<ClaimRecord>, StoreError> {
        Ok(lock(&self.data)
            .claims
            .get(&(org.clone(), account.clone(), claim.clone()))
            .cloned())
    }
    async fn get_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Option<StoredCase>, StoreError> {
        Ok(lock(&self.data)
            .cases
            .get(&(org.clone(), account.clone(), case.clone()))
            .cloned())
    }
    async fn record_effects(
        &self,
        claim: &ClaimRecord,
        case: Option<CaseWrite<'_>>,
        notice: (&Notice, u64),
        letter: Option<(&LetterRecord, u64)>,
    ) -> Result<Save, StoreError> {
        let mut d = lock(&self.data);
        let st = &claim.state;
        let ck = (st.org.clone(), st.account_id.clone(), st.claim_id.clone());
        if d.claims.get(&ck).map_or(0, |c| c.rev) != claim.rev {
            return Ok(Save::Conflict);
        }
        if let Some(w) = &case {
            let k = (
                w.case.org.clone(),
                w.case.account_id.clone(),
                w.case.id.clone(),
            );
            if d.cases.get(&k).and_then(|c| c.stored_version) != w.expected_version {
                return Ok(Save::Conflict);
            }
        }
        let (n, nv) = notice;
        let nk = (n.org.clone(), n.account_id.clone(), n.id.clone());
        if d.notices.get(&nk).map(|x| x.version) != Some(nv) {
            return Ok(Save::Conflict);
        }
        if let Some((l, lv)) = letter {
            let lk = (
                l.org.clone(),
                l.account_id.clone(),
                l.send_date,
                l.letter_id.clone(),
            );
            if d.letters.get(&lk).map(|x| x.version) != Some(lv) {
                return Ok(Save::Conflict);
            }
            d.letters.insert(lk, l.clone());
        }
        let mut c = claim.clone();
        c.rev += 1;
        d.claims.insert(ck, c);
        if let Some(w) = case {
            let k = (
                w.case.org.clone(),
                w.case.account_id.clone(),
                w.case.id.clone(),
            );
            d.cases.insert(
                k,
                StoredCase {
                    case: w.case.clone(),
                    summary: w.summary,
                    stored_version: Some(w.case.version),
                },
            );
        }
        d.notices.insert(nk, n.clone());
        Ok(Save::Saved)
    }
}

/// SES: records every mail it takes; scripted answers first.
#[derive(Default)]
struct MemMailer {
    sent: Mutex<Vec<LetterMail>>,
    script: Mutex<Vec<MailError>>,
    crash_after_send: Mutex<bool>,
}

#[async_trait]
impl NoticeMailer for MemMailer {
    fn from_address(&self) -> &str {
        "noreply@inndrive.test"
    }
    async fn send(&self, mail: &LetterMail) -> Result<String, MailError> {
        if let Some(e) = lock(&self.script).pop() {
            if matches!(e, MailError::NoAnswer(_)) {
                // No answer: it did go out.
                lock(&self.sent).push(mail.clone());
            }
            return Err(e);
        }
        let n = {
            let mut s = lock(&self.sent);
            s.push(mail.clone());
            s.len()
        };
        let crash = std::mem::take(&mut *lock(&self.crash_after_send));
        if crash {
            panic!("injected crash {:?}", Crash::AfterSes);
        }
        Ok(format!("ses-{n}"))
    }
}

#[derive(Default)]
struct MemArchive {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    crash_after_archive: Mutex<bool>,
}

#[async_trait]
impl LetterArchive for MemArchive {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<(), BucketError> {
        lock(&self.objects).insert(key.to_string(), bytes);
        if key.starts_with("letters/") && std::mem::take(&mut *lock(&self.crash_after_archive)) {
            panic!("injected crash {:?}", Crash::AfterArchive);
        }
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BucketError> {
        Ok(lock(&self.objects).get(key).cloned())
    }
}

/// Tripletex: shows every claim as mirrored, unless a test changed it.
#[derive(Default)]
struct MemRecheck {
    changed: Mutex<HashMap<ClaimId, Option<Current>>>,
    requests: Mutex<u32>,
}

#[async_trait]
impl Recheck for MemRecheck {
    async fn recheck(
        &self,
        _org: &OrgId,
        _account: &AccountId,
        _today: NaiveDate,
        items: &[RecheckItem],
    ) -> Result<RecheckAnswer, RecheckError> {
        let changed = lock(&self.changed);
        let requests = items.len().div_ceil(200) as u32;
        *lock(&self.requests) += requests;
        Ok(RecheckAnswer {
            found: items
                .iter()
                .map(|i| {
                    let current = match changed.get(&i.claim_id) {
                        Some(c) => *c,
                        None => Some(Current {
                            version: i.mirrored.version,
                            outstanding: Some(i.mirrored.ledger_balance),
                            credited: false,
                        }),
                    };
                    (i.claim_id.clone(), RecheckFound { current, kid: None })
                })
                .collect(),
            requests,
        })
    }
}

/// The letter's text as its "PDF" (the real renderer is tested in shared::documents).
struct TextRenderer;

impl LetterRenderer for TextRenderer {
    fn render(&self, doc: &LetterDocument) -> Result<Vec<u8>, String> {
        Ok(format!("%PDF-text\n{}", doc.text()).into_bytes())
    }
}

#[derive(Default)]
struct MemQueue {
    jobs: Mutex<Vec<DunningJob>>,
}

#[async_trait]
impl RunQueue for MemQueue {
    async fn enqueue(&self, jobs: &[DunningJob]) -> Result<(), QueueError> {
        lock(&self.jobs).extend(jobs.iter().cloned());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

struct World {
    svc: Arc<DunningService>,
    store: Arc<MemStore>,
    mailer: Arc<MemMailer>,
    archive: Arc<MemArchive>,
    recheck: Arc<MemRecheck>,
    queue: Arc<MemQueue>,
    now: Arc<Mutex<DateTime<Utc>>>,
    org: OrgId,
    account: AccountId,
}

const VESTLAND: i64 = 40001;
const OLA: i64 = 40003;

fn customer(
    id: i64,
    name: &str,
    kind: DebtorKind,
    email: Option<&str>,
    post: bool,
) -> StoredCustomer {
    StoredCustomer {
        customer: MirroredCustomer {
            id,
            version: Some(1),
            name: name.into(),
            customer_number: None,
            organization_number: None,
            invalid_organization_number: None,
            debtor_kind: kind,
            inactive: false,
            email: email.map(str::to_string),
            invoice_email: None,
            overdue_notice_email: None,
            postal_address: post.then(|| PostalAddress {
                lines: vec!["Kaigata 2".into()],
                postal_code: Some("5003".into()),
                city: Some("Bergen".into()),
                country_code: Some("NO".into()),
            }),
            payment_terms: None,
        },
        tripletex_postal_address: None,
        registry: None,
    }
}

/// Purring first (the påminnelse off), 14 days after the due date, then the rest of the
/// default chain; on, with the sample creditor.
fn policy(mode: Mode) -> DunningPolicy {
    let mut p = DunningPolicy::default();
    p.enabled = true;
    p.mode = mode;
    p.steps.paminnelse.enabled = false;
    p.steps.purring.days_after = 14;
    p.sender = Some(sample_sender());
    p
}

impl World {
    fn new(mode: Mode) -> World {
        let org = OrgId::parse("org_fjord").unwrap();
        let account = AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap();
        let store = Arc::new(MemStore::default());
        let mailer = Arc::new(MemMailer::default());
        let archive = Arc::new(MemArchive::default());
        let recheck = Arc::new(MemRecheck::default());
        let queue = Arc::new(MemQueue::default());
        let now = Arc::new(Mutex::new(morning("2026-10-01")));
        let clock_now = now.clone();
        let svc = Arc::new(DunningService {
            store: store.clone(),
            archive: archive.clone(),
            queue: queue.clone(),
            sending: Some(Sending {
                mailer: mailer.clone(),
                recheck: recheck.clone(),
                renderer: Arc::new(TextRenderer),
            }),
            rules: Arc::new(Rulebook::norway().clone()),
            clock: Arc::new(move || *lock(&clock_now)),
            config: DunningConfig::default(),
        });
        let p = policy(mode);
        p.validate(Rulebook::norway())
            .expect("the test policy is lawful");
        {
            let mut d = lock(&store.data);
            d.accounts.push((org.clone(), account.clone()));
            d.policies.insert(
                (org.clone(), account.clone()),
                StoredPolicy {
                    policy: p,
                    version: 1,
                    updated_at: morning("2026-09-01"),
                    updated_by: Some("u-1".into()),
                },
            );
            for c in [
                customer(
                    VESTLAND,
                    "Vestland Bygg AS",
                    DebtorKind::Business,
                    Some("post@vestland.no"),
                    true,
                ),
                customer(
                    OLA,
                    "Ola Nordmann",
                    DebtorKind::Consumer,
                    Some("ola@example.no"),
                    true,
                ),
            ] {
                d.customers
                    .insert((org.clone(), account.clone(), c.customer.id), c);
            }
        }
        World {
            svc,
            store,
            mailer,
            archive,
            recheck,
            queue,
            now,
            org,
            account,
        }
    }

    fn set_now(&self, t: DateTime<Utc>) {
        *lock(&self.now) = t;
    }

    fn set_policy(&self, f: impl FnOnce(&mut DunningPolicy)) {
        let mut d = lock(&self.store.data);
        let p = d
            .policies
            .get_mut(&(self.org.clone(), self.account.clone()))
            .unwrap();
        f(&mut p.policy);
        p.version += 1;
    }

    /// An invoice claim due on `due`, mirrored, with its open case.
    fn claim(&self, invoice: i64, customer: i64, kroner: i64, due: &str) -> CaseId {
        let id = ClaimId::invoice(invoice).unwrap();
        let due = d(due);
        let mut state = ClaimState::new(self.org.clone(), self.account.clone(), id.clone());
        state
            .apply(ClaimEvent::mirrored(
                &id,
                Mirror {
                    invoice_id: Some(invoice),
                    invoice_number: Some((invoice - 70_000).to_string()),
                    voucher_id: Some(invoice + 1000),
                    customer_id: customer,
                    principal: Money::from_kroner(kroner),
                    invoice_date: due - chrono::Days::new(14),
                    due_date: due,
                    due_date_estimated: false,
                    version: Some(1),
                    cross_check: None,
                },
            ))
            .unwrap();
        let opened = due + chrono::Days::new(15);
        let case = Case::open(&state, opened, 14, morning("2026-09-01")).unwrap();
        let mut rec = ClaimRecord::new(state, morning("2026-09-01"));
        rec.case_opened = true;
        rec.rev = 1;
        let summary = rec.summary();
        let case_id = case.id.clone();
        let mut d = lock(&self.store.data);
        d.claims
            .insert((self.org.clone(), self.account.clone(), id), rec);
        d.cases.insert(
            (self.org.clone(), self.account.clone(), case_id.clone()),
            StoredCase {
                stored_version: Some(case.version),
                case,
                summary,
            },
        );
        case_id
    }

    async fn run(&self) -> RunReport {
        self.svc
            .run_account(&self.org, &self.account, None)
            .await
            .expect("the run succeeds")
    }

    /// A run that crashes (a panic inside it), as a process would.
    async fn crashing_run(&self) {
        let (svc, org, account) = (self.svc.clone(), self.org.clone(), self.account.clone());
        let r = tokio::spawn(async move { svc.run_account(&org, &account, None).await }).await;
        assert!(r.is_err_and(|e| e.is_panic()), "the run was to crash");
    }

    fn mails(&self) -> Vec<LetterMail> {
        lock(&self.mailer.sent).clone()
    }

    fn notice(&self, case: &CaseId, step: Step) -> Notice {
        lock(&self.store.data)
            .notices
            .get(&(
                self.org.clone(),
                self.account.clone(),
                NoticeId::new(case.clone(), step),
            ))
            .cloned()
            .unwrap_or_else(|| panic!("no notice {case}.{step}"))
    }

    fn stored_claim(&self, invoice: i64) -> ClaimRecord {
        lock(&self.store.data)
            .claims
            .get(&(
                self.org.clone(),
                self.account.clone(),
                ClaimId::invoice(invoice).unwrap(),
            ))
            .cloned()
            .unwrap()
    }

    fn stored_case(&self, case: &CaseId) -> Case {
        lock(&self.store.data)
            .cases
            .get(&(self.org.clone(), self.account.clone(), case.clone()))
            .cloned()
            .unwrap()
            .case
    }

    fn notice_entries(&self, case: &CaseId) -> usize {
        self.stored_case(case)
            .timeline
            .iter()
            .filter(|e| matches!(e.event, CaseEvent::NoticeSent(_)))
            .count()
    }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_due_claim_gets_one_letter_by_email_and_its_charges_and_step_once() {
    let w = World::new(Mode::Automatic);
    let case = w.claim(80001, OLA, 12_500, "2026-08-17");
    let r = w.run().await;
    assert_eq!((r.letters, r.notices_sent, r.mails), (1, 1, 1), "{r:?}");
    assert_eq!(r.decisions.get("send"), Some(&1));
    assert_eq!(r.recheck_requests, 1);
    let mails = w.mails();
    let m = &mails[0];
    assert_eq!(m.to, "ola@example.no");
    assert_eq!(m.reply_to.as_deref(), sample_sender().reply_to.as_deref());
    assert!(m.subject.starts_with("Purring"), "{}", m.subject);
    assert_eq!(m.threads, vec![format!("{case}.{}", w.account)]);
    let pdf = String::from_utf8(m.pdf.clone()).unwrap();
    assert!(pdf.contains("10001"), "the invoice number is in the letter");

    let n = w.notice(&case, Step::Purring);
    assert_eq!(n.status, NoticeStatus::Sent);
    assert!(n.effects_applied);
    assert_eq!(
        n.delivery.as_ref().unwrap().ses_message_id.as_deref(),
        Some("ses-1")
    );
    let record = n.record.clone().unwrap();
    assert_eq!(record.sent, d("2026-10-01"));
    assert_eq!(
        record.deadline,
        d("2026-10-15"),
        "the deadline counts from the real send date"
    );
    assert!(
        !record.fee.is_zero(),
        "a consumer's purring after due + 14 carries the fee"
    );

    let claim = w.stored_claim(80001);
    assert_eq!(claim.state.charges.len(), 1);
    let ch = &claim.state.charges[0];
    assert_eq!(ch.reference, n.letter_id.as_ref().unwrap().to_string());
    assert_eq!(ch.fees, record.fee);
    assert_eq!(ch.interest, record.interest_increment);
    assert!(!ch.interest.is_zero());
    let c = w.stored_case(&case);
    assert_eq!(c.step, Some(LetterKind::Purring));
    assert_eq!(w.notice_entries(&case), 1);

    // The letter as sent is archived; its notice finds it.
    let (pdf_back, name) = w.svc.notice_pdf(&w.org, &w.account, &n.id).await.unwrap();
    assert_eq!(pdf_back, m.pdf);
    assert!(name.starts_with("purring-"));

    // The same day again: nothing more goes out, nothing is recorded twice.
    let again = w.run().await;
    assert_eq!(again.letters, 0, "{again:?}");
    assert_eq!(w.mails().len(), 1);
    assert_eq!(w.stored_claim(80001).state.charges.len(), 1);
    assert_eq!(w.notice_entries(&case), 1);
    assert_eq!(again.decisions.get("wait"), Some(&1));
}

#[tokio::test]
async fn one_letter_per_debtor_and_step_with_one_fee_and_the_business_compensation() {
    let w = World::new(Mode::Automatic);
    let a = w.claim(80001, VESTLAND, 12_500, "2026-08-17");
    let b = w.claim(80002, VESTLAND, 4_000, "2026-08-24");
    let o = w.claim(80003, OLA, 900, "2026-08-17");
    let r = w.run().await;
    assert_eq!((r.letters, r.notices_sent, r.mails), (2, 3, 2), "{r:?}");
    let na = w.notice(&a, Step::Purring);
    let nb = w.notice(&b, Step::Purring);
    assert_eq!(na.letter_id, nb.letter_id, "one letter to Vestland");
    assert_ne!(na.letter_id, w.notice(&o, Step::Purring).letter_id);
    // One fee a letter, on the oldest claim; the business debtor's compensation once a claim.
    assert!(na.line.fee.is_some());
    assert!(nb.line.fee.is_none());
    assert_eq!(nb.line.fee_reason, "one-fee-per-letter");
    assert!(na.line.compensation.is_some() && nb.line.compensation.is_some());
    let mail = w
        .mails()
        .into_iter()
        .find(|m| m.to == "post@vestland.no")
        .unwrap();
    assert_eq!(mail.threads.len(), 2, "In-Reply-To/References per case");
}

#[tokio::test]
async fn a_claim_paid_in_tripletex_after_the_sync_is_not_sent_and_the_report_says_why() {
    let w = World::new(Mode::Automatic);
    let paid = w.claim(80001, OLA, 12_500, "2026-08-17");
    let other = w.claim(80002, VESTLAND, 4_000, "2026-08-17");
    lock(&w.recheck.changed).insert(
        ClaimId::invoice(80001).unwrap(),
        Some(Current {
            version: Some(2),
            outstanding: Some(Money::ZERO),
            credited: false,
        }),
    );
    let r = w.run().await;
    assert_eq!(r.stopped.get("paid"), Some(&1), "{r:?}");
    assert_eq!(r.stopped_cases[0].case_id, paid.to_string());
    assert_eq!(r.stopped_cases[0].verdict, RecheckVerdict::Paid);
    assert_eq!(r.letters, 1);
    assert!(w.mails().iter().all(|m| m.to != "ola@example.no"));
    assert_eq!(w.notice(&other, Step::Purring).status, NoticeStatus::Sent);
    assert!(lock(&w.store.data)
        .notices
        .keys()
        .all(|(_, _, id)| id.case_id != paid));
    assert!(w.stored_claim(80001).state.charges.is_empty());
}

#[tokio::test]
async fn a_claim_credited_or_gone_in_tripletex_is_not_sent_either() {
    let w = World::new(Mode::Automatic);
    w.claim(80001, OLA, 12_500, "2026-08-17");
    w.claim(80002, VESTLAND, 4_000, "2026-08-17");
    {
        let mut c = lock(&w.recheck.changed);
        c.insert(
            ClaimId::invoice(80001).unwrap(),
            Some(Current {
                version: Some(1),
                outstanding: Some(Money::ZERO),
                credited: true,
            }),
        );
        c.insert(ClaimId::invoice(80002).unwrap(), None);
    }
    let r = w.run().await;
    assert_eq!(r.stopped.get("credited"), Some(&1));
    assert_eq!(r.stopped.get("gone"), Some(&1));
    assert_eq!(r.letters, 0);
    assert!(w.mails().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Exactly once
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn five_deliveries_of_the_days_job_make_one_run_and_one_mail() {
    let w = World::new(Mode::Automatic);
    w.claim(80001, OLA, 12_500, "2026-08-17");
    let job = DunningJob {
        org: w.org.clone(),
        account_id: w.account.clone(),
        date: d("2026-10-01"),
        reason: crate::adapters::queue::DunningReason::Scheduled,
        continuation: 0,
        requested_at: morning("2026-10-01"),
    };
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        outcomes.push(w.svc.handle_job(&job, None).await.unwrap());
    }
    assert!(matches!(outcomes[0], JobOutcome::Completed(_)));
    assert!(outcomes[1..]
        .iter()
        .all(|o| matches!(o, JobOutcome::AlreadyDone)));
    assert_eq!(w.mails().len(), 1);
    let run = w
        .svc
        .run_of(&w.org, &w.account, d("2026-10-01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.report.unwrap().mails, 1);
    // And five runs of the account itself (no run record) still send once.
    for _ in 0..5 {
        w.run().await;
    }
    assert_eq!(w.mails().len(), 1);
}

#[tokio::test]
async fn two_runs_at_once_send_each_letter_once() {
    let w = World::new(Mode::Automatic);
    for i in 0..12 {
        w.claim(
            80001 + i,
            if i % 2 == 0 { OLA } else { VESTLAND },
            1_000 + i,
            "2026-08-17",
        );
    }
    let (a, b) = tokio::join!(
        w.svc.run_account(&w.org, &w.account, None),
        w.svc.run_account(&w.org, &w.account, None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.letters + b.letters, 2, "{a:?} {b:?}");
    assert_eq!(w.mails().len(), 2);
    for i in 0..12 {
        assert_eq!(w.stored_claim(80001 + i).state.charges.len(), 1);
    }
}

#[tokio::test]
async fn a_crash_after_the_reservation_or_the_archive_sends_once_at_the_next_run() {
    for crash in [Crash::AfterReserve, Crash::AfterArchive] {
        let w = World::new(Mode::Automatic);
        let case = w.claim(80001, OLA, 12_500, "2026-08-17");
        match crash {
            Crash::AfterArchive => *lock(&w.archive.crash_after_archive) = true,
            _ => *lock(&w.store.crash) = Some(crash),
        }
        w.crashing_run().await;
        assert!(
            w.mails().is_empty(),
            "{crash:?}: nothing left before the crash"
        );
        assert_eq!(w.notice(&case, Step::Purring).status, NoticeStatus::Planned);
        let r = w.run().await;
        assert_eq!(r.mails, 1, "{crash:?}: {r:?}");
        assert_eq!(w.mails().len(), 1);
        assert_eq!(w.stored_claim(80001).state.charges.len(), 1);
        assert_eq!(w.notice_entries(&case), 1);
    }
}

#[tokio::test]
async fn a_crash_after_ses_took_the_mail_leaves_it_uncertain_and_never_resends() {
    let w = World::new(Mode::Automatic);
    let case = w.claim(80001, OLA, 12_500, "2026-08-17");
    *lock(&w.mailer.crash_after_send) = true;
    w.crashing_run().await;
    assert_eq!(w.mails().len(), 1);
    assert_eq!(w.notice(&case, Step::Purring).status, NoticeStatus::Sending);

    // Soon after (a redelivery while the other run might still be sending): left alone.
    w.set_now(morning("2026-10-01") + Duration::minutes(5));
    let r = w.run().await;
    assert_eq!(r.skipped.get("sending"), Some(&1), "{r:?}");
    assert_eq!(w.mails().len(), 1);

    // Later: uncertain, held for a person; never sent again, not even the next days.
    w.set_now(morning("2026-10-01") + Duration::minutes(20));
    let r = w.run().await;
    assert_eq!(r.uncertain, 1, "{r:?}");
    let n = w.notice(&case, Step::Purring);
    assert_eq!(n.status, NoticeStatus::Uncertain);
    for day in ["2026-10-02", "2026-10-05"] {
        w.set_now(morning(day));
        let r = w.run().await;
        assert_eq!(r.skipped.get("uncertain"), Some(&1), "{day}: {r:?}");
    }
    assert_eq!(w.mails().len(), 1, "0 duplicates");
    assert!(
        w.stored_claim(80001).state.charges.is_empty(),
        "nothing recorded for an unknown"
    );
    let list = w.svc.uncertain(&w.org, &w.account).await.unwrap();
    assert_eq!(list.len(), 1);

    // A person checks SES and confirms it went: the effects follow at the next run, once.
    let changed = w
        .svc
        .resolve_uncertain(
            &w.org,
            &w.account,
            &n.id,
            Resolution::Sent,
            "ops-1",
            Some("in the SES log"),
        )
        .await
        .unwrap();
    assert_eq!(changed.len(), 1);
    let r = w.run().await;
    assert_eq!(r.repaired, 1, "{r:?}");
    assert_eq!(w.stored_claim(80001).state.charges.len(), 1);
    let c = w.stored_case(&case);
    let entry = c
        .timeline
        .iter()
        .find_map(|e| match &e.event {
            CaseEvent::NoticeSent(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(entry.confirmed_by.as_deref(), Some("ops-1"));
    assert_eq!(w.mails().len(), 1);
}

#[tokio::test]
async fn a_released_uncertain_notice_is_sent_again_by_a_later_run() {
    let w = World::new(Mode::Automatic);
    let case = w.claim(80001, OLA, 12_500, "2026-08-17");
    lock(&w.mailer.script).push(MailError::NoAnswer("timeout".into()));
    let r = w.run().await;
    assert_eq!(r.uncertain, 1, "no answer from SES: uncertain at once");
    let n = w.notice(&case, Step::Purring);
    assert_eq!(n.status, NoticeStatus::Uncertain);
    w.svc
        .resolve_uncertain(
            &w.org,
            &w.account,
            &n.id,
            Resolution::Release,
            "ops-1",
            Some("bounced"),
        )
        .await
        .unwrap();
    assert_eq!(
        w.notice(&case, Step::Purring).status,
        NoticeStatus::Cancelled
    );
    w.set_now(morning("2026-10-02"));
    let r = w.run().await;
    assert_eq!(r.mails, 1, "{r:?}");
    assert_eq!(w.notice(&case, Step::Purring).status, NoticeStatus::Sent);
}

#[tokio::test]
async fn a_crash_after_sent_gets_its_effects_once_at_the_next_run() {
    let w = World::new(Mode::Automatic);
    let case = w.claim(80001, OLA, 12_500, "2026-08-17");
    *lock(&w.store.crash) = Some(Crash::AfterSent);
    w.crashing_run().await;
    let n = w.notice(&case, Step::Purring);
    assert_eq!((n.status, n.effects_applied), (NoticeStatus::Sent, false));
    assert!(w.stored_claim(80001).state.charges.is_empty());
    let r = w.run().await;
    assert_eq!(r.repaired, 1, "{r:?}");
    assert_eq!(r.letters, 0);
    assert_eq!(w.mails().len(), 1);
    assert_eq!(w.stored_claim(80001).state.charges.len(), 1);
    assert_eq!(w.notice_entries(&case), 1);
    w.run().await;
    assert_eq!(w.stored_claim(80001).state.charges.len(), 1);
}

#[tokio::test]
async fn ses_refusing_the_mail_cancels_the_notice_with_the_reason() {
    let w = World::new(Mode::Automatic);
    let case = w.claim(80001, OLA, 12_500, "2026-08-17");
    lock(&w.mailer.script).push(MailError::Rejected {
        code: "MessageRejected".into(),
        message: "address on the suppression list".into(),
    });
    let r = w.run().await;
    assert_eq!((r.cancelled, r.letters), (1, 0), "{r:?}");
    let n = w.notice(&case, Step::Purring);
    assert_eq!(n.status, NoticeStatus::Cancelled);
    assert!(matches!(n.cancelled, Some(CancelReason::Refused { .. })));
    // SES throttling: nothing left, the job fails and is tried again.
    w.set_now(morning("2026-10-02"));
    lock(&w.mailer.script).push(MailError::Throttled {
        code: "TooManyRequestsException".into(),
        message: "slow down".into(),
    });
    let e = w.svc.run_account(&w.org, &w.account, None).await;
    assert!(matches!(
        e,
        Err(DunningError::Mail(MailError::Throttled { .. }))
    ));
    assert_eq!(w.notice(&case, Step::Purring).status, NoticeStatus::Planned);
    let r = w.run().await;
    assert_eq!(r.mails, 1);
}

// ---------------------------------------------------------------------------------------------
// Channels
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_letter_by_post_goes_to_the_outbox_and_the_days_manifest() {
    let w = World::new(Mode::Automatic);
    w.set_policy(|p| p.steps.purring.channel = Channel::EmailAndLetter);
    let case = w.claim(80001, OLA, 12_500, "2026-08-17");
    let r = w.run().await;
    assert_eq!((r.mails, r.outbox), (1, 1), "{r:?}");
    let n = w.notice(&case, Step::Purring);
    let letter_id = n.letter_id.clone().unwrap();
    let objects = lock(&w.archive.objects).clone();
    let outbox =
        crate::adapters::letters::outbox_key(d("2026-10-01"), &w.org, &w.account, &letter_id);
    assert!(objects.contains_key(&outbox));
    let manifest: serde_json::Value = serde_json::from_slice(
        &objects[&crate::adapters::letters::manifest_key(d("2026-10-01"), &w.org, &w.account)],
    )
    .unwrap();
    assert_eq!(manifest["count"], 1);
    assert_eq!(manifest["letters"][0]["pdfKey"], outbox);
    assert_eq!(manifest["letters"][0]["recipient"], "Ola Nordmann");
    assert_eq!(manifest["letters"][0]["address"]["city"], "Bergen");
    assert_eq!(
        n.delivery.unwrap().outbox_key.as_deref(),
        Some(outbox.as_str())
    );
    assert!(w.notice(&case, Step::Purring).effects_applied);
}

#[tokio::test]
async fn a_debtor_without_email_gets_a_letter_and_a_stale_letter_by_post_is_simply_made_again() {
    let w = World::new(Mode::Automatic);
    {
        let mut d = lock(&w.store.data);
        let c = d
            .customers
            .get_mut(&(w.org.clone(), w.account.clone(), OLA))
            .unwrap();
        c.customer.email = None;
    }
    let case = w.claim(80001, OLA, 12_500, "2026-08-17");
    *lock(&w.store.crash) = Some(Crash::AfterSent);
    // Crash after `sent`: the manifest comes before the effects, at the next run.
    w.crashing_run().await;
    assert!(w.mails().is_empty());
    let r = w.run().await;
    assert_eq!(r.repaired, 1, "{r:?}");
    let objects = lock(&w.archive.objects).clone();
    let manifest: serde_json::Value = serde_json::from_slice(
        &objects[&crate::adapters::letters::manifest_key(d("2026-10-01"), &w.org, &w.account)],
    )
    .unwrap();
    assert_eq!(manifest["count"], 1);
    assert_eq!(w.notice(&case, Step::Purring).line.channel, Channel::Letter);
}

// ---------------------------------------------------------------------------------------------
// Approve mode
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn approve_mode_waits_and_sends_only_what_was_approved_on_the_real_send_date() {
    let w = World::new(Mode::Approve);
    let a = w.claim(80001, OLA, 12_500, "2026-08-17");
    let b = w.claim(80002, VESTLAND, 4_000, "2026-08-17");
    let r = w.run().await;
    assert_eq!((r.awaiting_approval, r.letters), (2, 0), "{r:?}");
    assert!(w.mails().is_empty());
    let batches = w.svc.batches(&w.org, &w.account).await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].awaiting_approval, 2);
    let planned_deadline = w.notice(&a, Step::Purring).line.deadline;
    assert_eq!(planned_deadline, d("2026-10-15"));

    // A second run the same day puts nothing in twice.
    let r = w.run().await;
    assert_eq!(r.skipped.get("awaiting_approval"), Some(&2), "{r:?}");

    let approved = w
        .svc
        .approve(
            &w.org,
            &w.account,
            d("2026-10-01"),
            Selection::Notices(vec![NoticeId::new(a.clone(), Step::Purring)]),
            "u-2",
        )
        .await
        .unwrap();
    assert_eq!(approved.approved.len(), 1);

    // The next run (the next day) sends the approved one only, from that day.
    w.set_now(morning("2026-10-02"));
    let r = w.run().await;
    assert_eq!((r.letters, r.mails), (1, 1), "{r:?}");
    let na = w.notice(&a, Step::Purring);
    assert_eq!(na.status, NoticeStatus::Sent);
    let rec = na.record.clone().unwrap();
    assert_eq!(rec.sent, d("2026-10-02"));
    assert_eq!(
        rec.deadline,
        d("2026-10-16"),
        "deadline from the real send date"
    );
    assert_eq!(na.line.send_date, d("2026-10-02"));
    assert_eq!(
        w.notice(&b, Step::Purring).status,
        NoticeStatus::AwaitingApproval
    );
    let entry = w
        .stored_case(&a)
        .timeline
        .iter()
        .find_map(|e| match &e.event {
            CaseEvent::NoticeSent(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(entry.approved_by.as_deref(), Some("u-2"));
    assert_eq!(w.mails().len(), 1);
}

#[tokio::test]
async fn an_approved_notice_whose_claim_was_paid_is_cancelled_by_the_recheck() {
    let w = World::new(Mode::Approve);
    let a = w.claim(80001, OLA, 12_500, "2026-08-17");
    w.run().await;
    w.svc
        .approve(&w.org, &w.account, d("2026-10-01"), Selection::All, "u-2")
        .await
        .unwrap();
    lock(&w.recheck.changed).insert(
        ClaimId::invoice(80001).unwrap(),
        Some(Current {
            version: Some(1),
            outstanding: Some(Money::from_kroner(2_500)),
            credited: false,
        }),
    );
    w.set_now(morning("2026-10-02"));
    let r = w.run().await;
    assert_eq!(r.stopped.get("partly_paid"), Some(&1), "{r:?}");
    let n = w.notice(&a, Step::Purring);
    assert_eq!(n.status, NoticeStatus::Cancelled);
    assert!(matches!(
        n.cancelled,
        Some(CancelReason::Recheck {
            verdict: RecheckVerdict::PartlyPaid { .. }
        })
    ));
    assert!(w.mails().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Preview, policy, jobs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_preview_shows_what_the_run_then_sends_and_writes_nothing() {
    let w = World::new(Mode::Automatic);
    let a = w.claim(80001, OLA, 12_500, "2026-08-17");
    w.claim(80002, VESTLAND, 4_000, "2026-08-17");
    // Not due yet.
    let later = w.claim(80004, VESTLAND, 700, "2026-09-28");
    let p = w
        .svc
        .preview(&w.org, &w.account, d("2026-10-01"))
        .await
        .unwrap();
    assert!(
        lock(&w.store.data).notices.is_empty(),
        "the preview writes nothing"
    );
    assert_eq!(p.totals.letters, 2);
    let wait = p.claims.iter().find(|c| c.case_id == later).unwrap();
    assert!(
        matches!(wait.decision, PreviewDecision::Wait { .. }),
        "{wait:?}"
    );
    let r = w.run().await;
    let sent: Vec<String> = lock(&w.store.data)
        .letters
        .values()
        .map(|l| l.letter_id.to_string())
        .collect();
    let mut previewed: Vec<String> = p.letters.iter().map(|l| l.letter_id.clone()).collect();
    previewed.sort();
    let mut sent = sent;
    sent.sort();
    assert_eq!(previewed, sent);
    assert_eq!(r.letters, 2);
    let line = match &p.claims.iter().find(|c| c.case_id == a).unwrap().decision {
        PreviewDecision::Send { line } => line.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(*line, w.notice(&a, Step::Purring).line);
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["claims"][0]["decision"], "send");
    // Across the organization's accounts.
    let all = w.svc.preview_org(&w.org, d("2026-10-01")).await.unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn a_held_claim_says_why_in_the_preview_and_is_counted_in_the_run() {
    let w = World::new(Mode::Automatic);
    w.set_policy(|p| p.minimum_amount = Money::from_kroner(1_000));
    let small = w.claim(80001, OLA, 500, "2026-08-17");
    let p = w
        .svc
        .preview(&w.org, &w.account, d("2026-10-01"))
        .await
        .unwrap();
    match &p
        .claims
        .iter()
        .find(|c| c.case_id == small)
        .unwrap()
        .decision
    {
        PreviewDecision::Hold {
            reason, message_nb, ..
        } => {
            assert_eq!(reason.code(), "below_minimum");
            assert!(!message_nb.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let r = w.run().await;
    assert_eq!(r.holds.get("below_minimum"), Some(&1));
    assert!(w.mails().is_empty());
}

#[tokio::test]
async fn the_policy_is_validated_and_versioned() {
    let w = World::new(Mode::Automatic);
    let view = w.svc.policy(&w.org, &w.account).await.unwrap();
    assert_eq!(view.version, Some(1));
    let mut bad = view.policy.clone();
    bad.steps.inkassovarsel.deadline_days = 7;
    bad.minimum_amount = Money::from_kroner(-1);
    match w.svc.put_policy(&w.org, &w.account, bad, None, "u-1").await {
        Err(DunningError::InvalidPolicy(v)) => {
            let fields: Vec<&str> = v.iter().map(|x| x.field).collect();
            assert!(
                fields.contains(&"steps.inkassovarsel.deadlineDays"),
                "{fields:?}"
            );
            assert!(fields.contains(&"minimumAmount"));
        }
        other => panic!("{other:?}"),
    }
    let saved = w
        .svc
        .put_policy(&w.org, &w.account, view.policy.clone(), Some(1), "u-1")
        .await
        .unwrap();
    assert_eq!(saved.version, Some(2));
    assert!(matches!(
        w.svc
            .put_policy(&w.org, &w.account, view.policy.clone(), Some(1), "u-1")
            .await,
        Err(DunningError::VersionConflict { current: Some(2) })
    ));
    let other = AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7e").unwrap();
    assert!(matches!(
        w.svc.policy(&w.org, &other).await,
        Err(DunningError::AccountNotFound)
    ));
    // A policy with its sender needs no suggestion; one without gets what the store knows.
    assert_eq!(saved.suggested_sender, None);
    let mut unsent = view.policy.clone();
    unsent.enabled = false;
    unsent.sender = None;
    let saved = w
        .svc
        .put_policy(&w.org, &w.account, unsent, Some(2), "u-1")
        .await
        .unwrap();
    let suggested = saved.suggested_sender.expect("a suggestion");
    assert_eq!(suggested.name.as_deref(), Some("Fjordkraft Rørlegger AS"));
    assert_eq!(
        w.svc
            .policy(&w.org, &w.account)
            .await
            .unwrap()
            .suggested_sender,
        Some(suggested)
    );
}

#[tokio::test]
async fn a_service_without_sending_ports_refuses_a_run_before_touching_anything() {
    let w = World::new(Mode::Automatic);
    let case = w.claim(80001, VESTLAND, 12_500, "2026-08-17");
    let api = DunningService {
        store: w.store.clone(),
        archive: w.archive.clone(),
        queue: w.queue.clone(),
        sending: None,
        rules: w.svc.rules.clone(),
        clock: w.svc.clock.clone(),
        config: DunningConfig::default(),
    };
    assert!(matches!(
        api.run_account(&w.org, &w.account, None).await,
        Err(DunningError::CannotSend)
    ));
    let job = DunningJob {
        org: w.org.clone(),
        account_id: w.account.clone(),
        date: d("2026-10-01"),
        reason: crate::adapters::queue::DunningReason::Scheduled,
        continuation: 0,
        requested_at: morning("2026-10-01"),
    };
    assert!(matches!(
        api.handle_job(&job, None).await,
        Err(DunningError::CannotSend)
    ));
    assert!(w.mails().is_empty());
    assert!(lock(&w.store.data).runs.is_empty(), "no run record");
    assert!(lock(&w.store.data).notices.is_empty(), "{case}: no notice");
    // What the API does works without them: the preview, "run now" (queued for the function).
    let preview = api
        .preview(&w.org, &w.account, d("2026-10-01"))
        .await
        .unwrap();
    assert_eq!(preview.totals.letters, 1);
    api.request_run(&w.org, &w.account, "u-1").await.unwrap();
    assert_eq!(lock(&w.queue.jobs).len(), 1);
}

#[tokio::test]
async fn a_run_near_its_deadline_continues_in_a_new_message() {
    let w = World::new(Mode::Automatic);
    w.claim(80001, OLA, 12_500, "2026-08-17");
    let job = DunningJob {
        org: w.org.clone(),
        account_id: w.account.clone(),
        date: d("2026-10-01"),
        reason: crate::adapters::queue::DunningReason::Scheduled,
        continuation: 0,
        requested_at: morning("2026-10-01"),
    };
    let out = w
        .svc
        .handle_job(&job, Some(std::time::Instant::now()))
        .await
        .unwrap();
    assert!(matches!(out, JobOutcome::Continued(_)), "{out:?}");
    assert!(w.mails().is_empty());
    let next = lock(&w.queue.jobs)
        .pop()
        .expect("the continuation is queued");
    assert_eq!(next.continuation, 1);
    let out = w.svc.handle_job(&next, None).await.unwrap();
    assert!(matches!(out, JobOutcome::Completed(_)), "{out:?}");
    assert_eq!(w.mails().len(), 1);
    let run = w
        .svc
        .run_of(&w.org, &w.account, d("2026-10-01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((run.status, run.continuations), (RunStatus::Completed, 1));
}

#[tokio::test]
async fn run_now_is_one_run_per_day_and_the_schedule_fans_out_to_enabled_accounts() {
    let w = World::new(Mode::Automatic);
    let first = w.svc.request_run(&w.org, &w.account, "u-1").await.unwrap();
    assert_eq!(first.status, RunStatus::Requested);
    assert_eq!(lock(&w.queue.jobs).len(), 1);
    let job = lock(&w.queue.jobs)[0].clone();
    w.svc.handle_job(&job, None).await.unwrap();
    let again = w.svc.request_run(&w.org, &w.account, "u-1").await.unwrap();
    assert_eq!(again.status, RunStatus::Completed);
    assert_eq!(
        lock(&w.queue.jobs).len(),
        1,
        "a finished day's run is not queued again"
    );
    assert_eq!(w.svc.fan_out().await.unwrap(), 1);
    w.set_policy(|p| p.enabled = false);
    assert_eq!(w.svc.fan_out().await.unwrap(), 0);
}

#[tokio::test]
async fn closing_the_case_cancels_its_waiting_notice() {
    let w = World::new(Mode::Approve);
    let a = w.claim(80001, OLA, 12_500, "2026-08-17");
    w.run().await;
    {
        let mut d = lock(&w.store.data);
        let c = d
            .cases
            .get_mut(&(w.org.clone(), w.account.clone(), a.clone()))
            .unwrap();
        c.case
            .close(
                crate::domain::case::CloseReason::Withdrawn,
                None,
                crate::domain::case::Actor::user("u-1"),
                self::d("2026-10-01"),
                morning("2026-10-01"),
            )
            .unwrap();
    }
    let r = w.run().await;
    assert_eq!(r.cancelled, 1, "{r:?}");
    let n = w.notice(&a, Step::Purring);
    assert!(
        matches!(n.cancelled, Some(CancelReason::Replanned { ref decision, .. }) if decision == "case_closed")
    );
}

#[tokio::test]
async fn a_debtor_with_more_claims_than_one_transaction_takes_gets_them_in_several_letters() {
    let w = World::new(Mode::Automatic);
    for i in 0..120 {
        w.claim(81000 + i, OLA, 100 + i, "2026-08-17");
    }
    let r = w.run().await;
    assert_eq!((r.letters, r.notices_sent), (2, 120), "{r:?}");
    let letters: Vec<LetterRecord> = lock(&w.store.data).letters.values().cloned().collect();
    assert_eq!(letters.iter().map(|l| l.claims.len()).max(), Some(99));
    let fees = letters
        .iter()
        .flat_map(|l| l.claims.iter())
        .filter(|c| c.line.fee.is_some())
        .count();
    assert_eq!(
        fees, 1,
        "the one fee stays on the oldest claim of the first letter"
    );
    for i in 0..120 {
        assert_eq!(w.stored_claim(81000 + i).state.charges.len(), 1);
    }
}
