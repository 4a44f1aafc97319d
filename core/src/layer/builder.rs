//! [`LayerBuilder`]: the layer's settings.

use std::fmt;
use std::sync::Arc;

use super::{Config, TracewireLayer};
use crate::export::SpanSink;
use crate::limits::SpanLimits;
use crate::sampler::Sampler;

/// The limits set on a [`LayerBuilder`], each winning over the base limits (the defaults, or
/// the environment when [`init`](crate::init) builds the layer).
#[derive(Clone, Copy, Debug, Default)]
struct LimitOverrides {
    attribute_count: Option<usize>,
    attribute_value_length: Option<Option<usize>>,
    event_count: Option<usize>,
    link_count: Option<usize>,
    attribute_per_event: Option<usize>,
    attribute_per_link: Option<usize>,
}

impl LimitOverrides {
    fn all(l: SpanLimits) -> Self {
        LimitOverrides {
            attribute_count: Some(l.attribute_count),
            attribute_value_length: Some(l.attribute_value_length),
            event_count: Some(l.event_count),
            link_count: Some(l.link_count),
            attribute_per_event: Some(l.attribute_per_event),
            attribute_per_link: Some(l.attribute_per_link),
        }
    }

    fn over(self, base: SpanLimits) -> SpanLimits {
        let mut l = base;
        l.attribute_count = self.attribute_count.unwrap_or(base.attribute_count);
        l.attribute_value_length = self
            .attribute_value_length
            .unwrap_or(base.attribute_value_length);
        l.event_count = self.event_count.unwrap_or(base.event_count);
        l.link_count = self.link_count.unwrap_or(base.link_count);
        l.attribute_per_event = self.attribute_per_event.unwrap_or(base.attribute_per_event);
        l.attribute_per_link = self.attribute_per_link.unwrap_or(base.attribute_per_link);
        l
    }
}

/// Configures a [`TracewireLayer`].
#[must_use]
pub struct LayerBuilder {
    sampler: Sampler,
    limits: LimitOverrides,
    base_limits: SpanLimits,
    baggage_attributes: Vec<Box<str>>,
    error_events_set_status: bool,
}

impl fmt::Debug for LayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerBuilder")
            .field("sampler", &self.sampler)
            .field("limits", &self.limits.over(self.base_limits))
            .finish_non_exhaustive()
    }
}

impl Default for LayerBuilder {
    fn default() -> Self {
        LayerBuilder {
            sampler: Sampler::default(),
            limits: LimitOverrides::default(),
            base_limits: SpanLimits::default(),
            baggage_attributes: Vec::new(),
            error_events_set_status: true,
        }
    }
}

impl LayerBuilder {
    /// The sampler for local roots (default: parent-based, always on).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Every span limit at once (see [`limits`](crate::limits) for the rules and the
    /// `OTEL_*` variables [`init`](crate::init) reads).
    pub fn limits(mut self, limits: SpanLimits) -> Self {
        self.limits = LimitOverrides::all(limits);
        self
    }

    /// The most attributes a span keeps (default 128); more are counted in
    /// [`SpanData::dropped_attributes`](crate::SpanData::dropped_attributes).
    pub fn max_attributes(mut self, n: usize) -> Self {
        self.limits.attribute_count = Some(n);
        self
    }

    /// The most characters a string attribute value keeps (default: no limit); longer values,
    /// and longer strings in string arrays, are cut at a character boundary.
    pub fn max_attribute_value_length(mut self, n: usize) -> Self {
        self.limits.attribute_value_length = Some(Some(n));
        self
    }

    /// The most events a span keeps (default 128); more are counted in
    /// [`SpanData::dropped_events`](crate::SpanData::dropped_events).
    pub fn max_events(mut self, n: usize) -> Self {
        self.limits.event_count = Some(n);
        self
    }

    /// The most links a span keeps (default 128); more are counted in
    /// [`SpanData::dropped_links`](crate::SpanData::dropped_links).
    pub fn max_links(mut self, n: usize) -> Self {
        self.limits.link_count = Some(n);
        self
    }

    /// The most attributes an event keeps (default 128); more are counted in
    /// [`Event::dropped_attributes`](crate::Event::dropped_attributes).
    pub fn max_attributes_per_event(mut self, n: usize) -> Self {
        self.limits.attribute_per_event = Some(n);
        self
    }

    /// The most attributes a link keeps (default 128); more are counted in
    /// [`Link::dropped_attributes`](crate::Link::dropped_attributes).
    pub fn max_attributes_per_link(mut self, n: usize) -> Self {
        self.limits.attribute_per_link = Some(n);
        self
    }

    /// The limits under those set on this builder (the environment's, for [`init`](crate::init)).
    pub(crate) fn base_limits(mut self, base: SpanLimits) -> Self {
        self.base_limits = base;
        self
    }

    /// Baggage keys copied onto every span as attributes of the same name, so a value set at
    /// the edge (tenant, product, customer tier) labels every downstream span.
    pub fn baggage_attributes<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.baggage_attributes = keys.into_iter().map(|k| k.into().into()).collect();
        self
    }

    /// Whether an `ERROR`-level event marks its span as failed (default `true`).
    pub fn error_events_set_status(mut self, yes: bool) -> Self {
        self.error_events_set_status = yes;
        self
    }

    /// The layer, sending finished spans to `sink` (usually a [`Pipeline`](crate::export::Pipeline)).
    pub fn build<K: SpanSink>(self, sink: K) -> TracewireLayer {
        self.build_with_sink(Arc::new(sink))
    }

    pub(crate) fn build_with_sink(self, sink: Arc<dyn SpanSink>) -> TracewireLayer {
        crate::rng::check_fork();
        let record = sink.is_exporting();
        TracewireLayer {
            config: Arc::new(Config {
                sampler: self.sampler,
                sink,
                limits: self.limits.over(self.base_limits),
                baggage_attributes: self.baggage_attributes,
                error_events_set_status: self.error_events_set_status,
                record,
            }),
            lookup: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::SpanData;

    struct Discard;

    impl SpanSink for Discard {
        fn on_end(&self, _: SpanData) {}
    }

    #[test]
    fn limits_set_on_the_builder_win_over_the_base() {
        let base = SpanLimits {
            attribute_count: 9,
            event_count: 7,
            attribute_value_length: Some(100),
            ..SpanLimits::default()
        };
        let layer = LayerBuilder::default()
            .max_events(3)
            .max_attribute_value_length(5)
            .base_limits(base)
            .build(Discard);
        let l = layer.config.limits;
        assert_eq!(
            (l.attribute_count, l.event_count, l.attribute_value_length),
            (9, 3, Some(5))
        );
        assert_eq!(
            (l.link_count, l.attribute_per_event, l.attribute_per_link),
            (128, 128, 128)
        );
        let all = LayerBuilder::default()
            .limits(SpanLimits::default())
            .base_limits(base)
            .build(Discard);
        assert_eq!(all.config.limits, SpanLimits::default());
    }
}
