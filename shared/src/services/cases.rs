//! Cases: the HTTP operations on a case and the daily case job.
//!
//! A case follows one claim (`docs/cases.md`). Its URL id carries the account so the partition
//! is found without an index: `{accountId}.{caseId}`, e.g.
//! `acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001`. The organization always comes from the
//! JWT and is part of the partition key, so another organization's case is not found (404).
//!
//! The daily job ([`CasesService::run_daily`]) resumes paused cases whose deadline has come,
//! opens cases for claims that became overdue, and tells the creditor once about cases ready for
//! legal steps and claims nearing limitation (`services::legal::daily`); it is triggered by an
//! EventBridge Scheduler schedule (input `{"daily": true}`) on the loss-classification function.
//!
//! The legal commands (the debtor's objection and its assessment, an acknowledgement, a legal
//! step filed) are written on the case's version: a request that names the version it read
//! (`version` in the body, or `If-Match`) is refused with 409 when the case changed since.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::adapters::store::claims::{
    CaseFilter, CaseWrite, ClaimRecord, ClaimSummary, CreditClassification, HeldEvent, Problem,
    Removal, Save, StoredCase,
};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::domain::case::{
    Actor, Case, CaseEntry, CaseError, CaseId, CaseState, CaseStatus, CloseReason, Note,
    ObjectionChannel, ObjectionOutcome, ObjectionState,
};
use crate::domain::claim::{
    ClaimAmounts, ClaimStatus, ClaimTimelineEntry, ReviewReason, Settlement, WriteOffRecord,
};
use crate::domain::collection::legal::record::LegalDocumentId;
use crate::domain::collection::legal::Route;
use crate::domain::collection::letters::LetterKind;
use crate::domain::collection::rulebook::Rulebook;
use crate::domain::setup::{AccountId, OrgId};
use crate::services::legal::daily::{DigestMail, LegalDailyReport};
use crate::services::legal::radar::{limitation_list, LimitationList};
use crate::services::legal::{legal_view, LegalView};
use crate::services::settlements::{RetryQueue, SettlementsService};

/// How often a write is retried after losing an optimistic-lock race.
pub const MAX_ATTEMPTS: usize = 5;
/// Default and largest page size of the case list.
pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 100;

/// The date in Norway at `now`: what "today" means for deadlines and the daily job.
pub fn norwegian_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::Europe::Oslo).date_naive()
}

/// The case id used in URLs: `{accountId}.{caseId}`.
pub fn public_case_id(account: &AccountId, case: &CaseId) -> String {
    format!("{account}.{case}")
}

/// Reads a URL case id; `None` for anything else (answered 404, like a case that does not exist).
pub fn parse_public_case_id(s: &str) -> Option<(AccountId, CaseId)> {
    let (account, case) = s.split_once('.')?;
    Some((AccountId::parse(account).ok()?, CaseId::parse(case).ok()?))
}

/// Opens the claim's case when it is due (collectible and `daysPastDue` past its business-day
/// due date) and none was opened before; marks the record. `None` when nothing is due.
pub fn open_case_if_due(
    rec: &mut ClaimRecord,
    today: NaiveDate,
    days_past_due: u16,
    at: DateTime<Utc>,
) -> Option<Case> {
    if rec.case_opened || !rec.state.is_overdue_by(today, days_past_due) {
        return None;
    }
    let case = Case::open(&rec.state, today, days_past_due, at).ok()?;
    rec.case_opened = true;
    rec.updated_at = at;
    Some(case)
}

/// Why a case operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    #[error("no such account")]
    AccountNotFound,
    #[error("no such case")]
    CaseNotFound,
    #[error(transparent)]
    Case(#[from] CaseError),
    #[error("the cursor is not one this API returned")]
    BadCursor,
    #[error("{message}")]
    BadQuery {
        field: &'static str,
        message: String,
    },
    #[error("the case kept changing while we tried to update it")]
    Contention,
    /// 409: the case is no longer at the version the request read.
    #[error("the case changed since version {expected} (it is at version {current})")]
    VersionConflict { expected: u64, current: u64 },
    /// 422: the legal step names a document this case does not have.
    #[error("the case has no legal document {0}")]
    UnknownDocument(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `GET /v1/accounts/{id}/cases` query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseQuery {
    pub filter: CaseFilter,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl CaseQuery {
    /// From the query-string parameters (`status`, `customer`, `writtenOff`, `needsReview`,
    /// `limit`, `cursor`); unknown parameters are refused so a typo does not list everything.
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, CasesError> {
        let mut q = CaseQuery::default();
        let bool_of = |field: &'static str, v: &str| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(CasesError::BadQuery {
                field,
                message: format!("{field} must be true or false"),
            }),
        };
        for (k, v) in params {
            match k {
                "status" => {
                    q.filter.state = Some(match v {
                        "open" => CaseState::Open,
                        "paused" => CaseState::Paused,
                        "closed" => CaseState::Closed,
                        _ => {
                            return Err(CasesError::BadQuery {
                                field: "status",
                                message: "status must be open, paused or closed".into(),
                            })
                        }
                    })
                }
                "customer" => {
                    q.filter.customer_id =
                        Some(v.parse().ok().filter(|c: &i64| *c > 0).ok_or_else(|| {
                            CasesError::BadQuery {
                                field: "customer",
                                message: "customer is a Tripletex customer id (a positive number)"
                                    .into(),
                            }
                        })?)
                }
                "writtenOff" => q.filter.written_off = Some(bool_of("writtenOff", v)?),
                "needsReview" => q.filter.needs_review = Some(bool_of("needsReview", v)?),
                "limit" => {
                    q.limit = Some(
                        v.parse()
                            .ok()
                            .filter(|l| (1..=MAX_PAGE_SIZE).contains(l))
                            .ok_or_else(|| CasesError::BadQuery {
                                field: "limit",
                                message: format!("limit must be between 1 and {MAX_PAGE_SIZE}"),
                            })?,
                    )
                }
                "cursor" => q.cursor = Some(v.to_string()),
                other => {
                    return Err(CasesError::BadQuery {
                        field: "query",
                        message: format!(
                            "unknown query parameter {other:?}; known: status, customer, \
                             writtenOff, needsReview, limit, cursor"
                        ),
                    })
                }
            }
        }
        Ok(q)
    }
}

/// A case in a list.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseView {
    /// The URL id: `{accountId}.{caseId}`.
    pub id: String,
    pub case_id: CaseId,
    pub account_id: AccountId,
    pub claim_id: String,
    pub customer_id: i64,
    /// `open`, `paused` or `closed`.
    pub state: CaseState,
    /// The state with its reason (`{state, reason…}`, `{state: "paused", until, note, since}`).
    pub status: CaseStatus,
    pub opened_on: NaiveDate,
    pub step: Option<LetterKind>,
    pub claim_status: ClaimStatus,
    /// Written off in the accounts (still collectible).
    pub written_off: bool,
    /// A credit on the claim waits for a person, Tripletex's figure and the credits disagree, an
    /// event was refused, or the item left the ledger.
    pub needs_review: bool,
    pub version: u64,
}

impl CaseView {
    pub fn of(c: &StoredCase) -> Self {
        let case = &c.case;
        Self {
            id: public_case_id(&case.account_id, &case.id),
            case_id: case.id.clone(),
            account_id: case.account_id.clone(),
            claim_id: case.claim_id.to_string(),
            customer_id: case.customer_id,
            state: case.state(),
            status: case.status.clone(),
            opened_on: case.opened_on,
            step: case.step,
            claim_status: c.summary.claim_status,
            written_off: c.summary.written_off,
            needs_review: c.summary.needs_review,
            version: case.version,
        }
    }
}

/// A page of cases.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseListView {
    pub cases: Vec<CaseView>,
    pub next_cursor: Option<String>,
}

/// The claim behind a case, as the case page shows it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimView {
    pub claim_id: String,
    pub status: ClaimStatus,
    pub invoice_id: Option<i64>,
    pub invoice_number: Option<String>,
    pub invoice_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub due_date_estimated: bool,
    pub amounts: ClaimAmounts,
    /// Why the claim waits for a person (`needsReview`): credits held for review, Tripletex's
    /// figure at odds with the credits. Refused events are in `problems`.
    pub review_reasons: Vec<ReviewReason>,
    /// Active write-offs: amount, date, voucher (and whether the marker word was missing).
    pub write_offs: Vec<WriteOffRecord>,
    /// Every credit with the classifier's verdict and the evidence it used.
    pub credits: Vec<CreditClassification>,
    pub settlements: Vec<Settlement>,
    /// Events that wait for what they refer to.
    pub held: Vec<HeldEvent>,
    pub problems: Vec<Problem>,
    pub removed_from_ledger: Option<Removal>,
    pub timeline: Vec<ClaimTimelineEntry>,
}

impl ClaimView {
    pub fn of(rec: &ClaimRecord) -> Self {
        let st = &rec.state;
        let m = st.mirror.as_ref();
        Self {
            claim_id: st.claim_id.to_string(),
            status: st.status,
            invoice_id: m.and_then(|m| m.invoice_id),
            invoice_number: m.and_then(|m| m.invoice_number.clone()),
            invoice_date: m.map(|m| m.invoice_date),
            due_date: m.map(|m| m.due_date),
            due_date_estimated: m.is_some_and(|m| m.due_date_estimated),
            amounts: st.amounts.clone(),
            review_reasons: st.review_reasons(),
            write_offs: st.write_offs(),
            credits: rec.classifications.clone(),
            settlements: st.settlements.clone(),
            held: rec.held.clone(),
            problems: rec.problems.clone(),
            removed_from_ledger: rec.removed.clone(),
            timeline: st.timeline.clone(),
        }
    }
}

/// `GET /v1/cases/{id}`.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseView,
    pub notes: Vec<Note>,
    pub timeline: Vec<CaseEntry>,
    pub claim: Option<ClaimView>,
    /// Legal steps: readiness (the route and why, or what is missing), limitation, objections,
    /// acknowledgements, the step filed, the drafted documents.
    pub legal: LegalView,
}

/// `POST /v1/cases/{id}/pause`.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseRequest {
    pub until: NaiveDate,
    pub note: String,
}

/// `POST /v1/cases/{id}/close`: `reason` is a code (`withdrawn`, `debtorInsolvent`, `paid`,
/// `credited`, `other`); `other` needs `text`.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloseRequest {
    pub reason: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /v1/cases/{id}/reopen` (the body is optional).
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReopenRequest {
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /v1/cases/{id}/notes`.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoteRequest {
    pub text: String,
}

/// `POST /v1/cases/{id}/objection`: the debtor's objection, the day it was received and how
/// (`email`, `letter`, `phone`, `inPerson`, `portal`, `other`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectionRequest {
    pub text: String,
    pub received_on: NaiveDate,
    pub channel: String,
    /// The case version the user saw (409 when it changed since).
    #[serde(default)]
    pub version: Option<u64>,
}

/// `POST /v1/cases/{id}/objection/assess`: `groundless` with a written `reason` (required), or
/// `justified` (a `reason` may follow). `objectionId`: which one (default: the open one).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssessRequest {
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub objection_id: Option<u32>,
    #[serde(default)]
    pub version: Option<u64>,
}

/// `POST /v1/cases/{id}/objection/corrected`: the claim was corrected by hand for a justified
/// objection (default: the justified one).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorrectedRequest {
    pub note: String,
    #[serde(default)]
    pub objection_id: Option<u32>,
    #[serde(default)]
    pub version: Option<u64>,
}

/// `POST /v1/cases/{id}/acknowledgement`: the debtor acknowledged the debt on `on` (a new
/// limitation period).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcknowledgementRequest {
    pub on: NaiveDate,
    pub note: String,
    #[serde(default)]
    pub version: Option<u64>,
}

/// `POST /v1/cases/{id}/legal-steps/filed`: the user filed `route` (`utlegg` or
/// `forliksklage`) on `filedOn`, optionally the drafted `documentId`.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FiledRequest {
    pub route: String,
    pub filed_on: NaiveDate,
    #[serde(default)]
    pub document_id: Option<String>,
    #[serde(default)]
    pub version: Option<u64>,
}

/// A change a user asks for.
#[derive(Debug, Clone)]
pub enum CaseCommand {
    Pause(PauseRequest),
    Resume,
    Close(CloseRequest),
    Reopen(ReopenRequest),
    Note(NoteRequest),
    Objection(ObjectionRequest),
    Assess(AssessRequest),
    Corrected(CorrectedRequest),
    Acknowledge(AcknowledgementRequest),
    Filed(FiledRequest),
}

impl CaseCommand {
    /// The case version the request names in its body, if any.
    pub fn version(&self) -> Option<u64> {
        match self {
            CaseCommand::Objection(r) => r.version,
            CaseCommand::Assess(r) => r.version,
            CaseCommand::Corrected(r) => r.version,
            CaseCommand::Acknowledge(r) => r.version,
            CaseCommand::Filed(r) => r.version,
            CaseCommand::Pause(_)
            | CaseCommand::Resume
            | CaseCommand::Close(_)
            | CaseCommand::Reopen(_)
            | CaseCommand::Note(_) => None,
        }
    }
}

/// `GET /v1/limitation` query: `within` days (1 to 1098, default 90).
pub fn parse_within<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<u32, CasesError> {
    use crate::services::legal::radar::{DEFAULT_WITHIN_DAYS, MAX_WITHIN_DAYS};
    let mut within = DEFAULT_WITHIN_DAYS;
    for (k, v) in params {
        match k {
            "within" => {
                within = v
                    .parse()
                    .ok()
                    .filter(|w| (1..=MAX_WITHIN_DAYS).contains(w))
                    .ok_or_else(|| CasesError::BadQuery {
                        field: "within",
                        message: format!("within is a number of days from 1 to {MAX_WITHIN_DAYS}"),
                    })?
            }
            other => {
                return Err(CasesError::BadQuery {
                    field: "query",
                    message: format!("unknown query parameter {other:?}; known: within"),
                })
            }
        }
    }
    Ok(within)
}

/// What the daily job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyReport {
    pub today: Option<NaiveDate>,
    /// Paused cases resumed because their deadline came.
    pub resumed: u32,
    /// Cases opened for claims that became overdue.
    pub opened: u32,
    /// Items that could not be handled (logged; the next run tries again).
    pub failed: u32,
    /// Legal steps: ready cases and limitation warnings told, digests sent.
    #[serde(default)]
    pub legal: LegalDailyReport,
}

/// The case operations.
pub struct CasesService {
    store: DynamoStore,
    settlements: SettlementsService,
    rules: &'static Rulebook,
    digest: Option<DigestMail>,
}

impl CasesService {
    pub fn new(store: DynamoStore) -> Self {
        Self {
            settlements: SettlementsService::new(store.clone(), None),
            store,
            rules: Rulebook::norway(),
            digest: None,
        }
    }

    /// With the voucher-posting queue, for the retry of a held settlement.
    pub fn with_posting_queue(mut self, queue: Arc<dyn RetryQueue>) -> Self {
        self.settlements = SettlementsService::new(self.store.clone(), Some(queue));
        self
    }

    /// The settlements of the accounts (list, retry).
    pub fn settlements(&self) -> &SettlementsService {
        &self.settlements
    }

    /// The daily job also mails each organization its digest of legal notices.
    pub fn with_digest_mail(mut self, mail: DigestMail) -> Self {
        self.digest = Some(mail);
        self
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    /// `GET /v1/accounts/{id}/cases`.
    pub async fn list(
        &self,
        org: &OrgId,
        account: &str,
        query: &CaseQuery,
    ) -> Result<CaseListView, CasesError> {
        let account = AccountId::parse(account).map_err(|_| CasesError::AccountNotFound)?;
        if self.store.get_account(org, &account).await?.is_none() {
            return Err(CasesError::AccountNotFound);
        }
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        let page = self
            .store
            .list_cases(org, &account, &query.filter, limit, query.cursor.as_deref())
            .await?
            .map_err(|_| CasesError::BadCursor)?;
        Ok(CaseListView {
            cases: page.cases.iter().map(CaseView::of).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// `GET /v1/cases/{id}`, as it stands on `today`.
    pub async fn get(
        &self,
        org: &OrgId,
        public_id: &str,
        today: NaiveDate,
    ) -> Result<CaseDetail, CasesError> {
        let (account, case_id) = parse_public_case_id(public_id).ok_or(CasesError::CaseNotFound)?;
        let stored = self
            .store
            .get_case(org, &account, &case_id)
            .await?
            .ok_or(CasesError::CaseNotFound)?;
        let claim = self
            .store
            .get_claim(org, &account, case_id.claim_id())
            .await?;
        self.detail(org, &stored, claim.as_ref(), today).await
    }

    /// `GET /v1/limitation?within=N`: the organization's claims that become time-barred within
    /// `within` days, soonest first.
    pub async fn limitation(
        &self,
        org: &OrgId,
        within: u32,
        today: NaiveDate,
    ) -> Result<LimitationList, CasesError> {
        Ok(limitation_list(&self.store, self.rules, org, within, today).await?)
    }

    /// The case page: the case, its claim, and what it shows about legal steps today.
    async fn detail(
        &self,
        org: &OrgId,
        stored: &StoredCase,
        claim: Option<&ClaimRecord>,
        today: NaiveDate,
    ) -> Result<CaseDetail, CasesError> {
        let case = &stored.case;
        let (policy, customer, documents) = futures::try_join!(
            self.store.get_dunning_policy(org, &case.account_id),
            self.store
                .get_customer(org, &case.account_id, case.customer_id),
            self.store
                .legal_documents_of_case(org, &case.account_id, &case.id),
        )?;
        let policy = policy.map(|p| p.policy.legal_steps).unwrap_or_default();
        let legal = legal_view(
            self.rules,
            claim.map(|c| &c.state),
            case,
            customer.as_ref(),
            &policy,
            &documents,
            today,
        );
        let mut view = detail(stored, claim, legal);
        if let Some(c) = claim {
            let money = self
                .settlements
                .timeline_entries(
                    org,
                    &case.account_id,
                    &c.state.settlements,
                    case.id.claim_id(),
                )
                .await?;
            view.timeline = merge_timeline(view.timeline, money);
        }
        Ok(view)
    }

    /// Pause, resume, close, reopen, add a note, or record a legal fact (an objection and its
    /// assessment, an acknowledgement, a legal step filed), as user `user` (JWT `sub`).
    /// `expected_version` (`If-Match`, or the body's `version`): refused with
    /// [`CasesError::VersionConflict`] when the case is no longer at it; without it a concurrent
    /// change (the worker following the claim, another user) is retried.
    #[allow(clippy::too_many_arguments)]
    pub async fn command(
        &self,
        org: &OrgId,
        public_id: &str,
        user: &str,
        command: CaseCommand,
        expected_version: Option<u64>,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<CaseDetail, CasesError> {
        let (account, case_id) = parse_public_case_id(public_id).ok_or(CasesError::CaseNotFound)?;
        let expected = expected_version.or(command.version());
        for _ in 0..MAX_ATTEMPTS {
            let mut stored = self
                .store
                .get_case(org, &account, &case_id)
                .await?
                .ok_or(CasesError::CaseNotFound)?;
            if let Some(want) = expected {
                if stored.case.version != want {
                    return Err(CasesError::VersionConflict {
                        expected: want,
                        current: stored.case.version,
                    });
                }
            }
            let claim = self
                .store
                .get_claim(org, &account, case_id.claim_id())
                .await?;
            let by = Actor::user(user);
            let case = &mut stored.case;
            match &command {
                CaseCommand::Pause(p) => case.pause(p.until, &p.note, by, today, now)?,
                CaseCommand::Resume => case.resume(by, now)?,
                CaseCommand::Close(c) => {
                    let reason = CloseReason::parse(close_code(&c.reason), c.text.as_deref())?;
                    case.close(reason, c.note.as_deref(), by, today, now)?
                }
                CaseCommand::Reopen(r) => {
                    let status = claim
                        .as_ref()
                        .map(|c| c.state.status)
                        .unwrap_or(stored.summary.claim_status);
                    case.reopen(status, r.note.as_deref(), by, now)?
                }
                CaseCommand::Note(n) => {
                    case.add_note(user, &n.text, now)?;
                }
                CaseCommand::Objection(o) => {
                    let channel = ObjectionChannel::parse(o.channel.trim())?;
                    case.record_objection(&o.text, o.received_on, channel, by, today, now)?;
                }
                CaseCommand::Assess(a) => {
                    let outcome = ObjectionOutcome::parse(a.outcome.trim(), a.reason.as_deref())?;
                    let id = objection_to(case, a.objection_id, ObjectionState::Open)?;
                    case.assess_objection(id, outcome, by, now)?;
                }
                CaseCommand::Corrected(c) => {
                    let id = objection_to(case, c.objection_id, ObjectionState::Justified)?;
                    case.objection_corrected(id, &c.note, by, now)?;
                }
                CaseCommand::Acknowledge(a) => {
                    case.record_acknowledgement(a.on, &a.note, by, today, now)?;
                }
                CaseCommand::Filed(f) => {
                    let route = Route::parse(f.route.trim())
                        .ok_or_else(|| CaseError::UnknownRoute(f.route.clone()))?;
                    let document = f
                        .document_id
                        .as_deref()
                        .map(str::trim)
                        .filter(|d| !d.is_empty());
                    if let Some(doc) = document {
                        let known = match LegalDocumentId::parse(doc) {
                            Some(id) => self
                                .store
                                .get_legal_document(org, &account, &case_id, &id)
                                .await?
                                .is_some(),
                            None => false,
                        };
                        if !known {
                            return Err(CasesError::UnknownDocument(doc.to_string()));
                        }
                    }
                    case.record_filed(route, f.filed_on, document, by, today, now)?;
                }
            }
            let summary = claim
                .as_ref()
                .map(ClaimRecord::summary)
                .unwrap_or(stored.summary);
            let write = CaseWrite {
                case: &stored.case,
                expected_version: stored.stored_version,
                summary,
            };
            match self.store.save_case(write).await? {
                Save::Saved => {
                    stored.summary = summary;
                    stored.stored_version = Some(stored.case.version);
                    return self.detail(org, &stored, claim.as_ref(), today).await;
                }
                Save::Conflict => {
                    if let Some(want) = expected {
                        let current = self
                            .store
                            .get_case(org, &account, &case_id)
                            .await?
                            .map_or(want, |c| c.case.version);
                        return Err(CasesError::VersionConflict {
                            expected: want,
                            current,
                        });
                    }
                    continue;
                }
            }
        }
        Err(CasesError::Contention)
    }

    /// The daily case job: resumes paused cases whose deadline is `today` or earlier, and opens
    /// cases for collectible claims that are `daysPastDue` (the integration's setting) past
    /// their business-day due date. Safe to run twice: resumed and opened cases are no longer
    /// in the indexes, and every write is conditional.
    pub async fn run_daily(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<DailyReport, CasesError> {
        let mut report = DailyReport {
            today: Some(today),
            ..DailyReport::default()
        };
        for (acc, case_id) in self.store.paused_cases_due(today).await? {
            match self
                .resume_one(&acc.org, &acc.account_id, &case_id, today, now)
                .await
            {
                Ok(true) => report.resumed += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, case = %case_id, "daily: resuming failed");
                    report.failed += 1;
                }
            }
        }
        // A case never opens on the due date itself: claims due yesterday or earlier.
        let up_to = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        let mut days_by_account: HashMap<(OrgId, AccountId), Option<u16>> = HashMap::new();
        for (acc, claim_id) in self.store.claims_awaiting_case(up_to).await? {
            let key = (acc.org.clone(), acc.account_id.clone());
            let days = match days_by_account.get(&key) {
                Some(d) => *d,
                None => {
                    let d = match self.store.get_integration(&acc.org, &acc.account_id).await {
                        Ok(i) => i.map(|i| i.settings.days_past_due),
                        Err(e) => {
                            tracing::error!(error = %e, "daily: reading the integration failed");
                            report.failed += 1;
                            continue;
                        }
                    };
                    days_by_account.insert(key, d);
                    d
                }
            };
            let Some(days) = days else {
                // No integration (deleted): nothing is followed up for this account.
                continue;
            };
            match self
                .open_one(&acc.org, &acc.account_id, &claim_id, days, today, now)
                .await
            {
                Ok(true) => report.opened += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, claim = %claim_id, "daily: opening failed");
                    report.failed += 1;
                }
            }
        }
        tracing::info!(
            resumed = report.resumed,
            opened = report.opened,
            failed = report.failed,
            "daily case job done"
        );
        report.legal = crate::services::legal::daily::run_daily(
            &self.store,
            self.digest.as_ref(),
            self.rules,
            today,
            now,
        )
        .await?;
        Ok(report)
    }

    async fn resume_one(
        &self,
        org: &OrgId,
        account: &AccountId,
        case_id: &CaseId,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<bool, CasesError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(mut stored) = self.store.get_case(org, account, case_id).await? else {
                return Ok(false);
            };
            if !stored.case.resume_due(today, now) {
                return Ok(false);
            }
            let write = CaseWrite {
                case: &stored.case,
                expected_version: stored.stored_version,
                summary: stored.summary,
            };
            match self.store.save_case(write).await? {
                Save::Saved => return Ok(true),
                Save::Conflict => continue,
            }
        }
        Err(CasesError::Contention)
    }

    async fn open_one(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim_id: &crate::domain::claim::ClaimId,
        days: u16,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<bool, CasesError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(mut rec) = self.store.get_claim(org, account, claim_id).await? else {
                return Ok(false);
            };
            let Some(case) = open_case_if_due(&mut rec, today, days, now) else {
                return Ok(false);
            };
            let write = CaseWrite {
                case: &case,
                expected_version: None,
                summary: rec.summary(),
            };
            match self.store.save_claim(&rec, Some(write)).await? {
                Save::Saved => return Ok(true),
                Save::Conflict => continue,
            }
        }
        Err(CasesError::Contention)
    }
}

/// The close reason's code; the Norwegian labels the user sees are accepted too
/// («vi trekker saken», «skyldner er insolvent», «betalt», «kreditert», «annet»).
pub fn close_code(reason: &str) -> &str {
    match reason.trim().to_lowercase().as_str() {
        "vi trekker saken" => "withdrawn",
        "skyldner er insolvent" => "debtorInsolvent",
        "betalt" => "paid",
        "kreditert" => "credited",
        "annet" => "other",
        _ => reason,
    }
}

/// The case's own entries and the money entries of its claim, in time order (the case's own keep
/// their order on equal times), numbered 1, 2, … for the view.
fn merge_timeline(own: Vec<CaseEntry>, money: Vec<CaseEntry>) -> Vec<CaseEntry> {
    let mut all: Vec<(DateTime<Utc>, usize, CaseEntry)> = own
        .into_iter()
        .chain(money)
        .enumerate()
        .map(|(i, e)| (e.at, i, e))
        .collect();
    all.sort_by_key(|(at, i, _)| (*at, *i));
    all.into_iter()
        .enumerate()
        .map(|(n, (_, _, mut e))| {
            e.seq = n as u64 + 1;
            e
        })
        .collect()
}

/// The objection a command is about: the one named, or the earliest in `state` (the open one
/// to assess, the justified one to correct).
fn objection_to(case: &Case, named: Option<u32>, state: ObjectionState) -> Result<u32, CaseError> {
    if let Some(id) = named {
        return Ok(id);
    }
    case.objections
        .iter()
        .filter(|o| o.state() == state)
        .min_by_key(|o| (o.received_on, o.id))
        .map(|o| o.id)
        .ok_or(CaseError::NoObjectionIn(state))
}

fn detail(stored: &StoredCase, claim: Option<&ClaimRecord>, legal: LegalView) -> CaseDetail {
    let summary: ClaimSummary = claim.map(ClaimRecord::summary).unwrap_or(stored.summary);
    let mut view = CaseView::of(stored);
    view.claim_status = summary.claim_status;
    view.written_off = summary.written_off;
    view.needs_review = summary.needs_review;
    CaseDetail {
        case: view,
        notes: stored.case.notes.clone(),
        timeline: stored.case.timeline.clone(),
        claim: claim.map(ClaimView::of),
        legal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_case_ids_carry_the_account() {
        let acc = AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap();
        let case = CaseId::parse("case_inv_1001").unwrap();
        let id = public_case_id(&acc, &case);
        assert_eq!(id, "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_inv_1001");
        assert_eq!(parse_public_case_id(&id), Some((acc, case)));
        for bad in [
            "case_inv_1001",
            "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d",
            "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d.case_x_1",
            "acc_SHORT.case_inv_1",
            "",
        ] {
            assert_eq!(parse_public_case_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn close_reasons_by_code_or_norwegian_label() {
        for (given, code) in [
            ("Vi trekker saken", "withdrawn"),
            ("skyldner er insolvent", "debtorInsolvent"),
            ("betalt", "paid"),
            ("kreditert", "credited"),
            ("annet", "other"),
            ("debtorInsolvent", "debtorInsolvent"),
            ("nonsense", "nonsense"),
        ] {
            assert_eq!(close_code(given), code, "{given}");
        }
    }

    #[test]
    fn the_query_string_is_read_strictly() {
        let q = CaseQuery::parse([
            ("status", "paused"),
            ("customer", "40001"),
            ("writtenOff", "true"),
            ("needsReview", "false"),
            ("limit", "10"),
        ])
        .unwrap();
        assert_eq!(q.filter.state, Some(CaseState::Paused));
        assert_eq!(q.filter.customer_id, Some(40001));
        assert_eq!(q.filter.written_off, Some(true));
        assert_eq!(q.filter.needs_review, Some(false));
        assert_eq!(q.limit, Some(10));
        for (k, v, field) in [
            ("status", "done", "status"),
            ("customer", "-1", "customer"),
            ("writtenOff", "yes", "writtenOff"),
            ("limit", "0", "limit"),
            ("limit", "101", "limit"),
            ("stauts", "open", "query"),
        ] {
            match CaseQuery::parse([(k, v)]) {
                Err(CasesError::BadQuery { field: f, .. }) => assert_eq!(f, field, "{k}={v}"),
                other => panic!("{k}={v}: {other:?}"),
            }
        }
    }
}
