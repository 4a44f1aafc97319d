//! Reads that keep a big trace cheap: a trace's skeleton (ids, parents and times only) to
//! arrange it, then full spans for just the page asked for; one span by id; the analysis view
//! of a trace without its attributes; and a bounded sample of the newest traces.

use std::collections::HashSet;

use super::Store;
use super::span::{StoredSpan, TAG_STR};
use crate::analysis::AnalysisSpan;
use crate::assembly::Key;
use crate::model::{Span, SpanId, SpanKind, TraceId, kind_from_u8};
use crate::query::expired;

/// What arranging a trace needs of one span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanKey {
    /// Where the span is in the store (to fetch it for a page).
    pub(crate) seq: u64,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl SpanKey {
    /// What arranging needs of the span.
    pub(crate) fn key(&self) -> Key {
        Key {
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            start: self.start,
        }
    }
}

/// Keys of the attributes that name a client span's peer, in order of preference.
const PEER_KEYS: [&str; 3] = ["peer.service", "db.system", "server.address"];

impl Store {
    /// The skeleton of `trace_id`, in arrival order (empty when unknown, or when the query ran
    /// out of time).
    pub(crate) fn trace_keys(&self, trace_id: TraceId) -> Vec<SpanKey> {
        let Some(p) = self.traces.get(&trace_id) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(p.len());
        for (i, seq) in p.iter_oldest(self.head).enumerate() {
            if i % 4096 == 4095 && expired() {
                return Vec::new();
            }
            if let Some(s) = self.span_at(seq) {
                out.push(SpanKey {
                    seq,
                    span_id: s.span_id,
                    parent_span_id: s.parent_span_id,
                    start: s.start,
                    end: s.end,
                });
            }
        }
        out
    }

    /// The spans at `seqs` (`None` for one evicted since its key was read).
    pub(crate) fn spans_at(&self, seqs: &[u64]) -> Vec<Option<Span>> {
        seqs.iter()
            .map(|&seq| self.span_at(seq).map(|s| self.resolve(s)))
            .collect()
    }

    /// The first stored copy of span `span_id` of `trace_id`.
    pub(crate) fn span(&self, trace_id: TraceId, span_id: SpanId) -> Option<Span> {
        let p = self.traces.get(&trace_id)?;
        p.iter_oldest(self.head)
            .filter_map(|seq| self.span_at(seq))
            .find(|s| s.span_id == span_id)
            .map(|s| self.resolve(s))
    }

    /// The analysis view of every stored span of `trace_id`, in arrival order: names are shared
    /// with the store, attributes are not resolved (only a client span's peer is looked up).
    pub(crate) fn analysis_spans(&self, trace_id: TraceId) -> Vec<AnalysisSpan> {
        let Some(p) = self.traces.get(&trace_id) else {
            return Vec::new();
        };
        let peer_keys = PEER_KEYS.map(|k| self.strings.lookup(k));
        let mut out = Vec::with_capacity(p.len());
        for (i, seq) in p.iter_oldest(self.head).enumerate() {
            if i % 4096 == 4095 && expired() {
                return Vec::new();
            }
            if let Some(s) = self.span_at(seq) {
                out.push(self.analysis_span(s, &peer_keys));
            }
        }
        out
    }

    fn analysis_span(&self, s: &StoredSpan, peer_keys: &[Option<u32>; 3]) -> AnalysisSpan {
        let kind = kind_from_u8(s.kind);
        let peer_service = match kind {
            SpanKind::Client | SpanKind::Producer => peer_keys.iter().flatten().find_map(|&k| {
                s.attrs
                    .iter()
                    .find(|a| a.key == k && a.tag == TAG_STR)
                    .map(|a| self.strings.resolve(a.bits as u32).clone())
            }),
            _ => None,
        };
        AnalysisSpan {
            trace_id: s.trace_id,
            span_id: s.span_id,
            parent_span_id: s.parent_span_id.is_valid().then_some(s.parent_span_id),
            service: self.strings.resolve(s.service).clone(),
            name: self.strings.resolve(s.name).clone(),
            kind,
            start_ns: s.start,
            end_ns: s.end,
            is_error: s.is_error(),
            peer_service,
        }
    }

    /// The newest traces (by their newest stored span) whose spans add up to at most
    /// `max_spans` (at least one trace), newest first, and whether every stored trace is in.
    ///
    /// The walk goes from the newest span back and stops once the budget is spent, and every
    /// trace counts all its spans, so it visits at most about `max_spans` spans.
    pub(crate) fn newest_traces(&self, max_spans: usize) -> (Vec<TraceId>, bool) {
        let mut seen: HashSet<TraceId> = HashSet::new();
        let mut out = Vec::new();
        let mut total = 0usize;
        for (i, s) in self.spans.iter().rev().enumerate() {
            if i % 4096 == 4095 && expired() {
                return (out, false);
            }
            if seen.contains(&s.trace_id) {
                continue;
            }
            let n = self.traces.get(&s.trace_id).map_or(0, |p| p.len());
            if !out.is_empty() && total + n > max_spans {
                return (out, false);
            }
            seen.insert(s.trace_id);
            out.push(s.trace_id);
            total += n;
        }
        (out, true)
    }
}
