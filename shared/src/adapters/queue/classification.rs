//! The FIFO classification queue: the changes one sync found, packed per customer group
//! ([`ClassificationBatch`], serialised as they are sent by [`BatchPacker`]) and sent with
//! SendMessageBatch ([`ClassificationQueue`]); and what the loss-classification worker accepts
//! ([`ClassificationBody`]).

use std::time::{Duration, Instant};

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};

use super::QueueError;
use crate::domain::setup::{AccountId, IntegrationId, OrgId};

/// One ledger event for the classifier, with the account it belongs to: the unit the
/// loss-classification worker handles (a [`ClassificationBatch`] is unpacked into these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassificationMessage {
    pub org: OrgId,
    pub account_id: AccountId,
    pub integration_id: IntegrationId,
    pub event: crate::domain::ledger::LedgerEvent,
}

/// Events in a message at most (bounds one message's work downstream).
pub const MAX_EVENTS_PER_BATCH: usize = 100;
/// Body bytes of one message at most (SQS allows 256 KiB; room is left for attributes).
pub const MAX_BATCH_BYTES: usize = 128 * 1024;
/// FIFO message groups per account: a customer's events always go to group
/// `customerId mod GROUPS_PER_ACCOUNT`.
pub const GROUPS_PER_ACCOUNT: i64 = 64;

/// The message group (0 … [`GROUPS_PER_ACCOUNT`] − 1) of a customer's events.
pub fn customer_group(customer_id: i64) -> u32 {
    customer_id.rem_euclid(GROUPS_PER_ACCOUNT) as u32
}

/// One message on the FIFO classification queue: changes one sync found, for the customers
/// (debtors) of one of the account's [`GROUPS_PER_ACCOUNT`] groups, each customer's events
/// together and in the order the sync found them (per claim: mirrored, credits, closed, overdue).
/// Ids only, never tokens.
///
/// - Message group `{accountId}#g{group}`, group = `customerId mod 64`: a customer's changes are
///   always in one group, so they are handled in order, across syncs too; 64 groups per account
///   are handled in parallel. The consumer is idempotent per event key and holds an event that
///   arrives before what it refers to, so order between groups does not matter.
/// - Deduplication id: SHA-256 (hex) of the event keys, so a retried sync that finds the same
///   changes sends the same message, and SQS drops the copy within its five minutes (after that
///   the consumer's per-event idempotency makes it a no-op).
/// - At most [`MAX_EVENTS_PER_BATCH`] events and [`MAX_BATCH_BYTES`] bytes a message; a group's
///   changes are split over as many messages as that takes, in order.
///
/// Why packed: the SDK's cost is per call, and SendMessageBatch takes 10 messages. 15 830 events
/// of the 100 000-posting benchmark are 160 messages in about 30 calls, not 15 830 messages in
/// 1 584 calls (docs/performance.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClassificationBatch {
    pub org: OrgId,
    pub account_id: AccountId,
    pub integration_id: IntegrationId,
    /// The message group within the account ([`customer_group`]).
    pub group: u32,
    pub events: Vec<crate::domain::ledger::LedgerEvent>,
}

/// A batch ready to send: its body, group and deduplication id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedBatch {
    pub body: String,
    pub group_id: String,
    pub deduplication_id: String,
    pub events: usize,
}

fn sha256_hex(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl ClassificationBatch {
    /// The FIFO message group: `{accountId}#g{group}`.
    pub fn message_group_id(&self) -> String {
        group_id(self.account_id.as_str(), self.group)
    }

    /// The deduplication id: SHA-256 (hex, 64 characters) of the event keys in order.
    pub fn deduplication_id(&self) -> String {
        let keys: Vec<&str> = self.events.iter().map(|e| e.key()).collect();
        sha256_hex(&keys)
    }

    /// The events as the worker handles them, one claim after another: the events of each claim
    /// (item) together, in their order, claims in the order they first appear.
    pub fn by_claim(&self) -> Vec<(&str, Vec<&crate::domain::ledger::LedgerEvent>)> {
        let mut out: Vec<(&str, Vec<&crate::domain::ledger::LedgerEvent>)> = Vec::new();
        let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for e in &self.events {
            match at.get(e.item_id()) {
                Some(&i) => out[i].1.push(e),
                None => {
                    at.insert(e.item_id(), out.len());
                    out.push((e.item_id(), vec![e]));
                }
            }
        }
        out
    }

    /// Packs a sync's events into messages: by group ([`customer_group`]; groups and, within a
    /// group, customers in order of first appearance, each customer's events together and in
    /// their order), split at [`MAX_EVENTS_PER_BATCH`] events or [`MAX_BATCH_BYTES`] bytes. Deterministic: the same events give the same bodies
    /// and deduplication ids. See [`BatchPacker`] to produce them one customer at a time.
    pub fn pack(
        org: &OrgId,
        account_id: &AccountId,
        integration_id: &IntegrationId,
        events: Vec<crate::domain::ledger::LedgerEvent>,
    ) -> Result<Vec<PackedBatch>, serde_json::Error> {
        BatchPacker::new(org, account_id, integration_id, events)?.collect()
    }
}

/// [`ClassificationBatch::pack`] as an iterator: a group's messages are serialised only when
/// they are asked for, so a sync holds the JSON of a few messages at a time, not of all of them.
pub struct BatchPacker {
    ids: String,
    account_id: String,
    /// Groups in order of first appearance.
    order: std::collections::VecDeque<u32>,
    /// Per group: its customers' events, each customer's together, customers in order of first
    /// appearance.
    by_group: std::collections::HashMap<u32, Vec<crate::domain::ledger::LedgerEvent>>,
    ready: std::collections::VecDeque<PackedBatch>,
}

impl BatchPacker {
    pub fn new(
        org: &OrgId,
        account_id: &AccountId,
        integration_id: &IntegrationId,
        events: Vec<crate::domain::ledger::LedgerEvent>,
    ) -> Result<Self, serde_json::Error> {
        use std::collections::HashMap;
        let mut customers: Vec<i64> = Vec::new();
        let mut by_customer: HashMap<i64, Vec<crate::domain::ledger::LedgerEvent>> = HashMap::new();
        for e in events {
            let c = e.customer_id();
            by_customer
                .entry(c)
                .or_insert_with(|| {
                    customers.push(c);
                    Vec::new()
                })
                .push(e);
        }
        let mut order = std::collections::VecDeque::new();
        let mut by_group: HashMap<u32, Vec<crate::domain::ledger::LedgerEvent>> = HashMap::new();
        for c in customers {
            let g = customer_group(c);
            by_group
                .entry(g)
                .or_insert_with(|| {
                    order.push_back(g);
                    Vec::new()
                })
                .extend(by_customer.remove(&c).unwrap_or_default());
        }
        // Each event is serialised once: its JSON both sizes the message and goes into its body
        // (the body is exactly `serde_json::to_string(&ClassificationBatch)`).
        let ids = format!(
            "{{\"org\":{},\"accountId\":{},\"integrationId\":{},\"group\":",
            serde_json::to_string(org)?,
            serde_json::to_string(account_id)?,
            serde_json::to_string(integration_id)?,
        );
        Ok(Self {
            ids,
            account_id: account_id.to_string(),
            order,
            by_group,
            ready: std::collections::VecDeque::new(),
        })
    }

    fn pack_group(&mut self, group: u32) -> Result<(), serde_json::Error> {
        let events = self.by_group.remove(&group).unwrap_or_default();
        let head = format!("{}{group},\"events\":[", self.ids);
        let group_id = group_id(&self.account_id, group);
        let mut body = head.clone();
        let mut keys: Vec<String> = Vec::new();
        for e in events {
            let json = serde_json::to_string(&e)?;
            if !keys.is_empty()
                && (keys.len() >= MAX_EVENTS_PER_BATCH
                    || body.len() + json.len() + 3 > MAX_BATCH_BYTES)
            {
                self.ready.push_back(finish(body, &group_id, &keys));
                body = head.clone();
                keys.clear();
            }
            if !keys.is_empty() {
                body.push(',');
            }
            body.push_str(&json);
            keys.push(e.key().to_string());
        }
        if !keys.is_empty() {
            self.ready.push_back(finish(body, &group_id, &keys));
        }
        Ok(())
    }
}

impl Iterator for BatchPacker {
    type Item = Result<PackedBatch, serde_json::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.ready.is_empty() {
            let group = self.order.pop_front()?;
            if let Err(e) = self.pack_group(group) {
                return Some(Err(e));
            }
        }
        self.ready.pop_front().map(Ok)
    }
}

fn group_id(account_id: &str, group: u32) -> String {
    format!("{account_id}#g{group}")
}

fn finish(mut body: String, group_id: &str, keys: &[String]) -> PackedBatch {
    body.push_str("]}");
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    PackedBatch {
        body,
        group_id: group_id.to_string(),
        deduplication_id: sha256_hex(&keys),
        events: keys.len(),
    }
}

/// What the classification worker accepts: a batch (what the sync sends), or a single event (the
/// format before batches, still accepted so that messages in flight during a deploy are handled).
#[derive(Debug, Clone, PartialEq)]
pub enum ClassificationBody {
    Batch(ClassificationBatch),
    Single(ClassificationMessage),
}

impl ClassificationBody {
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str::<ClassificationBatch>(body) {
            Ok(b) => Ok(Self::Batch(b)),
            Err(batch_error) => match serde_json::from_str::<ClassificationMessage>(body) {
                Ok(m) => Ok(Self::Single(m)),
                Err(_) => Err(batch_error),
            },
        }
    }
}

// ------------------------------------------------------------------ sending

/// Bytes of one SendMessageBatch call at most (the sum of its bodies; SQS: 256 KiB).
const MAX_CALL_BYTES: usize = 256 * 1024 - 4 * 1024;

/// Messages of one SendMessageBatch call at most (SQS).
const MAX_CALL_MESSAGES: usize = 10;

/// What [`ClassificationQueue::send_all`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// SendMessageBatch calls (a retried call counts again).
    pub calls: u32,
    pub messages: u32,
    /// Time spent in the calls and in the pauses before a retry.
    pub waited: Duration,
}

/// The classification queue (FIFO): a sync's events packed per customer group.
#[derive(Debug, Clone)]
pub struct ClassificationQueue {
    client: Client,
    url: String,
}

impl ClassificationQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends the messages with SendMessageBatch (up to 10 and `MAX_CALL_BYTES` a call), in
    /// order, taking them from `messages` as it goes (only one call's worth of JSON is held).
    /// Entries SQS could not take (its fault) are sent again after a pause (bounded), before the
    /// next call; entries it refused (ours) fail the send.
    pub async fn send_all<I>(&self, messages: I) -> Result<Sent, QueueError>
    where
        I: IntoIterator<Item = Result<PackedBatch, serde_json::Error>>,
    {
        let mut sent = Sent::default();
        let mut source = messages.into_iter().peekable();
        loop {
            let mut chunk: Vec<PackedBatch> = Vec::with_capacity(MAX_CALL_MESSAGES);
            let mut bytes = 0;
            while chunk.len() < MAX_CALL_MESSAGES {
                let fits = match source.peek() {
                    None => false,
                    Some(Err(_)) => true,
                    Some(Ok(m)) => chunk.is_empty() || bytes + m.body.len() <= MAX_CALL_BYTES,
                };
                if !fits {
                    break;
                }
                match source.next() {
                    Some(Ok(m)) => {
                        bytes += m.body.len();
                        chunk.push(m);
                    }
                    Some(Err(e)) => {
                        return Err(QueueError::Serialise(format!("the events: {e}")));
                    }
                    None => break,
                }
            }
            if chunk.is_empty() {
                break;
            }
            sent.messages += chunk.len() as u32;
            let mut attempts = 0u32;
            loop {
                let (waited, failed) = self.send_batch(&chunk).await?;
                sent.calls += 1;
                sent.waited += waited;
                if failed.is_empty() {
                    break;
                }
                attempts += 1;
                if attempts > 4 {
                    return Err(QueueError::Service(format!(
                        "{} messages still failing after {attempts} attempts",
                        failed.len()
                    )));
                }
                let delay = Duration::from_millis(100 << attempts);
                tokio::time::sleep(delay).await;
                sent.waited += delay;
                chunk = failed;
            }
        }
        Ok(sent)
    }

    /// One SendMessageBatch call: (time waited, the entries to send again).
    async fn send_batch(
        &self,
        chunk: &[PackedBatch],
    ) -> Result<(Duration, Vec<PackedBatch>), QueueError> {
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, m) in chunk.iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body.clone())
                    .message_group_id(&m.group_id)
                    .message_deduplication_id(&m.deduplication_id)
                    .build()
                    .map_err(|e| QueueError::Service(e.to_string()))?,
            );
        }
        let started = Instant::now();
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await;
        let waited = started.elapsed();
        let mut again = Vec::new();
        match out {
            Ok(o) => {
                for f in o.failed() {
                    if let Some(m) = f.id().parse::<usize>().ok().and_then(|i| chunk.get(i)) {
                        if f.sender_fault() {
                            return Err(QueueError::Service(format!(
                                "message {} (group {}) refused: {}",
                                m.deduplication_id,
                                m.group_id,
                                f.message().unwrap_or_default()
                            )));
                        }
                        again.push(m.clone());
                    }
                }
            }
            Err(e) => {
                let text = DisplayErrorContext(&e).to_string();
                tracing::warn!(error = %text, "SendMessageBatch failed; sent again");
                again.extend(chunk.iter().cloned());
            }
        }
        Ok((waited, again))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (OrgId, AccountId, IntegrationId) {
        (
            OrgId::parse("org_a").unwrap(),
            AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap(),
            IntegrationId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7e").unwrap(),
        )
    }

    fn overdue(item: &str, customer: i64, n: u32) -> crate::domain::ledger::LedgerEvent {
        use crate::domain::ledger::{ItemOverdueEvent, ItemStatus, LedgerEvent};
        LedgerEvent::ItemOverdue(ItemOverdueEvent {
            key: format!("overdue:{item}:{n}"),
            item_id: item.to_string(),
            customer_id: customer,
            due_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            due_date_estimated: false,
            owed: crate::domain::Money::ZERO,
            status: ItemStatus::Open,
        })
    }

    fn pack(events: Vec<crate::domain::ledger::LedgerEvent>) -> Vec<PackedBatch> {
        let (org, account, integration) = ids();
        ClassificationBatch::pack(&org, &account, &integration, events).unwrap()
    }

    fn batch(p: &PackedBatch) -> ClassificationBatch {
        match ClassificationBody::parse(&p.body).unwrap() {
            ClassificationBody::Batch(b) => b,
            other => panic!("not a batch: {other:?}"),
        }
    }

    #[test]
    fn events_are_packed_by_customer_group_each_customer_together_in_order() {
        // Customers 7 and 71 share group 7 (71 mod 64); customer 8 is in group 8.
        let events = vec![
            overdue("inv_1", 7, 1),
            overdue("inv_2", 8, 1),
            overdue("inv_4", 71, 1),
            overdue("inv_1", 7, 2),
            overdue("inv_3", 7, 1),
        ];
        let packed = pack(events.clone());
        assert_eq!(packed.len(), 2);
        let (a, b) = (batch(&packed[0]), batch(&packed[1]));
        assert_eq!((a.group, b.group), (7, 8));
        // Customer 7's events together and in order, then customer 71's.
        assert_eq!(
            a.events.iter().map(|e| e.key()).collect::<Vec<_>>(),
            vec![
                "overdue:inv_1:1",
                "overdue:inv_1:2",
                "overdue:inv_3:1",
                "overdue:inv_4:1"
            ]
        );
        assert_eq!(b.events, vec![events[1].clone()]);
        assert_eq!(
            packed[0].group_id,
            "acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d#g7"
        );
        assert_eq!(packed[0].events, 4);
        for p in &packed {
            let b = batch(p);
            assert_eq!(b.message_group_id(), p.group_id);
            assert_eq!(b.deduplication_id(), p.deduplication_id);
            assert_eq!(serde_json::to_string(&b).unwrap(), p.body);
            assert!(b
                .events
                .iter()
                .all(|e| customer_group(e.customer_id()) == b.group));
        }
        // Claims of a message: each claim's events together, in order.
        let claims: Vec<(&str, usize)> = a.by_claim().iter().map(|(c, e)| (*c, e.len())).collect();
        assert_eq!(claims, vec![("inv_1", 2), ("inv_3", 1), ("inv_4", 1)]);
        // Deterministic: the same events give the same messages; other events another id.
        assert_eq!(pack(events.clone()), packed);
        assert_eq!(packed[0].deduplication_id.len(), 64);
        let mut changed = events;
        changed[4] = overdue("inv_3", 7, 9);
        assert_ne!(
            pack(changed)[0].deduplication_id,
            packed[0].deduplication_id
        );
        assert!(pack(Vec::new()).is_empty());
        // Groups are stable and never negative.
        assert_eq!(customer_group(-1), 63);
        assert_eq!(customer_group(64), 0);
    }

    #[test]
    fn a_customer_with_many_changes_is_split_within_its_group() {
        let events: Vec<_> = (0..(MAX_EVENTS_PER_BATCH as u32 * 2 + 5))
            .map(|n| overdue(&format!("inv_{n}"), 7, n))
            .collect();
        let packed = pack(events.clone());
        assert_eq!(
            packed.iter().map(|p| p.events).collect::<Vec<_>>(),
            vec![MAX_EVENTS_PER_BATCH, MAX_EVENTS_PER_BATCH, 5]
        );
        assert!(packed.iter().all(|p| p.group_id == packed[0].group_id));
        let back: Vec<_> = packed.iter().flat_map(|p| batch(p).events).collect();
        assert_eq!(back, events, "nothing lost, order kept");
        // By size: long keys make the bytes, not the count, cut the message.
        let big: Vec<_> = (0..60)
            .map(|n| overdue(&format!("inv_{n}_{}", "x".repeat(4000)), 9, n))
            .collect();
        let packed = pack(big.clone());
        assert!(packed.len() > 1);
        assert!(
            packed.iter().all(|p| p.body.len() <= MAX_BATCH_BYTES),
            "bytes"
        );
        let back: Vec<_> = packed.iter().flat_map(|p| batch(p).events).collect();
        assert_eq!(back, big);
    }

    #[test]
    fn the_worker_still_reads_a_single_event_message() {
        let (org, account_id, integration_id) = ids();
        let single = ClassificationMessage {
            org,
            account_id,
            integration_id,
            event: overdue("inv_1", 7, 1),
        };
        let body = serde_json::to_string(&single).unwrap();
        assert_eq!(
            ClassificationBody::parse(&body).unwrap(),
            ClassificationBody::Single(single)
        );
        let err = ClassificationBody::parse("{\"org\": 1}").unwrap_err();
        assert!(!err.to_string().is_empty());
    }
}
