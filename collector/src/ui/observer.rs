//! The ingest observer that feeds a [`HealthAggregator`] as spans are stored.

use std::sync::Arc;

use crate::analysis::{HealthAggregator, Sample};
use crate::model::{IngestObserver, IngestedSpan};

/// An [`IngestObserver`] that records every stored span into a [`HealthAggregator`].
///
/// ```
/// use std::sync::Arc;
/// use tracewire_collector::Collector;
/// use tracewire_collector::analysis::HealthAggregator;
/// use tracewire_collector::ui::HealthObserver;
///
/// let health = Arc::new(HealthAggregator::default());
/// let builder = Collector::builder().observer(HealthObserver::new(health.clone()));
/// # drop(builder);
/// ```
#[derive(Debug, Clone)]
pub struct HealthObserver {
    health: Arc<HealthAggregator>,
}

impl HealthObserver {
    /// An observer feeding `health`.
    pub fn new(health: Arc<HealthAggregator>) -> Self {
        HealthObserver { health }
    }
}

impl IngestObserver for HealthObserver {
    fn on_span(&self, span: &IngestedSpan<'_>) {
        self.health.record_sample(Sample {
            trace_id: span.trace_id,
            span_id: span.span_id,
            service: span.service,
            operation: span.name,
            start_ns: span.start_unix_nano,
            end_ns: span.end_unix_nano,
            is_error: span.error,
        });
    }
}
