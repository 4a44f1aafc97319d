//! The store's budgets and per-span caps ([`Limits`]), and the helpers that account for every
//! allocation the store makes.

use std::time::Duration;

use super::intern::arc_str_bytes;
use crate::model::{AttrValue, Attribute};
use crate::otlp::DecodeLimits;
use crate::query::PoolLimits;

/// The store's budgets and per-span caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_spans: usize,
    pub(crate) max_bytes: usize,
    pub(crate) retention: Duration,
    pub(crate) max_attributes: usize,
    pub(crate) max_value_len: usize,
    pub(crate) max_events: usize,
    pub(crate) max_links: usize,
    pub(crate) max_values_per_key: usize,
    /// The ingest queue's byte budget; `None` derives it from `max_bytes` (see
    /// [`Limits::queue_bytes`]).
    pub(crate) max_queue_bytes: Option<usize>,
    /// The threads, queue and time budget of queries.
    pub(crate) queries: PoolLimits,
    /// What one OTLP request may hold.
    pub(crate) decode: DecodeLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_spans: 1_000_000,
            max_bytes: 512 << 20,
            retention: Duration::from_secs(3600),
            max_attributes: 128,
            max_value_len: 4096,
            max_events: 128,
            max_links: 128,
            max_values_per_key: 4096,
            max_queue_bytes: None,
            queries: PoolLimits::default(),
            decode: DecodeLimits::default(),
        }
    }
}

/// Bytes of one allocation of `n` bytes, rounded to the allocator's 16-byte granule (zero-sized
/// allocations do not allocate).
pub(crate) fn alloc_bytes(n: usize) -> usize {
    if n == 0 { 0 } else { n.next_multiple_of(16) }
}

pub(super) fn attrs_bytes(attrs: &[Attribute]) -> usize {
    let mut n = alloc_bytes(std::mem::size_of_val(attrs));
    for a in attrs {
        n += arc_str_bytes(a.key.len());
        if let AttrValue::String(s) | AttrValue::Json(s) = &a.value {
            n += arc_str_bytes(s.len());
        }
    }
    n
}

pub(super) fn adjust(total: &mut usize, delta: isize) {
    *total = total.wrapping_add_signed(delta);
}

/// Truncates `s` to at most `max` bytes on a character boundary.
pub(super) use tracewire::limits::truncate_bytes as truncate;
