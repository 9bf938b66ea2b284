//! What a case knows for the legal steps: the debtor's objections (innsigelser) and their
//! assessment, the debtor's acknowledgements, the legal steps filed, and the notices about them
//! that must go out only once (the "legal steps may now be taken" notice, the limitation
//! warnings).
//!
//! - An objection is recorded with its text, the day it was received and the channel, by a user.
//!   From then on the claim gets no fee, no letter and no legal step (inkassoloven § 17 (2)) until
//!   a person assesses it: `groundless` with a written reason (the chain goes on, and the claim is
//!   disputed: it goes to the forliksråd, not to utlegg on § 7-2 f), or `justified` (the claim is
//!   closed or corrected by hand; once corrected, the chain may go on for what is left).
//! - An acknowledgement (erkjennelse: a promise to pay, a request for deferral) starts a new
//!   limitation period (foreldelsesloven § 14); a part payment does the same and comes from the
//!   claim's credits.
//! - A legal step filed (begjæring om utlegg or forliksklage) suspends limitation while it is
//!   pursued (§§ 15, 17). The user records it with the date; Inndrive files nothing itself.
//!
//! Every change is on the timeline with who did it.

use super::{check_actor, optional_text, required_text, Actor, Case, CaseError, CaseEvent};
use crate::domain::collection::legal::Route;
use crate::domain::collection::letters;
use crate::domain::collection::limitation::{Interruption, InterruptionKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How an objection reached the creditor.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectionChannel {
    Email,
    Letter,
    Phone,
    /// In person, at the creditor's office.
    InPerson,
    /// A reply through a portal or a web form.
    Portal,
    Other,
}

impl ObjectionChannel {
    pub const ALL: [ObjectionChannel; 6] = [
        ObjectionChannel::Email,
        ObjectionChannel::Letter,
        ObjectionChannel::Phone,
        ObjectionChannel::InPerson,
        ObjectionChannel::Portal,
        ObjectionChannel::Other,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ObjectionChannel::Email => "email",
            ObjectionChannel::Letter => "letter",
            ObjectionChannel::Phone => "phone",
            ObjectionChannel::InPerson => "inPerson",
            ObjectionChannel::Portal => "portal",
            ObjectionChannel::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<Self, CaseError> {
        Self::ALL
            .into_iter()
            .find(|c| c.key() == s)
            .ok_or_else(|| CaseError::UnknownChannel(s.to_string()))
    }

    /// As the attachments page names it.
    pub fn label_no(self) -> &'static str {
        match self {
            ObjectionChannel::Email => "e-post",
            ObjectionChannel::Letter => "brev",
            ObjectionChannel::Phone => "telefon",
            ObjectionChannel::InPerson => "personlig oppmøte",
            ObjectionChannel::Portal => "portal/nettskjema",
            ObjectionChannel::Other => "annet",
        }
    }
}

/// A person's assessment of an objection.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum ObjectionOutcome {
    /// Obviously groundless, with the written reason: the chain goes on; the claim is disputed.
    Groundless { reason: String },
    /// The debtor is right (in whole or in part): the claim is closed or corrected by hand.
    Justified { note: Option<String> },
}

impl ObjectionOutcome {
    pub const CODES: [&'static str; 2] = ["groundless", "justified"];

    /// From an HTTP body: `groundless` (a reason is required) or `justified` (a note may follow).
    pub fn parse(code: &str, text: Option<&str>) -> Result<Self, CaseError> {
        match code {
            "groundless" => Ok(ObjectionOutcome::Groundless {
                reason: required_text(text.unwrap_or(""), "reason")?,
            }),
            "justified" => Ok(ObjectionOutcome::Justified {
                note: optional_text(text, "reason")?,
            }),
            other => Err(CaseError::UnknownObjectionOutcome(other.to_string())),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ObjectionOutcome::Groundless { .. } => "groundless",
            ObjectionOutcome::Justified { .. } => "justified",
        }
    }
}

/// Who assessed an objection, when, and how.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    #[serde(flatten)]
    pub outcome: ObjectionOutcome,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// A justified objection the creditor has corrected the claim for.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Correction {
    pub note: String,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// The debtor's objection to the claim.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseObjection {
    /// 1, 2, … within the case.
    pub id: u32,
    /// What the debtor said (as received, or a user's summary of a phone call).
    pub text: String,
    /// The day the creditor received it.
    pub received_on: NaiveDate,
    pub channel: ObjectionChannel,
    pub recorded_by: Actor,
    pub recorded_at: DateTime<Utc>,
    #[serde(default)]
    pub assessment: Option<Assessment>,
    #[serde(default)]
    pub correction: Option<Correction>,
}

/// Where an objection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectionState {
    /// Not assessed yet: no fee, no letter, no legal step.
    Open,
    /// Assessed as obviously groundless: the chain goes on, the claim is disputed.
    Groundless,
    /// Assessed as justified and not corrected yet: still no fee, no letter, no legal step.
    Justified,
    /// Justified and corrected by hand: the chain may go on for what is left.
    Corrected,
}

impl CaseObjection {
    pub fn state(&self) -> ObjectionState {
        match (&self.assessment, &self.correction) {
            (None, _) => ObjectionState::Open,
            (Some(a), _) if matches!(a.outcome, ObjectionOutcome::Groundless { .. }) => {
                ObjectionState::Groundless
            }
            (Some(_), None) => ObjectionState::Justified,
            (Some(_), Some(_)) => ObjectionState::Corrected,
        }
    }

    /// Stops fees, letters and legal steps (open, or justified and not corrected).
    pub fn blocks(&self) -> bool {
        matches!(
            self.state(),
            ObjectionState::Open | ObjectionState::Justified
        )
    }
}

/// An acknowledgement of the debt by the debtor (erkjennelse: a promise to pay, a request for
/// deferral, an instalment agreement), recorded by a user.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledgement {
    pub on: NaiveDate,
    pub note: String,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// A legal step the creditor filed (as the user recorded it).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FiledLegalStep {
    pub route: Route,
    pub filed_on: NaiveDate,
    /// The drafted document that was filed, if it was drafted here.
    #[serde(default)]
    pub document_id: Option<String>,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

impl fmt::Display for ObjectionChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Case {
    /// Records the debtor's objection, received on `received_on` (not after `today`) by
    /// `channel`; returns its id. Any state: an objection to a closed case is kept too.
    pub fn record_objection(
        &mut self,
        text: &str,
        received_on: NaiveDate,
        channel: ObjectionChannel,
        by: Actor,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<u32, CaseError> {
        let text = required_text(text, "text")?;
        check_user(&by)?;
        if received_on > today {
            return Err(CaseError::DateInFuture {
                field: "receivedOn",
                date: received_on,
                today,
            });
        }
        let id = self.objections.len() as u32 + 1;
        self.objections.push(CaseObjection {
            id,
            text,
            received_on,
            channel,
            recorded_by: by.clone(),
            recorded_at: at,
            assessment: None,
            correction: None,
        });
        self.record(
            at,
            by,
            CaseEvent::ObjectionRecorded {
                objection_id: id,
                received_on,
                channel,
            },
        );
        Ok(id)
    }

    /// A person's assessment of objection `id` (assessed once; a new objection is a new record).
    pub fn assess_objection(
        &mut self,
        id: u32,
        outcome: ObjectionOutcome,
        by: Actor,
        at: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        check_user(&by)?;
        let outcome = match outcome {
            ObjectionOutcome::Groundless { reason } => ObjectionOutcome::Groundless {
                reason: required_text(&reason, "reason")?,
            },
            ObjectionOutcome::Justified { note } => ObjectionOutcome::Justified {
                note: optional_text(note.as_deref(), "reason")?,
            },
        };
        let o = self.objection_mut(id)?;
        if o.assessment.is_some() {
            return Err(CaseError::ObjectionAlreadyAssessed { id });
        }
        o.assessment = Some(Assessment {
            outcome: outcome.clone(),
            by: by.clone(),
            at,
        });
        self.record(
            at,
            by,
            CaseEvent::ObjectionAssessed {
                objection_id: id,
                outcome,
            },
        );
        Ok(())
    }

    /// The claim was corrected by hand for a justified objection: the chain may go on for what
    /// is left (the correction itself, a credit note, reaches the claim through the sync).
    pub fn objection_corrected(
        &mut self,
        id: u32,
        note: &str,
        by: Actor,
        at: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        let note = required_text(note, "note")?;
        check_user(&by)?;
        let o = self.objection_mut(id)?;
        if o.state() != ObjectionState::Justified {
            return Err(CaseError::ObjectionNotJustified { id });
        }
        o.correction = Some(Correction {
            note: note.clone(),
            by: by.clone(),
            at,
        });
        self.record(
            at,
            by,
            CaseEvent::ObjectionCorrected {
                objection_id: id,
                note,
            },
        );
        Ok(())
    }

    fn objection_mut(&mut self, id: u32) -> Result<&mut CaseObjection, CaseError> {
        self.objections
            .iter_mut()
            .find(|o| o.id == id)
            .ok_or(CaseError::ObjectionNotFound { id })
    }

    /// The objection that stops fees, letters and legal steps (the earliest open or justified
    /// one), if any.
    pub fn blocking_objection(&self) -> Option<&CaseObjection> {
        self.objections
            .iter()
            .filter(|o| o.blocks())
            .min_by_key(|o| (o.received_on, o.id))
    }

    /// The objection assessed as groundless that makes the claim disputed (the latest), if any.
    pub fn groundless_objection(&self) -> Option<&CaseObjection> {
        self.objections
            .iter()
            .filter(|o| o.state() == ObjectionState::Groundless)
            .max_by_key(|o| (o.received_on, o.id))
    }

    /// The claim is disputed: the debtor objected and a person found the objection groundless.
    /// A disputed claim goes to the forliksråd, not to utlegg on § 7-2 f.
    pub fn is_disputed(&self) -> bool {
        self.groundless_objection().is_some()
    }

    /// The objection as the rulebook and the planner read it: a blocking one first (letters
    /// and fees stop), else a resolved one (groundless or corrected: letters may go on).
    pub fn objection(&self) -> Option<letters::Objection> {
        if let Some(o) = self.blocking_objection() {
            return Some(letters::Objection {
                raised_on: o.received_on,
                obviously_groundless: false,
            });
        }
        self.objections
            .iter()
            .max_by_key(|o| (o.received_on, o.id))
            .map(|o| letters::Objection {
                raised_on: o.received_on,
                obviously_groundless: true,
            })
    }

    /// Records the debtor's acknowledgement of the debt on `on` (a new limitation period starts
    /// that day, foreldelsesloven § 14).
    pub fn record_acknowledgement(
        &mut self,
        on: NaiveDate,
        note: &str,
        by: Actor,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        let note = required_text(note, "note")?;
        check_user(&by)?;
        if on > today {
            return Err(CaseError::DateInFuture {
                field: "on",
                date: on,
                today,
            });
        }
        self.acknowledgements.push(Acknowledgement {
            on,
            note: note.clone(),
            by: by.clone(),
            at,
        });
        self.record(at, by, CaseEvent::DebtAcknowledged { on, note });
        Ok(())
    }

    /// Records that the creditor filed a legal step on `filed_on` (the user says so; Inndrive
    /// files nothing). From then the limitation clock knows a legal step is pending. One filed
    /// step per case.
    pub fn record_filed(
        &mut self,
        route: Route,
        filed_on: NaiveDate,
        document_id: Option<&str>,
        by: Actor,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        check_user(&by)?;
        if filed_on > today {
            return Err(CaseError::DateInFuture {
                field: "filedOn",
                date: filed_on,
                today,
            });
        }
        if let Some(f) = self.legal_steps.first() {
            return Err(CaseError::AlreadyFiled {
                route: f.route,
                filed_on: f.filed_on,
            });
        }
        let document_id = optional_text(document_id, "documentId")?;
        self.legal_steps.push(FiledLegalStep {
            route,
            filed_on,
            document_id: document_id.clone(),
            by: by.clone(),
            at,
        });
        self.record(
            at,
            by,
            CaseEvent::LegalStepFiled {
                route,
                filed_on,
                document_id,
            },
        );
        Ok(())
    }

    /// The legal step filed, if any.
    pub fn filed(&self) -> Option<&FiledLegalStep> {
        self.legal_steps.first()
    }

    /// The events on the case that interrupt limitation: acknowledgements (a new period) and a
    /// filed legal step (suspends it). The claim's part payments are the claim's.
    pub fn limitation_interruptions(&self) -> impl Iterator<Item = Interruption> + '_ {
        let acks = self.acknowledgements.iter().map(|a| Interruption {
            date: a.on,
            kind: InterruptionKind::Acknowledgement,
        });
        let filed = self.legal_steps.iter().map(|f| Interruption {
            date: f.filed_on,
            kind: InterruptionKind::LegalStep,
        });
        acks.chain(filed)
    }

    /// Records a notice that goes out once (its `key`): returns whether it is new. A notice
    /// already recorded leaves the case unchanged (the daily job runs again tomorrow).
    pub fn notify_once(&mut self, key: &str, event: CaseEvent, at: DateTime<Utc>) -> bool {
        if self.notified.contains(key) {
            return false;
        }
        self.notified.insert(key.to_string());
        self.record(at, Actor::System, event);
        true
    }

    /// Whether the notice with `key` went out.
    pub fn was_notified(&self, key: &str) -> bool {
        self.notified.contains(key)
    }
}

/// Objections, acknowledgements and filings are recorded by a person.
fn check_user(by: &Actor) -> Result<(), CaseError> {
    match by {
        Actor::System => Err(CaseError::AuthorRequired),
        Actor::User { .. } => check_actor(by),
    }
}
