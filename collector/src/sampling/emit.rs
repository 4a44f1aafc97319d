//! What a kept trace carries out of the stage: the sampling attributes on its root.

use std::borrow::Cow;

use super::attributes::{POLICY, RATE, TRIGGER};
use super::decision_cache::Decision;
use crate::ingest::{NewSpan, NewValue};

/// Records `d` on `span`: [`POLICY`], [`RATE`] and [`TRIGGER`], placed first so a per-span
/// attribute cap never drops them. A rate already on the span (set by a sampler upstream, a
/// tracewire agent forwarding to this collector, say) multiplies into the new one, so the
/// recorded rate stays the number of traces this one stands for; earlier policy and trigger
/// values are replaced.
pub(crate) fn annotate(span: &mut NewSpan, d: &Decision) {
    let mut rate = d.rate;
    span.attributes.retain(|(k, v)| match &**k {
        RATE => {
            let upstream = match v {
                NewValue::Double(r) => Some(*r),
                NewValue::Int(r) => Some(*r as f64),
                NewValue::Str(s) => s.trim().parse().ok(),
                _ => None,
            };
            if let Some(r) = upstream.filter(|r| r.is_finite() && *r >= 1.0) {
                rate *= r;
            }
            false
        }
        POLICY | TRIGGER => false,
        _ => true,
    });
    span.attributes.splice(
        0..0,
        [
            (
                Cow::Borrowed(POLICY),
                NewValue::Str(Cow::Borrowed(d.reason.as_str())),
            ),
            (Cow::Borrowed(RATE), NewValue::Double(rate)),
            (
                Cow::Borrowed(TRIGGER),
                NewValue::Str(Cow::Borrowed(d.trigger.as_str())),
            ),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::policy::{Reason, Trigger};
    use crate::sampling::test_support::span;

    fn decision(rate: f64) -> Decision {
        Decision {
            reason: Reason::Dynamic,
            trigger: Trigger::IdleGap,
            rate,
            at: 0,
        }
    }

    #[test]
    fn attributes_go_first_and_upstream_rates_multiply() {
        let mut s = span(1, 1, 0, 0, 1);
        s.attributes = vec![
            (
                Cow::Borrowed("http.route"),
                NewValue::Str(Cow::Borrowed("/x")),
            ),
            (Cow::Borrowed(RATE), NewValue::Int(10)),
            (
                Cow::Borrowed(POLICY),
                NewValue::Str(Cow::Borrowed("probabilistic")),
            ),
        ];
        annotate(&mut s, &decision(4.0));
        let keys: Vec<&str> = s.attributes.iter().map(|(k, _)| &**k).collect();
        assert_eq!(
            keys,
            [
                "tracewire.sampling.policy",
                "tracewire.sampling.rate",
                "tracewire.sampling.trigger",
                "http.route"
            ]
        );
        assert_eq!(s.attributes[0].1, NewValue::Str(Cow::Borrowed("dynamic")));
        assert_eq!(s.attributes[1].1, NewValue::Double(40.0));
        assert_eq!(s.attributes[2].1, NewValue::Str(Cow::Borrowed("idle_gap")));
        // A nonsense upstream rate is ignored.
        let mut t = span(1, 1, 0, 0, 1);
        t.attributes = vec![(Cow::Borrowed(RATE), NewValue::Double(f64::NAN))];
        annotate(&mut t, &decision(2.0));
        assert_eq!(t.attributes[1].1, NewValue::Double(2.0));
    }
}
