//! `GET /v1/limitation?within=90`: the claims of every account of the organization that become
//! time-barred within N days, soonest first, each with its last day ("file before"), the interest
//! already lost and what to do (the domain's `radar::scan` over the open and paused cases).

use chrono::NaiveDate;
use serde::Serialize;

use super::{limitation_review, readiness_of};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::domain::collection::legal::radar::{scan, LimitationReview, RadarInput};
use crate::domain::collection::legal::readiness::Readiness;
use crate::domain::collection::legal::{LimitationWarning, Route};
use crate::domain::collection::limitation::Interruption;
use crate::domain::collection::rulebook::Rulebook;
use crate::domain::ledger::texts::Texts;
use crate::domain::money::Money;
use crate::domain::setup::OrgId;

/// The default and the largest window of the view (days).
pub const DEFAULT_WITHIN_DAYS: u32 = 90;
pub const MAX_WITHIN_DAYS: u32 = 3 * 366;

/// One claim in the view.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitationEntry {
    /// The case's URL id (`{accountId}.{caseId}`).
    pub case: String,
    pub account_id: String,
    pub account_name: String,
    pub claim_id: String,
    pub invoice_number: Option<String>,
    pub customer_id: i64,
    pub customer_name: Option<String>,
    pub due_date: NaiveDate,
    /// The last day a legal step interrupts limitation: file before the end of it.
    pub last_day: NaiveDate,
    pub time_barred_on: NaiveDate,
    pub days_left: i64,
    pub interrupted_by: Option<Interruption>,
    pub principal_outstanding: Money,
    pub owed: Money,
    /// Interest already time-barred, day by day.
    pub interest_lost: Money,
    /// The warning due today, if any.
    pub warning: Option<LimitationWarning>,
    /// A rule that is not modelled may move the date: a person decides.
    pub review: Option<LimitationReview>,
    /// What to do, in bokmål and English.
    pub action: Texts,
    pub rule: String,
}

/// A claim the rulebook could not compute (a date past its data).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitationGap {
    pub case: String,
    pub gap: String,
}

/// The view.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitationList {
    pub today: NaiveDate,
    pub within_days: u32,
    pub claims: Vec<LimitationEntry>,
    pub gaps: Vec<LimitationGap>,
}

fn nb(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

/// What to do about a claim that becomes time-barred on `last_day`'s end: file the route the
/// case is ready for, or say what is missing first.
fn action(last_day: NaiveDate, readiness: &Readiness, review: Option<LimitationReview>) -> Texts {
    let (no, en) = match readiness {
        Readiness::Ready { route, .. } => (
            format!(
                "Send {} før utgangen av {}: da avbrytes foreldelsen.",
                route.name_no(),
                nb(last_day)
            ),
            format!(
                "File a {route} by the end of {last_day}: that interrupts limitation."
            ),
        ),
        Readiness::ProposeNewBetalingsoppfordring { .. } | Readiness::NotYet { .. } => (
            format!(
                "Send betalingsoppfordring med varsel etter tvangsfullbyrdelsesloven § 4-18 nå, og {} eller {} før utgangen av {} (en forliksklage krever ikke betalingsoppfordring). {}",
                Route::Utlegg.name_no(),
                Route::Forliksklage.name_no(),
                nb(last_day),
                readiness.message_nb()
            ),
            format!(
                "Send a betalingsoppfordring with the § 4-18 notice now, and file a legal step by the end of {last_day} (a forliksklage needs no betalingsoppfordring)."
            ),
        ),
        Readiness::Blocked { reason } => (
            format!(
                "Avbryt foreldelsen før utgangen av {}: få en skriftlig erkjennelse eller send forliksklage. {}",
                nb(last_day),
                reason.message_nb()
            ),
            format!(
                "Interrupt limitation by the end of {last_day}: get a written acknowledgement or file a forliksklage. {}",
                reason.message_en()
            ),
        ),
    };
    match review {
        Some(r) => Texts {
            no: format!("{no} {}", r.message_nb()),
            en: format!("{en} {}", r.message_en()),
        },
        None => Texts { no, en },
    }
}

/// The view for `org` on `today` (see the module comment).
pub async fn limitation_list(
    store: &DynamoStore,
    book: &Rulebook,
    org: &OrgId,
    within_days: u32,
    today: NaiveDate,
) -> Result<LimitationList, StoreError> {
    let mut claims = Vec::new();
    let mut gaps = Vec::new();
    for account in store.list_accounts(org).await? {
        let policy = store
            .get_dunning_policy(org, &account.id)
            .await?
            .map(|p| p.policy.legal_steps)
            .unwrap_or_default();
        let cases = store.dunning_book(org, &account.id).await?;
        let mut inputs = Vec::new();
        for (i, stored) in cases.cases.iter().enumerate() {
            let Some(claim) = cases.claims.get(&stored.case.claim_id) else {
                continue;
            };
            if !claim.state.status.is_collectible() {
                continue;
            }
            let customer = cases.customers.get(&stored.case.customer_id);
            if let Some(input) = RadarInput::of(
                i,
                &claim.state,
                Some(&stored.case),
                limitation_review(customer),
            ) {
                inputs.push(input);
            }
        }
        let (entries, id_gaps) = scan(book, &inputs, today, within_days);
        let public =
            |i: usize| crate::services::cases::public_case_id(&account.id, &cases.cases[i].case.id);
        for (i, gap) in id_gaps {
            gaps.push(LimitationGap {
                case: public(i),
                gap: gap.to_string(),
            });
        }
        for e in entries {
            let stored = &cases.cases[e.id];
            let Some(claim) = cases.claims.get(&stored.case.claim_id) else {
                continue;
            };
            let customer = cases.customers.get(&stored.case.customer_id);
            let readiness =
                readiness_of(&claim.state, &stored.case, customer, &policy, book, today);
            let mirror = claim.state.mirror.as_ref();
            claims.push(LimitationEntry {
                case: public(e.id),
                account_id: account.id.to_string(),
                account_name: account.name.clone(),
                claim_id: claim.state.claim_id.to_string(),
                invoice_number: mirror.and_then(|m| m.invoice_number.clone()),
                customer_id: stored.case.customer_id,
                customer_name: customer.map(|c| c.customer.name.clone()),
                due_date: mirror.map_or(e.last_day, |m| m.due_date),
                last_day: e.last_day,
                time_barred_on: e.time_barred_on,
                days_left: e.days_left,
                interrupted_by: e.interrupted_by,
                principal_outstanding: claim.state.amounts.principal_outstanding,
                owed: claim.state.amounts.outstanding,
                interest_lost: e.interest_lost,
                warning: e.warning,
                review: e.review,
                action: action(e.last_day, &readiness, e.review),
                rule: e.rule,
            });
        }
    }
    claims.sort_by(|a, b| {
        a.time_barred_on
            .cmp(&b.time_barred_on)
            .then_with(|| a.case.cmp(&b.case))
    });
    Ok(LimitationList {
        today,
        within_days,
        claims,
        gaps,
    })
}
