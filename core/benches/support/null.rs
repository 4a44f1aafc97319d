//! The exporter the pipeline benches give their `Pipeline`: it looks at every batch and keeps
//! nothing, so what is measured is the pipeline, not an exporter.

use std::hint::black_box;

use tracewire::export::SpanExporter;
use tracewire::{ExportError, Resource, SpanData};

/// Looks at every batch and keeps nothing.
pub(crate) struct Null;

impl SpanExporter for Null {
    fn export(&mut self, batch: &[SpanData], _: &Resource) -> Result<(), ExportError> {
        black_box(batch);
        Ok(())
    }
}
