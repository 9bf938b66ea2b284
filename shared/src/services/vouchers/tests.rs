//! The voucher posting with in-memory fakes: the store keeps revisions like DynamoDB's
//! conditional writes, the ledger keeps vouchers like Tripletex and can be told to refuse, to fail
//! after booking (a crash after the POST) or to lock a period.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::ports::*;
use super::*;
use crate::adapters::store::claims::ClaimRecord;
use crate::adapters::tripletex::voucher::OpenPosting;
use crate::domain::claim::{
    ChargesDemanded, ClaimEvent, ClaimEventKind, ClaimId, ClaimState, Credit, Mirror, PostingRef,
    Reversal,
};
use crate::domain::classify::CreditKind;
use crate::domain::setup::{
    AccountId, Integration, IntegrationId, IntegrationSettings, IntegrationStatus, KeyId, OrgId,
};
use crate::domain::voucher::{LedgerAccount, VoucherDraft};

type Key = (String, u32);

#[derive(Default)]
struct FakeStore {
    postings: Mutex<HashMap<Key, (u64, PostingRecord)>>,
    claim: Mutex<Option<ClaimRecord>>,
    integration: Mutex<Option<Integration>>,
}

#[async_trait]
impl PostingStore for FakeStore {
    async fn get_posting(
        &self,
        _org: &OrgId,
        _account: &AccountId,
        claim: &ClaimId,
        version: u32,
    ) -> Result<Option<PostingRecord>, StoreError> {
        Ok(self
            .postings
            .lock()
            .unwrap()
            .get(&(claim.to_string(), version))
            .map(|(rev, r)| {
                let mut r = r.clone();
                r.rev = *rev;
                r
            }))
    }
    async fn save_posting(&self, rec: &mut PostingRecord) -> Result<Written, StoreError> {
        let mut all = self.postings.lock().unwrap();
        let k = (rec.claim_id.to_string(), rec.settlement_version);
        let stored = all.get(&k).map(|(rev, _)| *rev).unwrap_or(0);
        if stored != rec.rev {
            return Ok(Written::Lost);
        }
        rec.rev += 1;
        all.insert(k, (rec.rev, rec.clone()));
        Ok(Written::Written)
    }
    async fn list_postings(
        &self,
        _org: &OrgId,
        _account: &AccountId,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        Ok(self
            .postings
            .lock()
            .unwrap()
            .values()
            .map(|(_, r)| r.clone())
            .collect())
    }
    async fn get_claim(
        &self,
        _org: &OrgId,
        _account: &AccountId,
        _claim: &ClaimId,
    ) -> Result<Option<ClaimRecord>, StoreError> {
        Ok(self.claim.lock().unwrap().clone())
    }
    async fn get_integration(
        &self,
        _org: &OrgId,
        _account: &AccountId,
    ) -> Result<Option<Integration>, StoreError> {
        Ok(self.integration.lock().unwrap().clone())
    }
}

#[derive(Default)]
struct FakeLedger {
    /// (id, external number, date, reverses)
    vouchers: Mutex<Vec<(i64, String, NaiveDate, Option<i64>)>>,
    posts: Mutex<u32>,
    /// The next POST books the voucher and then answers a 5xx (a crash after the POST).
    fail_after_booking: Mutex<bool>,
    /// Vouchers dated on or before this day are refused (a locked period).
    locked_through: Mutex<Option<NaiveDate>>,
    /// The next POST is refused with 403.
    forbid: Mutex<bool>,
    closed: Mutex<Vec<Vec<i64>>>,
}

fn account(id: i64, number: u32) -> LedgerAccount {
    LedgerAccount {
        id,
        number,
        name: String::new(),
        vat_locked: false,
        vat_type_id: None,
    }
}

#[async_trait]
impl VoucherLedger for FakeLedger {
    async fn accounts(
        &self,
        _b: &Books,
        numbers: &[u32],
    ) -> Result<Vec<LedgerAccount>, LedgerError> {
        Ok([1500, 3900, 7820, 8050]
            .iter()
            .filter(|n| numbers.contains(n))
            .map(|n| account(70_000_000 + i64::from(*n), *n))
            .collect())
    }
    async fn receivables(&self, _b: &Books) -> Result<Option<LedgerAccount>, LedgerError> {
        Ok(Some(account(70_001_500, 1500)))
    }
    async fn voucher_type(&self, _b: &Books, _name: &str) -> Result<Option<i64>, LedgerError> {
        Ok(Some(8_000_002))
    }
    async fn first_open_date(
        &self,
        _b: &Books,
        date: NaiveDate,
    ) -> Result<Option<NaiveDate>, LedgerError> {
        Ok(Some(match *self.locked_through.lock().unwrap() {
            Some(l) if date <= l => l.succ_opt().unwrap(),
            _ => date,
        }))
    }
    async fn find(
        &self,
        _b: &Books,
        external: &str,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Option<Booked>, LedgerError> {
        Ok(self
            .vouchers
            .lock()
            .unwrap()
            .iter()
            .find(|v| v.1 == external)
            .map(|v| Booked {
                id: v.0,
                number: format!("{}-2026", v.0),
                date: v.2,
                receivables_posting_id: Some(v.0 * 10),
            }))
    }
    async fn post(
        &self,
        _b: &Books,
        draft: &VoucherDraft,
        _voucher_type: Option<i64>,
    ) -> Result<Booked, LedgerError> {
        // A real await point, so two workers really interleave.
        tokio::task::yield_now().await;
        *self.posts.lock().unwrap() += 1;
        if std::mem::take(&mut *self.forbid.lock().unwrap()) {
            return Err(LedgerError::Refused {
                status: 403,
                message: "Du mangler rettigheten «Avansert bilag»".into(),
                validation: vec![],
            });
        }
        if self
            .locked_through
            .lock()
            .unwrap()
            .is_some_and(|l| draft.date <= l)
        {
            return Err(LedgerError::Refused {
                status: 422,
                message: "Validering feilet.".into(),
                validation: vec![(
                    "date".into(),
                    format!("Perioden {} er låst.", draft.date.format("%Y-%m")),
                )],
            });
        }
        let mut all = self.vouchers.lock().unwrap();
        let id = 100 + all.len() as i64;
        all.push((id, draft.external_voucher_number.clone(), draft.date, None));
        if std::mem::take(&mut *self.fail_after_booking.lock().unwrap()) {
            return Err(LedgerError::Transient("HTTP 502 after booking".into()));
        }
        Ok(Booked {
            id,
            number: format!("{id}-2026"),
            date: draft.date,
            receivables_posting_id: Some(id * 10),
        })
    }
    async fn open_postings(
        &self,
        _b: &Books,
        _account_id: i64,
        _customer_id: i64,
        _before: NaiveDate,
    ) -> Result<Vec<OpenPosting>, LedgerError> {
        // The invoice, the over-settling payment and the voucher's receivables line.
        let ours = self.vouchers.lock().unwrap().first().map(|v| v.0 * 10);
        let mut v = vec![
            OpenPosting {
                id: 1,
                amount: "10000".parse().unwrap(),
                invoice_number: Some("10023".into()),
            },
            OpenPosting {
                id: 2,
                amount: "-10076.10".parse().unwrap(),
                invoice_number: Some("10023".into()),
            },
        ];
        if let Some(id) = ours {
            v.push(OpenPosting {
                id,
                amount: "76.10".parse().unwrap(),
                invoice_number: Some("10023".into()),
            });
        }
        Ok(v)
    }
    async fn close(&self, _b: &Books, ids: &[i64]) -> Result<Vec<(i64, String)>, LedgerError> {
        self.closed.lock().unwrap().push(ids.to_vec());
        Ok(vec![])
    }
    async fn reversal_of(
        &self,
        _b: &Books,
        voucher_id: i64,
        _date: NaiveDate,
    ) -> Result<Option<Booked>, LedgerError> {
        Ok(self
            .vouchers
            .lock()
            .unwrap()
            .iter()
            .find(|v| v.3 == Some(voucher_id))
            .map(|v| Booked {
                id: v.0,
                number: format!("{}-2026", v.0),
                date: v.2,
                receivables_posting_id: None,
            }))
    }
    async fn reverse(
        &self,
        _b: &Books,
        voucher_id: i64,
        date: NaiveDate,
    ) -> Result<Booked, LedgerError> {
        let mut all = self.vouchers.lock().unwrap();
        let id = 100 + all.len() as i64;
        all.push((id, String::new(), date, Some(voucher_id)));
        Ok(Booked {
            id,
            number: format!("{id}-2026"),
            date,
            receivables_posting_id: None,
        })
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 8, 3, 10, 0, 0).unwrap()
}

fn org() -> OrgId {
    OrgId::parse("org_a").unwrap()
}

fn acc() -> AccountId {
    AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap()
}

fn integration(fee_account: Option<u32>) -> Integration {
    let mut settings = IntegrationSettings {
        key_id: KeyId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7f").unwrap(),
        client_company_id: 2001,
        fetch_from: d("2026-01-01"),
        days_past_due: 14,
        update_addresses_from_brreg: false,
        write_addresses_to_tripletex: false,
        include_saft_imported: false,
        include_null_voucher_type: false,
        voucher_posting: Default::default(),
    };
    settings.voucher_posting.fee_income_account = fee_account;
    Integration {
        id: IntegrationId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7e").unwrap(),
        org: org(),
        account_id: acc(),
        settings,
        accountant_key: true,
        client_company_name: None,
        status: IntegrationStatus::Ready,
        version: 1,
        initial_sync_version: 1,
        initial_sync_enqueued: true,
        progress: None,
        last_sync: None,
        created_at: now(),
        updated_at: now(),
    }
}

/// Invoice 10023 of 10 000 kr, a letter's 35 kr fee and 41.10 interest, paid 10 076.10.
fn settled_claim() -> (ClaimRecord, VoucherPostingJob) {
    let claim = ClaimId::invoice(1001).unwrap();
    let mut state = ClaimState::new(org(), acc(), claim.clone());
    let mirror = Mirror {
        invoice_id: Some(1001),
        invoice_number: Some("10023".into()),
        voucher_id: Some(5001),
        customer_id: 77,
        principal: "10000".parse().unwrap(),
        invoice_date: d("2026-05-02"),
        due_date: d("2026-05-16"),
        due_date_estimated: false,
        version: Some(1),
        cross_check: None,
    };
    state.apply(ClaimEvent::mirrored(&claim, mirror)).unwrap();
    state
        .apply(ClaimEvent::new(
            crate::domain::claim::EventKey::new("charges:ltr_1").unwrap(),
            ClaimEventKind::ChargesDemanded(ChargesDemanded {
                reference: "ltr_1".into(),
                date: d("2026-06-01"),
                interest: "41.10".parse().unwrap(),
                fees: "35".parse().unwrap(),
            }),
        ))
        .unwrap();
    let applied = state
        .apply(ClaimEvent::credit(Credit {
            posting: PostingRef {
                id: 6006,
                version: Some(1),
            },
            voucher_id: 5003,
            date: d("2026-08-01"),
            amount: "10076.10".parse().unwrap(),
            kind: CreditKind::Payment,
            flags: vec![],
            description: None,
            reversed_by: None,
        }))
        .unwrap();
    let job = applied
        .effects()
        .iter()
        .find_map(|e| match e {
            crate::domain::claim::ClaimEffect::Settled(j) => Some(j.clone()),
            _ => None,
        })
        .expect("the claim settles");
    (ClaimRecord::new(state, now()), job)
}

fn world(
    fee_account: Option<u32>,
) -> (
    Arc<FakeStore>,
    Arc<FakeLedger>,
    VoucherService,
    VoucherPostingJob,
) {
    let store = Arc::new(FakeStore::default());
    let ledger = Arc::new(FakeLedger::default());
    let (claim, job) = settled_claim();
    *store.claim.lock().unwrap() = Some(claim);
    *store.integration.lock().unwrap() = Some(integration(fee_account));
    let svc = VoucherService::new(store.clone(), ledger.clone());
    (store, ledger, svc, job)
}

fn record(store: &FakeStore, job: &VoucherPostingJob) -> PostingRecord {
    store
        .postings
        .lock()
        .unwrap()
        .get(&(job.claim_id.to_string(), job.settlement_version))
        .unwrap()
        .1
        .clone()
}

#[tokio::test]
async fn a_settlement_is_booked_once_and_a_redelivery_sends_nothing() {
    let (store, ledger, svc, job) = world(Some(3900));
    let msg = PostingMessage::Settle(job.clone());
    let out = svc.handle(&msg, now()).await.unwrap();
    assert_eq!(
        out,
        Outcome::Posted {
            voucher_id: 100,
            found: false
        }
    );
    let r = record(&store, &job);
    assert_eq!(r.status, PostingStatus::Posted);
    let v = r.voucher.unwrap();
    assert_eq!((v.id, v.closed), (100, true));
    assert_eq!(ledger.closed.lock().unwrap()[0], vec![1, 2, 1000]);
    assert_eq!(r.amounts.unwrap().interest, "41.10".parse().unwrap());
    assert_eq!(
        svc.handle(&msg, now()).await.unwrap(),
        Outcome::AlreadyDone(PostingStatus::Posted)
    );
    assert_eq!(*ledger.posts.lock().unwrap(), 1);
    assert_eq!(ledger.vouchers.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_crash_after_the_post_ends_with_the_voucher_found_and_recorded_not_posted_again() {
    let (store, ledger, svc, job) = world(Some(3900));
    *ledger.fail_after_booking.lock().unwrap() = true;
    let msg = PostingMessage::Settle(job.clone());
    assert!(matches!(
        svc.handle(&msg, now()).await,
        Err(PostingError::Tripletex(_))
    ));
    assert_eq!(record(&store, &job).status, PostingStatus::Posting);
    // Redelivered within the lease: another worker may still be posting.
    assert!(matches!(
        svc.handle(&msg, now() + Duration::seconds(30)).await,
        Err(PostingError::InProgress(..))
    ));
    // After the lease: looked up, found, recorded.
    let later = now() + Duration::seconds(LEASE_SECONDS + 60);
    assert_eq!(
        svc.handle(&msg, later).await.unwrap(),
        Outcome::Posted {
            voucher_id: 100,
            found: true
        }
    );
    assert_eq!(*ledger.posts.lock().unwrap(), 1);
    assert_eq!(ledger.vouchers.lock().unwrap().len(), 1);
    assert_eq!(record(&store, &job).status, PostingStatus::Posted);
}

#[tokio::test]
async fn two_workers_at_once_book_one_voucher() {
    let (_store, ledger, svc, job) = world(Some(3900));
    let msg = PostingMessage::Settle(job);
    let (a, b) = tokio::join!(svc.handle(&msg, now()), svc.handle(&msg, now()));
    let posted = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Ok(Outcome::Posted { .. })))
        .count();
    assert_eq!(posted, 1, "{a:?} {b:?}");
    assert_eq!(ledger.vouchers.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_locked_period_is_held_with_the_fix_and_never_retried_blindly() {
    let (store, ledger, svc, job) = world(Some(3900));
    *ledger.locked_through.lock().unwrap() = Some(d("2026-08-31"));
    let msg = PostingMessage::Settle(job.clone());
    assert_eq!(
        svc.handle(&msg, now()).await.unwrap(),
        Outcome::Held(HeldReason::PeriodLocked)
    );
    let held = record(&store, &job).held.unwrap();
    assert!(held
        .fix_no
        .starts_with("Perioden er låst: åpne perioden i Tripletex eller velg en annen dato"));
    assert!(held.tripletex_message.unwrap().contains("låst"));
    // Redelivered: still held, nothing sent.
    assert_eq!(
        svc.handle(&msg, now()).await.unwrap(),
        Outcome::Held(HeldReason::PeriodLocked)
    );
    assert_eq!(*ledger.posts.lock().unwrap(), 1);
}

#[tokio::test]
async fn with_the_setting_on_a_locked_period_posts_on_the_first_open_day() {
    let (store, ledger, svc, job) = world(Some(3900));
    *ledger.locked_through.lock().unwrap() = Some(d("2026-08-31"));
    store
        .integration
        .lock()
        .unwrap()
        .as_mut()
        .unwrap()
        .settings
        .voucher_posting
        .post_in_first_open_period = true;
    let out = svc
        .handle(&PostingMessage::Settle(job.clone()), now())
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Posted { .. }), "{out:?}");
    assert_eq!(record(&store, &job).voucher.unwrap().date, d("2026-09-01"));
}

#[tokio::test]
async fn fees_without_a_chosen_account_and_a_missing_permission_are_held() {
    let (store, ledger, svc, job) = world(None);
    let msg = PostingMessage::Settle(job.clone());
    assert_eq!(
        svc.handle(&msg, now()).await.unwrap(),
        Outcome::Held(HeldReason::FeeAccountNotChosen)
    );
    assert_eq!(*ledger.posts.lock().unwrap(), 0);

    let (store2, ledger2, svc2, job2) = world(Some(3900));
    *ledger2.forbid.lock().unwrap() = true;
    assert_eq!(
        svc2.handle(&PostingMessage::Settle(job2.clone()), now())
            .await
            .unwrap(),
        Outcome::Held(HeldReason::PermissionMissing)
    );
    let held = record(&store2, &job2).held.unwrap();
    assert!(held.fix_en.contains("Advanced Voucher"));
    drop(store);
}

#[tokio::test]
async fn an_undone_settlement_is_reversed_once() {
    let (store, ledger, svc, job) = world(Some(3900));
    svc.handle(&PostingMessage::Settle(job.clone()), now())
        .await
        .unwrap();
    // The payment is reversed in Tripletex: the claim's settlement is undone.
    {
        let mut c = store.claim.lock().unwrap();
        let rec = c.as_mut().unwrap();
        rec.state
            .apply(ClaimEvent::reversal(Reversal {
                voucher_id: 5009,
                reverses_voucher_id: 5003,
                date: d("2026-08-05"),
            }))
            .unwrap();
        assert!(rec.state.settlements[0].undone);
    }
    let undo = VoucherUndoJob {
        org: org(),
        account_id: acc(),
        claim_id: job.claim_id.clone(),
        settlement_version: 1,
        undoes: job.idempotency_key.clone(),
        undone_on: d("2026-08-05"),
        idempotency_key: VoucherUndoJob::key(&acc(), &job.claim_id, 1),
    };
    let out = svc
        .handle(&PostingMessage::Undo(undo.clone()), now())
        .await
        .unwrap();
    assert_eq!(out, Outcome::Reversed { voucher_id: 101 });
    assert_eq!(
        svc.handle(&PostingMessage::Undo(undo), now())
            .await
            .unwrap(),
        Outcome::AlreadyDone(PostingStatus::Reversed)
    );
    let reversals = ledger
        .vouchers
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v.3.is_some())
        .count();
    assert_eq!(reversals, 1);
    assert_eq!(record(&store, &job).status, PostingStatus::Reversed);
}
