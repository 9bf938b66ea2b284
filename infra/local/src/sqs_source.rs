//! The SQS event source mapping: poll a queue, invoke the function with an `SqsEvent`, delete what
//! succeeded, make the rest visible again after a short local retry delay.
//!
//! For redelivery tests, [`Delivery::Storm`] hands every message over several times, in a
//! seeded order within what the queue allows (a standard queue: any; a FIFO queue: a group's
//! messages in their order, each message's copies before the group's next message, the groups
//! interleaved): SQS's at-least-once delivery at its worst.
//!
//! Redrive to the dead-letter queue is moto's (5.2.5 moves a message whose ApproximateReceiveCount has
//! reached the queue's `maxReceiveCount` to the DLQ at the next ReceiveMessage, as SQS does); the runner
//! does not move messages itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName,
};
use axum::body::Bytes;
use base64::Engine;
use serde_json::{json, Map, Value as Json};
use tokio::sync::watch;

use crate::runtime::{FunctionRunner, InvokeError, LogSink};
use crate::template::{SqsSourceDef, REGION};

/// How an event source hands the messages it receives to its function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Each message once per receive (SQS's usual case).
    #[default]
    Once,
    /// Each message `copies` times, in an order drawn from `seed` within what the queue allows,
    /// over as many invocations of at most BatchSize records as it takes. A message is deleted
    /// once every copy succeeded; a failed copy makes it visible again (and, on a FIFO queue,
    /// holds back its group's later messages, as Lambda does).
    Storm { copies: u32, seed: u64 },
}

/// The delivery mode of a stack's event sources (changed at run time) and what they delivered.
#[derive(Debug, Default)]
pub struct DeliveryControl {
    mode: Mutex<Delivery>,
    /// Records handed to functions, and of those the extra copies a storm added.
    delivered: AtomicU64,
    duplicates: AtomicU64,
}

impl DeliveryControl {
    pub fn set(&self, mode: Delivery) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }
    pub fn mode(&self) -> Delivery {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// (records delivered, of which extra copies) since the stack started.
    pub fn delivered(&self) -> (u64, u64) {
        (
            self.delivered.load(Ordering::Relaxed),
            self.duplicates.load(Ordering::Relaxed),
        )
    }
}

/// The order a storm hands `groups` over in: message indices, each `copies` times. `groups[i]` is
/// message i's FIFO group (None: a standard queue, where any order goes).
fn storm_order(groups: &[Option<String>], copies: u32, rng: &mut crate::rng::Rng) -> Vec<usize> {
    let copies = copies.max(1) as usize;
    if groups.iter().all(Option::is_none) {
        let mut all: Vec<usize> = (0..groups.len())
            .flat_map(|i| std::iter::repeat_n(i, copies))
            .collect();
        for i in (1..all.len()).rev() {
            all.swap(i, rng.below(i + 1));
        }
        return all;
    }
    // FIFO: per group its messages in order, each message's copies together; then the groups
    // interleaved at random.
    let mut lanes: BTreeMap<&str, std::collections::VecDeque<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        lanes
            .entry(g.as_deref().unwrap_or_default())
            .or_default()
            .extend(std::iter::repeat_n(i, copies));
    }
    let mut lanes: Vec<_> = lanes.into_values().collect();
    let mut out = Vec::with_capacity(groups.len() * copies);
    while !lanes.is_empty() {
        let l = rng.below(lanes.len());
        if let Some(i) = lanes[l].pop_front() {
            out.push(i);
        }
        if lanes[l].is_empty() {
            lanes.remove(l);
        }
    }
    out
}

/// The `SqsEvent` Lambda sends for these messages.
pub fn build_event(messages: &[Message], queue_arn: &str, region: &str) -> Json {
    let records: Vec<Json> = messages
        .iter()
        .map(|m| {
            let mut attributes = Map::new();
            if let Some(a) = m.attributes() {
                for (k, v) in a {
                    attributes.insert(k.as_str().to_string(), Json::String(v.clone()));
                }
            }
            let mut message_attributes = Map::new();
            if let Some(a) = m.message_attributes() {
                for (k, v) in a {
                    let b64 = |b: &aws_smithy_types::Blob| {
                        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
                    };
                    let mut o = Map::new();
                    if let Some(s) = v.string_value() {
                        o.insert("stringValue".into(), json!(s));
                    }
                    if let Some(b) = v.binary_value() {
                        o.insert("binaryValue".into(), json!(b64(b)));
                    }
                    o.insert("stringListValues".into(), json!(v.string_list_values()));
                    o.insert(
                        "binaryListValues".into(),
                        json!(v.binary_list_values().iter().map(b64).collect::<Vec<_>>()),
                    );
                    o.insert("dataType".into(), json!(v.data_type()));
                    message_attributes.insert(k.clone(), Json::Object(o));
                }
            }
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Which message ids to delete after an invocation, as Lambda decides it.
///
/// * invocation failed (error, timeout, crash): none;
/// * without ReportBatchItemFailures: all;
/// * with it: all but the listed `itemIdentifier`s; an empty/null/unknown identifier or a response
///   that is not valid JSON fails the whole batch; an empty or null response/list is full success.
pub fn ids_to_delete(
    batch_ids: &[String],
    outcome: &Result<Bytes, InvokeError>,
    report_batch_item_failures: bool,
) -> Vec<String> {
    let body = match outcome {
        Ok(b) => b,
        Err(_) => return vec![],
    };
    if !report_batch_item_failures {
        return batch_ids.to_vec();
    }
    let trimmed = String::from_utf8_lossy(body);
    if trimmed.trim().is_empty() {
        return batch_ids.to_vec();
    }
    let v: Json = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return vec![],
    };
    let failures = match v.get("batchItemFailures") {
        None | Some(Json::Null) => return batch_ids.to_vec(),
        Some(Json::Array(a)) => a,
        Some(_) => return vec![],
    };
    let mut failed = std::collections::BTreeSet::new();
    for f in failures {
        match f.get("itemIdentifier").and_then(Json::as_str) {
            Some(id) if !id.is_empty() && batch_ids.iter().any(|b| b == id) => {
                failed.insert(id.to_string());
            }
            _ => return vec![],
        }
    }
    batch_ids
        .iter()
        .filter(|id| !failed.contains(*id))
        .cloned()
        .collect()
}

/// Runs one SQS event source mapping until `stop` turns true.
#[allow(clippy::too_many_arguments)]
pub async fn run_poller(
    runner: Arc<FunctionRunner>,
    source: SqsSourceDef,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
    retry_delay: Duration,
    logs: Arc<LogSink>,
    delivery: Arc<DeliveryControl>,
    mut stop: watch::Receiver<bool>,
) {
    let prefix = format!("{}/{}", runner.def.logical_id, source.event_name);
    let batch_size = source.batch_size.clamp(1, 10) as i32;
    let mut storm_rng: Option<(u64, crate::rng::Rng)> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let received = tokio::select! {
            r = receive(&sqs, &queue_url, batch_size, 1) => r,
            _ = crate::runtime::stopped(&mut stop) => return,
        };
        let mut messages: Vec<Message> = match received {
            Ok(m) => m,
            Err(e) => {
                logs.push(format!("[{prefix}] ReceiveMessage failed: {e}"));
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = crate::runtime::stopped(&mut stop) => return,
                }
            }
        };
        if messages.is_empty() {
            continue;
        }
        // Batching window: gather up to BatchSize within MaximumBatchingWindowInSeconds.
        let window_end = Instant::now() + source.batching_window;
        while (messages.len() as i32) < batch_size && Instant::now() < window_end {
            let wait = (window_end - Instant::now()).as_secs().clamp(0, 1) as i32;
            match receive(&sqs, &queue_url, batch_size - messages.len() as i32, wait).await {
                Ok(more) => messages.extend(more),
                Err(_) => break,
            }
            if wait == 0 {
                break;
            }
        }
        // The invocations this receive makes: message indices, in the delivery mode's order.
        let invocations: Vec<Vec<usize>> = match delivery.mode() {
            Delivery::Once => vec![(0..messages.len()).collect()],
            Delivery::Storm { copies, seed } => {
                let rng = match &mut storm_rng {
                    Some((s, rng)) if *s == seed => rng,
                    other => {
                        // Each source its own sequence: the seed and the queue.
                        let salt = queue_url
                            .bytes()
                            .fold(seed, |h, b| h.rotate_left(5) ^ u64::from(b));
                        &mut other.insert((seed, crate::rng::Rng::seeded(salt))).1
                    }
                };
                let groups: Vec<Option<String>> = messages
                    .iter()
                    .map(|m| {
                        m.attributes()
                            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                            .cloned()
                    })
                    .collect();
                storm_order(&groups, copies, rng)
                    .chunks(batch_size as usize)
                    .map(<[usize]>::to_vec)
                    .collect()
            }
        };
        let fifo = messages.iter().any(|m| {
            m.attributes()
                .is_some_and(|a| a.contains_key(&MessageSystemAttributeName::MessageGroupId))
        });
        let group_of = |i: usize| {
            messages[i]
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned()
                .unwrap_or_default()
        };
        let mut failed: BTreeSet<usize> = BTreeSet::new();
        let mut failed_groups: BTreeSet<String> = BTreeSet::new();
        let mut handed: BTreeSet<usize> = BTreeSet::new();
        for planned in invocations {
            // A failed message is not handed over again in this receive; on a FIFO queue neither
            // are its group's later messages (they wait for it).
            let batch: Vec<usize> = planned
                .into_iter()
                .filter(|&i| {
                    !failed.contains(&i) && !(fifo && failed_groups.contains(&group_of(i)))
                })
                .collect();
            if batch.is_empty() {
                continue;
            }
            let records: Vec<Message> = batch.iter().map(|&i| messages[i].clone()).collect();
            let event = build_event(&records, &source.queue_arn, REGION);
            let ids: Vec<String> = records
                .iter()
                .filter_map(|m| m.message_id().map(str::to_string))
                .collect();
            let payload = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
            let again = batch.iter().filter(|&&i| !handed.insert(i)).count() as u64;
            delivery
                .delivered
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            delivery.duplicates.fetch_add(again, Ordering::Relaxed);
            let outcome = runner.invoke(payload).await;
            if let Err(e) = &outcome {
                logs.push(format!(
                    "[{prefix}] invocation with {} record(s) failed: {e}",
                    ids.len()
                ));
            }
            let succeeded = ids_to_delete(&ids, &outcome, source.report_batch_item_failures);
            for &i in &batch {
                if !messages[i]
                    .message_id()
                    .is_some_and(|id| succeeded.iter().any(|s| s == id))
                {
                    failed.insert(i);
                    if fifo {
                        failed_groups.insert(group_of(i));
                    }
                }
            }
        }
        // Deleted: every message handed over whose every copy succeeded. Visible again: the
        // rest (failed, or held back behind a failed message of its group).
        let delete: Vec<String> = messages
            .iter()
            .enumerate()
            .filter(|(i, _)| handed.contains(i) && !failed.contains(i))
            .filter_map(|(_, m)| m.message_id().map(str::to_string))
            .collect();
        let mut del_entries = Vec::new();
        let mut retry_entries = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let (Some(id), Some(rh)) = (m.message_id(), m.receipt_handle()) else {
                continue;
            };
            if delete.iter().any(|d| d == id) {
                del_entries.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(rh)
                        .build(),
                );
            } else {
                retry_entries.push(
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(rh)
                        .visibility_timeout(retry_delay.as_secs() as i32)
                        .build(),
                );
            }
        }
        if !del_entries.is_empty() {
            let entries: Vec<_> = del_entries.into_iter().filter_map(Result::ok).collect();
            if let Err(e) = sqs
                .delete_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                logs.push(format!("[{prefix}] DeleteMessageBatch failed: {e}"));
            }
        }
        if !retry_entries.is_empty() {
            logs.push(format!(
                "[{prefix}] {} record(s) failed; visible again in {:?}",
                retry_entries.len(),
                retry_delay
            ));
            let entries: Vec<_> = retry_entries.into_iter().filter_map(Result::ok).collect();
            if let Err(e) = sqs
                .change_message_visibility_batch()
                .queue_url(&queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                logs.push(format!(
                    "[{prefix}] ChangeMessageVisibilityBatch failed: {e}"
                ));
            }
        }
    }
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    max: i32,
    wait_seconds: i32,
) -> anyhow::Result<Vec<Message>> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(max.clamp(1, 10))
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await?;
    Ok(out.messages.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }
    fn ok(s: &str) -> Result<Bytes, InvokeError> {
        Ok(Bytes::from(s.to_string()))
    }

    #[test]
    fn deletes_all_but_reported_failures() {
        let r = ids_to_delete(
            &ids(),
            &ok(r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#),
            true,
        );
        assert_eq!(r, vec!["a", "c"]);
    }

    #[test]
    fn success_shapes_delete_everything() {
        for body in [
            "",
            "null",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(ids_to_delete(&ids(), &ok(body), true), ids(), "{body:?}");
        }
    }

    #[test]
    fn bad_identifiers_fail_the_whole_batch() {
        for body in [
            r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"id":"a"}]}"#,
            "not json",
        ] {
            assert!(
                ids_to_delete(&ids(), &ok(body), true).is_empty(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn without_report_batch_item_failures_all_are_deleted() {
        let r = ids_to_delete(
            &ids(),
            &ok(r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#),
            false,
        );
        assert_eq!(r, ids());
    }

    fn order(groups: &[Option<&str>], seed: u64) -> Vec<usize> {
        let groups: Vec<Option<String>> = groups.iter().map(|g| g.map(str::to_string)).collect();
        storm_order(&groups, 3, &mut crate::rng::Rng::seeded(seed))
    }

    #[test]
    fn a_storm_on_a_standard_queue_delivers_each_message_thrice_in_any_order() {
        let o = order(&[None, None, None, None], 5);
        let mut sorted = o.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        assert_ne!(o, sorted, "shuffled");
        assert_eq!(o, order(&[None, None, None, None], 5), "the seed decides");
    }

    #[test]
    fn a_storm_on_a_fifo_queue_keeps_each_group_in_order() {
        let groups = [Some("a"), Some("b"), Some("a"), Some("b"), Some("a")];
        for seed in 0..20 {
            let o = order(&groups, seed);
            assert_eq!(o.len(), 15);
            for g in ["a", "b"] {
                let lane: Vec<usize> = o
                    .iter()
                    .copied()
                    .filter(|&i| groups[i] == Some(g))
                    .collect();
                let mut expected: Vec<usize> = (0..groups.len())
                    .filter(|&i| groups[i] == Some(g))
                    .flat_map(|i| [i, i, i])
                    .collect();
                expected.sort();
                assert_eq!(lane, expected, "group {g}, seed {seed}: {o:?}");
            }
        }
        assert_ne!(
            order(&groups, 1),
            order(&groups, 2),
            "groups interleave by seed"
        );
    }

    #[test]
    fn invocation_errors_delete_nothing() {
        for e in [
            InvokeError::Timeout(Duration::from_secs(1)),
            InvokeError::Crashed("signal 6".into()),
            InvokeError::Function {
                error_type: "x".into(),
                error_message: "y".into(),
            },
        ] {
            assert!(ids_to_delete(&ids(), &Err(e), true).is_empty());
            assert!(ids_to_delete(&ids(), &Err(InvokeError::Stopped), false).is_empty());
        }
    }

    #[test]
    fn event_matches_lambda_shape_and_deserializes() {
        use aws_sdk_sqs::types::MessageAttributeValue;
        let m = Message::builder()
            .message_id("id-1")
            .receipt_handle("rh-1")
            .body("hello")
            .md5_of_body("5d41402abc4b2a76b9719d911017c592")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .attributes(MessageSystemAttributeName::MessageGroupId, "g1")
            .message_attributes(
                "kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("sync")
                    .build()
                    .unwrap(),
            )
            .build();
        let ev = build_event(&[m], "arn:aws:sqs:eu-north-1:123456789012:q", "eu-north-1");
        let r = &ev["Records"][0];
        assert_eq!(r["eventSource"], "aws:sqs");
        assert_eq!(r["eventSourceARN"], "arn:aws:sqs:eu-north-1:123456789012:q");
        assert_eq!(r["attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(r["messageAttributes"]["kind"]["stringValue"], "sync");
        let parsed: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(ev).unwrap();
        let rec = &parsed.records[0];
        assert_eq!(rec.message_id.as_deref(), Some("id-1"));
        assert_eq!(rec.body.as_deref(), Some("hello"));
        assert_eq!(rec.attributes["MessageGroupId"], "g1");
        assert_eq!(
            rec.message_attributes["kind"].string_value.as_deref(),
            Some("sync")
        );
        assert_eq!(rec.aws_region.as_deref(), Some("eu-north-1"));
    }
}
