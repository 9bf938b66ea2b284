//! One account's run, in named stages (docs/dunning.md, «The daily run»):
//!
//! 1. [`load`](Engine::load): the policy and the active notices;
//! 2. [`repair`](Engine::repair): `sending` left by a gone run becomes uncertain (e-mail) or
//!    planned again (letter only); `sent` without effects gets them (and its day's manifest);
//! 3. [`plan`](Engine::plan): the book (cases, claims, customers), the planner for today, the
//!    notices the plan no longer supports cancelled;
//! 4. [`batch`](Engine::batch): approve mode puts today's new notices in the day's batch;
//! 5. [`recheck`](Engine::recheck): Tripletex, batched, just before sending; a claim paid,
//!    credited or changed since the sync is not sent (and an approved notice of it cancelled);
//! 6. group into letters; per letter [`send_letter`](Engine::send_letter): reserve → render +
//!    archive → sending → outbox / SES → sent → (manifest) → effects;
//! 7. [`manifests`](Engine::manifests) and the report.
//!
//! A run that nears its invocation's deadline stops between letters and reports `continued`;
//! the job handler queues the rest. Everything it did is recorded per notice, so the next
//! message simply runs the account again.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::plan::{plan_account, split_letters, Disposition, MAX_NOTICES_PER_LETTER};
use super::ports::RecheckItem;
use super::{batch_record, count, DunningError, DunningService, Sending};
use crate::adapters::letters::{archive_key, manifest_key, outbox_key};
use crate::adapters::mail::{LetterMail, MailError};
use crate::adapters::queue::{DunningJob, DunningReason};
use crate::adapters::store::claims::{CaseWrite, Save};
use crate::adapters::store::dunning::DunningBook;
use crate::domain::case::SentNotice;
use crate::domain::claim::{ClaimEvent, ClaimEventKind, ClaimId, EventKey};
use crate::domain::collection::dunning::customer::notice_email;
use crate::domain::collection::dunning::letter::LetterDocument;
use crate::domain::collection::dunning::notice::{Delivery, LetterClaimEntry, Mirrored};
use crate::domain::collection::dunning::{
    group_notices, recheck_verdict, CancelReason, DunningPolicy, LetterPlan, LetterRecord,
    LetterStatus, Mode, Notice, NoticeId, NoticeLine, NoticeRecord, NoticeStatus, PhaseTimes,
    RunRecord, RunReport, RunStatus, RunTrigger, Sender,
};
use crate::domain::setup::{AccountId, OrgId};
use crate::services::cases::norwegian_date;
use crate::telemetry::process_cpu;

/// How often a write is retried after losing an optimistic-lock race.
const MAX_ATTEMPTS: usize = 5;

/// The phases the report times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Load,
    Plan,
    Recheck,
    Render,
    Send,
    Record,
}

/// CPU and wall time per phase: each switch charges the time since the last one to the phase
/// that was running.
struct Meter {
    phase: Phase,
    cpu_at: Duration,
    wall_at: Instant,
    cpu: PhaseTimes,
    wall: PhaseTimes,
}

impl Meter {
    fn start(phase: Phase) -> Self {
        Self {
            phase,
            cpu_at: process_cpu(),
            wall_at: Instant::now(),
            cpu: PhaseTimes::default(),
            wall: PhaseTimes::default(),
        }
    }

    fn slot(t: &mut PhaseTimes, p: Phase) -> &mut u64 {
        match p {
            Phase::Load => &mut t.load,
            Phase::Plan => &mut t.plan,
            Phase::Recheck => &mut t.recheck,
            Phase::Render => &mut t.render,
            Phase::Send => &mut t.send,
            Phase::Record => &mut t.record,
        }
    }

    fn switch(&mut self, to: Phase) {
        let (cpu, wall) = (process_cpu(), Instant::now());
        // Microseconds while running; milliseconds in the report.
        *Self::slot(&mut self.cpu, self.phase) += (cpu - self.cpu_at).as_micros() as u64;
        *Self::slot(&mut self.wall, self.phase) += (wall - self.wall_at).as_micros() as u64;
        self.cpu_at = cpu;
        self.wall_at = wall;
        self.phase = to;
    }

    fn finish(mut self, report: &mut RunReport) {
        self.switch(self.phase);
        let ms = |t: PhaseTimes| PhaseTimes {
            load: t.load / 1000,
            plan: t.plan / 1000,
            recheck: t.recheck / 1000,
            render: t.render / 1000,
            send: t.send / 1000,
            record: t.record / 1000,
        };
        report.cpu_ms = ms(self.cpu);
        report.wall_ms = ms(self.wall);
    }
}

/// What a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The day's run is complete.
    Completed(RunReport),
    /// It stopped before the deadline; its continuation is queued.
    Continued(RunReport),
    /// The day's run was complete already: nothing to do.
    AlreadyDone,
}

/// The run of one account (one invocation's share of it).
struct Engine<'a> {
    svc: &'a DunningService,
    sending: &'a Sending,
    org: &'a OrgId,
    account: &'a AccountId,
    now: DateTime<Utc>,
    today: NaiveDate,
    deadline: Option<Instant>,
    report: RunReport,
    meter: Meter,
    /// Days whose manifest must be rewritten before their letters' effects are recorded.
    manifest_days: BTreeSet<NaiveDate>,
    /// Letters sent by post whose effects wait for their day's manifest (`true`: found by the
    /// repair).
    deferred: Vec<(LetterRecord, Vec<Notice>, bool)>,
    /// The re-check's KIDs of the claims to send.
    kids: HashMap<ClaimId, String>,
}

impl DunningService {
    /// Handles one job of the dunning queue: one run per account and day (the run record),
    /// continued across invocations. A job for a day whose run is complete does nothing; a
    /// redelivered job of an unfinished run runs the account again (every send is exactly once).
    pub async fn handle_job(
        &self,
        job: &DunningJob,
        deadline: Option<Instant>,
    ) -> Result<JobOutcome, DunningError> {
        let (org, account) = (&job.org, &job.account_id);
        self.sending()?;
        let mut run = self.start_run(job).await?;
        let Some(run_ref) = run.as_mut() else {
            return Ok(JobOutcome::AlreadyDone);
        };
        let result = self.run_account(org, account, deadline).await;
        let now = self.now();
        let expected = run_ref.version;
        run_ref.version += 1;
        let outcome = match result {
            Ok(report) => {
                let continued = report.continued;
                match run_ref.report.as_mut() {
                    Some(r) => r.merge(&report),
                    None => run_ref.report = Some(report.clone()),
                }
                run_ref.error = None;
                if continued {
                    run_ref.continuations += 1;
                    run_ref.status = RunStatus::Running;
                    Ok(JobOutcome::Continued(report))
                } else {
                    run_ref.status = RunStatus::Completed;
                    run_ref.finished_at = Some(now);
                    Ok(JobOutcome::Completed(report))
                }
            }
            Err(e) => {
                run_ref.status = RunStatus::Failed;
                run_ref.error = Some(e.to_string());
                Err(e)
            }
        };
        if self.store.put_run(run_ref, Some(expected)).await? == Save::Conflict {
            tracing::warn!(account = %account, "the run record changed meanwhile; not updated");
        }
        if let Ok(JobOutcome::Continued(_)) = &outcome {
            self.queue
                .enqueue(&[job.continuation(run_ref.continuations, now)])
                .await?;
        }
        outcome
    }

    /// The day's run record, moved to `running` (created if the schedule's job is the first to
    /// arrive); `None` when the day's run is complete and this is not its continuation.
    async fn start_run(&self, job: &DunningJob) -> Result<Option<RunRecord>, DunningError> {
        let now = self.now();
        for _ in 0..MAX_ATTEMPTS {
            let existing = self
                .store
                .get_run(&job.org, &job.account_id, job.date)
                .await?;
            let (mut run, expected) = match existing {
                Some(r) if r.status == RunStatus::Completed => return Ok(None),
                Some(r) => {
                    let v = r.version;
                    (r, Some(v))
                }
                None => {
                    let trigger = match job.reason {
                        DunningReason::Manual => RunTrigger::User {
                            id: "unknown".into(),
                        },
                        DunningReason::Scheduled | DunningReason::Continue => RunTrigger::Schedule,
                    };
                    (
                        RunRecord::requested(
                            job.org.clone(),
                            job.account_id.clone(),
                            job.date,
                            trigger,
                            job.requested_at,
                        ),
                        None,
                    )
                }
            };
            run.status = RunStatus::Running;
            run.started_at.get_or_insert(now);
            run.attempts += 1;
            if expected.is_some() {
                run.version += 1;
            }
            match self.store.put_run(&run, expected).await? {
                Save::Saved => return Ok(Some(run)),
                Save::Conflict => continue,
            }
        }
        Err(DunningError::Contention)
    }

    /// Runs the account now: repairs, plans, re-checks and sends (see the module comment).
    /// Stops between letters when `deadline` nears (`report.continued`).
    pub async fn run_account(
        &self,
        org: &OrgId,
        account: &AccountId,
        deadline: Option<Instant>,
    ) -> Result<RunReport, DunningError> {
        let sending = self.sending()?;
        let now = self.now();
        let today = norwegian_date(now);
        let mut e = Engine {
            svc: self,
            sending,
            org,
            account,
            now,
            today,
            deadline,
            report: RunReport {
                date: Some(today),
                ..RunReport::default()
            },
            meter: Meter::start(Phase::Load),
            manifest_days: BTreeSet::new(),
            deferred: Vec::new(),
            kids: HashMap::new(),
        };
        let result = e.run().await;
        let Engine {
            mut report, meter, ..
        } = e;
        meter.finish(&mut report);
        tracing::info!(
            account = %account,
            date = %today,
            letters = report.letters,
            notices = report.notices_sent,
            mails = report.mails,
            outbox = report.outbox,
            stopped = report.stopped.values().sum::<u32>(),
            uncertain = report.uncertain,
            continued = report.continued,
            ok = result.is_ok(),
            "dunning run"
        );
        result.map(|()| report)
    }
}

/// Letters by post whose effects wait for their day's manifest are flushed this often.
const FLUSH_LETTERS: usize = 200;

/// One letter in a day's manifest for the print-and-post partner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestEntry {
    letter_id: String,
    /// The PDF to print (in the outbox).
    pdf_key: String,
    pdf_bytes: Option<u64>,
    step: crate::domain::collection::dunning::Step,
    recipient: String,
    address: Option<crate::domain::ledger::PostalAddress>,
    sent_at: DateTime<Utc>,
}

impl ManifestEntry {
    fn of(l: &LetterRecord) -> Option<Self> {
        let d = l.delivery.as_ref()?;
        let key = d.outbox_key.clone()?;
        (l.status == LetterStatus::Sent).then(|| ManifestEntry {
            letter_id: l.letter_id.to_string(),
            pdf_key: key,
            pdf_bytes: l.pdf_bytes,
            step: l.step,
            recipient: l.customer_name.clone(),
            address: l.postal_address.clone(),
            sent_at: d.sent_at,
        })
    }
}

/// The attachment's file name: step and first invoice number (ASCII).
fn attachment_name(l: &LetterRecord) -> String {
    let what = l
        .claims
        .first()
        .and_then(|c| c.invoice_number.clone())
        .unwrap_or_else(|| l.letter_id.to_string());
    let what: String = what
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("{}-{what}.pdf", l.step.key())
}

impl Engine<'_> {
    async fn run(&mut self) -> Result<(), DunningError> {
        let svc = self.svc;
        let (policy, mut active) = self.load().await?;
        if self.repair(&active).await? {
            self.meter.switch(Phase::Load);
            active = svc.store.active_notices(self.org, self.account).await?;
        }
        self.flush().await?;
        let policy = match policy {
            Some(p) if p.enabled => p,
            _ => {
                self.report.disabled = true;
                return Ok(());
            }
        };
        let Some(sender) = policy.sender.clone() else {
            // Validation refuses an enabled policy without a sender; one stored otherwise sends
            // nothing rather than a letter without a creditor.
            tracing::error!(account = %self.account, "dunning on without a sender; nothing sent");
            self.report.disabled = true;
            return Ok(());
        };
        self.report.mode = Some(policy.mode);
        self.meter.switch(Phase::Load);
        let book = svc.store.book(self.org, self.account).await?;
        self.meter.switch(Phase::Plan);
        let plan = plan_account(&book, &active, &policy, &svc.rules, self.today);
        drop(active);
        let (decisions, holds) = plan.counts();
        self.report.cases = plan.cases.len() as u32;
        self.report.decisions = decisions;
        self.report.holds = holds;
        for c in &plan.cases {
            match &c.disposition {
                Disposition::Skip(why) => count(&mut self.report.skipped, why),
                Disposition::MissingClaim => count(&mut self.report.skipped, "missing_claim"),
                Disposition::Send { .. } | Disposition::Await | Disposition::Nothing => {}
            }
        }
        for (n, reason) in &plan.cancel {
            self.cancel(n.clone(), reason.clone()).await?;
        }
        if policy.mode == Mode::Approve {
            self.batch(&plan).await?;
        }
        let existing: HashMap<NoticeId, Notice> = plan
            .cases
            .iter()
            .filter_map(|c| match &c.disposition {
                Disposition::Send { existing: Some(n) } => Some((n.id.clone(), n.clone())),
                _ => None,
            })
            .collect();
        let sendable = self.recheck(&book, &plan, &existing).await?;
        drop(plan);
        self.meter.switch(Phase::Plan);
        let letters = split_letters(group_notices(sendable), MAX_NOTICES_PER_LETTER);
        for letter in letters {
            if self.near_deadline() {
                self.report.continued = true;
                break;
            }
            self.send_letter(&book, &policy, &sender, letter, &existing)
                .await?;
            if self.deferred.len() >= FLUSH_LETTERS {
                self.flush().await?;
            }
        }
        self.flush().await
    }

    fn near_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|d| Instant::now() + self.svc.config.deadline_margin >= d)
    }

    /// Stage 1: the policy and the active notices.
    async fn load(&mut self) -> Result<(Option<DunningPolicy>, Vec<Notice>), DunningError> {
        let svc = self.svc;
        let policy = svc.store.get_policy(self.org, self.account).await?;
        let active = svc.store.active_notices(self.org, self.account).await?;
        Ok((policy.map(|p| p.policy), active))
    }

    /// Stage 2: what earlier runs left. A `sending` older than the stale threshold belongs to
    /// a run that is gone: with an e-mail it may have gone out, so it becomes **uncertain** and
    /// is held for a person (never sent again by itself); a letter by post only is planned again
    /// (the partner prints what the manifest lists, and it lists only sent letters). A `sent`
    /// without its effects gets them (after its day's manifest, for a letter by post). Returns
    /// whether anything changed.
    async fn repair(&mut self, active: &[Notice]) -> Result<bool, DunningError> {
        let svc = self.svc;
        let stale_after = svc.config.stale_after;
        let mut stale: BTreeSet<(NaiveDate, crate::domain::collection::dunning::LetterId)> =
            BTreeSet::new();
        let mut unrecorded = BTreeSet::new();
        for n in active {
            let (Some(l), Some(r)) = (&n.letter_id, &n.record) else {
                continue;
            };
            match n.status {
                NoticeStatus::Sending
                    if n.sending_since.is_some_and(|s| self.now - s >= stale_after) =>
                {
                    stale.insert((r.sent, l.clone()));
                }
                NoticeStatus::Sent if !n.effects_applied => {
                    unrecorded.insert((r.sent, l.clone()));
                }
                _ => {}
            }
        }
        let mut changed = false;
        for (date, id) in stale {
            let Some(mut letter) = svc
                .store
                .get_letter(self.org, self.account, date, &id)
                .await?
            else {
                tracing::error!(letter = %id, "a sending notice's letter is not stored");
                continue;
            };
            if !letter.is_stale(self.now, stale_after) {
                continue;
            }
            let ids: Vec<NoticeId> = letter.notice_ids().cloned().collect();
            let notices: Vec<Notice> = svc
                .store
                .get_notices(self.org, self.account, &ids)
                .await?
                .into_iter()
                .filter(|n| {
                    n.status == NoticeStatus::Sending
                        && n.letter_id.as_ref() == Some(&id)
                        && n.attempt == letter.attempt
                })
                .collect();
            let email = letter.channel.uses_email();
            let reason = if email {
                "a run started e-mailing this letter and never recorded the answer: it may or may not have gone out"
            } else {
                "a run started this letter by post and never recorded it sent; the manifest never listed it"
            };
            let expected = letter.version;
            let mut moved = Vec::with_capacity(notices.len());
            for n in &notices {
                let mut x = n.clone();
                if email {
                    x.mark_uncertain(reason, self.now)?;
                } else {
                    x.back_to_planned(reason, self.now)?;
                }
                moved.push((x, n.version));
            }
            if email {
                letter.mark_uncertain();
            } else {
                letter.back_to_planned();
            }
            let writes: Vec<(&Notice, Option<u64>)> =
                moved.iter().map(|(x, v)| (x, Some(*v))).collect();
            match svc
                .store
                .write_letter(&letter, Some(expected), &writes)
                .await?
            {
                Save::Saved if email => {
                    tracing::error!(
                        account = %self.account,
                        letter = %id,
                        notices = moved.len(),
                        "letter marked uncertain: held for a person, never sent again automatically"
                    );
                    self.report.uncertain += moved.len() as u32;
                    changed = true;
                }
                Save::Saved => {
                    self.report.replanned_stale += moved.len() as u32;
                    changed = true;
                }
                Save::Conflict => count(&mut self.report.skipped, "contention"),
            }
        }
        for (date, id) in unrecorded {
            let Some(letter) = svc
                .store
                .get_letter(self.org, self.account, date, &id)
                .await?
            else {
                tracing::error!(letter = %id, "a sent notice's letter is not stored");
                continue;
            };
            let ids: Vec<NoticeId> = letter.notice_ids().cloned().collect();
            let notices: Vec<Notice> = svc
                .store
                .get_notices(self.org, self.account, &ids)
                .await?
                .into_iter()
                .filter(|n| {
                    n.status == NoticeStatus::Sent
                        && !n.effects_applied
                        && n.letter_id.as_ref() == Some(&id)
                })
                .collect();
            if notices.is_empty() {
                continue;
            }
            changed = true;
            let by_post = letter
                .delivery
                .as_ref()
                .is_some_and(|d| d.outbox_key.is_some());
            if by_post {
                self.manifest_days.insert(date);
                self.deferred.push((letter, notices, true));
            } else {
                self.meter.switch(Phase::Record);
                let n = self.record_effects(letter, notices).await?;
                self.report.repaired += n;
            }
        }
        Ok(changed)
    }

    /// Cancels an active notice the plan no longer supports (nothing has left for it).
    async fn cancel(&mut self, n: Notice, reason: CancelReason) -> Result<(), DunningError> {
        let expected = n.version;
        let mut x = n;
        if x.cancel(reason, self.now).is_err() {
            return Ok(());
        }
        match self.svc.store.put_notice(&x, Some(expected)).await? {
            Save::Saved => self.report.cancelled += 1,
            Save::Conflict => count(&mut self.report.skipped, "contention"),
        }
        Ok(())
    }

    /// Stage 4 (approve mode): today's new notices wait in today's batch.
    async fn batch(&mut self, plan: &super::AccountPlan) -> Result<(), DunningError> {
        use crate::domain::collection::dunning::PlanDecision;
        let svc = self.svc;
        let waiting: Vec<(
            &super::CasePlan,
            &crate::domain::collection::dunning::PlannedNotice,
        )> = plan
            .cases
            .iter()
            .filter_map(|c| match (&c.disposition, &c.decision) {
                (Disposition::Await, Some(PlanDecision::Send(n))) => Some((c, n)),
                _ => None,
            })
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        svc.store
            .put_batch_if_absent(&batch_record(
                self.org,
                self.account,
                self.today,
                waiting.len() as u32,
                self.now,
            ))
            .await?;
        for (c, n) in waiting {
            let line = NoticeLine::of(n, &svc.rules);
            let id = NoticeId::new(c.case_id.clone(), n.step);
            let new = Notice::awaiting_approval(
                id.clone(),
                self.org.clone(),
                self.account.clone(),
                c.claim_id.clone(),
                c.customer_id,
                line.clone(),
                self.today,
                self.now,
            );
            if svc.store.put_notice(&new, None).await? == Save::Saved {
                self.report.awaiting_approval += 1;
                continue;
            }
            // It exists: cancelled before (then it waits again), or another run made it.
            let found = svc
                .store
                .get_notices(self.org, self.account, std::slice::from_ref(&id))
                .await?
                .pop();
            match found {
                Some(mut x) if x.status == NoticeStatus::Cancelled => {
                    let v = x.version;
                    x.await_again(line, self.today, self.now)?;
                    match svc.store.put_notice(&x, Some(v)).await? {
                        Save::Saved => self.report.awaiting_approval += 1,
                        Save::Conflict => count(&mut self.report.skipped, "contention"),
                    }
                }
                Some(x) => count(&mut self.report.skipped, x.status.key()),
                None => count(&mut self.report.skipped, "contention"),
            }
        }
        Ok(())
    }

    /// Stage 5: Tripletex, just before sending, batched (see `ports::TripletexRecheck`). A claim
    /// paid, credited or changed since the sync is not sent; its change reaches the claim by
    /// the ordinary sync. The report counts the stopped ones by verdict and names them.
    async fn recheck(
        &mut self,
        book: &DunningBook,
        plan: &super::AccountPlan,
        existing: &HashMap<NoticeId, Notice>,
    ) -> Result<
        Vec<(
            crate::domain::collection::dunning::CaseRef,
            i64,
            crate::domain::collection::dunning::PlannedNotice,
        )>,
        DunningError,
    > {
        let sendable = plan.to_send(self.account);
        if sendable.is_empty() {
            return Ok(sendable);
        }
        self.meter.switch(Phase::Recheck);
        let items: HashMap<ClaimId, RecheckItem> = sendable
            .iter()
            .filter_map(|(c, customer, _)| {
                let claim_id = c.case_id.claim_id().clone();
                let rec = book.claims.get(&claim_id)?;
                let m = rec.state.mirror.as_ref()?;
                Some((
                    claim_id.clone(),
                    RecheckItem {
                        claim_id: claim_id.clone(),
                        invoice_id: m.invoice_id,
                        posting_id: claim_id.posting_id(),
                        customer_id: *customer,
                        invoice_date: m.invoice_date,
                        mirrored: Mirrored {
                            version: m.version,
                            ledger_balance: rec.state.amounts.ledger_balance,
                        },
                    },
                ))
            })
            .collect();
        let list: Vec<RecheckItem> = items.values().cloned().collect();
        let answer = self
            .sending
            .recheck
            .recheck(self.org, self.account, self.today, &list)
            .await?;
        self.report.recheck_requests += answer.requests;
        let mut keep = Vec::with_capacity(sendable.len());
        for (c, customer, n) in sendable {
            let claim_id = c.case_id.claim_id().clone();
            let found = answer.found.get(&claim_id);
            let verdict = match items.get(&claim_id) {
                Some(item) => recheck_verdict(item.mirrored, found.and_then(|f| f.current)),
                None => crate::domain::collection::dunning::RecheckVerdict::Gone,
            };
            if verdict.may_send() {
                if let Some(kid) = found.and_then(|f| f.kid.clone()) {
                    self.kids.insert(claim_id, kid);
                }
                keep.push((c, customer, n));
                continue;
            }
            tracing::info!(
                account = %self.account,
                case = %c.case_id,
                verdict = verdict.code(),
                "re-check: not sent"
            );
            count(&mut self.report.stopped, verdict.code());
            if self.report.stopped_cases.len() < 1000 {
                self.report.stopped_cases.push(
                    crate::domain::collection::dunning::run::StoppedCase {
                        case_id: c.case_id.to_string(),
                        verdict,
                    },
                );
            }
            let id = NoticeId::new(c.case_id.clone(), n.step);
            if let Some(e) = existing.get(&id) {
                self.cancel(e.clone(), CancelReason::Recheck { verdict })
                    .await?;
            }
        }
        Ok(keep)
    }

    /// Stage 6, one letter: reserve → render + archive → sending → outbox / SES → sent →
    /// effects (for a letter by post: after its day's manifest).
    async fn send_letter(
        &mut self,
        book: &DunningBook,
        policy: &DunningPolicy,
        sender: &Sender,
        plan: LetterPlan,
        existing: &HashMap<NoticeId, Notice>,
    ) -> Result<(), DunningError> {
        let svc = self.svc;
        self.meter.switch(Phase::Send);
        let customer = book.customers.get(&plan.customer_id);
        let mut notices: Vec<(Notice, Option<u64>)> = Vec::with_capacity(plan.claims.len());
        let mut entries = Vec::with_capacity(plan.claims.len());
        let mut approved_by: Vec<String> = Vec::new();
        for c in &plan.claims {
            let id = NoticeId::new(c.case_id.clone(), plan.step);
            let claim_id = c.case_id.claim_id().clone();
            let mirror = book
                .claims
                .get(&claim_id)
                .and_then(|r| r.state.mirror.as_ref());
            let line = NoticeLine::of(&c.notice, &svc.rules);
            let record = NoticeRecord::new(plan.letter_id.as_str(), &c.notice);
            entries.push(LetterClaimEntry {
                notice_id: id.clone(),
                claim_id: claim_id.clone(),
                invoice_number: mirror.and_then(|m| m.invoice_number.clone()),
                invoice_date: mirror.map(|m| m.invoice_date),
                kid: self.kids.get(&claim_id).cloned(),
                line: line.clone(),
            });
            match existing.get(&id) {
                Some(e) => {
                    let mut x = e.clone();
                    if let Some(a) = &x.approval {
                        approved_by.push(a.by.clone());
                    }
                    x.reserve(plan.letter_id.clone(), line, record, policy.mode, self.now)?;
                    notices.push((x, Some(e.version)));
                }
                None => notices.push((
                    Notice::planned(
                        id,
                        self.org.clone(),
                        self.account.clone(),
                        claim_id,
                        plan.customer_id,
                        line,
                        plan.letter_id.clone(),
                        record,
                        self.now,
                    ),
                    None,
                )),
            }
        }
        approved_by.sort();
        approved_by.dedup();
        let mut letter = LetterRecord {
            letter_id: plan.letter_id.clone(),
            org: self.org.clone(),
            account_id: self.account.clone(),
            customer_id: plan.customer_id,
            customer_name: customer
                .map(|c| c.customer.name.clone())
                .unwrap_or_else(|| format!("Kunde {}", plan.customer_id)),
            step: plan.step,
            send_date: plan.send_date,
            deadline: plan.deadline,
            channel: plan.channel,
            language: plan.language,
            status: LetterStatus::Planned,
            claims: entries,
            total: plan.total,
            email_to: customer
                .filter(|_| plan.channel.uses_email())
                .and_then(|c| notice_email(&c.customer))
                .map(str::to_string),
            postal_address: customer
                .filter(|_| plan.channel.uses_letter())
                .and_then(|c| c.customer.postal_address.clone()),
            subject: None,
            pdf_key: Some(archive_key(
                self.org,
                self.account,
                plan.send_date,
                &plan.letter_id,
            )),
            pdf_bytes: None,
            attempt: None,
            sending_since: None,
            delivery: None,
            approved_by,
            effects_applied: false,
            created_at: self.now,
            version: 1,
        };

        // Reserve: the letter and its notices, in one transaction.
        if !self.reserve(&mut letter, &mut notices, policy.mode).await? {
            return Ok(());
        }
        let mut notices: Vec<Notice> = notices.into_iter().map(|(n, _)| n).collect();

        // Render once, archive (a retry overwrites the same bytes).
        self.meter.switch(Phase::Render);
        let doc = LetterDocument::compose(&letter.letter_input(sender))
            .map_err(|e| e.to_string())
            .and_then(|doc| self.sending.renderer.render(&doc).map(|pdf| (doc, pdf)));
        self.meter.switch(Phase::Send);
        let (doc, pdf) = match doc {
            Ok(x) => x,
            Err(message) => {
                tracing::error!(letter = %letter.letter_id, error = %message, "the letter cannot be made; its notices are cancelled");
                return self
                    .give_up(letter, notices, CancelReason::Unprintable { message })
                    .await;
            }
        };
        let pdf_key = letter.pdf_key.clone().unwrap_or_default();
        svc.archive
            .put(&pdf_key, pdf.clone(), "application/pdf")
            .await?;
        letter.subject = Some(doc.email_subject().to_string());
        letter.pdf_bytes = Some(pdf.len() as u64);

        // Sending.
        let attempt = uuid::Uuid::new_v4().to_string();
        let expected = letter.version;
        let mut next = letter.clone();
        next.start_sending(&attempt, self.now);
        let mut moving = Vec::with_capacity(notices.len());
        for n in &notices {
            let mut x = n.clone();
            x.start_sending(&attempt, self.now)?;
            moving.push((x, n.version));
        }
        let writes: Vec<(&Notice, Option<u64>)> =
            moving.iter().map(|(x, v)| (x, Some(*v))).collect();
        if svc
            .store
            .write_letter(&next, Some(expected), &writes)
            .await?
            == Save::Conflict
        {
            for _ in &notices {
                count(&mut self.report.skipped, "contention");
            }
            return Ok(());
        }
        letter = next;
        notices = moving.into_iter().map(|(x, _)| x).collect();

        // By post: the PDF into the day's outbox (printed only once a manifest lists it).
        let outbox = if letter.channel.uses_letter() {
            let key = outbox_key(letter.send_date, self.org, self.account, &letter.letter_id);
            if let Err(e) = svc.archive.put(&key, pdf.clone(), "application/pdf").await {
                self.back_to_planned(&mut letter, &mut notices, "the outbox could not be written")
                    .await?;
                return Err(e.into());
            }
            Some(key)
        } else {
            None
        };

        // By e-mail.
        let mut ses_message_id = None;
        if letter.channel.uses_email() {
            let to = letter.email_to.clone().unwrap_or_default();
            let mail = LetterMail {
                from_name: sender.name.clone(),
                reply_to: sender.reply_to.clone().or_else(|| sender.email.clone()),
                to,
                subject: doc.email_subject().to_string(),
                text: doc.email_body_text().to_string(),
                letter_id: letter.letter_id.to_string(),
                threads: letter
                    .claims
                    .iter()
                    .map(|c| format!("{}.{}", c.notice_id.case_id, self.account))
                    .collect(),
                attachment_name: attachment_name(&letter),
                pdf,
                date: self.now,
            };
            match self.sending.mailer.send(&mail).await {
                Ok(id) => {
                    self.report.mails += 1;
                    ses_message_id = Some(id);
                }
                Err(e) => match &e {
                    MailError::Throttled { .. }
                    | MailError::Service { .. }
                    | MailError::Unreachable(_)
                    | MailError::InProgress { .. }
                    | MailError::Log(_) => {
                        // SES did not take it: nothing left; the job is tried again.
                        self.back_to_planned(&mut letter, &mut notices, &e.to_string())
                            .await?;
                        return Err(DunningError::Mail(e));
                    }
                    MailError::Invalid(_) | MailError::Rejected { .. } => {
                        if outbox.is_none() {
                            tracing::warn!(letter = %letter.letter_id, error = %e, "SES refused the letter; its notices are cancelled");
                            let (code, message) = match &e {
                                MailError::Rejected { code, message } => {
                                    (code.clone(), message.clone())
                                }
                                _ => ("invalid".to_string(), e.to_string()),
                            };
                            return self
                                .give_up(letter, notices, CancelReason::Refused { code, message })
                                .await;
                        }
                        tracing::warn!(letter = %letter.letter_id, error = %e, "SES refused the e-mail; the letter goes by post only");
                    }
                    MailError::NoAnswer(_) | MailError::Unknown { .. } => {
                        self.uncertain(&mut letter, &mut notices, &e.to_string())
                            .await?;
                        return Ok(());
                    }
                },
            }
        }

        // Sent.
        let delivery = Delivery {
            sent_at: self.now,
            ses_message_id,
            outbox_key: outbox.clone(),
            confirmed_by: None,
        };
        self.mark_sent(&mut letter, &mut notices, delivery).await?;
        self.report.letters += 1;
        self.report.notices_sent += notices.len() as u32;

        // Effects (a letter by post: after its day's manifest lists it).
        if outbox.is_some() {
            self.report.outbox += 1;
            self.manifest_days.insert(letter.send_date);
            self.deferred.push((letter, notices, false));
        } else {
            self.meter.switch(Phase::Record);
            self.record_effects(letter, notices).await?;
            self.meter.switch(Phase::Send);
        }
        Ok(())
    }

    /// The letter and its notices as `planned`, in one transaction. On a lost race the stored
    /// ones are read once: a letter already under way, or a notice another letter holds, leaves
    /// this letter alone. Returns whether it is reserved.
    async fn reserve(
        &mut self,
        letter: &mut LetterRecord,
        notices: &mut [(Notice, Option<u64>)],
        mode: Mode,
    ) -> Result<bool, DunningError> {
        let svc = self.svc;
        let mut letter_expected: Option<u64> = None;
        for attempt in 0..2 {
            let writes: Vec<(&Notice, Option<u64>)> =
                notices.iter().map(|(n, v)| (n, *v)).collect();
            if svc
                .store
                .write_letter(letter, letter_expected, &writes)
                .await?
                == Save::Saved
            {
                return Ok(true);
            }
            if attempt == 1 {
                break;
            }
            // Someone else wrote first: read what is stored.
            match svc
                .store
                .get_letter(self.org, self.account, letter.send_date, &letter.letter_id)
                .await?
            {
                Some(l) if matches!(l.status, LetterStatus::Planned | LetterStatus::Cancelled) => {
                    letter_expected = Some(l.version);
                    letter.version = l.version + 1;
                    letter.created_at = l.created_at;
                }
                Some(l) => {
                    for _ in notices.iter() {
                        count(&mut self.report.skipped, l.status.key());
                    }
                    return Ok(false);
                }
                None => {
                    letter_expected = None;
                    letter.version = 1;
                }
            }
            let ids: Vec<NoticeId> = notices.iter().map(|(n, _)| n.id.clone()).collect();
            let stored = svc.store.get_notices(self.org, self.account, &ids).await?;
            for (n, expected) in notices.iter_mut() {
                match stored.iter().find(|s| s.id == n.id) {
                    Some(s) if !s.status.may_reserve(mode) => {
                        count(&mut self.report.skipped, s.status.key());
                        return Ok(false);
                    }
                    Some(s) => {
                        let mut x = s.clone();
                        let record = n.record.clone().ok_or(DunningError::Contention)?;
                        x.reserve(
                            letter.letter_id.clone(),
                            n.line.clone(),
                            record,
                            mode,
                            self.now,
                        )?;
                        *n = x;
                        *expected = Some(s.version);
                    }
                    None => {
                        n.version = 1;
                        *expected = None;
                    }
                }
            }
        }
        for _ in notices.iter() {
            count(&mut self.report.skipped, "contention");
        }
        Ok(false)
    }

    /// Nothing left: the letter and its notices back to `planned` (a later run sends them).
    async fn back_to_planned(
        &mut self,
        letter: &mut LetterRecord,
        notices: &mut Vec<Notice>,
        why: &str,
    ) -> Result<(), DunningError> {
        let expected = letter.version;
        let mut next = letter.clone();
        next.back_to_planned();
        let mut moved = Vec::with_capacity(notices.len());
        for n in notices.iter() {
            let mut x = n.clone();
            x.back_to_planned(why, self.now)?;
            moved.push((x, n.version));
        }
        let writes: Vec<(&Notice, Option<u64>)> =
            moved.iter().map(|(x, v)| (x, Some(*v))).collect();
        if self
            .svc
            .store
            .write_letter(&next, Some(expected), &writes)
            .await?
            == Save::Saved
        {
            *letter = next;
            *notices = moved.into_iter().map(|(x, _)| x).collect();
        } else {
            tracing::warn!(letter = %letter.letter_id, "could not return the letter to planned; a later run finds it stale");
        }
        self.report.failed += 1;
        Ok(())
    }

    /// The outside call gave no answer: the letter may have gone. Uncertain, held for a person.
    async fn uncertain(
        &mut self,
        letter: &mut LetterRecord,
        notices: &mut Vec<Notice>,
        why: &str,
    ) -> Result<(), DunningError> {
        let expected = letter.version;
        let mut next = letter.clone();
        next.mark_uncertain();
        let mut moved = Vec::with_capacity(notices.len());
        for n in notices.iter() {
            let mut x = n.clone();
            x.mark_uncertain(why, self.now)?;
            moved.push((x, n.version));
        }
        let writes: Vec<(&Notice, Option<u64>)> =
            moved.iter().map(|(x, v)| (x, Some(*v))).collect();
        tracing::error!(letter = %letter.letter_id, error = why, "e-mail outcome unknown: the letter is uncertain and held for a person");
        if self
            .svc
            .store
            .write_letter(&next, Some(expected), &writes)
            .await?
            == Save::Saved
        {
            self.report.uncertain += moved.len() as u32;
            *letter = next;
            *notices = moved.into_iter().map(|(x, _)| x).collect();
        }
        Ok(())
    }

    /// The letter cannot go (it cannot be made, or SES refused it): cancelled with the reason.
    async fn give_up(
        &mut self,
        mut letter: LetterRecord,
        notices: Vec<Notice>,
        reason: CancelReason,
    ) -> Result<(), DunningError> {
        let expected = letter.version;
        letter.cancel();
        let mut moved = Vec::with_capacity(notices.len());
        for n in &notices {
            let mut x = n.clone();
            x.cancel(reason.clone(), self.now)?;
            moved.push((x, n.version));
        }
        let writes: Vec<(&Notice, Option<u64>)> =
            moved.iter().map(|(x, v)| (x, Some(*v))).collect();
        match self
            .svc
            .store
            .write_letter(&letter, Some(expected), &writes)
            .await?
        {
            Save::Saved => self.report.cancelled += moved.len() as u32,
            Save::Conflict => count(&mut self.report.skipped, "contention"),
        }
        Ok(())
    }

    /// The letter and its notices `sent` (retried with fresh versions if a later run marked
    /// them uncertain meanwhile: a known outcome beats an unknown one).
    async fn mark_sent(
        &mut self,
        letter: &mut LetterRecord,
        notices: &mut Vec<Notice>,
        delivery: Delivery,
    ) -> Result<(), DunningError> {
        let svc = self.svc;
        for _ in 0..MAX_ATTEMPTS {
            let expected = letter.version;
            let mut next = letter.clone();
            next.mark_sent(delivery.clone());
            let mut moved = Vec::with_capacity(notices.len());
            for n in notices.iter() {
                let mut x = n.clone();
                x.mark_sent(delivery.clone(), self.now)?;
                moved.push((x, n.version));
            }
            let writes: Vec<(&Notice, Option<u64>)> =
                moved.iter().map(|(x, v)| (x, Some(*v))).collect();
            if svc
                .store
                .write_letter(&next, Some(expected), &writes)
                .await?
                == Save::Saved
            {
                *letter = next;
                *notices = moved.into_iter().map(|(x, _)| x).collect();
                return Ok(());
            }
            let fresh = svc
                .store
                .get_letter(self.org, self.account, letter.send_date, &letter.letter_id)
                .await?
                .ok_or(DunningError::Contention)?;
            let ids: Vec<NoticeId> = notices.iter().map(|n| n.id.clone()).collect();
            *notices = svc
                .store
                .get_notices(self.org, self.account, &ids)
                .await?
                .into_iter()
                .filter(|n| {
                    n.letter_id.as_ref() == Some(&letter.letter_id)
                        && matches!(n.status, NoticeStatus::Sending | NoticeStatus::Uncertain)
                })
                .collect();
            *letter = fresh;
        }
        Err(DunningError::Contention)
    }

    /// Rewrites the manifests of the days with letters by post sent (from the day's letter
    /// records), then records those letters' effects.
    async fn flush(&mut self) -> Result<(), DunningError> {
        if self.manifest_days.is_empty() && self.deferred.is_empty() {
            return Ok(());
        }
        let svc = self.svc;
        self.meter.switch(Phase::Send);
        for day in std::mem::take(&mut self.manifest_days) {
            let mut entries: Vec<ManifestEntry> = svc
                .store
                .letters_of_day(self.org, self.account, day)
                .await?
                .iter()
                .filter_map(ManifestEntry::of)
                .collect();
            entries.sort_by(|a, b| a.letter_id.cmp(&b.letter_id));
            let body = serde_json::json!({
                "version": 1,
                "org": self.org,
                "accountId": self.account,
                "date": day,
                "count": entries.len(),
                "letters": entries,
            });
            let bytes = serde_json::to_vec_pretty(&body).map_err(|e| {
                DunningError::Store(crate::adapters::store::StoreError::Corrupt(e.to_string()))
            })?;
            svc.archive
                .put(
                    &manifest_key(day, self.org, self.account),
                    bytes,
                    "application/json",
                )
                .await?;
        }
        self.meter.switch(Phase::Record);
        for (letter, notices, repair) in std::mem::take(&mut self.deferred) {
            let n = self.record_effects(letter, notices).await?;
            if repair {
                self.report.repaired += n;
            }
        }
        self.meter.switch(Phase::Send);
        Ok(())
    }

    /// The effects of a sent letter, per notice in one transaction, idempotent: the claim's
    /// `ChargesDemanded` (key `notice:{letterId}:{caseId}`: a second time is a duplicate), the
    /// case's step and timeline entry (a letter already on the timeline is not added again),
    /// the notice's `effectsApplied`, and with the last notice the letter's. Returns how many
    /// notices got them now.
    async fn record_effects(
        &mut self,
        mut letter: LetterRecord,
        notices: Vec<Notice>,
    ) -> Result<u32, DunningError> {
        let svc = self.svc;
        let pending: Vec<Notice> = notices
            .into_iter()
            .filter(|n| n.status == NoticeStatus::Sent && !n.effects_applied)
            .collect();
        let total = pending.len();
        let mut applied = 0;
        for (i, mut n) in pending.into_iter().enumerate() {
            let last = i + 1 == total;
            let mut done = false;
            for _ in 0..MAX_ATTEMPTS {
                let Some(record) = n.record.clone() else {
                    break;
                };
                let Some(mut claim) = svc
                    .store
                    .get_claim(self.org, self.account, &n.claim_id)
                    .await?
                else {
                    tracing::error!(claim = %n.claim_id, "a sent notice's claim is not stored; its charges are not recorded");
                    break;
                };
                let key = EventKey::new(&format!("notice:{}:{}", letter.letter_id, n.id.case_id))
                    .map_err(|e| DunningError::BadRequest {
                    field: "letterId",
                    message: e.to_string(),
                })?;
                if let Err(e) = claim.state.apply(ClaimEvent::new(
                    key,
                    ClaimEventKind::ChargesDemanded(record.charges_demanded()),
                )) {
                    tracing::error!(claim = %n.claim_id, error = %e, "the claim refused the notice's charges");
                }
                claim.updated_at = self.now;
                let mut case = svc
                    .store
                    .get_case(self.org, self.account, &n.id.case_id)
                    .await?;
                let entry = SentNotice {
                    notice_id: n.id.to_string(),
                    letter_id: letter.letter_id.to_string(),
                    line: n.line.clone(),
                    record,
                    approved_by: n.approval.as_ref().map(|a| a.by.clone()),
                    confirmed_by: n.delivery.as_ref().and_then(|d| d.confirmed_by.clone()),
                };
                let summary = claim.summary();
                let changed = case
                    .as_mut()
                    .is_some_and(|sc| sc.case.record_notice(entry, self.now));
                let case_write = case.as_ref().filter(|_| changed).map(|sc| CaseWrite {
                    case: &sc.case,
                    expected_version: sc.stored_version,
                    summary,
                });
                let mut next = n.clone();
                next.mark_effects_applied()?;
                let mut next_letter = letter.clone();
                next_letter.mark_effects_applied();
                let letter_write = last.then_some((&next_letter, letter.version));
                match svc
                    .store
                    .record_effects(&claim, case_write, (&next, n.version), letter_write)
                    .await?
                {
                    Save::Saved => {
                        if last {
                            letter = next_letter;
                        }
                        applied += 1;
                        done = true;
                        break;
                    }
                    Save::Conflict => {
                        // Read the notice (and the letter) again; another run may have done it.
                        match svc
                            .store
                            .get_notices(self.org, self.account, std::slice::from_ref(&n.id))
                            .await?
                            .pop()
                        {
                            Some(f) if f.effects_applied || f.status != NoticeStatus::Sent => {
                                done = true;
                                break;
                            }
                            Some(f) => n = f,
                            None => break,
                        }
                        if last {
                            if let Some(l) = svc
                                .store
                                .get_letter(
                                    self.org,
                                    self.account,
                                    letter.send_date,
                                    &letter.letter_id,
                                )
                                .await?
                            {
                                letter = l;
                            }
                        }
                    }
                }
            }
            if !done {
                return Err(DunningError::Contention);
            }
        }
        Ok(applied)
    }
}
