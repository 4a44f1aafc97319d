use std::sync::{Arc, Mutex, MutexGuard};

use super::SpanExporter;
use crate::error::ExportError;
use crate::resource::Resource;
use crate::span::SpanData;

#[derive(Default)]
struct Store {
    spans: Vec<SpanData>,
    batches: Vec<usize>,
    resource: Option<Resource>,
}

/// Keeps exported spans in memory, for tests and examples. Clones share one store.
#[derive(Clone, Default)]
pub struct InMemoryExporter {
    store: Arc<Mutex<Store>>,
}

impl std::fmt::Debug for InMemoryExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryExporter")
            .field("spans", &self.lock().spans.len())
            .finish()
    }
}

impl InMemoryExporter {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of every span exported so far, in export order.
    pub fn spans(&self) -> Vec<SpanData> {
        self.lock().spans.clone()
    }

    /// The size of each batch received, in order.
    pub fn batches(&self) -> Vec<usize> {
        self.lock().batches.clone()
    }

    /// The resource of the last batch.
    pub fn resource(&self) -> Option<Resource> {
        self.lock().resource.clone()
    }

    /// Forgets everything.
    pub fn reset(&self) {
        *self.lock() = Store::default();
    }
}

impl SpanExporter for InMemoryExporter {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        let mut store = self.lock();
        store.spans.extend_from_slice(batch);
        store.batches.push(batch.len());
        store.resource = Some(resource.clone());
        Ok(())
    }
}
