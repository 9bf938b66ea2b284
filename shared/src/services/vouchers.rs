//! The voucher posting (`docs/vouchers.md`): one message of the voucher-posting queue → the
//! settlement's income booked in Tripletex, exactly once; or the booked voucher reversed when the
//! settlement was undone, once.
//!
//! Exactly once, step by step:
//! 1. **The intent first.** The settlement's posting record is created with a conditional put
//!    (`status = pending`, the deterministic `externalVoucherNumber`).
//! 2. **One worker at a time.** Before anything is sent, the worker takes a lease on the record
//!    (`status = posting`, `leaseUntil = now + 2 min`, a write conditional on the revision it
//!    read). A second worker sees the lease and gives the message back to the queue.
//! 3. **Look before posting.** Under the lease, the voucher is looked up in Tripletex by its
//!    `externalVoucherNumber` (exact equality), and among the vouchers of the date window. If it
//!    is there (a crash after the POST and before the record), it is recorded, not posted again.
//! 4. **Post, then record.** `POST /ledger/voucher` is not repeated after a 5xx or a network
//!    failure (the client's `Repeat::OnlyUnprocessed`): the message fails, returns after the
//!    queue's visibility timeout (longer than the lease), and step 3 finds the voucher if it was
//!    made.
//!
//! A refusal (4xx) is never retried blindly: the settlement is **held** with Tripletex's message
//! and a fix in Norwegian and English ([`HeldReason`]) until a person asks for a retry. A 429 or
//! 5xx that outlasts the client's retries fails the message: SQS retries it, then the DLQ.

#[cfg(test)]
mod tests;

pub mod ports;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::adapters::queue::PostingMessage;
use crate::adapters::store::vouchers::{
    BookedVoucher, Held, PostingRecord, PostingStatus, ReversalRecord, Written,
};
use crate::adapters::store::StoreError;
use crate::domain::claim::{SettlementAmounts, VoucherPostingJob, VoucherUndoJob};
use crate::domain::voucher::{
    self, external_voucher_number, has_income, refusal_reason, HeldReason, LedgerAccount,
    PostingSettings, SettlementRef, VoucherAccounts, VoucherPattern, FEE_INCOME_PROPOSAL,
    INTEREST_INCOME_DEFAULTS, RECOVERY_DEFAULTS,
};
use crate::domain::Money;
use crate::services::cases::norwegian_date;
use ports::{Booked, Books, LedgerError, PostingStore, VoucherLedger};

/// How long a worker's lease on a settlement lasts: longer than the function's timeout (60 s),
/// shorter than the queue's visibility timeout (360 s), so a redelivered message finds it expired.
pub const LEASE_SECONDS: i64 = 120;

/// The voucher type the income voucher gets, looked up by name in the client's company (ids
/// differ per company); a company without it gets `null` (a plain manual voucher).
pub const VOUCHER_TYPE_NAME: &str = "Betaling";

/// The VAT code on income lines of accounts not locked to one: 0, «Ingen avgiftsbehandling»
/// (interest and reminder fees are compensation, outside VAT).
pub const NO_VAT_TYPE_ID: i64 = 0;

/// What handling a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The voucher was booked now (or found booked in Tripletex and recorded).
    Posted {
        voucher_id: i64,
        found: bool,
    },
    /// The record says it was done before: nothing sent.
    AlreadyDone(PostingStatus),
    NothingToPost,
    Held(HeldReason),
    /// The settlement was undone before anything was booked.
    Withdrawn,
    Reversed {
        voucher_id: i64,
    },
}

/// Why a message could not be handled now (it goes back to the queue).
#[derive(Debug, thiserror::Error)]
pub enum PostingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Tripletex is unavailable: {0}")]
    Tripletex(String),
    #[error("another worker holds the settlement {0} (lease until {1})")]
    InProgress(String, DateTime<Utc>),
    #[error("the settlement's record kept changing")]
    Contention,
    #[error("{0}")]
    Unexpected(String),
}

impl From<LedgerError> for PostingError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Transient(m) => PostingError::Tripletex(m),
            other => PostingError::Unexpected(other.to_string()),
        }
    }
}

/// The worker's service.
#[derive(Clone)]
pub struct VoucherService {
    store: Arc<dyn PostingStore>,
    ledger: Arc<dyn VoucherLedger>,
}

fn new_record(job: &VoucherPostingJob, now: DateTime<Utc>) -> PostingRecord {
    PostingRecord {
        org: job.org.clone(),
        account_id: job.account_id.clone(),
        claim_id: job.claim_id.clone(),
        settlement_version: job.settlement_version,
        key: job.idempotency_key.clone(),
        external_voucher_number: external_voucher_number(
            &job.idempotency_key,
            &job.claim_id,
            job.settlement_version,
        ),
        status: PostingStatus::Pending,
        job: job.clone(),
        amounts: None,
        allocation: None,
        voucher: None,
        held: None,
        reversal: None,
        lease_until: None,
        attempts: 0,
        retries: 0,
        created_at: now,
        updated_at: now,
        rev: 0,
    }
}

fn hold(rec: &mut PostingRecord, reason: HeldReason, message: Option<String>, now: DateTime<Utc>) {
    rec.status = PostingStatus::Held;
    rec.lease_until = None;
    rec.held = Some(Held {
        fix_no: reason.no(),
        fix_en: reason.en(),
        reason,
        tripletex_message: message,
        at: now,
    });
    rec.updated_at = now;
}

/// Tripletex's message with its validation messages, as the user sees it.
fn refusal_text(message: &str, validation: &[(String, String)]) -> String {
    let mut text = message.to_string();
    for (f, m) in validation {
        text.push_str(&format!("; {f}: {m}"));
    }
    text
}

impl VoucherService {
    pub fn new(store: Arc<dyn PostingStore>, ledger: Arc<dyn VoucherLedger>) -> Self {
        Self { store, ledger }
    }

    /// Handles one message of the voucher-posting queue.
    pub async fn handle(
        &self,
        message: &PostingMessage,
        now: DateTime<Utc>,
    ) -> Result<Outcome, PostingError> {
        match message {
            PostingMessage::Settle(job) => self.settle(job, now).await,
            PostingMessage::Undo(job) => self.undo(job, now).await,
        }
    }

    /// Books a settlement's income (see the module's doc).
    pub async fn settle(
        &self,
        job: &VoucherPostingJob,
        now: DateTime<Utc>,
    ) -> Result<Outcome, PostingError> {
        for _ in 0..5 {
            let mut rec = match self
                .store
                .get_posting(
                    &job.org,
                    &job.account_id,
                    &job.claim_id,
                    job.settlement_version,
                )
                .await?
            {
                Some(r) => r,
                None => {
                    let mut r = new_record(job, now);
                    match self.store.save_posting(&mut r).await? {
                        Written::Written => r,
                        Written::Lost => continue,
                    }
                }
            };
            match rec.status {
                PostingStatus::Posted => {
                    if rec.held.is_none() {
                        self.close_if_open(&mut rec, now).await?;
                    }
                    return Ok(Outcome::AlreadyDone(PostingStatus::Posted));
                }
                PostingStatus::Held => {
                    let reason = rec.held.map(|h| h.reason).unwrap_or(HeldReason::Refused);
                    return Ok(Outcome::Held(reason));
                }
                s @ (PostingStatus::NothingToPost
                | PostingStatus::Withdrawn
                | PostingStatus::Reversed) => return Ok(Outcome::AlreadyDone(s)),
                PostingStatus::Posting if rec.lease_until.is_some_and(|l| l > now) => {
                    return Err(PostingError::InProgress(
                        rec.key.clone(),
                        rec.lease_until.unwrap_or(now),
                    ))
                }
                PostingStatus::Pending | PostingStatus::Posting => {
                    rec.status = PostingStatus::Posting;
                    rec.lease_until = Some(now + Duration::seconds(LEASE_SECONDS));
                    rec.attempts += 1;
                    rec.updated_at = now;
                    match self.store.save_posting(&mut rec).await? {
                        Written::Written => return self.post_under_lease(rec, now).await,
                        Written::Lost => continue,
                    }
                }
            }
        }
        Err(PostingError::Contention)
    }

    /// Saves `rec` (we hold its lease); a lost write means another worker took over after the
    /// lease expired: what it records stands.
    async fn record(&self, rec: &mut PostingRecord) -> Result<bool, PostingError> {
        Ok(self.store.save_posting(rec).await? == Written::Written)
    }

    async fn post_under_lease(
        &self,
        mut rec: PostingRecord,
        now: DateTime<Utc>,
    ) -> Result<Outcome, PostingError> {
        let job = rec.job.clone();
        let claim = self
            .store
            .get_claim(&job.org, &job.account_id, &job.claim_id)
            .await?;
        let settlement = claim.as_ref().and_then(|c| {
            c.state
                .settlements
                .iter()
                .find(|s| s.version == job.settlement_version)
        });
        let (Some(claim), Some(settlement)) = (claim.as_ref(), settlement) else {
            return Err(PostingError::Unexpected(format!(
                "settlement {} is not on its claim",
                job.idempotency_key
            )));
        };
        if settlement.undone {
            rec.status = PostingStatus::Withdrawn;
            rec.lease_until = None;
            rec.updated_at = now;
            self.record(&mut rec).await?;
            return Ok(Outcome::Withdrawn);
        }
        // What is booked: the claim as it is now (a write-off that arrived after the settling
        // payment has grown `recovered`), the settlement still in force.
        let a = &claim.state.amounts;
        let amounts = SettlementAmounts {
            principal: a.principal.checked_sub(a.credited).unwrap_or(Money::ZERO),
            interest: a.interest_demanded,
            fees: a.fees_demanded,
            recovered: a.recovered,
            excess: a.excess,
        };
        rec.amounts = Some(amounts.clone());
        rec.allocation = Some(settlement.allocation.clone());
        if !has_income(&amounts) {
            rec.status = PostingStatus::NothingToPost;
            rec.lease_until = None;
            rec.updated_at = now;
            self.record(&mut rec).await?;
            return Ok(Outcome::NothingToPost);
        }
        let integration = self
            .store
            .get_integration(&job.org, &job.account_id)
            .await?
            .ok_or_else(|| PostingError::Unexpected("the account has no integration".into()))?;
        let settings = integration.settings.voucher_posting.clone();
        let books = Books {
            org: job.org.clone(),
            key_id: integration.settings.key_id.clone(),
            company_id: integration.settings.client_company_id,
            accountant_key: integration.accountant_key,
        };
        let accounts = match self.resolve(&books, &settings, &amounts).await {
            Ok(Ok(a)) => a,
            Ok(Err(reason)) => {
                hold(&mut rec, reason.clone(), None, now);
                self.record(&mut rec).await?;
                return Ok(Outcome::Held(reason));
            }
            Err(LedgerError::Refused {
                status,
                message,
                validation,
            }) => {
                let reason = refusal_reason(status, &message, &validation, None);
                hold(
                    &mut rec,
                    reason.clone(),
                    Some(refusal_text(&message, &validation)),
                    now,
                );
                self.record(&mut rec).await?;
                return Ok(Outcome::Held(reason));
            }
            Err(e) => return Err(e.into()),
        };
        let invoice_number = claim
            .state
            .mirror
            .as_ref()
            .and_then(|m| m.invoice_number.clone());
        let today = norwegian_date(now);
        let mut date = settlement.settled_on;
        if settings.post_in_first_open_period {
            if let Some(open) = self.ledger.first_open_date(&books, date).await? {
                date = date.max(open);
            }
        }
        let mut moved = date != settlement.settled_on;
        loop {
            let s = SettlementRef {
                key: &job.idempotency_key,
                claim_id: &job.claim_id,
                settlement_version: job.settlement_version,
                customer_id: job.customer_id,
                invoice_number: invoice_number.as_deref(),
                amounts: &amounts,
            };
            let draft =
                match voucher::build(&s, &accounts, &VoucherPattern::PaymentOnReceivables, date) {
                    Ok(Some(d)) => d,
                    Ok(None) => {
                        rec.status = PostingStatus::NothingToPost;
                        rec.lease_until = None;
                        self.record(&mut rec).await?;
                        return Ok(Outcome::NothingToPost);
                    }
                    Err(e) => {
                        hold(&mut rec, HeldReason::Unbalanced, Some(e.to_string()), now);
                        self.record(&mut rec).await?;
                        return Ok(Outcome::Held(HeldReason::Unbalanced));
                    }
                };
            // Look before posting: a crash after an earlier POST left the voucher there.
            let from = date.min(settlement.settled_on);
            let to = date.max(today).succ_opt().unwrap_or(date);
            if let Some(found) = self
                .ledger
                .find(&books, &rec.external_voucher_number, from, to)
                .await?
            {
                tracing::info!(key = %rec.key, voucher = found.id, "voucher found in Tripletex; recorded, not posted again");
                let id = found.id;
                self.booked(&mut rec, found, now).await?;
                self.close_if_open(&mut rec, now).await?;
                return Ok(Outcome::Posted {
                    voucher_id: id,
                    found: true,
                });
            }
            let voucher_type = self.ledger.voucher_type(&books, VOUCHER_TYPE_NAME).await?;
            match self.ledger.post(&books, &draft, voucher_type).await {
                Ok(b) => {
                    tracing::info!(key = %rec.key, voucher = b.id, number = %b.number, "voucher posted");
                    let id = b.id;
                    self.booked(&mut rec, b, now).await?;
                    self.close_if_open(&mut rec, now).await?;
                    return Ok(Outcome::Posted {
                        voucher_id: id,
                        found: false,
                    });
                }
                Err(LedgerError::Refused {
                    status,
                    message,
                    validation,
                }) => {
                    let reason = refusal_reason(status, &message, &validation, Some(&draft));
                    if reason == HeldReason::PeriodLocked
                        && settings.post_in_first_open_period
                        && !moved
                    {
                        if let Some(open) = self.ledger.first_open_date(&books, date).await? {
                            if open > date {
                                date = open;
                                moved = true;
                                continue;
                            }
                        }
                    }
                    tracing::warn!(key = %rec.key, code = reason.code(), "Tripletex refused the voucher; held");
                    hold(
                        &mut rec,
                        reason.clone(),
                        Some(refusal_text(&message, &validation)),
                        now,
                    );
                    self.record(&mut rec).await?;
                    return Ok(Outcome::Held(reason));
                }
                // The POST may have been carried out: the lease stays, the message returns
                // after the visibility timeout and looks first.
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Records the booked voucher (we hold the lease).
    async fn booked(
        &self,
        rec: &mut PostingRecord,
        b: Booked,
        now: DateTime<Utc>,
    ) -> Result<(), PostingError> {
        rec.status = PostingStatus::Posted;
        rec.lease_until = None;
        rec.held = None;
        rec.voucher = Some(BookedVoucher {
            id: b.id,
            number: b.number,
            date: b.date,
            receivables_posting_id: b.receivables_posting_id,
            closed: false,
            close_note: None,
            recorded_at: now,
        });
        rec.updated_at = now;
        if !self.record(rec).await? {
            // Another worker took over after our lease expired; it finds this voucher by its
            // number and records it.
            tracing::warn!(key = %rec.key, "the record moved on while we posted");
        }
        Ok(())
    }

    /// Closes the voucher's receivables line together with the over-settling payment, when the
    /// customer's open postings of that invoice net to zero; else notes why not (an excess stays
    /// open for a person). A failure to reach Tripletex fails the message (retried).
    async fn close_if_open(
        &self,
        rec: &mut PostingRecord,
        now: DateTime<Utc>,
    ) -> Result<(), PostingError> {
        let Some(v) = rec.voucher.clone() else {
            return Ok(());
        };
        if v.closed || v.close_note.is_some() {
            return Ok(());
        }
        let Some(rp) = v.receivables_posting_id else {
            return Ok(());
        };
        let integration = self
            .store
            .get_integration(&rec.org, &rec.account_id)
            .await?
            .ok_or_else(|| PostingError::Unexpected("the account has no integration".into()))?;
        let books = Books {
            org: rec.org.clone(),
            key_id: integration.settings.key_id.clone(),
            company_id: integration.settings.client_company_id,
            accountant_key: integration.accountant_key,
        };
        let claim = self
            .store
            .get_claim(&rec.org, &rec.account_id, &rec.claim_id)
            .await?;
        let number = claim
            .as_ref()
            .and_then(|c| c.state.mirror.as_ref())
            .and_then(|m| m.invoice_number.clone());
        let Some(receivables) = self.ledger.receivables(&books).await? else {
            return Ok(());
        };
        let before = norwegian_date(now).max(v.date).succ_opt().unwrap_or(v.date);
        let open: Vec<_> = self
            .ledger
            .open_postings(&books, receivables.id, rec.job.customer_id, before)
            .await?
            .into_iter()
            .filter(|p| p.id == rp || (number.is_some() && p.invoice_number == number))
            .collect();
        let (closed, note) = if !open.iter().any(|p| p.id == rp) {
            (true, None)
        } else {
            let total = ports::sum(&open);
            if total.is_zero() {
                let ids: Vec<i64> = open.iter().map(|p| p.id).collect();
                let msgs = self.ledger.close(&books, &ids).await?;
                if msgs.is_empty() {
                    (true, None)
                } else {
                    let text: Vec<String> = msgs
                        .iter()
                        .map(|(id, m)| format!("posting {id}: {m}"))
                        .collect();
                    (
                        false,
                        Some(format!("Tripletex did not close: {}", text.join("; "))),
                    )
                }
            } else {
                (
                    false,
                    Some(format!(
                        "not closed: the customer's postings of this invoice leave {total} open \
                         (paid beyond what was owed, or another open item): a person refunds or \
                         places it"
                    )),
                )
            }
        };
        if let Some(v) = rec.voucher.as_mut() {
            v.closed = closed;
            v.close_note = note;
        }
        rec.updated_at = now;
        self.record(rec).await?;
        Ok(())
    }

    /// The accounts of the voucher: receivables from `postingRules`, the others by number (the
    /// user's choice, else the first default that exists). `Ok(Err(reason))` when one is missing.
    async fn resolve(
        &self,
        books: &Books,
        settings: &PostingSettings,
        amounts: &SettlementAmounts,
    ) -> Result<Result<VoucherAccounts, HeldReason>, LedgerError> {
        let Some(receivables) = self.ledger.receivables(books).await? else {
            return Ok(Err(HeldReason::ReceivablesUnknown));
        };
        let fee_number = settings.fee_income_account;
        if !amounts.fees.is_zero() && fee_number.is_none() {
            return Ok(Err(HeldReason::FeeAccountNotChosen));
        }
        let interest_numbers: Vec<u32> = match settings.interest_income_account {
            Some(n) => vec![n],
            None => INTEREST_INCOME_DEFAULTS.to_vec(),
        };
        let recovery_numbers: Vec<u32> = match settings.recovery_account {
            Some(n) => vec![n],
            None => RECOVERY_DEFAULTS.to_vec(),
        };
        let mut wanted: Vec<u32> = interest_numbers.clone();
        wanted.extend(&recovery_numbers);
        wanted.push(fee_number.unwrap_or(FEE_INCOME_PROPOSAL));
        let found = self.ledger.accounts(books, &wanted).await?;
        let first = |numbers: &[u32]| -> Option<LedgerAccount> {
            numbers
                .iter()
                .find_map(|n| found.iter().find(|a| a.number == *n).cloned())
        };
        let missing = |field: &str| HeldReason::AccountMissing {
            field: field.to_string(),
        };
        let placeholder = receivables.clone();
        let interest_income = match first(&interest_numbers) {
            Some(a) => a,
            None if amounts.interest.is_zero() => placeholder.clone(),
            None => return Ok(Err(missing("interestIncomeAccount"))),
        };
        let fee_income = match fee_number.and_then(|n| first(&[n])) {
            Some(a) => a,
            None if amounts.fees.is_zero() => placeholder.clone(),
            None => return Ok(Err(missing("feeIncomeAccount"))),
        };
        let recovery = match first(&recovery_numbers) {
            Some(a) => a,
            None if amounts.recovered.is_zero() => placeholder,
            None => return Ok(Err(missing("recoveryAccount"))),
        };
        Ok(Ok(VoucherAccounts {
            receivables,
            interest_income,
            fee_income,
            recovery,
            no_vat_type_id: Some(NO_VAT_TYPE_ID),
        }))
    }

    /// Reverses the voucher booked for a settlement that was undone (once), or withdraws a
    /// settlement nothing was booked for.
    pub async fn undo(
        &self,
        job: &VoucherUndoJob,
        now: DateTime<Utc>,
    ) -> Result<Outcome, PostingError> {
        for _ in 0..5 {
            let rec = self
                .store
                .get_posting(
                    &job.org,
                    &job.account_id,
                    &job.claim_id,
                    job.settlement_version,
                )
                .await?;
            let Some(mut rec) = rec else {
                return Err(PostingError::Unexpected(format!(
                    "no posting record for {}: its settle job comes first",
                    job.undoes
                )));
            };
            match rec.status {
                PostingStatus::Reversed => return Ok(Outcome::AlreadyDone(rec.status)),
                PostingStatus::Withdrawn => return Ok(Outcome::Withdrawn),
                PostingStatus::Posting if rec.lease_until.is_some_and(|l| l > now) => {
                    return Err(PostingError::InProgress(
                        rec.key.clone(),
                        rec.lease_until.unwrap_or(now),
                    ))
                }
                PostingStatus::Pending
                | PostingStatus::Posting
                | PostingStatus::NothingToPost
                | PostingStatus::Held
                    if rec.voucher.is_none() =>
                {
                    rec.status = PostingStatus::Withdrawn;
                    rec.lease_until = None;
                    rec.updated_at = now;
                    match self.store.save_posting(&mut rec).await? {
                        Written::Written => return Ok(Outcome::Withdrawn),
                        Written::Lost => continue,
                    }
                }
                _ => {}
            }
            let Some(v) = rec.voucher.clone() else {
                return Ok(Outcome::Withdrawn);
            };
            // The reversal's date is chosen once and recorded first, so a retry looks for the
            // reversing voucher on that date.
            let date = match &rec.reversal {
                Some(r) => r.date,
                None => {
                    let date = job.undone_on.max(v.date);
                    rec.reversal = Some(ReversalRecord {
                        date,
                        voucher_id: None,
                        number: None,
                        recorded_at: None,
                    });
                    rec.updated_at = now;
                    match self.store.save_posting(&mut rec).await? {
                        Written::Written => date,
                        Written::Lost => continue,
                    }
                }
            };
            let integration = self
                .store
                .get_integration(&rec.org, &rec.account_id)
                .await?
                .ok_or_else(|| PostingError::Unexpected("the account has no integration".into()))?;
            let books = Books {
                org: rec.org.clone(),
                key_id: integration.settings.key_id.clone(),
                company_id: integration.settings.client_company_id,
                accountant_key: integration.accountant_key,
            };
            let reversing = match self.ledger.reversal_of(&books, v.id, date).await? {
                Some(b) => b,
                None => match self.ledger.reverse(&books, v.id, date).await {
                    Ok(b) => b,
                    Err(LedgerError::Refused {
                        status,
                        message,
                        validation,
                    }) => {
                        let reason = refusal_reason(status, &message, &validation, None);
                        hold(
                            &mut rec,
                            reason.clone(),
                            Some(refusal_text(&message, &validation)),
                            now,
                        );
                        // Still booked: the voucher stands until the reversal goes through.
                        rec.status = PostingStatus::Posted;
                        self.store.save_posting(&mut rec).await?;
                        return Ok(Outcome::Held(reason));
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            rec.status = PostingStatus::Reversed;
            rec.held = None;
            rec.reversal = Some(ReversalRecord {
                date,
                voucher_id: Some(reversing.id),
                number: Some(reversing.number),
                recorded_at: Some(now),
            });
            rec.updated_at = now;
            match self.store.save_posting(&mut rec).await? {
                Written::Written => {
                    return Ok(Outcome::Reversed {
                        voucher_id: reversing.id,
                    })
                }
                Written::Lost => continue,
            }
        }
        Err(PostingError::Contention)
    }
}
