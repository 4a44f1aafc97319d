//! Sampling: which traces record their spans.
//!
//! The decision is taken once, when a span starts with no local parent (a *local root*: a new
//! trace, or the first span in this process of a trace that came from elsewhere). Its children
//! inherit it. Unsampled spans still get ids, and the ids are still propagated — with the
//! sampled flag cleared — so downstream services see one trace either way.
//!
//! | sampler | decision |
//! |---|---|
//! | [`Sampler::AlwaysOn`] / [`Sampler::AlwaysOff`] | always / never |
//! | [`Sampler::TraceIdRatio`] | the trace id's 56 random low bits below `ratio × 2^56` — every service reaches the same decision for a trace |
//! | [`Sampler::ParentBased`] | the parent's sampled flag, with a sampler per branch (root, remote sampled/unsampled, local sampled/unsampled) |
//! | [`Sampler::RateLimited`] | at most N new traces per second (a token bucket; no lock) |
//!
//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` select one ([`Sampler::from_env`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::context::SpanContext;
use crate::error::ConfigError;
use crate::id::TraceId;

/// A sampling policy. Cheap to clone.
#[derive(Clone)]
#[non_exhaustive]
pub enum Sampler {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample a fraction of traces, decided from the trace id alone.
    TraceIdRatio(f64),
    /// Follow the parent's decision; the branches say what to do in each case.
    ParentBased(Arc<ParentBased>),
    /// At most this many new traces per second.
    RateLimited(Arc<RateLimiter>),
}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sampler::AlwaysOn => f.write_str("AlwaysOn"),
            Sampler::AlwaysOff => f.write_str("AlwaysOff"),
            Sampler::TraceIdRatio(r) => write!(f, "TraceIdRatio({r})"),
            Sampler::ParentBased(p) => fmt::Debug::fmt(p, f),
            Sampler::RateLimited(r) => write!(f, "RateLimited({}/s)", r.per_second),
        }
    }
}

impl Default for Sampler {
    /// `parentbased_always_on`, the OpenTelemetry default.
    fn default() -> Self {
        Sampler::parent_based(Sampler::AlwaysOn)
    }
}

/// The five branches of a parent-based sampler.
#[derive(Clone, Debug)]
pub struct ParentBased {
    root: Sampler,
    remote_sampled: Sampler,
    remote_not_sampled: Sampler,
    local_sampled: Sampler,
    local_not_sampled: Sampler,
}

impl ParentBased {
    /// Branches with the OpenTelemetry defaults: follow the parent; `root` for new traces.
    pub fn new(root: Sampler) -> Self {
        ParentBased {
            root,
            remote_sampled: Sampler::AlwaysOn,
            remote_not_sampled: Sampler::AlwaysOff,
            local_sampled: Sampler::AlwaysOn,
            local_not_sampled: Sampler::AlwaysOff,
        }
    }

    /// The sampler for a remote parent that is sampled.
    #[must_use]
    pub fn remote_parent_sampled(mut self, s: Sampler) -> Self {
        self.remote_sampled = s;
        self
    }

    /// The sampler for a remote parent that is not sampled.
    #[must_use]
    pub fn remote_parent_not_sampled(mut self, s: Sampler) -> Self {
        self.remote_not_sampled = s;
        self
    }

    /// The sampler for a local parent that is sampled.
    #[must_use]
    pub fn local_parent_sampled(mut self, s: Sampler) -> Self {
        self.local_sampled = s;
        self
    }

    /// The sampler for a local parent that is not sampled.
    #[must_use]
    pub fn local_parent_not_sampled(mut self, s: Sampler) -> Self {
        self.local_not_sampled = s;
        self
    }
}

/// A lock-free token bucket refilled at a fixed rate.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    origin: Instant,
    /// The bucket as a "theoretical arrival time" in nanoseconds since `origin` (GCRA).
    tat: AtomicU64,
}

impl RateLimiter {
    /// Allows `per_second` traces per second, with a burst of the same size.
    pub fn new(per_second: f64) -> Self {
        RateLimiter {
            per_second: per_second.max(0.0),
            origin: Instant::now(),
            tat: AtomicU64::new(0),
        }
    }

    /// Takes a token if one is available.
    pub fn try_acquire(&self) -> bool {
        if self.per_second <= 0.0 {
            return false;
        }
        let interval = (1e9 / self.per_second) as u64;
        let burst = (self.per_second.ceil() as u64).max(1) * interval;
        let now = self.origin.elapsed().as_nanos() as u64;
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            if start.saturating_sub(now) + interval > burst {
                return false;
            }
            match self.tat.compare_exchange_weak(
                tat,
                start + interval,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => tat = actual,
            }
        }
    }
}

/// What the sampler knows about a new local root.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SamplingInput<'a> {
    /// The trace id the span will have.
    pub trace_id: TraceId,
    /// The parent context, if the span continues a trace.
    pub parent: Option<&'a SpanContext>,
    /// The span's name.
    pub name: &'a str,
}

impl Sampler {
    /// `ParentBased` with the default branches and `root` for new traces.
    pub fn parent_based(root: Sampler) -> Self {
        Sampler::ParentBased(Arc::new(ParentBased::new(root)))
    }

    /// `ParentBased` with every branch given.
    pub fn parent_based_with(branches: ParentBased) -> Self {
        Sampler::ParentBased(Arc::new(branches))
    }

    /// A trace-id ratio sampler; `ratio` is clamped to `0.0..=1.0`.
    pub fn ratio(ratio: f64) -> Self {
        let r = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        Sampler::TraceIdRatio(r)
    }

    /// A rate-limited sampler.
    pub fn rate_limited(per_second: f64) -> Self {
        Sampler::RateLimited(Arc::new(RateLimiter::new(per_second)))
    }

    /// Decides whether a new local root is sampled.
    pub fn should_sample(&self, input: &SamplingInput<'_>) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(r) => ratio_decision(input.trace_id, *r),
            Sampler::RateLimited(limiter) => limiter.try_acquire(),
            Sampler::ParentBased(pb) => {
                let branch = match input.parent {
                    None => &pb.root,
                    Some(p) => match (p.is_remote(), p.is_sampled()) {
                        (true, true) => &pb.remote_sampled,
                        (true, false) => &pb.remote_not_sampled,
                        (false, true) => &pb.local_sampled,
                        (false, false) => &pb.local_not_sampled,
                    },
                };
                branch.should_sample(input)
            }
        }
    }

    /// Reads `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`. Unset means the default
    /// (`parentbased_always_on`); an unknown name or a bad argument is an error.
    pub fn from_env() -> Result<Self, ConfigError> {
        Sampler::from_vars(
            std::env::var("OTEL_TRACES_SAMPLER").ok().as_deref(),
            std::env::var("OTEL_TRACES_SAMPLER_ARG").ok().as_deref(),
        )
    }

    /// Like [`Sampler::from_env`] with the two values given.
    ///
    /// Names: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`,
    /// `parentbased_always_off`, `parentbased_traceidratio` (argument: the ratio, default 1.0),
    /// and `ratelimited`, `parentbased_ratelimited` (argument: traces per second, default 100).
    ///
    /// ```
    /// use tracewire::Sampler;
    ///
    /// assert!(Sampler::from_vars(Some("parentbased_traceidratio"), Some("0.25")).is_ok());
    /// assert!(Sampler::from_vars(Some("traceidratio"), Some("half")).is_err());
    /// assert!(Sampler::from_vars(Some("sometimes"), None).is_err());
    /// ```
    pub fn from_vars(name: Option<&str>, arg: Option<&str>) -> Result<Self, ConfigError> {
        let name = name.map(str::trim).filter(|s| !s.is_empty());
        let arg = arg.map(str::trim).filter(|s| !s.is_empty());
        let Some(name) = name else {
            return Ok(Sampler::default());
        };
        let lower = name.to_ascii_lowercase();
        let bad_arg = || ConfigError::InvalidSamplerArg {
            sampler: lower.clone(),
            arg: arg.unwrap_or_default().to_owned(),
        };
        // The argument as a number `valid` accepts, `default` when there is none.
        let number = |default: f64, valid: fn(f64) -> bool| -> Result<f64, ConfigError> {
            match arg {
                None => Ok(default),
                Some(a) => a
                    .parse::<f64>()
                    .ok()
                    .filter(|r| valid(*r))
                    .ok_or_else(bad_arg),
            }
        };
        let ratio = || number(1.0, |r| (0.0..=1.0).contains(&r));
        let rate = || number(100.0, |r| r.is_finite() && r >= 0.0);
        Ok(match lower.as_str() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::ratio(ratio()?),
            "parentbased_always_on" => Sampler::parent_based(Sampler::AlwaysOn),
            "parentbased_always_off" => Sampler::parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => Sampler::parent_based(Sampler::ratio(ratio()?)),
            "ratelimited" => Sampler::rate_limited(rate()?),
            "parentbased_ratelimited" => Sampler::parent_based(Sampler::rate_limited(rate()?)),
            _ => return Err(ConfigError::UnknownSampler(name.to_owned())),
        })
    }
}

/// The consistent ratio decision: the trace id's low 56 bits (random per W3C level 2) compared
/// with `ratio × 2^56`. The same trace id gives the same answer in every service.
fn ratio_decision(trace_id: TraceId, ratio: f64) -> bool {
    const RANDOM_BITS: u32 = 56;
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let threshold = (ratio * (1u64 << RANDOM_BITS) as f64) as u64;
    (trace_id.low_u64() & ((1u64 << RANDOM_BITS) - 1)) < threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SpanId, TraceFlags, TraceState};

    fn input(parent: Option<&SpanContext>) -> SamplingInput<'_> {
        SamplingInput {
            trace_id: TraceId::random(),
            parent,
            name: "x",
        }
    }

    fn parent(remote: bool, sampled: bool) -> SpanContext {
        SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(1),
            TraceFlags::NONE.with_sampled(sampled),
            TraceState::new(),
            remote,
        )
    }

    #[test]
    fn ratio_is_consistent_and_proportional() {
        let s = Sampler::ratio(0.25);
        let ids: Vec<TraceId> = (0..20_000).map(|_| TraceId::random()).collect();
        let sampled = ids
            .iter()
            .filter(|id| {
                s.should_sample(&SamplingInput {
                    trace_id: **id,
                    parent: None,
                    name: "",
                })
            })
            .count();
        // 20 000 draws at p = 0.25: mean 5000, sd ~61; ±600 is nearly 10 sd.
        assert!((4400..5600).contains(&sampled), "{sampled}");
        for id in &ids[..100] {
            let a = ratio_decision(*id, 0.25);
            assert_eq!(a, ratio_decision(*id, 0.25));
            // A trace sampled at 0.25 is also sampled at any higher ratio.
            if a {
                assert!(ratio_decision(*id, 0.5));
            }
        }
        assert!(ratio_decision(TraceId::from_u128(u128::MAX), 1.0));
        assert!(!ratio_decision(TraceId::from_u128(1), 0.0));
    }

    #[test]
    fn parent_based_all_five_branches() {
        let s = Sampler::parent_based_with(
            ParentBased::new(Sampler::AlwaysOff)
                .remote_parent_sampled(Sampler::AlwaysOff)
                .remote_parent_not_sampled(Sampler::AlwaysOn)
                .local_parent_sampled(Sampler::AlwaysOff)
                .local_parent_not_sampled(Sampler::AlwaysOn),
        );
        assert!(!s.should_sample(&input(None)));
        assert!(!s.should_sample(&input(Some(&parent(true, true)))));
        assert!(s.should_sample(&input(Some(&parent(true, false)))));
        assert!(!s.should_sample(&input(Some(&parent(false, true)))));
        assert!(s.should_sample(&input(Some(&parent(false, false)))));
        let d = Sampler::default();
        assert!(d.should_sample(&input(None)));
        assert!(d.should_sample(&input(Some(&parent(true, true)))));
        assert!(!d.should_sample(&input(Some(&parent(true, false)))));
    }

    #[test]
    fn rate_limiter_allows_a_burst_then_stops() {
        let limiter = RateLimiter::new(10.0);
        let granted = (0..100).filter(|_| limiter.try_acquire()).count();
        // The burst is one second's worth; refill within this loop is at most a token or two.
        assert!((10..=12).contains(&granted), "{granted}");
        assert!(!RateLimiter::new(0.0).try_acquire());
    }

    #[test]
    fn env_names() {
        assert!(matches!(
            Sampler::from_vars(None, None).unwrap(),
            Sampler::ParentBased(_)
        ));
        assert!(matches!(
            Sampler::from_vars(Some("always_off"), None).unwrap(),
            Sampler::AlwaysOff
        ));
        assert!(matches!(
            Sampler::from_vars(Some("traceidratio"), Some("0.5")).unwrap(),
            Sampler::TraceIdRatio(r) if r == 0.5
        ));
        assert_eq!(
            Sampler::from_vars(Some("traceidratio"), Some("1.5")).unwrap_err(),
            ConfigError::InvalidSamplerArg {
                sampler: "traceidratio".into(),
                arg: "1.5".into()
            }
        );
        assert_eq!(
            Sampler::from_vars(Some("jaeger_remote"), None).unwrap_err(),
            ConfigError::UnknownSampler("jaeger_remote".into())
        );
        assert!(matches!(
            Sampler::from_vars(Some("parentbased_ratelimited"), Some("5")).unwrap(),
            Sampler::ParentBased(_)
        ));
    }
}
