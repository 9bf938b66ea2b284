//! Every key of the table, and the only place that spells one. The store modules, the sent-mail
//! log, the Brønnøysund cache and the tests build their `PK`/`SK`/`GSI*` values here; docs/data-model.md
//! is written from this table.
//!
//! Partitions:
//!
//! | partition            | `PK`                              | holds                                                    |
//! |----------------------|-----------------------------------|----------------------------------------------------------|
//! | organization         | `ORG#{org}`                       | accounts, Tripletex keys, integrations, ready notices, the profile |
//! | account              | `ORG#{org}#ACCOUNT#{accountId}`   | claims, cases, the mirrored ledger, the sync's own records |
//! | sent mail            | `MAIL#{idempotencyKey}`           | one record per mail (`SK = MAIL`)                        |
//! | Enhetsregisteret     | `BRREG#{orgnr}`                   | the one-day cache of one entity (`SK = ENTITY`)          |
//!
//! Sort keys:
//!
//! | partition    | `SK`                              | item                                   |
//! |--------------|-----------------------------------|----------------------------------------|
//! | organization | `ACCOUNT#{accountId}`             | account                                |
//! | organization | `KEY#{keyId}`                     | Tripletex key (never a token)          |
//! | organization | `INTEGRATION#{accountId}`         | integration                            |
//! | organization | `NOTICE#READY#{accountId}`        | "your ledger is ready" notice          |
//! | organization | `NOTICE#CASE#{accountId}#{nid}`   | notification about a case (legal steps ready, limitation warning) |
//! | organization | `PROFILE`                         | organization profile (`contactEmail`)  |
//! | account      | `CASE#{caseId}`                   | case                                   |
//! | account      | `CLAIM#{claimId}`                 | claim                                  |
//! | account      | `CUST#{customerId}`               | mirrored customer                      |
//! | account      | `ITEM#{itemId}`                   | mirrored ledger item                   |
//! | account      | `SKIP#{reason}#{key}`             | skip record                            |
//! | account      | `SYNC#CKPT`, `SYNC#CKPT#{n:05}`   | checkpoint header and chunks           |
//! | account      | `SYNC#REQUEST`                    | pending manual sync request            |
//! | account      | `SYNC#STATE`                      | sync summary (counts, times)           |
//! | account      | `VOUCHER#{claimId}#{version:05}`  | a settlement's posting in Tripletex    |
//! | account      | `COLLECT#POLICY`                  | dunning policy (versioned)             |
//! | account      | `COLLECT#NOTICE#{caseId}#{step}`  | dunning notice (one per case and step) |
//! | account      | `COLLECT#LETTER#{date}#{letterId}`| dunning letter                         |
//! | account      | `COLLECT#BATCH#{date}`            | approval batch of a day                |
//! | account      | `COLLECT#RUN#{date}`              | dunning run of a day                   |
//! | account      | `COLLECT#LEGALDOC#{caseId}#{docId}` | drafted legal document (begjæring om utlegg, forliksklage) |
//!
//! Indexes (sparse: only the items named set them):
//!
//! | index | item        | `GSI*PK`       | `GSI*SK`                                     |
//! |-------|-------------|----------------|----------------------------------------------|
//! | GSI1  | integration | `KEY#{keyId}`  | `ORG#{org}#ACCOUNT#{accountId}`              |
//! | GSI1  | paused case | `PAUSED_CASES` | `{until}#{org}#{accountId}#{caseId}`         |
//! | GSI2  | integration | `INTEGRATIONS` | `{keyId}#{accountId}`                        |
//! | GSI2  | claim awaiting a case | `CASE_DUE` | `{effectiveDueDate}#{org}#{accountId}#{claimId}` |
//! | GSI1  | active dunning notice | `NOTICES#{org}#{accountId}` | `{noticeId}`                  |
//! | GSI2  | uncertain notice | `NOTICES_UNCERTAIN` | `{since}#{org}#{accountId}#{noticeId}`          |
//! | GSI2  | policy with dunning on | `DUNNING_ENABLED` | `{org}#{accountId}`                      |
//!
//! **Dunning's items** sort under `COLLECT#`, before `CUST#` and so outside the mirror sweep
//! (`DUNNING#` would sort inside it, between `CUST#` and `ITEM#`).
//! **One account partition.** Everything that belongs to one account lives under
//! [`account_pk`], with the organization in the key: a read built from the JWT's organization
//! cannot reach another organization's account (it is simply not there). Ids never contain `#`
//! (`OrgId` is `A-Z a-z 0-9 _ - .`, the others a prefix and hex digits), so no two key shapes
//! collide.
//!
//! **The mirror sweep.** The sync rebuilds its mirror with one query over the sort keys from
//! [`MIRROR_FIRST`] to [`MIRROR_LAST`] (`CUST#` … `SKIP#…`). A new item type of the account
//! partition must sort outside that range (before `CUST#` like `CASE#`/`CLAIM#`, or after it like
//! `SYNC#…`), or every sync would read it too; a test below holds every sort key to that.
//!
//! **The legacy partition.** Until the key scheme was unified the mirrored ledger lived in
//! [`legacy_ledger_pk`] (`ACC#{accountId}`); [`super::migrate`] moves it, and nothing else reads it.

use chrono::NaiveDate;

use crate::domain::case::CaseId;
use crate::domain::claim::ClaimId;
use crate::domain::collection::dunning::{LetterId, NoticeId};
use crate::domain::collection::legal::record::LegalDocumentId;
use crate::domain::ledger::SkipReason;
use crate::domain::setup::{AccountId, IntegrationId, KeyId, OrgId};
use crate::domain::OrgNumber;

// ------------------------------------------------------------------------------------ partitions

/// The organization's partition.
pub fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

/// The account's partition: claims, cases, the mirrored ledger and the sync's records.
pub fn account_pk(org: &OrgId, account: &AccountId) -> String {
    format!("ORG#{org}#ACCOUNT#{account}")
}

/// Where the mirrored ledger lived before it moved into [`account_pk`] (read by the migration
/// only).
pub fn legacy_ledger_pk(account: &AccountId) -> String {
    format!("ACC#{account}")
}

/// The record of one mail in the sent-mail log.
pub fn mail_pk(idempotency_key: &str) -> String {
    format!("{MAIL_PREFIX}{idempotency_key}")
}
const MAIL_PREFIX: &str = "MAIL#";
pub const MAIL_SK: &str = "MAIL";

/// The idempotency key of a [`mail_pk`].
pub fn mail_key_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(MAIL_PREFIX)
}

/// The idempotency key of the ready mail of an integration (one per integration, ever).
pub fn ready_mail_key(integration: &IntegrationId) -> String {
    format!("ready:{integration}")
}

/// The idempotency key of the organization's legal-steps digest of one day (at most one a day).
pub fn legal_digest_mail_key(org: &OrgId, date: NaiveDate) -> String {
    format!("legal-digest:{org}:{}", day(date))
}

/// The cached Enhetsregisteret answer for one organisation number.
pub fn brreg_pk(orgnr: &OrgNumber) -> String {
    format!("BRREG#{}", orgnr.as_str())
}
pub const BRREG_SK: &str = "ENTITY";

// ------------------------------------------------------------ sort keys: the organization

pub const ACCOUNT_PREFIX: &str = "ACCOUNT#";
pub fn account_sk(id: &AccountId) -> String {
    format!("{ACCOUNT_PREFIX}{id}")
}

pub const KEY_PREFIX: &str = "KEY#";
pub fn key_sk(id: &KeyId) -> String {
    format!("{KEY_PREFIX}{id}")
}

pub const INTEGRATION_PREFIX: &str = "INTEGRATION#";
pub fn integration_sk(account: &AccountId) -> String {
    format!("{INTEGRATION_PREFIX}{account}")
}

pub fn ready_notice_sk(account: &AccountId) -> String {
    format!("NOTICE#READY#{account}")
}

pub const PROFILE_SK: &str = "PROFILE";

/// Every notification about a case sorts under this prefix (the organization's digest reads
/// them all).
pub const CASE_NOTIFICATION_PREFIX: &str = "NOTICE#CASE#";
/// The notifications of one account.
pub fn case_notifications_prefix(account: &AccountId) -> String {
    format!("{CASE_NOTIFICATION_PREFIX}{account}#")
}
/// A notification about a case (`nid`: `legal::notify::notification_id`).
pub fn case_notification_sk(account: &AccountId, nid: &str) -> String {
    format!("{}{nid}", case_notifications_prefix(account))
}

// ------------------------------------------------------------------ sort keys: the account

pub fn claim_sk(claim: &ClaimId) -> String {
    format!("CLAIM#{claim}")
}

pub const CASE_PREFIX: &str = "CASE#";
pub fn case_sk(case: &CaseId) -> String {
    format!("{CASE_PREFIX}{case}")
}

pub const CUSTOMER_PREFIX: &str = "CUST#";
pub fn customer_sk(id: i64) -> String {
    format!("{CUSTOMER_PREFIX}{id}")
}
/// The customer id of a [`customer_sk`].
pub fn customer_id_of(sk: &str) -> Option<&str> {
    sk.strip_prefix(CUSTOMER_PREFIX)
}

pub const ITEM_PREFIX: &str = "ITEM#";
pub fn item_sk(item_id: &str) -> String {
    format!("{ITEM_PREFIX}{item_id}")
}
/// The item id of an [`item_sk`].
pub fn item_id_of(sk: &str) -> Option<&str> {
    sk.strip_prefix(ITEM_PREFIX)
}

pub const SKIP_PREFIX: &str = "SKIP#";
/// The prefix of the skip records with one reason.
pub fn skip_prefix(reason: SkipReason) -> String {
    format!("{SKIP_PREFIX}{}#", reason.as_str())
}
pub fn skip_sk(reason: SkipReason, key: &str) -> String {
    format!("{}{key}", skip_prefix(reason))
}

/// The first and last sort key of the mirror sweep (customers, items, skip records).
pub const MIRROR_FIRST: &str = CUSTOMER_PREFIX;
pub const MIRROR_LAST: &str = "SKIP#\u{10ffff}";

pub const SUMMARY_SK: &str = "SYNC#STATE";
pub const SYNC_REQUEST_SK: &str = "SYNC#REQUEST";
/// The checkpoint header; its chunks are [`checkpoint_chunk_sk`] (the header is also their prefix).
pub const CHECKPOINT_SK: &str = "SYNC#CKPT";
pub fn checkpoint_chunk_sk(n: usize) -> String {
    format!("{CHECKPOINT_SK}#{n:05}")
}

/// A settlement's posting record (after `SYNC#…`, outside the mirror sweep).
pub const VOUCHER_PREFIX: &str = "VOUCHER#";
pub fn voucher_sk(claim: &ClaimId, settlement_version: u32) -> String {
    format!("{VOUCHER_PREFIX}{claim}#{settlement_version:05}")
}

// ---------------------------------------------------------- sort keys: the account's dunning

/// Every dunning item of an account sorts under this prefix.
pub const DUNNING_PREFIX: &str = "COLLECT#";
pub const DUNNING_POLICY_SK: &str = "COLLECT#POLICY";

pub const NOTICE_PREFIX: &str = "COLLECT#NOTICE#";
pub fn notice_sk(id: &NoticeId) -> String {
    format!("{NOTICE_PREFIX}{}#{}", id.case_id, id.step.key())
}
/// The prefix of one case's notices.
pub fn case_notices_prefix(case: &CaseId) -> String {
    format!("{NOTICE_PREFIX}{case}#")
}

pub const LETTER_PREFIX: &str = "COLLECT#LETTER#";
pub fn letter_sk(send_date: NaiveDate, letter: &LetterId) -> String {
    format!("{LETTER_PREFIX}{}#{letter}", day(send_date))
}
/// The prefix of the letters of one send day.
pub fn letters_of_day_prefix(send_date: NaiveDate) -> String {
    format!("{LETTER_PREFIX}{}#", day(send_date))
}

pub const BATCH_PREFIX: &str = "COLLECT#BATCH#";
pub fn batch_sk(date: NaiveDate) -> String {
    format!("{BATCH_PREFIX}{}", day(date))
}

pub const RUN_PREFIX: &str = "COLLECT#RUN#";
pub fn run_sk(date: NaiveDate) -> String {
    format!("{RUN_PREFIX}{}", day(date))
}

// ------------------------------------------------------ sort keys: the account's legal steps

/// Drafted legal documents sort under the collection prefix too (outside the mirror sweep).
pub const LEGAL_DOCUMENT_PREFIX: &str = "COLLECT#LEGALDOC#";
pub fn legal_document_sk(case: &CaseId, doc: &LegalDocumentId) -> String {
    format!("{}{doc}", case_legal_documents_prefix(case))
}
/// The prefix of one case's documents.
pub fn case_legal_documents_prefix(case: &CaseId) -> String {
    format!("{LEGAL_DOCUMENT_PREFIX}{case}#")
}

// ------------------------------------------------------------------------------------ indexes

/// GSI1 partition of the integrations that use a key.
pub fn key_gsi1pk(id: &KeyId) -> String {
    format!("{KEY_PREFIX}{id}")
}
pub fn integration_gsi1sk(org: &OrgId, account: &AccountId) -> String {
    account_pk(org, account)
}

/// GSI2 partition that lists every integration (for the scheduled sync).
pub const INTEGRATIONS_GSI2PK: &str = "INTEGRATIONS";
pub fn integration_gsi2sk(key: &KeyId, account: &AccountId) -> String {
    format!("{key}#{account}")
}

/// GSI1 partition of paused cases, sorted by the day they resume.
pub const PAUSED_CASES_GSI1PK: &str = "PAUSED_CASES";
pub fn paused_case_gsi1sk(
    until: NaiveDate,
    org: &OrgId,
    account: &AccountId,
    case: &CaseId,
) -> String {
    format!("{}#{org}#{account}#{case}", day(until))
}

/// GSI2 partition of collectible claims without a case, sorted by effective due date.
pub const CASE_DUE_GSI2PK: &str = "CASE_DUE";
pub fn case_due_gsi2sk(
    due: NaiveDate,
    org: &OrgId,
    account: &AccountId,
    claim: &ClaimId,
) -> String {
    format!("{}#{org}#{account}#{claim}", day(due))
}

/// GSI1 partition of an account's active dunning notices (waiting, under way, uncertain, or sent
/// with effects still to record): what a run reads instead of every notice ever sent.
pub fn active_notices_gsi1pk(org: &OrgId, account: &AccountId) -> String {
    format!("NOTICES#{org}#{account}")
}
pub fn active_notice_gsi1sk(id: &NoticeId) -> String {
    id.to_string()
}

/// GSI2 partition of the uncertain notices of every account (for the operators).
pub const UNCERTAIN_NOTICES_GSI2PK: &str = "NOTICES_UNCERTAIN";
pub fn uncertain_notice_gsi2sk(
    since: chrono::DateTime<chrono::Utc>,
    org: &OrgId,
    account: &AccountId,
    id: &NoticeId,
) -> String {
    format!(
        "{}#{org}#{account}#{id}",
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// GSI2 partition of the accounts whose dunning is on (the schedule's fan-out).
pub const DUNNING_ENABLED_GSI2PK: &str = "DUNNING_ENABLED";
pub fn dunning_enabled_gsi2sk(org: &OrgId, account: &AccountId) -> String {
    format!("{org}#{account}")
}

/// The upper bound of a date-sorted index key for "on `day` or earlier": `~` sorts after every
/// character of the ids that follow the date.
pub fn dated_upto(up_to: NaiveDate) -> String {
    format!("{}#~", day(up_to))
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> OrgId {
        OrgId::parse("org_a").unwrap()
    }
    fn acc() -> AccountId {
        AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap()
    }

    #[test]
    fn the_account_partition_carries_the_organization() {
        assert_eq!(
            account_pk(&org(), &acc()),
            "ORG#org_a#ACCOUNT#acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"
        );
        assert_eq!(org_pk(&org()), "ORG#org_a");
        assert_eq!(
            legacy_ledger_pk(&acc()),
            "ACC#acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"
        );
        assert_ne!(account_pk(&org(), &acc()), org_pk(&org()));
        let key = KeyId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7f").unwrap();
        assert_eq!(
            integration_gsi2sk(&key, &acc()),
            "key_0192f0c4a1b27f3e8c1d2e3f4a5b6c7f#acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d"
        );
        assert_eq!(key_gsi1pk(&key), key_sk(&key));
    }

    #[test]
    fn only_mirror_items_sort_inside_the_mirror_sweep() {
        let inside = |sk: &str| (MIRROR_FIRST..=MIRROR_LAST).contains(&sk);
        let claim = ClaimId::invoice(1001).unwrap();
        let notice = NoticeId::new(
            CaseId::for_claim(&claim),
            crate::domain::collection::dunning::Step::Purring,
        );
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let letter = LetterId::of(
            &acc(),
            40001,
            crate::domain::collection::dunning::Step::Purring,
            d,
            &[&notice.case_id],
        );
        let others = [
            claim_sk(&claim),
            case_sk(&CaseId::for_claim(&claim)),
            DUNNING_POLICY_SK.to_string(),
            notice_sk(&notice),
            letter_sk(d, &letter),
            batch_sk(d),
            run_sk(d),
            legal_document_sk(
                &CaseId::for_claim(&claim),
                &LegalDocumentId::from_suffix("0123456789abcdef0123456789abcdef").unwrap(),
            ),
            SUMMARY_SK.to_string(),
            SYNC_REQUEST_SK.to_string(),
            CHECKPOINT_SK.to_string(),
            checkpoint_chunk_sk(3),
            voucher_sk(&claim, 1),
        ];
        for sk in &others {
            assert!(!inside(sk), "{sk} must sort outside the mirror sweep");
        }
        let mirror = [
            customer_sk(40001),
            item_sk("inv_80001"),
            item_sk("credit_7"),
            skip_sk(SkipReason::UnknownVoucherType, "item_\u{ffff}"),
            skip_sk(SkipReason::BeforeFetchFrom, "item_1"),
        ];
        for sk in &mirror {
            assert!(inside(sk), "{sk} must sort inside the mirror sweep");
        }
    }

    #[test]
    fn sort_keys_parse_back() {
        assert_eq!(customer_id_of(&customer_sk(40001)), Some("40001"));
        assert_eq!(item_id_of(&item_sk("inv_1")), Some("inv_1"));
        assert_eq!(item_id_of(&customer_sk(1)), None);
        assert_eq!(mail_key_of(&mail_pk("ready:int_1")), Some("ready:int_1"));
        assert_eq!(
            skip_sk(SkipReason::MissingDueDate, "item_7"),
            "SKIP#missing_due_date#item_7"
        );
        assert!(skip_sk(SkipReason::MissingDueDate, "x")
            .starts_with(&skip_prefix(SkipReason::MissingDueDate)));
        assert!(checkpoint_chunk_sk(0).starts_with(CHECKPOINT_SK));
    }

    #[test]
    fn dated_index_keys_sort_by_day_and_the_bound_includes_the_whole_day() {
        let claim = ClaimId::invoice(12).unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let sk = case_due_gsi2sk(d, &org(), &acc(), &claim);
        assert_eq!(
            sk,
            "2026-03-10#org_a#acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d#inv_12"
        );
        assert!(sk.as_str() <= dated_upto(d).as_str());
        assert!(sk.as_str() > dated_upto(d.pred_opt().unwrap()).as_str());
        let case = paused_case_gsi1sk(d, &org(), &acc(), &CaseId::for_claim(&claim));
        assert!(case.as_str() <= dated_upto(d).as_str());
    }

    #[test]
    fn dunning_keys_group_by_case_and_day() {
        use crate::domain::collection::dunning::Step;
        let case = CaseId::for_claim(&ClaimId::invoice(1).unwrap());
        let case10 = CaseId::for_claim(&ClaimId::invoice(10).unwrap());
        let n = NoticeId::new(case.clone(), Step::Inkassovarsel);
        assert_eq!(notice_sk(&n), "COLLECT#NOTICE#case_inv_1#inkassovarsel");
        assert!(notice_sk(&n).starts_with(&case_notices_prefix(&case)));
        assert!(!notice_sk(&NoticeId::new(case10, Step::Purring))
            .starts_with(&case_notices_prefix(&case)));
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let l = LetterId::of(&acc(), 7, Step::Purring, d, &[&case]);
        assert!(letter_sk(d, &l).starts_with(&letters_of_day_prefix(d)));
        assert!(!letter_sk(d.succ_opt().unwrap(), &l).starts_with(&letters_of_day_prefix(d)));
        for sk in [
            DUNNING_POLICY_SK.to_string(),
            notice_sk(&n),
            batch_sk(d),
            run_sk(d),
        ] {
            assert!(sk.starts_with(DUNNING_PREFIX));
        }
        assert_eq!(active_notice_gsi1sk(&n), "case_inv_1.inkassovarsel");
    }

    #[test]
    fn legal_keys_group_documents_by_case_and_notifications_by_account() {
        let case = CaseId::for_claim(&ClaimId::invoice(1).unwrap());
        let case10 = CaseId::for_claim(&ClaimId::invoice(10).unwrap());
        let doc = LegalDocumentId::from_suffix("0123456789abcdef0123456789abcdef").unwrap();
        let sk = legal_document_sk(&case, &doc);
        assert_eq!(
            sk,
            "COLLECT#LEGALDOC#case_inv_1#doc_0123456789abcdef0123456789abcdef"
        );
        assert!(sk.starts_with(&case_legal_documents_prefix(&case)));
        assert!(!sk.starts_with(&case_legal_documents_prefix(&case10)));
        let nsk = case_notification_sk(&acc(), "case_inv_1.legal-ready.utlegg.2026-07-01");
        assert!(nsk.starts_with(&case_notifications_prefix(&acc())));
        assert!(nsk.starts_with(CASE_NOTIFICATION_PREFIX));
        assert!(!nsk.starts_with(&ready_notice_sk(&acc())));
        assert_eq!(
            legal_digest_mail_key(&org(), NaiveDate::from_ymd_opt(2026, 7, 16).unwrap()),
            "legal-digest:org_a:2026-07-16"
        );
    }
}
