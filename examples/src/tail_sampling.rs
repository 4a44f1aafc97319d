//! Tail sampling in the demo's embedded collector, on unless `--no-sampling`: every trace with
//! a failure is kept, every trace an injected delay slowed down is kept (the latency threshold
//! defaults to the shortest injected delay), and a share of the rest; after the traffic, the
//! report of the traces seen and kept, by reason.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use tracewire_collector::CollectorHandle;
use tracewire_collector::sampling::{Reason, SamplingConfig, SamplingConfigError, SamplingStats};

use crate::faults::Faults;

/// How long [`wait_for_decisions`] waits beyond the idle gap.
const DECISION_MARGIN: Duration = Duration::from_secs(5);
/// How often the dynamic sampler adjusts its rates: a demo run lasts seconds, not minutes.
const ADJUST_EVERY: Duration = Duration::from_secs(1);

/// The demo's tail-sampling settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TailSampling {
    /// A trace is decided once its root span is in and no span of it arrived for this long.
    pub idle_gap: Duration,
    /// Every trace whose root took longer is kept.
    pub latency: Option<Duration>,
    /// Of the other traces, the dynamic sampler keeps about this many per second.
    pub target_per_sec: f64,
}

impl TailSampling {
    /// The settings for a run with `faults`: without a `latency` threshold, the shortest
    /// injected delay, so that every trace an injected delay slowed down is kept (the root
    /// span lasts at least as long as any delay under it).
    pub fn new(
        idle_gap: Duration,
        latency: Option<Duration>,
        target_per_sec: f64,
        faults: &[Faults],
    ) -> Self {
        let shortest_delay = faults
            .iter()
            .filter(|f| f.slow_probability > 0.0 && !f.slow_by.is_zero())
            .map(|f| f.slow_by)
            .min();
        TailSampling {
            idle_gap,
            latency: latency.or(shortest_delay),
            target_per_sec,
        }
    }

    /// The collector's configuration: the defaults (errors kept, adaptive latency, the dynamic
    /// per-key sampler) with the demo's idle gap, latency threshold and target, the target
    /// adjusted every second.
    pub fn config(&self) -> Result<SamplingConfig, SamplingConfigError> {
        SamplingConfig::builder()
            .idle_gap(self.idle_gap)
            .latency_threshold(self.latency)
            .dynamic(self.target_per_sec)
            .dynamic_adjust_every(ADJUST_EVERY)
            .build()
    }
}

/// Waits until the collector has decided at least `traces` traces and has none waiting (at most
/// the idle gap plus five seconds), stores what it kept, and returns its counters; `None` when
/// sampling is off.
pub async fn wait_for_decisions(
    c: &CollectorHandle,
    traces: usize,
    idle_gap: Duration,
) -> Option<SamplingStats> {
    let deadline = Instant::now() + idle_gap + DECISION_MARGIN;
    loop {
        c.flush().await;
        let stats = c.store().sampling_stats()?;
        let decided = stats.kept_traces() + stats.dropped_traces();
        if (decided >= traces as u64 && stats.pending_traces == 0) || Instant::now() > deadline {
            return Some(stats);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What each reason means, as the report says it.
fn meaning(reason: Reason, sampling: &TailSampling) -> String {
    match reason {
        Reason::Forced => "a span asked for it".to_owned(),
        Reason::Error => "a span failed".to_owned(),
        Reason::Latency => match sampling.latency {
            Some(d) => format!("the request took over {d:?}"),
            None => "the request was slow".to_owned(),
        },
        Reason::AdaptiveLatency => "slower than its operation's p99".to_owned(),
        Reason::Dynamic => "a share of each kind of trace".to_owned(),
        Reason::Probabilistic => "the random floor".to_owned(),
        Reason::Retroactive => "kept on request".to_owned(),
        Reason::SampledOut => "no policy kept it".to_owned(),
        Reason::RateLimited => "over the kept-traces limit".to_owned(),
        _ => String::new(),
    }
}

/// Traces seen, kept and dropped, then one line per reason that decided any trace:
/// `  kept     error    6   a span failed`. `failed_requests` (answered with an error) is
/// set beside the `error` line, so the two can be compared.
pub fn render(stats: &SamplingStats, sampling: &TailSampling, failed_requests: usize) -> String {
    let (kept, dropped) = (stats.kept_traces(), stats.dropped_traces());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ntail sampling: {} traces seen, {kept} kept, {dropped} dropped (decided {:?} after \
         their last span)",
        kept + dropped,
        sampling.idle_gap
    );
    for &(reason, n) in &stats.decisions {
        if n == 0 && reason != Reason::Error {
            continue;
        }
        let verdict = if reason.is_keep() { "kept" } else { "dropped" };
        let mut why = meaning(reason, sampling);
        if reason == Reason::Error {
            let _ = write!(why, " (failed requests: {failed_requests})");
        }
        let _ = writeln!(out, "  {verdict:<8} {:<17} {n:>6}   {why}", reason.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(s: &str) -> Faults {
        s.parse().unwrap()
    }

    #[test]
    fn the_latency_threshold_defaults_to_the_shortest_injected_delay() {
        let gap = Duration::from_secs(1);
        let all = [
            faults("none"),
            faults("slow=0.03:80ms"),
            faults("fail=0.02"),
            faults("slow=0.05:300ms"),
            // Never happens: not a delay to keep.
            faults("slow=0:5ms"),
        ];
        let s = TailSampling::new(gap, None, 5.0, &all);
        assert_eq!(s.latency, Some(Duration::from_millis(80)));
        let given = Some(Duration::from_millis(500));
        assert_eq!(TailSampling::new(gap, given, 5.0, &all).latency, given);
        assert_eq!(
            TailSampling::new(gap, None, 5.0, &[Faults::NONE]).latency,
            None
        );
        let config = s.config().unwrap();
        assert_eq!(config.idle_gap(), gap);
        let bad = TailSampling::new(gap, None, -1.0, &all);
        assert!(bad.config().is_err());
    }

    #[test]
    fn the_report_counts_traces_by_reason() {
        let mut stats = SamplingStats::default();
        for (reason, n) in &mut stats.decisions {
            *n = match reason {
                Reason::Error => 6,
                Reason::Latency => 11,
                Reason::Dynamic => 23,
                Reason::SampledOut => 160,
                _ => 0,
            };
        }
        let sampling = TailSampling {
            idle_gap: Duration::from_millis(1500),
            latency: Some(Duration::from_millis(80)),
            target_per_sec: 5.0,
        };
        assert_eq!(
            render(&stats, &sampling, 6),
            "\ntail sampling: 200 traces seen, 40 kept, 160 dropped (decided 1.5s after their \
             last span)\n\
             \x20 kept     error                  6   a span failed (failed requests: 6)\n\
             \x20 kept     latency               11   the request took over 80ms\n\
             \x20 kept     dynamic               23   a share of each kind of trace\n\
             \x20 dropped  sampled_out          160   no policy kept it\n"
        );
        // The error line is there even when nothing failed.
        let quiet = render(&SamplingStats::default(), &sampling, 0);
        assert!(
            quiet.ends_with(
                "  kept     error                  0   a span failed (failed requests: 0)\n"
            ),
            "{quiet}"
        );
    }
}
