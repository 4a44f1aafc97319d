//! The policies and how they compose into one decision per trace.
//!
//! In order, the first that applies decides:
//!
//! 1. **forced** — a span carries the force attribute: kept, rate 1, never limited;
//! 2. **error** — a span failed ([`errors`]): kept, rate 1;
//! 3. **latency** — the root lasted longer than the fixed threshold: kept, rate 1;
//! 4. **adaptive_latency** — the root is slower than the configured quantile of its operation
//!    over the window ([`latency`]): kept, rate 1;
//! 5. otherwise the trace is kept with probability `P = max(1 / dynamic rate of its key,
//!    probabilistic floor)` ([`dynamic`]), drawn from the trace id and the seed, so the same
//!    trace gets the same draw; kept by **dynamic** when the dynamic sampler's share is the
//!    larger, else by **probabilistic**, with rate `1 / P`; dropped as **sampled_out** when the
//!    draw misses.
//!
//! Policies 2–5 then pass the global limit ([`limit`]) when one is set; a trace it refuses is
//! dropped as **rate_limited** (counted). The recorded rate is the policy's: while the limit is
//! refusing traces, re-weighted counts undercount by the refused share, which the stage's
//! counters report.

pub(crate) mod dynamic;
pub(crate) mod errors;
pub(crate) mod latency;
pub(crate) mod limit;

use std::fmt::Write as _;
use std::hash::BuildHasher;

use serde::Serialize;

use self::dynamic::DynamicSampler;
use self::latency::AdaptiveLatency;
use self::limit::Limiter;
use super::clock::Nanos;
use super::config::{KeyPart, SamplingConfig};
use crate::model::TraceId;

/// Why a trace was kept or dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// A span carried the force attribute.
    Forced,
    /// A span failed.
    Error,
    /// The root lasted longer than the fixed threshold.
    Latency,
    /// The root was slower than the configured quantile of its operation.
    AdaptiveLatency,
    /// Kept by the dynamic per-key sampler's draw.
    Dynamic,
    /// Kept by the probabilistic floor's draw.
    Probabilistic,
    /// Kept after the fact, on request.
    Retroactive,
    /// Dropped: no policy kept it and the draw missed.
    SampledOut,
    /// Dropped: a policy would have kept it but the global limit refused.
    RateLimited,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 9] = [
        Reason::Forced,
        Reason::Error,
        Reason::Latency,
        Reason::AdaptiveLatency,
        Reason::Dynamic,
        Reason::Probabilistic,
        Reason::Retroactive,
        Reason::SampledOut,
        Reason::RateLimited,
    ];

    /// The name recorded in `tracewire.sampling.policy` and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Forced => "forced",
            Reason::Error => "error",
            Reason::Latency => "latency",
            Reason::AdaptiveLatency => "adaptive_latency",
            Reason::Dynamic => "dynamic",
            Reason::Probabilistic => "probabilistic",
            Reason::Retroactive => "retroactive",
            Reason::SampledOut => "sampled_out",
            Reason::RateLimited => "rate_limited",
        }
    }

    /// Whether the trace is kept for this reason.
    pub fn is_keep(self) -> bool {
        !matches!(self, Reason::SampledOut | Reason::RateLimited)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What made the stage decide a trace when it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trigger {
    /// The root had ended and no span arrived for the idle gap.
    IdleGap,
    /// The maximum wait since the first span passed.
    MaxWait,
    /// A policy could decide without waiting: a failed span or the force attribute.
    AtOnce,
    /// The buffer was over its byte budget and this was the oldest undecided trace.
    MemoryPressure,
    /// The trace reached the most spans a trace may hold.
    TraceSize,
    /// Kept after the fact, on request.
    Retroactive,
    /// The collector was shutting down.
    Shutdown,
}

impl Trigger {
    /// Every trigger, in declaration order.
    pub const ALL: [Trigger; 7] = [
        Trigger::IdleGap,
        Trigger::MaxWait,
        Trigger::AtOnce,
        Trigger::MemoryPressure,
        Trigger::TraceSize,
        Trigger::Retroactive,
        Trigger::Shutdown,
    ];

    /// The name recorded in `tracewire.sampling.trigger` and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::IdleGap => "idle_gap",
            Trigger::MaxWait => "max_wait",
            Trigger::AtOnce => "at_once",
            Trigger::MemoryPressure => "memory_pressure",
            Trigger::TraceSize => "trace_size",
            Trigger::Retroactive => "retroactive",
            Trigger::Shutdown => "shutdown",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The root span as the policies see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Root<'a> {
    pub(crate) service: &'a str,
    pub(crate) name: &'a str,
    pub(crate) duration: u64,
    pub(crate) http_status: Option<i64>,
}

/// What the policies know of a trace.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts<'a> {
    pub(crate) error: bool,
    pub(crate) forced: bool,
    pub(crate) root: Option<Root<'a>>,
}

/// A decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) reason: Reason,
    /// How many traces a kept one stands for (1 for rules that keep every match).
    pub(crate) rate: f64,
}

/// The compiled policies and their state.
pub(crate) struct Policies {
    keep_errors: bool,
    threshold: Option<u64>,
    adaptive: Option<AdaptiveLatency>,
    dynamic: Option<(DynamicSampler, Vec<KeyPart>)>,
    floor: f64,
    limiter: Option<Limiter>,
    seed: u64,
    key: String,
}

impl Policies {
    pub(crate) fn new(cfg: &SamplingConfig) -> Self {
        Policies {
            keep_errors: cfg.keep_errors,
            threshold: cfg
                .latency_threshold
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            adaptive: cfg.adaptive.clone().map(AdaptiveLatency::new),
            dynamic: cfg
                .dynamic
                .clone()
                .map(|d| (d.key.clone(), DynamicSampler::new(d)))
                .map(|(k, s)| (s, k)),
            floor: cfg.probabilistic,
            limiter: cfg.limit_per_sec.map(Limiter::new),
            seed: cfg
                .seed
                .unwrap_or_else(|| std::collections::hash_map::RandomState::new().hash_one(0u8)),
            key: String::new(),
        }
    }

    /// Root operations the adaptive latency policy could not track.
    pub(crate) fn adaptive_over_limit(&self) -> u64 {
        self.adaptive.as_ref().map_or(0, |a| a.over_limit)
    }

    /// Decides a trace.
    pub(crate) fn decide(&mut self, trace_id: TraceId, facts: &Facts<'_>, now: Nanos) -> Verdict {
        if facts.forced {
            return Verdict {
                reason: Reason::Forced,
                rate: 1.0,
            };
        }
        let mut certain = None;
        if self.keep_errors && facts.error {
            certain = Some(Reason::Error);
        }
        if let Some(root) = facts.root {
            if certain.is_none() && self.threshold.is_some_and(|t| root.duration > t) {
                certain = Some(Reason::Latency);
            }
            if let Some(a) = &mut self.adaptive {
                if certain.is_none() && a.exceeds(root.service, root.name, root.duration, now) {
                    certain = Some(Reason::AdaptiveLatency);
                }
                a.record(root.service, root.name, root.duration, now);
            }
        }
        if let Some(reason) = certain {
            return self.limited(reason, 1.0, now);
        }
        let dynamic_p = match &mut self.dynamic {
            Some((sampler, parts)) => {
                self.key.clear();
                build_key(&mut self.key, parts, facts);
                sampler.probability(&self.key, now)
            }
            None => 0.0,
        };
        let p = dynamic_p.max(self.floor);
        if p > 0.0 && draw(trace_id, self.seed) < p {
            let reason = if dynamic_p >= self.floor {
                Reason::Dynamic
            } else {
                Reason::Probabilistic
            };
            return self.limited(reason, 1.0 / p, now);
        }
        Verdict {
            reason: Reason::SampledOut,
            rate: 0.0,
        }
    }

    fn limited(&mut self, reason: Reason, rate: f64, now: Nanos) -> Verdict {
        let admitted = self.limiter.as_mut().is_none_or(|l| l.admit(now));
        Verdict {
            reason: if admitted {
                reason
            } else {
                Reason::RateLimited
            },
            rate,
        }
    }
}

fn build_key(out: &mut String, parts: &[KeyPart], facts: &Facts<'_>) {
    let root = facts.root;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('\u{1f}');
        }
        let _ = match part {
            KeyPart::Service => out.write_str(root.map_or("", |r| r.service)),
            KeyPart::Operation => out.write_str(root.map_or("", |r| r.name)),
            KeyPart::Status => out.write_str(errors::status_class(
                facts.error,
                root.and_then(|r| r.http_status),
            )),
        };
    }
}

/// A uniform draw in `[0, 1)` from the trace id and the seed (SplitMix64 finaliser over both
/// halves of the id).
pub(crate) fn draw(trace_id: TraceId, seed: u64) -> f64 {
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let id = trace_id.to_u128();
    let h = mix(mix((id as u64) ^ seed) ^ ((id >> 64) as u64).wrapping_add(0x9e37_79b9_7f4a_7c15));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn root(duration: u64) -> Option<Root<'static>> {
        Some(Root {
            service: "api",
            name: "GET /",
            duration,
            http_status: Some(200),
        })
    }

    fn facts(error: bool, forced: bool, duration: u64) -> Facts<'static> {
        Facts {
            error,
            forced,
            root: root(duration),
        }
    }

    fn policies(b: crate::sampling::SamplingConfigBuilder) -> Policies {
        Policies::new(&b.seed(7).build().unwrap())
    }

    #[test]
    fn deterministic_policies_come_first_in_order() {
        let mut p = policies(
            SamplingConfig::builder()
                .latency_threshold(Duration::from_millis(100))
                .no_dynamic(),
        );
        let id = TraceId::from_u128(1);
        let ms = 1_000_000;
        let v = |p: &mut Policies, f| p.decide(id, &f, 0);
        assert_eq!(
            v(&mut p, facts(true, true, 500 * ms)).reason,
            Reason::Forced
        );
        assert_eq!(
            v(&mut p, facts(true, false, 500 * ms)).reason,
            Reason::Error
        );
        let slow = v(&mut p, facts(false, false, 500 * ms));
        assert_eq!((slow.reason, slow.rate), (Reason::Latency, 1.0));
        assert_eq!(
            v(&mut p, facts(false, false, 100 * ms)).reason,
            Reason::SampledOut
        );
        // Without a root the latency policies abstain.
        let rootless = Facts {
            error: false,
            forced: false,
            root: None,
        };
        assert_eq!(p.decide(id, &rootless, 0).reason, Reason::SampledOut);
    }

    #[test]
    fn floor_keeps_the_configured_share_and_records_its_rate() {
        let mut p = policies(SamplingConfig::builder().no_dynamic().probabilistic(0.1));
        let n = 100_000u128;
        let mut kept = 0;
        for i in 0..n {
            let v = p.decide(TraceId::from_u128(i + 1), &facts(false, false, 1), 0);
            if v.reason.is_keep() {
                assert_eq!((v.reason, v.rate), (Reason::Probabilistic, 10.0));
                kept += 1;
            }
        }
        // Binomial(100000, 0.1): sd ≈ 95, so ±500 is over 5 sd.
        assert!((9_500..=10_500).contains(&kept), "{kept}");
        // The same trace id always draws the same way.
        let id = TraceId::from_u128(12345);
        let first = p.decide(id, &facts(false, false, 1), 0).reason;
        for _ in 0..10 {
            assert_eq!(p.decide(id, &facts(false, false, 1), 0).reason, first);
        }
    }

    #[test]
    fn limit_applies_to_all_but_forced() {
        let mut p = policies(SamplingConfig::builder().no_dynamic().limit_per_sec(2.0));
        let id = TraceId::from_u128(3);
        let err = facts(true, false, 1);
        assert_eq!(p.decide(id, &err, 0).reason, Reason::Error);
        assert_eq!(p.decide(id, &err, 0).reason, Reason::Error);
        assert_eq!(p.decide(id, &err, 0).reason, Reason::RateLimited);
        assert_eq!(
            p.decide(id, &facts(false, true, 1), 0).reason,
            Reason::Forced
        );
        assert_eq!(p.decide(id, &err, 500_000_000).reason, Reason::Error);
    }

    #[test]
    fn dynamic_share_beats_a_lower_floor() {
        let mut p = policies(SamplingConfig::builder().dynamic(1.0).probabilistic(0.01));
        // A new key is kept at rate 1 by the dynamic sampler.
        let v = p.decide(TraceId::from_u128(9), &facts(false, false, 1), 0);
        assert_eq!((v.reason, v.rate), (Reason::Dynamic, 1.0));
    }

    #[test]
    fn keys_and_names() {
        let mut k = String::new();
        build_key(
            &mut k,
            &[KeyPart::Service, KeyPart::Operation, KeyPart::Status],
            &facts(false, false, 1),
        );
        assert_eq!(k, "api\u{1f}GET /\u{1f}2xx");
        let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "forced",
                "error",
                "latency",
                "adaptive_latency",
                "dynamic",
                "probabilistic",
                "retroactive",
                "sampled_out",
                "rate_limited"
            ]
        );
        assert!(Reason::Retroactive.is_keep() && !Reason::RateLimited.is_keep());
        assert_eq!(Trigger::MemoryPressure.as_str(), "memory_pressure");
        assert!((0..1000).all(|i| {
            let d = draw(TraceId::from_u128(i), 1);
            (0.0..1.0).contains(&d)
        }));
    }
}
