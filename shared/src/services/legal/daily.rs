//! The daily job's legal part, for every account with an integration:
//!
//! 1. each open case whose readiness is `ready` is told once per readiness (the notice key
//!    `legal-ready:{route}:{betalingsoppfordring date}`) when the account's policy wants the
//!    creditor told (`legalSteps.mode` `notify_only` or `draft_automatically`);
//! 2. each open or paused case whose claim reaches a limitation warning (6, 3 and 1 month before
//!    its last day) is told once per warning and limitation date, whatever the mode: limitation
//!    loses the claim;
//! 3. the organization gets one digest mail a day of what it was told and has not had in a
//!    digest («3 saker er klare for rettslige skritt»), to its contact address, at most once per
//!    day (the sent-mail log, key `legal-digest:{org}:{date}`).
//!
//! Each notice is first a notification (put only if absent: its id is the case and the notice
//! key), then recorded on the case with `Case::notify_once` (a conditional write on the case's
//! version). A crash between the two leaves a notification the next run finds and does not
//! repeat; a run that finds the notice on the case does nothing. So a second run on the same day
//! (or the next day) tells nobody anything twice.
//!
//! A notification joins a digest once (`digest` set conditionally); one whose digest mail
//! certainly did not go (no record in the sent-mail log) joins the next one. The day's digest is
//! sent only if the day's mail is not sent yet; what arrives after it waits for the next day's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{limitation_of, readiness_of};
use crate::adapters::mail::{MailStatus, Mailer, OutgoingMail, SendOutcome, SentMailLog};
use crate::adapters::store::claims::{CaseWrite, Save};
use crate::adapters::store::keys::legal_digest_mail_key;
use crate::adapters::store::ledger::StoredCustomer;
use crate::adapters::store::{DynamoStore, StoreError};
use crate::domain::case::{Case, CaseEvent, CaseId};
use crate::domain::claim::ClaimState;
use crate::domain::collection::legal::notify::{
    digest_mail, notification_id, CaseNotice, CaseNotification,
};
use crate::domain::collection::legal::readiness::Readiness;
use crate::domain::collection::legal::LegalStepsPolicy;
use crate::domain::collection::rulebook::Rulebook;
use crate::domain::setup::{AccountId, OrgId};

/// The digest mail: SES through [`Mailer::send_once`] (at most once per organization and day).
pub struct DigestMail {
    pub mailer: Mailer,
    pub log: Arc<dyn SentMailLog>,
}

/// What the legal part of the daily job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalDailyReport {
    pub accounts: u32,
    pub cases: u32,
    /// Cases whose creditor was told, today, that legal steps may now be taken.
    pub ready_notified: u32,
    /// Limitation warnings sent today.
    pub warnings: u32,
    /// Digest mails sent.
    pub digests: u32,
    /// Items that could not be handled (logged; the next run tries again).
    pub failed: u32,
}

/// How often a case write is tried again after losing an optimistic-lock race.
const MAX_ATTEMPTS: usize = 5;

/// The notices due on one case today, each with its key and timeline event.
fn notices_due(
    book: &Rulebook,
    claim: &ClaimState,
    case: &Case,
    customer: Option<&StoredCustomer>,
    policy: &LegalStepsPolicy,
    today: NaiveDate,
) -> Vec<(String, CaseEvent, CaseNotice)> {
    let mut out = Vec::new();
    if policy.notifies() && case.is_active() {
        if let r @ Readiness::Ready { route, why } =
            readiness_of(claim, case, customer, policy, book, today)
        {
            if let Some(key) = r.notice_key() {
                out.push((
                    key,
                    CaseEvent::LegalStepsReady {
                        route,
                        betalingsoppfordring_sent: why.betalingsoppfordring.sent,
                    },
                    CaseNotice::LegalStepsReady {
                        route,
                        betalingsoppfordring_sent: why.betalingsoppfordring.sent,
                        file_by: why.file_by,
                        owed: why.owed,
                    },
                ));
            }
        }
    }
    if claim.status.is_collectible() {
        if let Some(w) = limitation_of(book, claim, Some(case), customer, today)
            .and_then(|l| l.warning.map(|w| (w, l.interest_lost)))
        {
            let (w, interest_lost) = w;
            out.push((
                w.key.clone(),
                CaseEvent::LimitationWarning {
                    level: w.level,
                    time_barred_on: w.time_barred_on,
                },
                CaseNotice::LimitationWarning {
                    level: w.level,
                    file_before: w.file_before,
                    time_barred_on: w.time_barred_on,
                    interest_lost,
                },
            ));
        }
    }
    out.retain(|(key, _, _)| !case.was_notified(key));
    out
}

/// Runs the legal part of the daily job (see the module comment).
pub async fn run_daily(
    store: &DynamoStore,
    mail: Option<&DigestMail>,
    book: &Rulebook,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<LegalDailyReport, StoreError> {
    let mut report = LegalDailyReport::default();
    let mut accounts: BTreeMap<OrgId, BTreeSet<AccountId>> = BTreeMap::new();
    for i in store.all_integrations().await? {
        accounts.entry(i.org).or_default().insert(i.account_id);
    }
    for (org, ids) in &accounts {
        for account in ids {
            report.accounts += 1;
            if let Err(e) = account_pass(store, book, org, account, today, now, &mut report).await {
                tracing::error!(error = %e, account = %account, "daily legal: the account failed");
                report.failed += 1;
            }
        }
        if let Some(mail) = mail {
            match send_digest(store, mail, org, today, now).await {
                Ok(true) => report.digests += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, org = %org, "daily legal: the digest failed");
                    report.failed += 1;
                }
            }
        }
    }
    tracing::info!(
        accounts = report.accounts,
        cases = report.cases,
        ready_notified = report.ready_notified,
        warnings = report.warnings,
        digests = report.digests,
        failed = report.failed,
        "daily legal job done"
    );
    Ok(report)
}

async fn account_pass(
    store: &DynamoStore,
    book: &Rulebook,
    org: &OrgId,
    account: &AccountId,
    today: NaiveDate,
    now: DateTime<Utc>,
    report: &mut LegalDailyReport,
) -> Result<(), StoreError> {
    let policy = store
        .get_dunning_policy(org, account)
        .await?
        .map(|p| p.policy.legal_steps)
        .unwrap_or_default();
    let cases = store.dunning_book(org, account).await?;
    for stored in &cases.cases {
        report.cases += 1;
        let Some(claim) = cases.claims.get(&stored.case.claim_id) else {
            continue;
        };
        let customer = cases.customers.get(&stored.case.customer_id);
        if notices_due(book, &claim.state, &stored.case, customer, &policy, today).is_empty() {
            continue;
        }
        let invoice_number = claim
            .state
            .mirror
            .as_ref()
            .and_then(|m| m.invoice_number.clone());
        let target = CaseTarget {
            org,
            account,
            case_id: &stored.case.id,
            claim: &claim.state,
            customer,
            invoice_number,
        };
        match notify_case(store, book, &target, &policy, today, now).await {
            Ok(told) => {
                for n in told {
                    match n {
                        CaseNotice::LegalStepsReady { .. } => report.ready_notified += 1,
                        CaseNotice::LimitationWarning { .. } => report.warnings += 1,
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, case = %stored.case.id, "daily legal: the case failed");
                report.failed += 1;
            }
        }
    }
    Ok(())
}

struct CaseTarget<'a> {
    org: &'a OrgId,
    account: &'a AccountId,
    case_id: &'a CaseId,
    claim: &'a ClaimState,
    customer: Option<&'a StoredCustomer>,
    invoice_number: Option<String>,
}

/// Tells the creditor the notices due on one case: the notification first, then the case.
/// Returns the notices recorded by this call.
async fn notify_case(
    store: &DynamoStore,
    book: &Rulebook,
    t: &CaseTarget<'_>,
    policy: &LegalStepsPolicy,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<CaseNotice>, StoreError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(mut stored) = store.get_case(t.org, t.account, t.case_id).await? else {
            return Ok(Vec::new());
        };
        let due = notices_due(book, t.claim, &stored.case, t.customer, policy, today);
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut told = Vec::new();
        for (key, event, notice) in due {
            let note = CaseNotification {
                id: notification_id(t.case_id, &key),
                key: key.clone(),
                org: t.org.clone(),
                account_id: t.account.clone(),
                case_id: t.case_id.clone(),
                customer_id: stored.case.customer_id,
                customer_name: t.customer.map(|c| c.customer.name.clone()),
                invoice_number: t.invoice_number.clone(),
                notice: notice.clone(),
                created_at: now,
                seen_at: None,
                digest: None,
            };
            // Absent → written; present (an earlier run crashed before the case) → kept.
            store.put_case_notification(&note).await?;
            if stored.case.notify_once(&key, event, now) {
                told.push(notice);
            }
        }
        let write = CaseWrite {
            case: &stored.case,
            expected_version: stored.stored_version,
            summary: stored.summary,
        };
        match store.save_case(write).await? {
            Save::Saved => return Ok(told),
            Save::Conflict => continue,
        }
    }
    Err(StoreError::Service(format!(
        "case {} kept changing while the daily job recorded its notices",
        t.case_id
    )))
}

/// The organization's digest of today (see the module comment): `true` when a mail went out.
async fn send_digest(
    store: &DynamoStore,
    mail: &DigestMail,
    org: &OrgId,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let key = legal_digest_mail_key(org, today);
    if let Some(r) = mail.log.get(&key).await? {
        if matches!(r.status, MailStatus::Sent | MailStatus::Unknown) {
            // Today's digest went out (or may have): the rest waits for tomorrow's.
            return Ok(false);
        }
    }
    let Some(to) = store.org_contact_email(org).await? else {
        return Ok(false);
    };
    // What no digest carried: in none yet, or in an earlier day's whose mail certainly did not
    // go (no record in the sent-mail log).
    let mut notes = Vec::new();
    let mut earlier: BTreeMap<String, bool> = BTreeMap::new();
    for n in store.org_case_notifications(org).await? {
        let take = match n.digest.as_deref() {
            None => store.assign_digest(&n, None, &key).await?,
            Some(d) if d == key => true,
            Some(d) => {
                let went = match earlier.get(d) {
                    Some(w) => *w,
                    None => {
                        let w = mail.log.get(d).await?.is_some();
                        earlier.insert(d.to_string(), w);
                        w
                    }
                };
                !went && store.assign_digest(&n, Some(d), &key).await?
            }
        };
        if take {
            notes.push(n);
        }
    }
    let Some(text) = digest_mail(&notes) else {
        return Ok(false);
    };
    let msg = OutgoingMail::to_one(&to, text, key);
    match mail.mailer.send_once(mail.log.as_ref(), &msg, now).await? {
        SendOutcome::Sent(_) => Ok(true),
        SendOutcome::AlreadySent(_) => Ok(false),
    }
}
