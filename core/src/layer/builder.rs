//! [`LayerBuilder`]: the layer's settings.

use std::fmt;
use std::sync::Arc;

use super::{Config, TracewireLayer};
use crate::export::SpanSink;
use crate::sampler::Sampler;

/// Configures a [`TracewireLayer`].
#[must_use]
pub struct LayerBuilder {
    sampler: Sampler,
    max_attributes: usize,
    max_events: usize,
    baggage_attributes: Vec<Box<str>>,
    error_events_set_status: bool,
}

impl fmt::Debug for LayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerBuilder")
            .field("sampler", &self.sampler)
            .field("max_attributes", &self.max_attributes)
            .field("max_events", &self.max_events)
            .finish_non_exhaustive()
    }
}

impl Default for LayerBuilder {
    fn default() -> Self {
        LayerBuilder {
            sampler: Sampler::default(),
            max_attributes: 128,
            max_events: 128,
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

    /// The most attributes a span keeps (default 128); more are counted in
    /// [`SpanData::dropped_attributes`](crate::SpanData::dropped_attributes).
    pub fn max_attributes(mut self, n: usize) -> Self {
        self.max_attributes = n;
        self
    }

    /// The most events a span keeps (default 128); more are counted in
    /// [`SpanData::dropped_events`](crate::SpanData::dropped_events).
    pub fn max_events(mut self, n: usize) -> Self {
        self.max_events = n;
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
        TracewireLayer {
            config: Arc::new(Config {
                sampler: self.sampler,
                sink,
                max_attributes: self.max_attributes,
                max_events: self.max_events,
                baggage_attributes: self.baggage_attributes,
                error_events_set_status: self.error_events_set_status,
            }),
            with_state: None,
        }
    }
}
