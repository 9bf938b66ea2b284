//! The dunning policy: per account, which steps are sent, when, with which deadline and fee, and
//! how. Editable any time (`GET/PUT /v1/accounts/{id}/dunning-policy`); the planner reads it on
//! every run.
//!
//! Timing: the first active step is due `daysAfter` days after the claim's due date (moved to a
//! business day); each later step `daysAfter` days after the previous letter's deadline, which
//! counts from that letter's real send date. [`DunningPolicy::validate`] returns every violation
//! at once, each naming its JSON field and the legal rule (see `docs/dunning.md`).

use super::customer::{is_deliverable, is_valid_email};
use super::{Channel, Sender, Step};
use crate::domain::collection::legal::policy::LegalStepsPolicy;
use crate::domain::collection::rulebook::Rulebook;
use crate::domain::money::Money;
use serde::{Deserialize, Serialize, Serializer};

/// The longest `daysAfter` or `deadlineDays` accepted: a product limit (a year), not a legal one.
pub const MAX_DAYS: u16 = 365;

/// The shortest deadline a påminnelse may give: a real chance to pay before the next step.
pub const MIN_PAMINNELSE_DEADLINE_DAYS: u16 = 1;

/// Whether the day's notices go out by themselves or wait for a user's approval.
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Automatic,
    /// The day's notices wait in a batch a user approves.
    Approve,
}

/// "The whole reminder run, or only payment demands".
#[derive(
    utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    /// Every enabled step, in chain order.
    #[default]
    Full,
    /// Only the betalingsoppfordring (the other steps' settings are kept but not used). The
    /// preceding purring or inkassovarsel must come from elsewhere (Tripletex's own reminders);
    /// without one on record the planner holds (`no_prior_notice`).
    OnlyBetalingsoppfordring,
}

/// One step's settings.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepPolicy {
    pub enabled: bool,
    /// First active step: days after the (business-day) due date; later steps: days after the
    /// previous letter's deadline.
    pub days_after: u16,
    /// The payment deadline the letter gives, in days from its real send date.
    pub deadline_days: u16,
    /// Claim the statutory fee when the law allows it on the send date.
    pub fee: bool,
    pub channel: Channel,
}

/// The four steps' settings.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepPolicies {
    pub paminnelse: StepPolicy,
    pub purring: StepPolicy,
    pub inkassovarsel: StepPolicy,
    pub betalingsoppfordring: StepPolicy,
}

impl StepPolicies {
    pub fn get(&self, step: Step) -> &StepPolicy {
        match step {
            Step::Paminnelse => &self.paminnelse,
            Step::Purring => &self.purring,
            Step::Inkassovarsel => &self.inkassovarsel,
            Step::Betalingsoppfordring => &self.betalingsoppfordring,
        }
    }

    pub fn get_mut(&mut self, step: Step) -> &mut StepPolicy {
        match step {
            Step::Paminnelse => &mut self.paminnelse,
            Step::Purring => &mut self.purring,
            Step::Inkassovarsel => &mut self.inkassovarsel,
            Step::Betalingsoppfordring => &mut self.betalingsoppfordring,
        }
    }
}

/// An account's dunning policy.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DunningPolicy {
    /// Off by default: nobody gets letters before the creditor looked at the policy.
    pub enabled: bool,
    pub mode: Mode,
    pub chain: Chain,
    pub steps: StepPolicies,
    /// Forsinkelsesrente on the notices.
    pub interest: bool,
    /// FRL § 3a standardkompensasjon, business debtors only.
    pub standardkompensasjon: bool,
    /// Below this (principal and charges outstanding) no notice is sent.
    pub minimum_amount: Money,
    /// The creditor as the letters name it; required when enabled.
    #[serde(default)]
    pub sender: Option<Sender>,
    /// The creditor's criteria for legal steps (off by default). A policy stored before this
    /// section existed reads as the default.
    #[serde(default)]
    pub legal_steps: LegalStepsPolicy,
}

impl Default for DunningPolicy {
    /// Lawful and like Kredin's: a påminnelse 3 days after due with 10 days to pay, then a
    /// purring, an inkassovarsel and a betalingsoppfordring, each the day after the previous
    /// deadline with 14 days and the fee. The påminnelse's 10 days put the purring on due + 14,
    /// the first day it may carry a fee (INKF § 1-2).
    fn default() -> Self {
        let step = |days_after, deadline_days, fee, channel| StepPolicy {
            enabled: true,
            days_after,
            deadline_days,
            fee,
            channel,
        };
        Self {
            enabled: false,
            mode: Mode::Automatic,
            chain: Chain::Full,
            steps: StepPolicies {
                paminnelse: step(3, 10, false, Channel::Email),
                purring: step(1, 14, true, Channel::Email),
                inkassovarsel: step(1, 14, true, Channel::EmailAndLetter),
                betalingsoppfordring: step(1, 14, true, Channel::EmailAndLetter),
            },
            interest: true,
            standardkompensasjon: true,
            minimum_amount: Money::ZERO,
            sender: None,
            legal_steps: LegalStepsPolicy::default(),
        }
    }
}

impl DunningPolicy {
    pub fn step(&self, step: Step) -> &StepPolicy {
        self.steps.get(step)
    }

    /// The step is in the chain and enabled.
    pub fn is_active(&self, step: Step) -> bool {
        let enabled = self.steps.get(step).enabled;
        match self.chain {
            Chain::Full => enabled,
            Chain::OnlyBetalingsoppfordring => step == Step::Betalingsoppfordring && enabled,
        }
    }

    /// The active steps in chain order.
    pub fn active_steps(&self) -> impl Iterator<Item = Step> + '_ {
        Step::ALL.into_iter().filter(|s| self.is_active(*s))
    }

    /// Whether the active purring must give the 14-day deadline: a later active step is an
    /// inkassovarsel with a fee (a second 1/20 fee, INKF § 1-3) or a betalingsoppfordring
    /// (which needs a missed ≥14-day deadline, INKF § 1-2).
    pub fn purring_needs_long_deadline(&self) -> bool {
        self.is_active(Step::Purring)
            && ((self.is_active(Step::Inkassovarsel) && self.steps.inkassovarsel.fee)
                || self.is_active(Step::Betalingsoppfordring))
    }

    /// The earliest day each active step can be sent, in days after the due date, by the chain's
    /// own timing (a missed run only moves a step later). `None` for inactive steps, and for
    /// every step of [`Chain::OnlyBetalingsoppfordring`], whose timing follows letters from
    /// elsewhere.
    pub fn earliest_offsets(&self) -> [Option<u32>; 4] {
        let mut out = [None; 4];
        if self.chain != Chain::Full {
            return out;
        }
        let mut deadline_end: Option<u32> = None;
        for step in self.active_steps() {
            let sp = self.step(step);
            let offset = deadline_end.unwrap_or(0) + u32::from(sp.days_after);
            out[step.index()] = Some(offset);
            deadline_end = Some(offset + u32::from(sp.deadline_days));
        }
        out
    }

    /// Every violation of the rules (see `docs/dunning.md`), or `Ok`. The legal minimums come
    /// from the rulebook.
    pub fn validate(&self, book: &Rulebook) -> Result<(), Vec<PolicyViolation>> {
        let mut v = Vec::new();
        let mut push =
            |field: &'static str, rule: PolicyRule| v.push(PolicyViolation { field, rule });
        let ids = book.deadline_ids;
        let days = |i: usize| book.deadline(i).0.days;
        let fee_earliest = days(ids.fee_earliest_after_due);
        let purring_min = days(ids.purring);
        let varsel_min = days(ids.inkassovarsel);
        let bo_min = days(ids.betalingsoppfordring);
        let bo_after_missed = days(ids.betalingsoppfordring_after_missed);
        let varsel_418_min = days(ids.tvfbl_4_18);

        if self.minimum_amount.is_negative() {
            push("minimumAmount", PolicyRule::MinimumAmountNegative);
        }
        match &self.sender {
            None if self.enabled => push("sender", PolicyRule::SenderRequired),
            None => {}
            Some(s) => {
                if s.name.trim().is_empty() {
                    push("sender.name", PolicyRule::SenderNameRequired);
                }
                if !is_deliverable(&s.address) {
                    push("sender.address", PolicyRule::SenderAddressRequired);
                }
                if s.email
                    .as_deref()
                    .is_some_and(|e| !is_valid_email(e.trim()))
                {
                    push("sender.email", PolicyRule::EmailInvalid);
                }
                if s.reply_to
                    .as_deref()
                    .is_some_and(|e| !is_valid_email(e.trim()))
                {
                    push("sender.replyTo", PolicyRule::EmailInvalid);
                }
            }
        }
        if self.active_steps().next().is_none() {
            let field = match self.chain {
                Chain::Full => "steps",
                Chain::OnlyBetalingsoppfordring => {
                    field(Step::Betalingsoppfordring, StepField::Enabled)
                }
            };
            push(field, PolicyRule::NoStepEnabled);
        }
        if self.steps.paminnelse.fee {
            push(
                field(Step::Paminnelse, StepField::Fee),
                PolicyRule::PaminnelseFee,
            );
        }
        for step in Step::ALL {
            let sp = self.step(step);
            if sp.days_after > MAX_DAYS {
                push(
                    field(step, StepField::DaysAfter),
                    PolicyRule::TooManyDays { max: MAX_DAYS },
                );
            }
            if sp.deadline_days > MAX_DAYS {
                push(
                    field(step, StepField::DeadlineDays),
                    PolicyRule::TooManyDays { max: MAX_DAYS },
                );
            }
        }

        let deadline = |step: Step| u32::from(self.step(step).deadline_days);
        let first_active = self.active_steps().next();
        let offsets = self.earliest_offsets();
        for step in Step::ALL.into_iter().filter(|s| self.is_active(*s)) {
            let sp = self.step(step);
            let deadline_field = field(step, StepField::DeadlineDays);
            let days_field = field(step, StepField::DaysAfter);
            match step {
                Step::Paminnelse => {
                    if sp.deadline_days < MIN_PAMINNELSE_DEADLINE_DAYS {
                        push(
                            deadline_field,
                            PolicyRule::PaminnelseDeadline {
                                minimum: u32::from(MIN_PAMINNELSE_DEADLINE_DAYS),
                            },
                        );
                    }
                }
                Step::Purring => {
                    if self.purring_needs_long_deadline() && deadline(step) < purring_min {
                        push(
                            deadline_field,
                            PolicyRule::PurringDeadline {
                                minimum: purring_min,
                            },
                        );
                    }
                }
                Step::Inkassovarsel => {
                    if deadline(step) < varsel_min {
                        push(
                            deadline_field,
                            PolicyRule::InkassovarselDeadline {
                                minimum: varsel_min,
                            },
                        );
                    }
                }
                Step::Betalingsoppfordring => {
                    if deadline(step) < bo_min {
                        push(
                            deadline_field,
                            PolicyRule::BetalingsoppfordringDeadline { minimum: bo_min },
                        );
                    }
                    if deadline(step) < varsel_418_min {
                        push(
                            deadline_field,
                            PolicyRule::Varsel418Deadline {
                                minimum: varsel_418_min,
                            },
                        );
                    }
                }
            }
            // The claim is overdue only from the day after its due date.
            if first_active == Some(step) && self.chain == Chain::Full && sp.days_after == 0 {
                push(days_field, PolicyRule::BeforeOverdue);
            }
            // A fee-bearing purring or inkassovarsel not before due + 14 days.
            let fee_timed = matches!(step, Step::Purring | Step::Inkassovarsel) && sp.fee;
            if let (true, Some(offset)) = (fee_timed, offsets[step.index()]) {
                if offset < fee_earliest {
                    push(
                        days_field,
                        PolicyRule::FeeTooEarly {
                            step,
                            earliest_day: offset,
                            minimum: fee_earliest,
                        },
                    );
                }
            }
            // A letter whose fee (or, for the betalingsoppfordring, whose sending) needs the
            // previous deadline missed comes at the earliest the day after it.
            let needs_missed = match step {
                Step::Betalingsoppfordring => true,
                Step::Inkassovarsel => {
                    sp.fee && self.is_active(Step::Purring) && self.steps.purring.fee
                }
                Step::Paminnelse | Step::Purring => false,
            };
            if needs_missed && first_active != Some(step) && sp.days_after == 0 {
                push(days_field, PolicyRule::DeadlineNotMissed);
            }
            if needs_missed && self.chain == Chain::OnlyBetalingsoppfordring && sp.days_after == 0 {
                push(days_field, PolicyRule::DeadlineNotMissed);
            }
        }
        // The betalingsoppfordring needs a preceding purring or inkassovarsel in the chain.
        if self.chain == Chain::Full
            && self.is_active(Step::Betalingsoppfordring)
            && !self.is_active(Step::Purring)
            && !self.is_active(Step::Inkassovarsel)
        {
            push(
                field(Step::Betalingsoppfordring, StepField::Enabled),
                PolicyRule::BetalingsoppfordringWithoutPriorNotice {
                    minimum: bo_after_missed,
                },
            );
        }
        // Legal steps: a threshold that means something, and the betalingsoppfordring with the
        // § 4-18 varsel that readiness rests on.
        let legal = &self.legal_steps;
        if legal.minimum_amount.is_negative() {
            push(
                "legalSteps.minimumAmount",
                PolicyRule::MinimumAmountNegative,
            );
        }
        if legal.notifies() && !self.is_active(Step::Betalingsoppfordring) {
            push(
                "legalSteps.mode",
                PolicyRule::LegalStepsNeedBetalingsoppfordring,
            );
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(v)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepField {
    Enabled,
    DaysAfter,
    DeadlineDays,
    Fee,
}

/// The JSON path of a step's field.
fn field(step: Step, f: StepField) -> &'static str {
    use StepField::*;
    match (step, f) {
        (Step::Paminnelse, Enabled) => "steps.paminnelse.enabled",
        (Step::Paminnelse, DaysAfter) => "steps.paminnelse.daysAfter",
        (Step::Paminnelse, DeadlineDays) => "steps.paminnelse.deadlineDays",
        (Step::Paminnelse, Fee) => "steps.paminnelse.fee",
        (Step::Purring, Enabled) => "steps.purring.enabled",
        (Step::Purring, DaysAfter) => "steps.purring.daysAfter",
        (Step::Purring, DeadlineDays) => "steps.purring.deadlineDays",
        (Step::Purring, Fee) => "steps.purring.fee",
        (Step::Inkassovarsel, Enabled) => "steps.inkassovarsel.enabled",
        (Step::Inkassovarsel, DaysAfter) => "steps.inkassovarsel.daysAfter",
        (Step::Inkassovarsel, DeadlineDays) => "steps.inkassovarsel.deadlineDays",
        (Step::Inkassovarsel, Fee) => "steps.inkassovarsel.fee",
        (Step::Betalingsoppfordring, Enabled) => "steps.betalingsoppfordring.enabled",
        (Step::Betalingsoppfordring, DaysAfter) => "steps.betalingsoppfordring.daysAfter",
        (Step::Betalingsoppfordring, DeadlineDays) => "steps.betalingsoppfordring.deadlineDays",
        (Step::Betalingsoppfordring, Fee) => "steps.betalingsoppfordring.fee",
    }
}

/// One violated rule, on one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyViolation {
    /// The JSON field (camelCase path), e.g. `steps.purring.deadlineDays`.
    pub field: &'static str,
    pub rule: PolicyRule,
}

impl Serialize for PolicyViolation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            field: &'a str,
            code: &'a str,
            message_nb: String,
            message_en: String,
        }
        Body {
            field: self.field,
            code: self.rule.code(),
            message_nb: self.rule.message_nb(),
            message_en: self.rule.message_en(),
        }
        .serialize(s)
    }
}

/// The rules of a policy, each with a stable code and a sentence naming its basis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRule {
    /// A påminnelse gives at least a day (god inkassoskikk, inkassoloven § 8).
    PaminnelseDeadline {
        minimum: u32,
    },
    /// A purring followed by a fee step gives ≥14 days (INKF §§ 1-2, 1-3).
    PurringDeadline {
        minimum: u32,
    },
    /// Inkassoloven § 9.
    InkassovarselDeadline {
        minimum: u32,
    },
    /// Inkassoloven § 10.
    BetalingsoppfordringDeadline {
        minimum: u32,
    },
    /// Tvangsfullbyrdelsesloven § 4-18: two weeks.
    Varsel418Deadline {
        minimum: u32,
    },
    /// INKF § 1-2: a fee at the earliest 14 days after the due date.
    FeeTooEarly {
        step: Step,
        earliest_day: u32,
        minimum: u32,
    },
    /// INKF § 1-2 gives fees for purring, inkassovarsel and betalingsoppfordring only.
    PaminnelseFee,
    /// INKF § 1-2: the betalingsoppfordring needs a missed ≥14-day deadline in a purring or
    /// inkassovarsel.
    BetalingsoppfordringWithoutPriorNotice {
        minimum: u32,
    },
    /// INKF §§ 1-2, 1-3: the deadline is missed only from the day after it.
    DeadlineNotMissed,
    /// Forsinkelsesrenteloven § 2: overdue from the day after the due date.
    BeforeOverdue,
    /// Inkassoloven § 10 (1) a: the creditor is named; the letters need a sender.
    SenderRequired,
    SenderNameRequired,
    SenderAddressRequired,
    EmailInvalid,
    MinimumAmountNegative,
    NoStepEnabled,
    TooManyDays {
        max: u16,
    },
    /// Tvangsfullbyrdelsesloven § 4-18 and § 7-2 (1) f: legal steps rest on the
    /// betalingsoppfordring with the varsel; the chain must send it.
    LegalStepsNeedBetalingsoppfordring,
}

impl PolicyRule {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyRule::PaminnelseDeadline { .. } => "paminnelse_deadline_too_short",
            PolicyRule::PurringDeadline { .. } => "purring_deadline_too_short",
            PolicyRule::InkassovarselDeadline { .. } => "inkassovarsel_deadline_too_short",
            PolicyRule::BetalingsoppfordringDeadline { .. } => {
                "betalingsoppfordring_deadline_too_short"
            }
            PolicyRule::Varsel418Deadline { .. } => "varsel_4_18_deadline_too_short",
            PolicyRule::FeeTooEarly { .. } => "fee_before_earliest_day",
            PolicyRule::PaminnelseFee => "paminnelse_has_no_fee",
            PolicyRule::BetalingsoppfordringWithoutPriorNotice { .. } => {
                "betalingsoppfordring_without_prior_notice"
            }
            PolicyRule::DeadlineNotMissed => "before_previous_deadline_missed",
            PolicyRule::BeforeOverdue => "before_overdue",
            PolicyRule::SenderRequired => "sender_required",
            PolicyRule::SenderNameRequired => "sender_name_required",
            PolicyRule::SenderAddressRequired => "sender_address_required",
            PolicyRule::EmailInvalid => "email_invalid",
            PolicyRule::MinimumAmountNegative => "minimum_amount_negative",
            PolicyRule::NoStepEnabled => "no_step_enabled",
            PolicyRule::TooManyDays { .. } => "too_many_days",
            PolicyRule::LegalStepsNeedBetalingsoppfordring => {
                "legal_steps_need_betalingsoppfordring"
            }
        }
    }

    /// The rule in bokmål, naming its legal basis.
    pub fn message_nb(&self) -> String {
        match *self {
            PolicyRule::PaminnelseDeadline { minimum } => format!(
                "God inkassoskikk (inkassoloven § 8): en betalingspåminnelse må gi skyldneren en reell frist, minst {minimum} dag."
            ),
            PolicyRule::PurringDeadline { minimum } => format!(
                "Inkassoforskriften §§ 1-2 og 1-3: fristen i en purring som følges av et gebyrbelagt inkassovarsel eller en betalingsoppfordring må være minst {minimum} dager."
            ),
            PolicyRule::InkassovarselDeadline { minimum } => format!(
                "Inkassoloven § 9: fristen i et inkassovarsel må være minst {minimum} dager."
            ),
            PolicyRule::BetalingsoppfordringDeadline { minimum } => format!(
                "Inkassoloven § 10: fristen i en betalingsoppfordring må være minst {minimum} dager."
            ),
            PolicyRule::Varsel418Deadline { minimum } => format!(
                "Tvangsfullbyrdelsesloven § 4-18: varselet som følger betalingsoppfordringen må gi minst to ukers frist ({minimum} dager)."
            ),
            PolicyRule::FeeTooEarly {
                step,
                earliest_day,
                minimum,
            } => format!(
                "Inkassoforskriften § 1-2: gebyr kan tidligst kreves {minimum} dager etter forfall, men med disse innstillingene kan {} sendes allerede {earliest_day} dager etter forfall.",
                step.letter_kind().name_no()
            ),
            PolicyRule::PaminnelseFee => "Inkassoforskriften § 1-2: gebyr kan bare kreves for purring, inkassovarsel og betalingsoppfordring, ikke for en betalingspåminnelse.".to_string(),
            PolicyRule::BetalingsoppfordringWithoutPriorNotice { minimum } => format!(
                "Inkassoforskriften § 1-2: en betalingsoppfordring forutsetter at skyldneren har oversittet en frist på minst {minimum} dager i en purring eller et inkassovarsel. Slå på purring eller inkassovarsel."
            ),
            PolicyRule::DeadlineNotMissed => "Inkassoforskriften §§ 1-2 og 1-3: fristen i forrige brev er først oversittet dagen etter at den gikk ut; steget må sendes minst 1 dag etter fristen.".to_string(),
            PolicyRule::BeforeOverdue => "Forsinkelsesrenteloven § 2: kravet er forfalt først dagen etter forfallsdagen; første steg må sendes minst 1 dag etter forfall.".to_string(),
            PolicyRule::SenderRequired => "Inkassoloven § 10: brevene må oppgi kreditor. Fyll ut avsender (navn, adresse og kontonummer) før purring slås på.".to_string(),
            PolicyRule::SenderNameRequired => "Inkassoloven § 10: brevene må oppgi kreditors navn.".to_string(),
            PolicyRule::SenderAddressRequired => "Avsenderens postadresse må fylles ut (adresselinje og postnummer eller poststed): skyldneren må kunne svare og komme med innsigelser.".to_string(),
            PolicyRule::EmailInvalid => "E-postadressen er ikke gyldig.".to_string(),
            PolicyRule::MinimumAmountNegative => "Minstebeløpet kan ikke være negativt.".to_string(),
            PolicyRule::NoStepEnabled => "Minst ett steg må være slått på.".to_string(),
            PolicyRule::TooManyDays { max } => format!("Høyst {max} dager."),
            PolicyRule::LegalStepsNeedBetalingsoppfordring => "Tvangsfullbyrdelsesloven §§ 4-18 og 7-2 (1) f: rettslige skritt bygger på betalingsoppfordringen med varsel etter § 4-18. Slå på betalingsoppfordring i purreløpet, eller slå av rettslige skritt.".to_string(),
        }
    }

    /// The rule in English, naming its legal basis.
    pub fn message_en(&self) -> String {
        match *self {
            PolicyRule::PaminnelseDeadline { minimum } => format!(
                "Good collection practice (Debt Collection Act § 8): a payment reminder must give the debtor a real deadline, at least {minimum} day."
            ),
            PolicyRule::PurringDeadline { minimum } => format!(
                "Debt Collection Regulations §§ 1-2 and 1-3: a purring followed by a fee-bearing inkassovarsel or a betalingsoppfordring must give at least {minimum} days."
            ),
            PolicyRule::InkassovarselDeadline { minimum } => format!(
                "Debt Collection Act § 9: an inkassovarsel must give at least {minimum} days."
            ),
            PolicyRule::BetalingsoppfordringDeadline { minimum } => format!(
                "Debt Collection Act § 10: a betalingsoppfordring must give at least {minimum} days."
            ),
            PolicyRule::Varsel418Deadline { minimum } => format!(
                "Enforcement Act § 4-18: the notice sent with the betalingsoppfordring must give at least two weeks ({minimum} days)."
            ),
            PolicyRule::FeeTooEarly {
                step,
                earliest_day,
                minimum,
            } => format!(
                "Debt Collection Regulations § 1-2: a fee may be charged at the earliest {minimum} days after the due date, but with these settings the {} can be sent {earliest_day} days after it.",
                step.letter_kind().name_en()
            ),
            PolicyRule::PaminnelseFee => "Debt Collection Regulations § 1-2: fees are allowed for a purring, an inkassovarsel and a betalingsoppfordring only, not for a payment reminder.".to_string(),
            PolicyRule::BetalingsoppfordringWithoutPriorNotice { minimum } => format!(
                "Debt Collection Regulations § 1-2: a betalingsoppfordring requires that the debtor missed a deadline of at least {minimum} days in a purring or an inkassovarsel. Enable the purring or the inkassovarsel."
            ),
            PolicyRule::DeadlineNotMissed => "Debt Collection Regulations §§ 1-2 and 1-3: the previous letter's deadline is missed only from the day after it; send this step at least 1 day after that deadline.".to_string(),
            PolicyRule::BeforeOverdue => "Late Payment Interest Act § 2: a claim is overdue only from the day after its due date; send the first step at least 1 day after it.".to_string(),
            PolicyRule::SenderRequired => "Debt Collection Act § 10: the letters must name the creditor. Fill in the sender (name, address and bank account) before enabling dunning.".to_string(),
            PolicyRule::SenderNameRequired => "Debt Collection Act § 10: the letters must name the creditor.".to_string(),
            PolicyRule::SenderAddressRequired => "The sender's postal address is required (a street line and a postal code or city): the debtor must be able to answer and object.".to_string(),
            PolicyRule::EmailInvalid => "Not a valid e-mail address.".to_string(),
            PolicyRule::MinimumAmountNegative => "The minimum amount cannot be negative.".to_string(),
            PolicyRule::NoStepEnabled => "At least one step must be enabled.".to_string(),
            PolicyRule::TooManyDays { max } => format!("At most {max} days."),
            PolicyRule::LegalStepsNeedBetalingsoppfordring => "Enforcement Act §§ 4-18 and 7-2 (1) f: legal steps rest on the betalingsoppfordring with the § 4-18 notice. Enable the betalingsoppfordring step, or switch legal steps off.".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::collection::dunning::BankAccount;
    use crate::domain::ledger::PostalAddress;

    fn sender() -> Sender {
        Sender {
            name: "Kreditor AS".into(),
            organization_number: None,
            address: PostalAddress {
                lines: vec!["Kongens gate 1".into()],
                postal_code: Some("0153".into()),
                city: Some("Oslo".into()),
                country_code: Some("NO".into()),
            },
            bank_account: BankAccount::parse("8601 11 17947").unwrap(),
            email: Some("post@kreditor.no".into()),
            phone: None,
            reply_to: None,
        }
    }

    fn valid() -> DunningPolicy {
        DunningPolicy {
            enabled: true,
            sender: Some(sender()),
            ..DunningPolicy::default()
        }
    }

    fn violations(p: &DunningPolicy) -> Vec<(&'static str, &'static str)> {
        match p.validate(Rulebook::norway()) {
            Ok(()) => vec![],
            Err(v) => v.iter().map(|v| (v.field, v.rule.code())).collect(),
        }
    }

    #[test]
    fn the_defaults_are_valid_off_and_lawful_once_a_sender_is_added() {
        let d = DunningPolicy::default();
        assert!(!d.enabled);
        assert_eq!(violations(&d), vec![]);
        assert_eq!(violations(&valid()), vec![]);
        // The chain's own timing: påminnelse due+3, purring due+14, inkassovarsel due+29,
        // betalingsoppfordring due+44.
        assert_eq!(
            d.earliest_offsets(),
            [Some(3), Some(14), Some(29), Some(44)]
        );
        assert!(d.purring_needs_long_deadline());
    }

    #[test]
    fn enabled_needs_a_sender_with_name_and_address_and_valid_emails() {
        let mut p = valid();
        p.sender = None;
        assert_eq!(violations(&p), vec![("sender", "sender_required")]);
        let mut s = sender();
        s.name = " ".into();
        s.address.lines.clear();
        s.email = Some("post@kreditor".into());
        s.reply_to = Some("svar kreditor.no".into());
        p.sender = Some(s);
        assert_eq!(
            violations(&p),
            vec![
                ("sender.name", "sender_name_required"),
                ("sender.address", "sender_address_required"),
                ("sender.email", "email_invalid"),
                ("sender.replyTo", "email_invalid"),
            ]
        );
        // A bank account is valid by its type: an invalid one does not deserialize.
        let mut json = serde_json::to_value(valid()).unwrap();
        json["sender"]["bankAccount"] = "86011117948".into();
        assert!(serde_json::from_value::<DunningPolicy>(json).is_err());
    }

    #[test]
    fn every_deadline_rule_names_its_field() {
        let mut p = valid();
        p.steps.paminnelse.deadline_days = 0;
        p.steps.purring.deadline_days = 13;
        p.steps.inkassovarsel.deadline_days = 13;
        p.steps.betalingsoppfordring.deadline_days = 13;
        // Keep the fee timing lawful so only the deadline rules fire.
        p.steps.paminnelse.days_after = 14;
        assert_eq!(
            violations(&p),
            vec![
                (
                    "steps.paminnelse.deadlineDays",
                    "paminnelse_deadline_too_short"
                ),
                ("steps.purring.deadlineDays", "purring_deadline_too_short"),
                (
                    "steps.inkassovarsel.deadlineDays",
                    "inkassovarsel_deadline_too_short"
                ),
                (
                    "steps.betalingsoppfordring.deadlineDays",
                    "betalingsoppfordring_deadline_too_short"
                ),
                (
                    "steps.betalingsoppfordring.deadlineDays",
                    "varsel_4_18_deadline_too_short"
                ),
            ]
        );
    }

    #[test]
    fn a_short_purring_deadline_is_fine_when_no_fee_step_follows() {
        let mut p = valid();
        p.steps.purring.deadline_days = 7;
        p.steps.inkassovarsel.fee = false;
        p.steps.betalingsoppfordring.enabled = false;
        assert!(!p.purring_needs_long_deadline());
        assert_eq!(violations(&p), vec![]);
        // With the betalingsoppfordring back on, the purring must give 14 days.
        p.steps.betalingsoppfordring.enabled = true;
        assert_eq!(
            violations(&p),
            vec![("steps.purring.deadlineDays", "purring_deadline_too_short")]
        );
    }

    #[test]
    fn a_fee_step_scheduled_before_due_plus_14_is_refused_on_its_days_after() {
        // The brief's påminnelse (3 days after, 7 to pay) puts the purring on due + 11.
        let mut p = valid();
        p.steps.paminnelse.deadline_days = 7;
        assert_eq!(
            violations(&p),
            vec![("steps.purring.daysAfter", "fee_before_earliest_day")]
        );
        let err = p.validate(Rulebook::norway()).unwrap_err();
        assert!(err[0].rule.message_nb().contains("11 dager etter forfall"));
        assert!(err[0].rule.message_nb().contains("§ 1-2"));
        // Without the påminnelse the purring comes 1 day after due: also too early.
        let mut q = valid();
        q.steps.paminnelse.enabled = false;
        assert_eq!(
            violations(&q),
            vec![("steps.purring.daysAfter", "fee_before_earliest_day")]
        );
        // Without its fee the same timing is lawful.
        q.steps.purring.fee = false;
        assert_eq!(violations(&q), vec![]);
        // An inkassovarsel first, with a fee, 14 days after due: lawful.
        let mut r = valid();
        r.steps.paminnelse.enabled = false;
        r.steps.purring.enabled = false;
        r.steps.inkassovarsel.days_after = 14;
        assert_eq!(violations(&r), vec![]);
        r.steps.inkassovarsel.days_after = 13;
        assert_eq!(
            violations(&r),
            vec![("steps.inkassovarsel.daysAfter", "fee_before_earliest_day")]
        );
    }

    #[test]
    fn paminnelse_never_has_a_fee() {
        let mut p = valid();
        p.steps.paminnelse.fee = true;
        assert_eq!(
            violations(&p),
            vec![("steps.paminnelse.fee", "paminnelse_has_no_fee")]
        );
        // Even when the step is off.
        p.steps.paminnelse.enabled = false;
        p.steps.purring.days_after = 14;
        assert_eq!(
            violations(&p),
            vec![("steps.paminnelse.fee", "paminnelse_has_no_fee")]
        );
    }

    #[test]
    fn a_betalingsoppfordring_needs_a_purring_or_inkassovarsel_before_it_in_a_full_chain() {
        let mut p = valid();
        p.steps.purring.enabled = false;
        p.steps.inkassovarsel.enabled = false;
        assert_eq!(
            violations(&p),
            vec![(
                "steps.betalingsoppfordring.enabled",
                "betalingsoppfordring_without_prior_notice"
            )]
        );
        // In "only betalingsoppfordring" the prior letter comes from elsewhere.
        p.chain = Chain::OnlyBetalingsoppfordring;
        assert_eq!(violations(&p), vec![]);
        assert_eq!(
            p.active_steps().collect::<Vec<_>>(),
            vec![Step::Betalingsoppfordring]
        );
        p.steps.betalingsoppfordring.enabled = false;
        assert_eq!(
            violations(&p),
            vec![("steps.betalingsoppfordring.enabled", "no_step_enabled")]
        );
    }

    #[test]
    fn steps_that_need_a_missed_deadline_come_a_day_after_it_and_the_first_after_due() {
        let mut p = valid();
        p.steps.inkassovarsel.days_after = 0;
        p.steps.betalingsoppfordring.days_after = 0;
        p.steps.paminnelse.days_after = 0;
        p.steps.paminnelse.deadline_days = 14;
        assert_eq!(
            violations(&p),
            vec![
                ("steps.paminnelse.daysAfter", "before_overdue"),
                (
                    "steps.inkassovarsel.daysAfter",
                    "before_previous_deadline_missed"
                ),
                (
                    "steps.betalingsoppfordring.daysAfter",
                    "before_previous_deadline_missed"
                ),
            ]
        );
        // A fee-free inkassovarsel may follow on the deadline day; a påminnelse-less purring
        // does not need the day after anything.
        p.steps.inkassovarsel.fee = false;
        p.steps.betalingsoppfordring.days_after = 1;
        p.steps.paminnelse.days_after = 1;
        assert_eq!(violations(&p), vec![]);
        let mut q = valid();
        q.chain = Chain::OnlyBetalingsoppfordring;
        q.steps.betalingsoppfordring.days_after = 0;
        assert_eq!(
            violations(&q),
            vec![(
                "steps.betalingsoppfordring.daysAfter",
                "before_previous_deadline_missed"
            )]
        );
    }

    #[test]
    fn amounts_and_step_counts() {
        let mut p = valid();
        p.minimum_amount = Money::from_kroner(-1);
        p.steps.purring.days_after = MAX_DAYS + 1;
        p.steps.purring.deadline_days = MAX_DAYS + 1;
        assert_eq!(
            violations(&p),
            vec![
                ("minimumAmount", "minimum_amount_negative"),
                ("steps.purring.daysAfter", "too_many_days"),
                ("steps.purring.deadlineDays", "too_many_days"),
            ]
        );
        let mut q = valid();
        for s in Step::ALL {
            q.steps.get_mut(s).enabled = false;
        }
        assert_eq!(violations(&q), vec![("steps", "no_step_enabled")]);
    }

    #[test]
    fn the_legal_steps_section_is_off_by_default_validated_and_optional_in_stored_json() {
        use crate::domain::collection::legal::policy::{LegalStepsMode, RoutePreference};
        let p = valid();
        assert_eq!(p.legal_steps.mode, LegalStepsMode::Off);
        assert!(!p.legal_steps.notifies() && !p.legal_steps.drafts());
        // A policy stored before the section existed still reads, as the default.
        let mut json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["legalSteps"]["mode"], "off");
        assert_eq!(json["legalSteps"]["forliksraadIfObjection"], true);
        json.as_object_mut().unwrap().remove("legalSteps");
        let old: DunningPolicy = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(old.legal_steps, LegalStepsPolicy::default());
        json["legalSteps"] = serde_json::json!({"mode": "draft_automatically", "minimumAmount": "500.00",
            "route": "forliksklage", "forliksraadIfObjection": false, "defaultJudgment": true});
        let q: DunningPolicy = serde_json::from_value(json.clone()).unwrap();
        assert!(q.legal_steps.drafts() && q.legal_steps.notifies());
        assert_eq!(q.legal_steps.route, RoutePreference::Forliksklage);
        assert_eq!(q.legal_steps.minimum_amount, Money::from_kroner(500));
        json["legalSteps"]["threshold"] = 1.into();
        assert!(serde_json::from_value::<DunningPolicy>(json).is_err());

        let mut bad = q;
        bad.legal_steps.minimum_amount = Money::from_kroner(-1);
        bad.steps.betalingsoppfordring.enabled = false;
        assert_eq!(
            violations(&bad),
            vec![
                ("legalSteps.minimumAmount", "minimum_amount_negative"),
                ("legalSteps.mode", "legal_steps_need_betalingsoppfordring"),
            ]
        );
        // Off, the betalingsoppfordring may be off too.
        bad.legal_steps = LegalStepsPolicy::default();
        assert_eq!(violations(&bad), vec![]);
    }

    #[test]
    fn violations_serialise_with_field_code_and_both_languages() {
        let mut p = valid();
        p.steps.inkassovarsel.deadline_days = 10;
        let err = p.validate(Rulebook::norway()).unwrap_err();
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json[0]["field"], "steps.inkassovarsel.deadlineDays");
        assert_eq!(json[0]["code"], "inkassovarsel_deadline_too_short");
        assert_eq!(
            json[0]["messageNb"],
            "Inkassoloven § 9: fristen i et inkassovarsel må være minst 14 dager."
        );
        assert!(json[0]["messageEn"]
            .as_str()
            .unwrap()
            .contains("Debt Collection Act § 9"));
    }

    #[test]
    fn the_policy_round_trips_as_camel_case_json_and_refuses_unknown_fields() {
        let p = valid();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["chain"], "full");
        assert_eq!(json["mode"], "automatic");
        assert_eq!(
            json["steps"]["inkassovarsel"]["channel"],
            "email_and_letter"
        );
        assert_eq!(json["steps"]["purring"]["deadlineDays"], 14);
        assert_eq!(json["minimumAmount"], "0.00");
        assert_eq!(
            serde_json::from_value::<DunningPolicy>(json.clone()).unwrap(),
            p
        );
        let mut typo = json;
        typo["steps"]["purring"]["deadlineDay"] = 14.into();
        assert!(serde_json::from_value::<DunningPolicy>(typo).is_err());
        let only: Chain = serde_json::from_str("\"only_betalingsoppfordring\"").unwrap();
        assert_eq!(only, Chain::OnlyBetalingsoppfordring);
    }

    #[test]
    fn every_rule_has_a_code_and_both_sentences() {
        let rules = [
            PolicyRule::PaminnelseDeadline { minimum: 1 },
            PolicyRule::PurringDeadline { minimum: 14 },
            PolicyRule::InkassovarselDeadline { minimum: 14 },
            PolicyRule::BetalingsoppfordringDeadline { minimum: 14 },
            PolicyRule::Varsel418Deadline { minimum: 14 },
            PolicyRule::FeeTooEarly {
                step: Step::Purring,
                earliest_day: 11,
                minimum: 14,
            },
            PolicyRule::PaminnelseFee,
            PolicyRule::BetalingsoppfordringWithoutPriorNotice { minimum: 14 },
            PolicyRule::DeadlineNotMissed,
            PolicyRule::BeforeOverdue,
            PolicyRule::SenderRequired,
            PolicyRule::SenderNameRequired,
            PolicyRule::SenderAddressRequired,
            PolicyRule::EmailInvalid,
            PolicyRule::MinimumAmountNegative,
            PolicyRule::NoStepEnabled,
            PolicyRule::TooManyDays { max: MAX_DAYS },
            PolicyRule::LegalStepsNeedBetalingsoppfordring,
        ];
        let mut codes: Vec<&str> = rules.iter().map(|r| r.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), rules.len());
        for r in rules {
            assert!(r
                .code()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            assert!(!r.message_nb().is_empty() && !r.message_en().is_empty());
        }
    }
}
