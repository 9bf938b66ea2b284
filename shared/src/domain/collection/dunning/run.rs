//! One account's dunning run on one (Oslo) day, and what it reports: counts per decision, hold
//! reason, re-check verdict and notice status met, the letters and mails sent, and the CPU and
//! wall time of each phase. Plain data: the service fills it, the store keeps it, the API shows
//! it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::notice::RecheckVerdict;
use super::policy::Mode;
use crate::domain::setup::{AccountId, OrgId};

/// Where a run stands.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Asked for (the schedule's job or a user's "run now") and queued.
    Requested,
    /// A worker is on it (or was, and stopped: a redelivered job goes on with it).
    Running,
    Completed,
    /// The last attempt failed; SQS delivers the job again.
    Failed,
}

impl RunStatus {
    pub fn key(self) -> &'static str {
        match self {
            RunStatus::Requested => "requested",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
        }
    }
}

/// Who asked for the run.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RunTrigger {
    /// The daily schedule.
    Schedule,
    /// A user's `POST …/dunning/run`.
    User { id: String },
}

/// CPU or wall milliseconds of each phase.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTimes {
    /// Reading the policy, cases, claims, customers and notices; the repairs.
    pub load: u64,
    /// The planner, grouping, approval batches.
    pub plan: u64,
    /// Tripletex, just before sending.
    pub recheck: u64,
    /// Letter text and PDF.
    pub render: u64,
    /// Reservations, S3, SES, the outbox and manifest, `sent`.
    pub send: u64,
    /// The claims' charges and the cases' steps.
    pub record: u64,
}

impl PhaseTimes {
    pub fn add(&mut self, other: &PhaseTimes) {
        self.load += other.load;
        self.plan += other.plan;
        self.recheck += other.recheck;
        self.render += other.render;
        self.send += other.send;
        self.record += other.record;
    }

    pub fn total(&self) -> u64 {
        self.load + self.plan + self.recheck + self.render + self.send + self.record
    }
}

/// What a run did.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub date: Option<NaiveDate>,
    pub mode: Option<Mode>,
    /// The policy is off (nothing planned).
    pub disabled: bool,
    /// Cases planned.
    pub cases: u32,
    /// The planner's decisions: `send`, `wait`, `done`, `hold`.
    pub decisions: BTreeMap<String, u32>,
    /// Holds by reason code (`case_paused`, `below_minimum`, `rule_gap`, …).
    pub holds: BTreeMap<String, u32>,
    /// Claims the re-check stopped, by verdict (`paid`, `credited`, `changed`, …).
    pub stopped: BTreeMap<String, u32>,
    /// The cases the re-check stopped, with the verdict (the first thousand).
    #[serde(default)]
    pub stopped_cases: Vec<StoppedCase>,
    /// Notices due today that were left as they are, by why: `sent` (already sent), `uncertain`
    /// (held for a person), `sending` (another run is on it), `awaiting_approval`, `contention`
    /// (another run changed it first).
    pub skipped: BTreeMap<String, u32>,
    /// Approve mode: notices put in today's batch.
    pub awaiting_approval: u32,
    /// Notices cancelled (re-check, re-plan, SES refusal).
    pub cancelled: u32,
    /// Letters sent, and the notices they carried.
    pub letters: u32,
    pub notices_sent: u32,
    /// E-mails (SES calls that answered with a message id) and letters put in the outbox.
    pub mails: u32,
    pub outbox: u32,
    /// Letters whose sending failed before anything left (retried by a later run).
    pub failed: u32,
    /// Notices found `sending` too long ago: marked uncertain (e-mail) or planned again (letter).
    pub uncertain: u32,
    pub replanned_stale: u32,
    /// Sent notices whose claim and case effects were recorded by this run's repair.
    pub repaired: u32,
    /// Tripletex requests of the re-check.
    pub recheck_requests: u32,
    pub cpu_ms: PhaseTimes,
    pub wall_ms: PhaseTimes,
    /// The run stopped before its deadline and goes on in a new message.
    pub continued: bool,
}

impl RunReport {
    pub fn count(map: &mut BTreeMap<String, u32>, key: &str) {
        *map.entry(key.to_string()).or_default() += 1;
    }

    /// Adds a continuation's counts to this one's.
    pub fn merge(&mut self, o: &RunReport) {
        let add = |a: &mut BTreeMap<String, u32>, b: &BTreeMap<String, u32>| {
            for (k, v) in b {
                *a.entry(k.clone()).or_default() += v;
            }
        };
        self.cases = self.cases.max(o.cases);
        add(&mut self.decisions, &o.decisions);
        add(&mut self.holds, &o.holds);
        add(&mut self.stopped, &o.stopped);
        self.stopped_cases.extend(o.stopped_cases.iter().cloned());
        add(&mut self.skipped, &o.skipped);
        self.awaiting_approval += o.awaiting_approval;
        self.cancelled += o.cancelled;
        self.letters += o.letters;
        self.notices_sent += o.notices_sent;
        self.mails += o.mails;
        self.outbox += o.outbox;
        self.failed += o.failed;
        self.uncertain += o.uncertain;
        self.replanned_stale += o.replanned_stale;
        self.repaired += o.repaired;
        self.recheck_requests += o.recheck_requests;
        self.cpu_ms.add(&o.cpu_ms);
        self.wall_ms.add(&o.wall_ms);
        self.continued = o.continued;
    }
}

/// A case whose notice the re-check stopped, and why.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoppedCase {
    pub case_id: String,
    pub verdict: RecheckVerdict,
}

/// The run of one account on one day: idempotent per (account, day).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub org: OrgId,
    pub account_id: AccountId,
    /// The Oslo day.
    pub date: NaiveDate,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    pub requested_at: DateTime<Utc>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Deliveries that worked on it (redeliveries and continuations included).
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub continuations: u32,
    #[serde(default)]
    pub report: Option<RunReport>,
    #[serde(default)]
    pub error: Option<String>,
    pub version: u64,
}

impl RunRecord {
    pub fn requested(
        org: OrgId,
        account_id: AccountId,
        date: NaiveDate,
        trigger: RunTrigger,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            org,
            account_id,
            date,
            status: RunStatus::Requested,
            trigger,
            requested_at: at,
            started_at: None,
            finished_at: None,
            attempts: 0,
            continuations: 0,
            report: None,
            error: None,
            version: 1,
        }
    }
}

/// Approve mode: the notices planned on one day wait in that day's batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRecord {
    pub org: OrgId,
    pub account_id: AccountId,
    /// The batch's day (also its id, `YYYY-MM-DD`).
    pub date: NaiveDate,
    pub created_at: DateTime<Utc>,
    /// Notices the day's run put in it.
    pub notices: u32,
}
