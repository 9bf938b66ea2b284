//! Fault injection: 429 (with or without `X-Rate-Limit-Reset`), 5xx, latency, truncated bodies,
//! requests that hang and connections closed without an answer, and a lying `fullResultSize`, for
//! the next N matching requests or a fraction of them. Set at start and replaced at run time
//! through `POST /_sandbox/faults`.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    pub rules: Vec<FaultRule>,
    /// Added to every /v2 response.
    pub latency_ms: u64,
    /// The (real) rate limit per employee key and window; its state is announced in the
    /// X-Rate-Limit-* headers and exceeding it gives 429 (without Reset, as Tripletex).
    pub rate_limit: RateLimit,
    /// List responses report `fullResultSize` = `from + values.len()` (as if nothing followed).
    pub lie_full_result_size: bool,
    /// Seeds the choice of the requests a `fraction` rule hits, from the moment these faults are
    /// set (None: the sandbox's own sequence goes on). The same seed and the same requests give
    /// the same faults.
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimit {
    pub limit: u64,
    pub window_seconds: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            limit: 1000,
            window_seconds: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    pub kind: FaultKind,
    /// Applies to the next `count` matching requests, then is spent. None = no limit.
    #[serde(default)]
    pub count: Option<u32>,
    /// Applies to this fraction (0..=1) of matching requests (deterministic pseudo-random).
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Only requests whose decoded path contains this (e.g. "whoAmI", "/customer", ":create").
    #[serde(default)]
    pub path_contains: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// 429; real Tripletex omits `X-Rate-Limit-Reset` on 429s (`with_reset: false`).
    RateLimit {
        #[serde(default)]
        with_reset: bool,
        #[serde(default = "one")]
        reset_seconds: u64,
    },
    ServerError {
        #[serde(default = "five_hundred")]
        status: u16,
    },
    /// The request is carried out, then answered with this status: a gateway that timed out
    /// after Tripletex committed (a write happened although the caller saw an error).
    ServerErrorAfterHandling {
        #[serde(default = "five_hundred")]
        status: u16,
    },
    /// The body is cut in half (valid HTTP, invalid JSON).
    Truncate,
    /// 401 code 3000, as for an expired session (without touching the session).
    Unauthorized,
    Latency {
        ms: u64,
    },
    /// No answer for `ms` (longer than the client's request timeout), then the connection is
    /// closed; the request is not carried out.
    Hang {
        #[serde(default = "thirty_seconds")]
        ms: u64,
    },
    /// The connection is closed without an answer (a reset, as a load balancer that drops a
    /// connection); the request is not carried out.
    Reset,
}

fn one() -> u64 {
    1
}
fn five_hundred() -> u16 {
    500
}
fn thirty_seconds() -> u64 {
    30_000
}

impl FaultRule {
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            count: None,
            fraction: None,
            path_contains: None,
        }
    }
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }
    pub fn fraction(mut self, f: f64) -> Self {
        self.fraction = Some(f);
        self
    }
    pub fn on_path(mut self, p: impl Into<String>) -> Self {
        self.path_contains = Some(p.into());
        self
    }
}

impl Faults {
    pub fn none() -> Self {
        Self::default()
    }
    pub fn with_rule(mut self, r: FaultRule) -> Self {
        self.rules.push(r);
        self
    }
}

/// CLI syntax: `KIND[:N][@FRACTION][/PATH]` with KIND one of `429`, `429-reset`, `5xx` / `500` /
/// `502` / `503`, `401`, `truncate`, `latency=MS`, `hang=MS`, `reset`; e.g. `429:3/whoAmI`,
/// `503@0.1`, `truncate:1/customer`, `reset@0.05`.
/// `latency=MS` without N/fraction/path sets the global latency (handled by [`Faults::apply_cli`]).
impl FromStr for FaultRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (head, path) = match s.split_once('/') {
            Some((h, p)) => (h, Some(p.to_string())),
            None => (s, None),
        };
        let (head, fraction) = match head.split_once('@') {
            Some((h, f)) => (
                h,
                Some(
                    f.parse::<f64>()
                        .map_err(|_| format!("bad fraction in {s:?}"))?,
                ),
            ),
            None => (head, None),
        };
        let (kind, count) = match head.split_once(':') {
            Some((k, n)) => (
                k,
                Some(
                    n.parse::<u32>()
                        .map_err(|_| format!("bad count in {s:?}"))?,
                ),
            ),
            None => (head, None),
        };
        let kind = match kind {
            "429" => FaultKind::RateLimit {
                with_reset: false,
                reset_seconds: 1,
            },
            "429-reset" => FaultKind::RateLimit {
                with_reset: true,
                reset_seconds: 1,
            },
            "5xx" | "500" => FaultKind::ServerError { status: 500 },
            "502" => FaultKind::ServerError { status: 502 },
            "503" => FaultKind::ServerError { status: 503 },
            "truncate" => FaultKind::Truncate,
            "401" => FaultKind::Unauthorized,
            "reset" => FaultKind::Reset,
            k if k.starts_with("latency=") => FaultKind::Latency {
                ms: k["latency=".len()..]
                    .parse()
                    .map_err(|_| format!("bad latency in {s:?}"))?,
            },
            k if k.starts_with("hang=") => FaultKind::Hang {
                ms: k["hang=".len()..]
                    .parse()
                    .map_err(|_| format!("bad hang time in {s:?}"))?,
            },
            other => return Err(format!("unknown fault kind {other:?}")),
        };
        if let Some(f) = fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(format!("fraction must be within 0..=1 in {s:?}"));
            }
        }
        Ok(FaultRule {
            kind,
            count,
            fraction,
            path_contains: path,
        })
    }
}

impl Faults {
    /// Applies one `--fault` argument (see [`FaultRule::from_str`]; also `lie-full-result-size`).
    pub fn apply_cli(&mut self, arg: &str) -> Result<(), String> {
        if arg == "lie-full-result-size" {
            self.lie_full_result_size = true;
            return Ok(());
        }
        let rule: FaultRule = arg.parse()?;
        match (&rule.kind, rule.count, rule.fraction, &rule.path_contains) {
            (FaultKind::Latency { ms }, None, None, None) => self.latency_ms = *ms,
            _ => self.rules.push(rule),
        }
        Ok(())
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub latency_ms: u64,
    pub rate_limit: Option<(bool, u64)>,
    pub server_error: Option<u16>,
    /// Handle the request, then answer with this status instead.
    pub server_error_after: Option<u16>,
    pub truncate: bool,
    pub unauthorized: bool,
    /// Close the connection without an answer, after waiting this long (0 = at once).
    pub drop_connection_after_ms: Option<u64>,
}

/// Runtime fault state: the rules with their remaining counts and a deterministic RNG.
#[derive(Debug)]
pub struct FaultState {
    pub faults: Faults,
    rng: u64,
}

const DEFAULT_RNG: u64 = 0x9E37_79B9_7F4A_7C15;

/// A non-zero xorshift state from a seed (splitmix64 finaliser).
fn rng_from(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(DEFAULT_RNG);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).max(1)
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        let rng = faults.seed.map_or(DEFAULT_RNG, rng_from);
        Self { faults, rng }
    }

    pub fn replace(&mut self, faults: Faults) {
        if let Some(seed) = faults.seed {
            self.rng = rng_from(seed);
        }
        self.faults = faults;
    }

    fn next_f64(&mut self) -> f64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides the faults for a request to `path`, spending counted rules. At most one status
    /// fault (429, 5xx, 401, a hang or a reset) per request; a truncation is only spent on a
    /// request that gets no status fault; latencies add up.
    pub fn decide(&mut self, path: &str) -> Decision {
        let mut d = Decision {
            latency_ms: self.faults.latency_ms,
            ..Decision::default()
        };
        // Pass 0: latency and status faults; pass 1: truncation.
        for pass in 0..2 {
            for i in 0..self.faults.rules.len() {
                let (applicable, fraction) = {
                    let r = &self.faults.rules[i];
                    let path_ok = r.path_contains.as_deref().is_none_or(|p| path.contains(p));
                    let has_status = d.rate_limit.is_some()
                        || d.server_error.is_some()
                        || d.server_error_after.is_some()
                        || d.unauthorized
                        || d.drop_connection_after_ms.is_some();
                    let wanted = match r.kind {
                        FaultKind::Latency { .. } => pass == 0,
                        FaultKind::Truncate => pass == 1 && !has_status && !d.truncate,
                        _ => pass == 0 && !has_status,
                    };
                    (wanted && path_ok && r.count != Some(0), r.fraction)
                };
                if !applicable {
                    continue;
                }
                if let Some(f) = fraction {
                    if self.next_f64() >= f {
                        continue;
                    }
                }
                let r = &mut self.faults.rules[i];
                if let Some(c) = r.count.as_mut() {
                    *c -= 1;
                }
                match r.kind {
                    FaultKind::Latency { ms } => d.latency_ms += ms,
                    FaultKind::RateLimit {
                        with_reset,
                        reset_seconds,
                    } => d.rate_limit = Some((with_reset, reset_seconds)),
                    FaultKind::ServerError { status } => d.server_error = Some(status),
                    FaultKind::ServerErrorAfterHandling { status } => {
                        d.server_error_after = Some(status)
                    }
                    FaultKind::Unauthorized => d.unauthorized = true,
                    FaultKind::Truncate => d.truncate = true,
                    FaultKind::Hang { ms } => d.drop_connection_after_ms = Some(ms),
                    FaultKind::Reset => d.drop_connection_after_ms = Some(0),
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_syntax() {
        let r: FaultRule = "429:3/whoAmI".parse().unwrap();
        assert_eq!(r.count, Some(3));
        assert_eq!(r.path_contains.as_deref(), Some("whoAmI"));
        assert!(matches!(
            r.kind,
            FaultKind::RateLimit {
                with_reset: false,
                ..
            }
        ));
        let r: FaultRule = "503@0.25".parse().unwrap();
        assert_eq!(r.fraction, Some(0.25));
        assert!("nope".parse::<FaultRule>().is_err());
        let r: FaultRule = "hang=1500@0.5".parse().unwrap();
        assert_eq!(
            (r.kind, r.fraction),
            (FaultKind::Hang { ms: 1500 }, Some(0.5))
        );
        let r: FaultRule = "reset:2".parse().unwrap();
        assert_eq!((r.kind, r.count), (FaultKind::Reset, Some(2)));
        assert!("503@2".parse::<FaultRule>().is_err());
        let mut f = Faults::default();
        f.apply_cli("latency=20").unwrap();
        f.apply_cli("lie-full-result-size").unwrap();
        assert_eq!(f.latency_ms, 20);
        assert!(f.lie_full_result_size);
    }

    #[test]
    fn counted_rules_are_spent_and_path_filtered() {
        let mut s = FaultState::new(
            Faults::none().with_rule(
                FaultRule::new(FaultKind::ServerError { status: 503 })
                    .times(2)
                    .on_path("customer"),
            ),
        );
        assert_eq!(s.decide("/v2/invoice").server_error, None);
        assert_eq!(s.decide("/v2/customer").server_error, Some(503));
        assert_eq!(s.decide("/v2/customer").server_error, Some(503));
        assert_eq!(s.decide("/v2/customer").server_error, None);
    }

    #[test]
    fn one_status_fault_per_request_and_truncation_only_without_one() {
        let rule = |k| FaultRule::new(k).times(1);
        let mut s = FaultState::new(Faults {
            rules: vec![
                rule(FaultKind::Truncate),
                rule(FaultKind::RateLimit {
                    with_reset: false,
                    reset_seconds: 1,
                }),
                rule(FaultKind::ServerError { status: 502 }),
                rule(FaultKind::Latency { ms: 5 }),
            ],
            latency_ms: 1,
            ..Faults::default()
        });
        let first = s.decide("/v2/x");
        assert_eq!(first.rate_limit, Some((false, 1)));
        assert_eq!(
            (first.server_error, first.truncate, first.latency_ms),
            (None, false, 6)
        );
        let second = s.decide("/v2/x");
        assert_eq!((second.server_error, second.truncate), (Some(502), false));
        let third = s.decide("/v2/x");
        assert!(third.truncate && third.rate_limit.is_none() && third.server_error.is_none());
        assert_eq!(
            s.decide("/v2/x"),
            Decision {
                latency_ms: 1,
                ..Decision::default()
            }
        );
    }

    #[test]
    fn a_hang_and_a_reset_are_status_faults() {
        let rule = |k| FaultRule::new(k).times(1);
        let mut s = FaultState::new(Faults {
            rules: vec![
                rule(FaultKind::Hang { ms: 700 }),
                rule(FaultKind::Reset),
                rule(FaultKind::Truncate),
            ],
            ..Faults::default()
        });
        let first = s.decide("/v2/x");
        assert_eq!(
            (first.drop_connection_after_ms, first.truncate),
            (Some(700), false)
        );
        let second = s.decide("/v2/x");
        assert_eq!(
            (second.drop_connection_after_ms, second.truncate),
            (Some(0), false)
        );
        let third = s.decide("/v2/x");
        assert_eq!(
            (third.drop_connection_after_ms, third.truncate),
            (None, true)
        );
    }

    #[test]
    fn fractions_are_roughly_respected() {
        let mut s = FaultState::new(
            Faults::none().with_rule(FaultRule::new(FaultKind::Truncate).fraction(0.3)),
        );
        let hits = (0..10_000).filter(|_| s.decide("/v2/x").truncate).count();
        assert!((2500..3500).contains(&hits), "{hits}");
    }

    #[test]
    fn a_seed_repeats_the_same_choice() {
        let faults = |seed| Faults {
            seed: Some(seed),
            ..Faults::none().with_rule(FaultRule::new(FaultKind::Reset).fraction(0.5))
        };
        let hits = |s: &mut FaultState| -> Vec<bool> {
            (0..64)
                .map(|_| s.decide("/v2/x").drop_connection_after_ms.is_some())
                .collect()
        };
        let mut a = FaultState::new(faults(7));
        let first = hits(&mut a);
        a.replace(faults(7));
        assert_eq!(hits(&mut a), first, "set again with the seed: same hits");
        assert_ne!(hits(&mut FaultState::new(faults(8))), first);
    }

    #[test]
    fn json_round_trip() {
        let f = Faults::none().with_rule(
            FaultRule::new(FaultKind::RateLimit {
                with_reset: true,
                reset_seconds: 2,
            })
            .times(1),
        );
        let j = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Faults>(&j).unwrap(), f);
        let parsed: Faults =
            serde_json::from_str(r#"{"rules":[{"kind":{"type":"server_error"},"count":2}]}"#)
                .unwrap();
        assert_eq!(parsed.rules[0].kind, FaultKind::ServerError { status: 500 });
    }
}
