//! Injected latency and failures, so the demo's traces tell a story: a slow dependency on the
//! critical path, an error to find through its exemplar trace.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What a service does wrong, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Probability (0–1) that a request is slowed down.
    pub slow_probability: f64,
    /// How much a slowed request waits.
    pub slow_by: Duration,
    /// Probability (0–1) that a request fails.
    pub fail_probability: f64,
}

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        slow_probability: 0.0,
        slow_by: Duration::ZERO,
        fail_probability: 0.0,
    };

    /// Decides this request's fate from a uniform random number in `[0, 1)` for each fault.
    pub fn roll(&self, slow_draw: f64, fail_draw: f64) -> (Option<Duration>, bool) {
        let slow = (slow_draw < self.slow_probability).then_some(self.slow_by);
        (slow, fail_draw < self.fail_probability)
    }

    /// Draws this request's fate.
    pub fn draw(&self) -> (Option<Duration>, bool) {
        self.roll(uniform(), uniform())
    }
}

/// A uniform random number in `[0, 1)`, from the trace-id generator's per-thread source.
pub fn uniform() -> f64 {
    (tracewire::SpanId::random().to_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// `slow=0.05:300ms,fail=0.02` (either part may be left out), or `none`.
impl FromStr for Faults {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = Faults::NONE;
        if s.trim() == "none" {
            return Ok(f);
        }
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected slow=P:MSms or fail=P, got {part:?}"))?;
            match k {
                "slow" => {
                    let (p, d) = v
                        .split_once(':')
                        .ok_or_else(|| format!("expected slow=P:MSms, got {part:?}"))?;
                    f.slow_probability = probability(p)?;
                    f.slow_by = crate::cli::duration(d)?;
                }
                "fail" => f.fail_probability = probability(v)?,
                _ => return Err(format!("unknown fault {k:?} (slow, fail)")),
            }
        }
        Ok(f)
    }
}

fn probability(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("invalid probability {s:?} (0 to 1)"))
}

/// The form [`FromStr`] reads, naming only the faults that can happen: `none`,
/// `fail=0.02`, `slow=0.05:300ms,fail=0.02`.
impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slow = self.slow_probability > 0.0;
        let fail = self.fail_probability > 0.0;
        if slow {
            write!(
                f,
                "slow={}:{}ms",
                self.slow_probability,
                self.slow_by.as_millis()
            )?;
        }
        match (slow, fail) {
            (_, true) => write!(
                f,
                "{}fail={}",
                if slow { "," } else { "" },
                self.fail_probability
            ),
            (false, false) => f.write_str("none"),
            (true, false) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_roll() {
        let f: Faults = "slow=0.05:300ms,fail=0.02".parse().unwrap();
        assert_eq!(f.slow_probability, 0.05);
        assert_eq!(f.slow_by, Duration::from_millis(300));
        assert_eq!(f.fail_probability, 0.02);
        assert_eq!(f.to_string().parse::<Faults>().unwrap(), f);
        assert_eq!(f.roll(0.01, 0.5), (Some(Duration::from_millis(300)), false));
        assert_eq!(f.roll(0.5, 0.01), (None, true));
        assert!("slow=2:1ms".parse::<Faults>().is_err());
        assert!("boom=1".parse::<Faults>().is_err());
        assert_eq!("".parse::<Faults>().unwrap(), Faults::NONE);
        assert_eq!("none".parse::<Faults>().unwrap(), Faults::NONE);
        assert_eq!(Faults::NONE.to_string(), "none");
        assert_eq!(
            "fail=0.5".parse::<Faults>().unwrap().to_string(),
            "fail=0.5"
        );
        assert_eq!(
            "slow=1:20ms".parse::<Faults>().unwrap().to_string(),
            "slow=1:20ms"
        );
        assert!("none,fail=1".parse::<Faults>().is_err());
        let u = uniform();
        assert!((0.0..1.0).contains(&u));
    }
}
