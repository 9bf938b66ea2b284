//! The loss-classification worker: one ledger event from the sync's
//! FIFO classification queue → the claim it is about.
//!
//! - `item_mirrored` → the claim's `mirrored` event (principal, due date, customer, voucher).
//! - `credit` → [`classify`] on the evidence the sync read → a `credit` (payment, credit note,
//!   write-off, unknown) or a `reversal`; the verdict and its evidence are kept with the claim.
//! - `item_overdue` → opens the case when it is due (else the daily job does, on the day).
//! - `item_removed` → the claim is marked for a person (deleted in Tripletex or now skipped).
//! - `item_closed` → nothing: the credits that closed the item came as their own events.
//! - events about unapplied credits (`credit_{postingId}`) name no claim: acknowledged.
//!
//! Idempotent and order-proof: an event whose key the claim knows (applied, stale, held,
//! refused) changes nothing; an event that arrives before what it refers to is **held on the
//! claim** and re-applied when the claim changes, rather than left to SQS redelivery (which would
//! end in the DLQ). The claim (and its case) are written conditionally on the revision read; on
//! a conflict the worker reloads and re-applies. A settlement's voucher-posting job is recorded
//! in the claim's outbox in the same write, sent after it (FIFO deduplication id = the job's
//! idempotency key) and then removed, so a crash between write and send is repaired by the next
//! event (or redelivery) of that claim, and a redelivered event sends nothing.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::adapters::queue::{
    ClassificationBatch, ClassificationMessage, PostingMessage, VoucherPostingQueue,
};
use crate::adapters::store::claims::{
    claim_error_code, CaseWrite, ClaimRecord, CreditClassification, HeldEvent, HoldReason, Removal,
    Save,
};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::domain::case::{Case, CaseId};
use crate::domain::claim::{
    Applied, ClaimEffect, ClaimEvent, ClaimEventKind, ClaimId, ClaimState, ClaimStatus, EventKey,
    Mirror, PostingRef, VoucherPostingJob, VoucherUndoJob,
};
use crate::domain::classify::classify;
use crate::domain::ledger::{ItemSource, LedgerEvent};
use crate::domain::Money;
use crate::services::cases::open_case_if_due;

/// Conditional-write attempts before a message is given back to the queue.
pub const MAX_ATTEMPTS: usize = 8;

/// Claims of one message handled at once (each is a read and a conditional write or two).
pub const CLAIMS_IN_PARALLEL: usize = 8;

/// Where settlement jobs go (the `VoucherPostingQueue`, [`crate::adapters::queue::posting`]).
#[async_trait]
pub trait PostingJobs: Send + Sync {
    async fn send(&self, job: &VoucherPostingJob) -> Result<(), String>;
    /// The undo of a settlement whose job was sent.
    async fn send_undo(&self, job: &VoucherUndoJob) -> Result<(), String>;
}

#[async_trait]
impl PostingJobs for VoucherPostingQueue {
    async fn send(&self, job: &VoucherPostingJob) -> Result<(), String> {
        VoucherPostingQueue::send(self, &PostingMessage::Settle(job.clone()), None).await
    }
    async fn send_undo(&self, job: &VoucherUndoJob) -> Result<(), String> {
        VoucherPostingQueue::send(self, &PostingMessage::Undo(job.clone()), None).await
    }
}

/// Why a message could not be handled (it goes back to the queue).
#[derive(Debug, thiserror::Error)]
pub enum ClassificationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the claim kept changing while we wrote it ({0} attempts)")]
    Contention(usize),
    #[error("the voucher-posting queue refused a job: {0}")]
    PostingQueue(String),
}

/// What handling one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The event names no claim (an unapplied credit): nothing stored.
    NotAClaim,
    /// The claim knew the event already: nothing changed.
    Duplicate,
    /// Nothing to change (an `item_closed`, an overdue claim not due for a case yet).
    NoChange,
    /// Stored.
    Recorded {
        status: ClaimStatus,
        /// Events still held on the claim after this one.
        held: usize,
        case_opened: bool,
    },
}

/// The outcome of handling one message, with how many settlement jobs were sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub handled: Handled,
    pub jobs_sent: usize,
}

/// What one ledger event means for its claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    Event(Box<ClaimEvent>, Option<Box<CreditClassification>>),
    Overdue,
    Closed,
    Removed(Removal),
    /// The event cannot be represented (e.g. a credit without a voucher): kept for a person.
    Refused {
        code: &'static str,
        message: String,
    },
}

/// Maps a ledger event to the claim's event, classifying credits.
pub fn map_event(event: &LedgerEvent, now: DateTime<Utc>) -> Mapped {
    let key = match EventKey::new(event.key()) {
        Ok(k) => k,
        Err(e) => {
            return Mapped::Refused {
                code: "invalid_event_key",
                message: e.to_string(),
            }
        }
    };
    match event {
        LedgerEvent::ItemMirrored(e) => {
            let f = &e.facts;
            let Some(due_date) = f.due_date else {
                return Mapped::Refused {
                    code: "missing_due_date",
                    message: "the item was mirrored without a due date".into(),
                };
            };
            Mapped::Event(
                Box::new(ClaimEvent::new(
                    key,
                    ClaimEventKind::Mirrored(Mirror {
                        invoice_id: f.invoice_id,
                        invoice_number: f.invoice_number.clone(),
                        voucher_id: f.voucher_id,
                        customer_id: f.customer_id,
                        principal: f.principal,
                        invoice_date: f.date,
                        due_date,
                        due_date_estimated: f.due_date_estimated,
                        // An invoice's version rises when it is edited. A voucher item's
                        // "version" is its first debit posting's: a second debit (a fee on the
                        // number) changes the principal but not that version, so for those the
                        // content decides (the FIFO group keeps a claim's events in order).
                        version: match f.source {
                            ItemSource::Invoice => f.source_version,
                            _ => None,
                        },
                        cross_check: f.cross_check,
                    }),
                )),
                None,
            )
        }
        LedgerEvent::Credit(e) => {
            let line = &e.credit;
            let c = classify(&line.evidence);
            let amount = Money::ZERO.checked_sub(line.amount).unwrap_or(Money::ZERO);
            let description = line
                .evidence
                .voucher_description
                .clone()
                .filter(|d| !d.trim().is_empty())
                .or_else(|| line.evidence.posting_description.clone());
            let record = CreditClassification {
                posting_id: line.posting_id,
                posting_version: line.posting_version,
                voucher_id: line.voucher_id,
                event_key: e.key.clone(),
                date: line.date,
                amount,
                description: description.clone(),
                needs_review: c.needs_review(),
                classification: c.clone(),
                classified_at: now,
            };
            let Some(voucher_id) = line.voucher_id else {
                return Mapped::Refused {
                    code: "credit_without_voucher",
                    message: format!(
                        "credit posting {} has no voucher: it cannot be placed on the claim",
                        line.posting_id
                    ),
                };
            };
            let posting = PostingRef {
                id: line.posting_id,
                version: line.posting_version,
            };
            match ClaimEventKind::from_classified(
                &c,
                posting,
                voucher_id,
                line.evidence.reverses_voucher_id,
                line.date,
                amount,
                description,
            ) {
                Ok(mut kind) => {
                    if let ClaimEventKind::Credit(credit) = &mut kind {
                        credit.reversed_by = line.reversed_by;
                    }
                    Mapped::Event(Box::new(ClaimEvent::new(key, kind)), Some(Box::new(record)))
                }
                Err(e) => Mapped::Refused {
                    code: claim_error_code(&e),
                    message: e.to_string(),
                },
            }
        }
        LedgerEvent::ItemOverdue(_) => Mapped::Overdue,
        LedgerEvent::ItemClosed(_) => Mapped::Closed,
        LedgerEvent::ItemRemoved(e) => Mapped::Removed(Removal {
            key: e.key.clone(),
            skip_reason: e.skip_reason,
            at: now,
        }),
    }
}

/// What applying one mapped event did to the record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordChange {
    pub changed: bool,
    pub duplicate: bool,
    pub effects: Vec<ClaimEffect>,
}

/// Applies a mapped event to the claim record (pure): dedup by key, hold what must wait,
/// re-apply held events after a change, record refusals for a person.
pub fn apply_to_record(
    rec: &mut ClaimRecord,
    key: &str,
    mapped: Mapped,
    now: DateTime<Utc>,
) -> RecordChange {
    let mut out = RecordChange::default();
    if rec.knows_key(key) {
        out.duplicate = true;
        return out;
    }
    match mapped {
        Mapped::Overdue | Mapped::Closed => return out,
        Mapped::Refused { code, message } => {
            rec.add_problem(key, code, message, now);
            out.changed = true;
        }
        Mapped::Removed(r) => {
            rec.removed = Some(r);
            out.changed = true;
        }
        Mapped::Event(event, classification) => {
            if let Some(c) = classification {
                upsert_classification(rec, *c);
            }
            let event = *event;
            match rec.state.apply(event.clone()) {
                Ok(Applied::HoldUntilMirrored) => {
                    rec.held.push(HeldEvent {
                        event,
                        reason: HoldReason::Mirrored,
                        held_since: now,
                    });
                    out.changed = true;
                }
                Ok(Applied::HoldUntilReferenced { voucher_id }) => {
                    rec.held.push(HeldEvent {
                        event,
                        reason: HoldReason::Referenced { voucher_id },
                        held_since: now,
                    });
                    out.changed = true;
                }
                Ok(Applied::Changed { effects }) => {
                    out.effects = effects;
                    out.changed = true;
                    retry_held(rec, &mut out.effects, now);
                }
                Ok(Applied::Stale) => out.changed = true,
                Ok(Applied::Duplicate) => out.duplicate = true,
                Err(e) => {
                    rec.add_problem(key, claim_error_code(&e), e.to_string(), now);
                    out.changed = true;
                }
            }
        }
    }
    if out.changed {
        rec.updated_at = now;
    }
    out
}

/// Keeps the latest classification per posting (a newer posting version replaces the older).
fn upsert_classification(rec: &mut ClaimRecord, c: CreditClassification) {
    match rec
        .classifications
        .iter_mut()
        .find(|x| x.posting_id == c.posting_id)
    {
        Some(old) => {
            let newer = match (c.posting_version, old.posting_version) {
                (Some(n), Some(o)) => n > o,
                _ => true,
            };
            if newer {
                *old = c;
            }
        }
        None => rec.classifications.push(c),
    }
}

/// Re-applies the held events after the claim changed (the mirror arrived, a voucher appeared).
fn retry_held(rec: &mut ClaimRecord, effects: &mut Vec<ClaimEffect>, now: DateTime<Utc>) {
    if rec.held.is_empty() {
        return;
    }
    let held = std::mem::take(&mut rec.held);
    let since: HashMap<EventKey, DateTime<Utc>> = held
        .iter()
        .map(|h| (h.event.key.clone(), h.held_since))
        .collect();
    let outcome = rec.state.apply_batch(held.into_iter().map(|h| h.event));
    for (key, result) in &outcome.results {
        if let Err(e) = result {
            rec.add_problem(key.as_str(), claim_error_code(e), e.to_string(), now);
        }
    }
    effects.extend(outcome.effects());
    rec.held = outcome
        .held
        .into_iter()
        .map(|(event, applied)| HeldEvent {
            held_since: since.get(&event.key).copied().unwrap_or(now),
            reason: match applied {
                Applied::HoldUntilReferenced { voucher_id } => {
                    HoldReason::Referenced { voucher_id }
                }
                _ => HoldReason::Mirrored,
            },
            event,
        })
        .collect();
}

/// Acts on the claim's effects: the case follows the claim, settlements go to the outbox.
pub fn act_on_effects(
    rec: &mut ClaimRecord,
    case: Option<&mut Case>,
    effects: &[ClaimEffect],
    today: NaiveDate,
    now: DateTime<Utc>,
) {
    let mut case = case;
    for effect in effects {
        match effect {
            ClaimEffect::StatusChanged { to, .. } => {
                if let Some(c) = case.as_deref_mut() {
                    c.follow_claim(*to, today, now);
                }
            }
            ClaimEffect::Settled(job) => {
                if !rec
                    .outbox
                    .iter()
                    .any(|j| j.idempotency_key == job.idempotency_key)
                {
                    rec.outbox.push(job.clone());
                }
            }
            ClaimEffect::SettlementUndone {
                settlement_version,
                idempotency_key,
            } => {
                // Recorded on the claim (`settlements[].undone`). A job still in the outbox is
                // withdrawn (never sent); for one already sent, an undo job goes to the posting
                // worker, which reverses what it booked under that key (once).
                let before = rec.outbox.len();
                rec.outbox.retain(|j| &j.idempotency_key != idempotency_key);
                let withdrawn = rec.outbox.len() < before;
                if !withdrawn {
                    let key = VoucherUndoJob::key(
                        &rec.state.account_id,
                        &rec.state.claim_id,
                        *settlement_version,
                    );
                    if !rec.undo_outbox.iter().any(|j| j.idempotency_key == key) {
                        rec.undo_outbox.push(VoucherUndoJob {
                            org: rec.state.org.clone(),
                            account_id: rec.state.account_id.clone(),
                            claim_id: rec.state.claim_id.clone(),
                            settlement_version: *settlement_version,
                            undoes: idempotency_key.clone(),
                            undone_on: today,
                            idempotency_key: key,
                        });
                    }
                }
                tracing::warn!(settlement_version, %idempotency_key, withdrawn, "settlement undone");
            }
            ClaimEffect::ReviewNeeded { posting_id, .. } => {
                tracing::info!(posting_id, "credit held for review");
            }
            ClaimEffect::Recovered { total } => tracing::info!(%total, "recovered after write-off"),
            ClaimEffect::Excess { total } => tracing::info!(%total, "paid or credited beyond owed"),
        }
    }
}

/// The worker's service.
#[derive(Clone)]
pub struct ClassificationService {
    store: DynamoStore,
    jobs: Arc<dyn PostingJobs>,
}

impl ClassificationService {
    pub fn new(store: DynamoStore, jobs: Arc<dyn PostingJobs>) -> Self {
        Self { store, jobs }
    }

    /// Handles one event (a single-event message). `today` is the Norwegian date.
    pub async fn handle(
        &self,
        msg: &ClassificationMessage,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ClassificationError> {
        self.handle_claim(
            &msg.org,
            &msg.account_id,
            &msg.integration_id,
            msg.event.item_id(),
            &[&msg.event],
            today,
            now,
        )
        .await
    }

    /// Handles one message of the classification queue (changes of the customers of one group):
    /// claim by claim, each claim's events applied in order and stored with one conditional write.
    /// Claims are independent, so up to [`CLAIMS_IN_PARALLEL`] are handled at once; the outcomes
    /// come back in the message's claim order. A failing claim fails the message; on redelivery
    /// the claims already handled are duplicates.
    pub async fn handle_batch(
        &self,
        batch: &ClassificationBatch,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>, ClassificationError> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        stream::iter(batch.by_claim())
            .map(|(item_id, events)| async move {
                self.handle_claim(
                    &batch.org,
                    &batch.account_id,
                    &batch.integration_id,
                    item_id,
                    &events,
                    today,
                    now,
                )
                .await
            })
            .buffered(CLAIMS_IN_PARALLEL)
            .try_collect()
            .await
    }

    /// Applies the events of one claim (in order) and stores the claim (and its case) once.
    #[allow(clippy::too_many_arguments)]
    pub async fn handle_claim(
        &self,
        org: &crate::domain::setup::OrgId,
        account: &crate::domain::setup::AccountId,
        integration_id: &crate::domain::setup::IntegrationId,
        item_id: &str,
        events: &[&LedgerEvent],
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Outcome, ClassificationError> {
        let Ok(claim_id) = ClaimId::parse(item_id) else {
            tracing::info!(
                item = item_id,
                "not a claim (unapplied credit): acknowledged"
            );
            return Ok(Outcome {
                handled: Handled::NotAClaim,
                jobs_sent: 0,
            });
        };
        let case_id = CaseId::for_claim(&claim_id);
        let mapped: Vec<(String, Mapped)> = events
            .iter()
            .map(|e| (e.key().to_string(), map_event(e, now)))
            .collect();
        // The account's settings: the allocation rule the claim's amounts are split by, and when
        // a case opens.
        let settings = self
            .store
            .get_integration(org, account)
            .await?
            .map(|i| i.settings);
        let rule = settings
            .as_ref()
            .map(|s| s.voucher_posting.allocation_rule)
            .unwrap_or_default();

        let mut handled = None;
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.store.get_claim(org, account, &claim_id).await?;
            let exists = loaded.is_some();
            let mut rec = loaded.unwrap_or_else(|| {
                ClaimRecord::new(
                    ClaimState::new(org.clone(), account.clone(), claim_id.clone()),
                    now,
                )
            });
            if rec.integration_id.is_none() {
                rec.integration_id = Some(integration_id.clone());
            }
            if let Err(e) = rec.state.set_allocation_rule(rule) {
                tracing::error!(claim = %claim_id, error = %e, "the allocation rule could not be applied");
            }
            let stored_case = if rec.case_opened {
                self.store.get_case(org, account, &case_id).await?
            } else {
                None
            };
            let mut case = stored_case.as_ref().map(|c| c.case.clone());

            let (mut changed, mut all_duplicates, mut creates) = (false, true, false);
            let mut effects = Vec::new();
            for (key, m) in &mapped {
                let change = apply_to_record(&mut rec, key, m.clone(), now);
                all_duplicates &= change.duplicate;
                changed |= change.changed;
                // Nothing is said about a claim we never stored by a removal, or by a closed or
                // overdue event before its mirror: only what can create the claim creates it.
                creates |= change.changed && !matches!(m, Mapped::Removed(_));
                effects.extend(change.effects);
            }
            if all_duplicates {
                handled = Some(Handled::Duplicate);
                break;
            }
            if !exists && !creates {
                handled = Some(Handled::NoChange);
                break;
            }
            act_on_effects(&mut rec, case.as_mut(), &effects, today, now);

            // Open the case when the claim is due for one.
            let mut new_case = None;
            if !rec.case_opened
                && rec.state.status.is_collectible()
                && rec.state.days_past_due(today).is_some_and(|d| d >= 1)
            {
                if let Some(days) = settings.as_ref().map(|s| s.days_past_due) {
                    new_case = open_case_if_due(&mut rec, today, days, now);
                }
            }

            let summary = rec.summary();
            let case_write = match (&new_case, &case, &stored_case) {
                (Some(c), _, _) => Some(CaseWrite {
                    case: c,
                    expected_version: None,
                    summary,
                }),
                (None, Some(c), Some(s)) if c != &s.case || summary != s.summary => {
                    Some(CaseWrite {
                        case: c,
                        expected_version: s.stored_version,
                        summary,
                    })
                }
                _ => None,
            };
            if !changed && case_write.is_none() {
                handled = Some(Handled::NoChange);
                break;
            }
            match self.store.save_claim(&rec, case_write).await? {
                Save::Saved => {
                    handled = Some(Handled::Recorded {
                        status: rec.state.status,
                        held: rec.held.len(),
                        case_opened: new_case.is_some(),
                    });
                    break;
                }
                Save::Conflict => {
                    tracing::info!(claim = %claim_id, "claim changed meanwhile; reloading");
                    continue;
                }
            }
        }
        let Some(handled) = handled else {
            return Err(ClassificationError::Contention(MAX_ATTEMPTS));
        };
        let jobs_sent = self.flush_outbox(org, account, &claim_id).await?;
        Ok(Outcome { handled, jobs_sent })
    }

    /// Sends the claim's pending voucher-posting jobs, then removes them from the outbox.
    async fn flush_outbox(
        &self,
        org: &crate::domain::setup::OrgId,
        account: &crate::domain::setup::AccountId,
        claim_id: &ClaimId,
    ) -> Result<usize, ClassificationError> {
        let mut sent: Vec<String> = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            let Some(mut rec) = self.store.get_claim(org, account, claim_id).await? else {
                return Ok(sent.len());
            };
            if rec.outbox.is_empty() && rec.undo_outbox.is_empty() {
                return Ok(sent.len());
            }
            for job in &rec.outbox {
                if sent.contains(&job.idempotency_key) {
                    continue;
                }
                self.jobs
                    .send(job)
                    .await
                    .map_err(ClassificationError::PostingQueue)?;
                tracing::info!(key = %job.idempotency_key, "voucher-posting job sent");
                sent.push(job.idempotency_key.clone());
            }
            // An undo goes after the settle job of its group (FIFO), so the worker sees the
            // settlement before its undo.
            for job in &rec.undo_outbox {
                if sent.contains(&job.idempotency_key) {
                    continue;
                }
                self.jobs
                    .send_undo(job)
                    .await
                    .map_err(ClassificationError::PostingQueue)?;
                tracing::info!(key = %job.idempotency_key, "voucher undo job sent");
                sent.push(job.idempotency_key.clone());
            }
            rec.outbox.retain(|j| !sent.contains(&j.idempotency_key));
            rec.undo_outbox
                .retain(|j| !sent.contains(&j.idempotency_key));
            match self.store.save_claim(&rec, None).await? {
                Save::Saved => return Ok(sent.len()),
                Save::Conflict => continue,
            }
        }
        Err(ClassificationError::Contention(MAX_ATTEMPTS))
    }
}
