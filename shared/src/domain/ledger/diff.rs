//! Change detection: what to write and which events to send, given the mirror as it was.
//!
//! The mirror keeps, per record, the content hash of what was written ([`MirrorState`]). A record
//! whose hash is unchanged is not written again; an unchanged re-sync gives no writes and no
//! events. Events have deterministic idempotency keys, so regenerating them (a retried sync, a
//! sync that crashed between writing and sending) gives the same keys and the consumer drops the
//! duplicates:
//!
//! | Event | Key | When |
//! |---|---|---|
//! | [`LedgerEvent::ItemMirrored`] | `mirror:{itemId}:{factsHash}` (new), `mirror:{itemId}:{factsHash}:{contentHash}` (changed) | a claim (invoice or voucher item) is new in the mirror, or its facts (principal, dates, number, customer, the cross-check with Tripletex's figure) changed |
//! | [`LedgerEvent::Credit`] | `credit:{postingId}:{postingVersion}` | a credit on a mirrored item that the mirror has not seen in this version |
//! | [`LedgerEvent::ItemClosed`] | `closed:{itemId}:{contentHash}` | a mirrored item became closed (settled) |
//! | [`LedgerEvent::ItemOverdue`] | `overdue:{itemId}:{dueDate}` | an item became overdue (or its due date moved and it is overdue again) |
//! | [`LedgerEvent::ItemRemoved`] | `removed:{itemId}:{previousHash}` | a mirrored, not closed item is gone from a complete read (deleted in Tripletex, or now skipped) |
//!
//! The item's "version" in the closed key is its content hash: Tripletex's invoice version does
//! not change when a payment is posted, the content (credits, outstanding) does.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::build::LedgerBuild;
use super::hash::ContentHash;
use super::model::*;
use crate::domain::owed::CrossCheck;
use crate::domain::Money;

/// What the mirror holds about one item (enough to decide writes and events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemState {
    pub hash: ContentHash,
    pub customer_id: i64,
    pub status: ItemStatus,
    pub overdue: bool,
    pub due_date: Option<NaiveDate>,
    /// The hash of the claim facts (see [`ItemMirroredEvent`]).
    pub facts_hash: ContentHash,
    /// The idempotency keys of the item's credits as last written.
    pub credit_keys: BTreeSet<String>,
}

impl ItemState {
    pub fn of(item: &LedgerItem) -> Self {
        Self {
            hash: item.content_hash(),
            customer_id: item.customer_id,
            status: item.status,
            overdue: item.overdue,
            due_date: item.due_date,
            facts_hash: ClaimFacts::of(item).hash(),
            credit_keys: item.credits.iter().map(CreditLine::event_key).collect(),
        }
    }
}

/// The mirror of one integration as last written: hashes by record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorState {
    pub customers: BTreeMap<i64, ContentHash>,
    pub items: BTreeMap<String, ItemState>,
    /// Skip records by key.
    pub skipped: BTreeMap<String, ContentHash>,
}

impl MirrorState {
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty() && self.items.is_empty() && self.skipped.is_empty()
    }

    /// The state after the diff's writes succeeded.
    pub fn apply(&mut self, diff: &LedgerDiff) {
        for w in &diff.writes {
            match w {
                LedgerWrite::UpsertCustomer { customer, hash } => {
                    self.customers.insert(customer.id, *hash);
                }
                LedgerWrite::DeleteCustomer { id } => {
                    self.customers.remove(id);
                }
                LedgerWrite::UpsertItem { item, .. } => {
                    self.items.insert(item.id.clone(), ItemState::of(item));
                }
                LedgerWrite::DeleteItem { id } => {
                    self.items.remove(id);
                }
                LedgerWrite::UpsertSkip { skip, hash } => {
                    self.skipped.insert(skip.record.key.clone(), *hash);
                }
                LedgerWrite::DeleteSkip { key } => {
                    self.skipped.remove(key);
                }
            }
        }
    }
}

/// Whether the read covers everything (a full sync) or only part (records not read are kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completeness {
    /// Whatever the mirror has and the read lacks is gone: deleted.
    Full,
    /// Only what was read is compared; nothing is deleted.
    Partial,
}

/// One write to the mirror (the adapter turns it into a conditional DynamoDB write).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum LedgerWrite {
    UpsertCustomer {
        customer: MirroredCustomer,
        hash: ContentHash,
    },
    DeleteCustomer {
        id: i64,
    },
    UpsertItem {
        item: Box<LedgerItem>,
        hash: ContentHash,
    },
    DeleteItem {
        id: String,
    },
    UpsertSkip {
        skip: SkipRecord,
        hash: ContentHash,
    },
    DeleteSkip {
        key: String,
    },
}

/// The facts of a claim that the claim aggregate needs before any credit (`domain::claim`'s
/// `Mirror`): what was invoiced, to whom, when due, and whether Tripletex's figure disagrees with
/// the credits (then the claim is held for review).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimFacts {
    pub source: ItemSource,
    pub customer_id: i64,
    pub invoice_id: Option<i64>,
    pub invoice_number: Option<String>,
    pub voucher_id: Option<i64>,
    pub principal: Money,
    pub date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub due_date_estimated: bool,
    pub source_version: Option<i64>,
    /// The item's cross-check when Tripletex and the credits disagree. Left out when they agree,
    /// so the facts' hash (and the mirror event's key) of such an item is what it always was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_check: Option<CrossCheck>,
}

impl ClaimFacts {
    pub fn of(item: &LedgerItem) -> Self {
        Self {
            source: item.source,
            customer_id: item.customer_id,
            invoice_id: item.invoice_id,
            invoice_number: item.invoice_number.clone(),
            voucher_id: item.voucher_id,
            principal: item.principal,
            date: item.date,
            due_date: item.due_date,
            due_date_estimated: item.due_date_estimated,
            source_version: item.source_version,
            cross_check: item.cross_check,
        }
    }

    pub fn hash(&self) -> ContentHash {
        ContentHash::of(self)
    }
}

/// A claim is new in the mirror, or its facts changed. Sent before the claim's credit events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemMirroredEvent {
    pub key: String,
    pub item_id: String,
    pub facts: ClaimFacts,
}

/// A new or changed credit on the customer ledger, for the classifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditEvent {
    pub key: String,
    pub item_id: String,
    pub customer_id: i64,
    pub item_status: ItemStatus,
    /// Carries `evidence` (a `classify::CreditEvidence`) and the preliminary kind.
    pub credit: CreditLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemClosedEvent {
    pub key: String,
    pub item_id: String,
    pub customer_id: i64,
    pub previous_status: ItemStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemOverdueEvent {
    pub key: String,
    pub item_id: String,
    pub customer_id: i64,
    pub due_date: NaiveDate,
    pub due_date_estimated: bool,
    pub owed: Money,
    pub status: ItemStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRemovedEvent {
    pub key: String,
    pub item_id: String,
    pub customer_id: i64,
    pub previous_status: ItemStatus,
    /// Why it is no longer in the ledger, when it is now skipped (e.g. a setting changed).
    pub skip_reason: Option<SkipReason>,
}

/// A change that matters downstream; goes once onto the classification queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LedgerEvent {
    ItemMirrored(ItemMirroredEvent),
    Credit(Box<CreditEvent>),
    ItemClosed(ItemClosedEvent),
    ItemOverdue(ItemOverdueEvent),
    ItemRemoved(ItemRemovedEvent),
}

impl LedgerEvent {
    /// The deterministic idempotency key (also usable as an SQS FIFO deduplication id: ASCII,
    /// at most 128 characters for Tripletex ids).
    pub fn key(&self) -> &str {
        match self {
            LedgerEvent::ItemMirrored(e) => &e.key,
            LedgerEvent::Credit(e) => &e.key,
            LedgerEvent::ItemClosed(e) => &e.key,
            LedgerEvent::ItemOverdue(e) => &e.key,
            LedgerEvent::ItemRemoved(e) => &e.key,
        }
    }

    pub fn item_id(&self) -> &str {
        match self {
            LedgerEvent::ItemMirrored(e) => &e.item_id,
            LedgerEvent::Credit(e) => &e.item_id,
            LedgerEvent::ItemClosed(e) => &e.item_id,
            LedgerEvent::ItemOverdue(e) => &e.item_id,
            LedgerEvent::ItemRemoved(e) => &e.item_id,
        }
    }

    pub fn customer_id(&self) -> i64 {
        match self {
            LedgerEvent::ItemMirrored(e) => e.facts.customer_id,
            LedgerEvent::Credit(e) => e.customer_id,
            LedgerEvent::ItemClosed(e) => e.customer_id,
            LedgerEvent::ItemOverdue(e) => e.customer_id,
            LedgerEvent::ItemRemoved(e) => e.customer_id,
        }
    }
}

/// What one sync changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerDiff {
    pub writes: Vec<LedgerWrite>,
    pub events: Vec<LedgerEvent>,
}

impl LedgerDiff {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.events.is_empty()
    }
}

/// Compares the ledger as read now with the mirror as it was. Deterministic: writes and events
/// come in key order (customers, items, skips; events in item-id order).
pub fn diff(previous: &MirrorState, now: &LedgerBuild, completeness: Completeness) -> LedgerDiff {
    let mut out = LedgerDiff::default();
    let full = completeness == Completeness::Full;

    let mut seen_customers = BTreeSet::new();
    for c in &now.customers {
        seen_customers.insert(c.id);
        let hash = c.content_hash();
        if previous.customers.get(&c.id) != Some(&hash) {
            out.writes.push(LedgerWrite::UpsertCustomer {
                customer: c.clone(),
                hash,
            });
        }
    }
    if full {
        for id in previous.customers.keys() {
            if !seen_customers.contains(id) {
                out.writes.push(LedgerWrite::DeleteCustomer { id: *id });
            }
        }
    }

    let skip_reasons: BTreeMap<&str, SkipReason> = now
        .skipped
        .iter()
        .map(|s| (s.record.key.as_str(), s.reason))
        .collect();
    let mut seen_items = BTreeSet::new();
    for item in &now.items {
        seen_items.insert(item.id.as_str());
        let hash = item.content_hash();
        let prev = previous.items.get(&item.id);
        match prev {
            Some(p) if p.hash == hash => continue,
            // A closed item the mirror never had: history, not ledger.
            None if item.status == ItemStatus::Closed => continue,
            _ => {}
        }
        out.writes.push(LedgerWrite::UpsertItem {
            item: Box::new(item.clone()),
            hash,
        });
        item_events(prev, item, hash, &mut out.events);
    }
    if full {
        for (id, p) in &previous.items {
            if seen_items.contains(id.as_str()) {
                continue;
            }
            out.writes.push(LedgerWrite::DeleteItem { id: id.clone() });
            if p.status != ItemStatus::Closed {
                out.events.push(LedgerEvent::ItemRemoved(ItemRemovedEvent {
                    key: format!("removed:{id}:{}", p.hash),
                    item_id: id.clone(),
                    customer_id: p.customer_id,
                    previous_status: p.status,
                    skip_reason: skip_reasons.get(id.as_str()).copied(),
                }));
            }
        }
    }

    let mut seen_skips = BTreeSet::new();
    for s in &now.skipped {
        seen_skips.insert(s.record.key.as_str());
        let hash = s.content_hash();
        if previous.skipped.get(&s.record.key) != Some(&hash) {
            out.writes.push(LedgerWrite::UpsertSkip {
                skip: s.clone(),
                hash,
            });
        }
    }
    if full {
        for key in previous.skipped.keys() {
            if !seen_skips.contains(key.as_str()) {
                out.writes
                    .push(LedgerWrite::DeleteSkip { key: key.clone() });
            }
        }
    }
    out
}

fn item_events(
    prev: Option<&ItemState>,
    item: &LedgerItem,
    hash: ContentHash,
    events: &mut Vec<LedgerEvent>,
) {
    if item.source != ItemSource::Credit {
        let facts = ClaimFacts::of(item);
        let facts_hash = facts.hash();
        if prev.is_none_or(|p| p.facts_hash != facts_hash) {
            // On a change the item's content hash is in the key too: facts that return to an
            // earlier state (a cross-check that clears once Tripletex matches the voucher) must
            // not carry a key the claim applied before, or it would keep the stale facts.
            let key = match prev {
                None => format!("mirror:{}:{}", item.id, facts_hash),
                Some(_) => format!("mirror:{}:{}:{}", item.id, facts_hash, hash),
            };
            events.push(LedgerEvent::ItemMirrored(ItemMirroredEvent {
                key,
                item_id: item.id.clone(),
                facts,
            }));
        }
    }
    for c in &item.credits {
        let key = c.event_key();
        if prev.is_some_and(|p| p.credit_keys.contains(&key)) {
            continue;
        }
        events.push(LedgerEvent::Credit(Box::new(CreditEvent {
            key,
            item_id: item.id.clone(),
            customer_id: item.customer_id,
            item_status: item.status,
            credit: c.clone(),
        })));
    }
    if let Some(p) = prev {
        if item.status == ItemStatus::Closed && p.status != ItemStatus::Closed {
            events.push(LedgerEvent::ItemClosed(ItemClosedEvent {
                key: format!("closed:{}:{}", item.id, hash),
                item_id: item.id.clone(),
                customer_id: item.customer_id,
                previous_status: p.status,
            }));
        }
    }
    if let (true, Some(due)) = (item.overdue, item.due_date) {
        let newly = match prev {
            None => true,
            Some(p) => !p.overdue || p.due_date != item.due_date,
        };
        if newly {
            events.push(LedgerEvent::ItemOverdue(ItemOverdueEvent {
                key: format!("overdue:{}:{}", item.id, due),
                item_id: item.id.clone(),
                customer_id: item.customer_id,
                due_date: due,
                due_date_estimated: item.due_date_estimated,
                owed: item.owed,
                status: item.status,
            }));
        }
    }
}
