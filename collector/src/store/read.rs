//! The read path: resolving stored spans into the reader's model, traces, services and
//! operations.

use std::sync::Arc;

use super::Store;
use super::intern::Sym;
use super::span::{PackedAttr, StoredSpan, TAG_BOOL, TAG_DOUBLE, TAG_INT, TAG_STR};
use crate::model::{AttrValue, Attribute, Scope, Span, StatusCode, TraceId, kind_from_u8};

impl Store {
    pub(super) fn span_at(&self, seq: u64) -> Option<&StoredSpan> {
        self.spans.get(seq.checked_sub(self.head)? as usize)
    }

    fn resolve_attr(&self, a: &PackedAttr) -> Attribute {
        let value = match a.tag {
            TAG_STR => AttrValue::String(self.strings.resolve(a.bits as Sym).clone()),
            TAG_BOOL => AttrValue::Bool(a.bits != 0),
            TAG_INT => AttrValue::Int(a.bits as i64),
            TAG_DOUBLE => AttrValue::Double(f64::from_bits(a.bits)),
            _ => AttrValue::Json(self.strings.resolve(a.bits as Sym).clone()),
        };
        Attribute {
            key: self.strings.resolve(a.key).clone(),
            value,
        }
    }

    pub(super) fn resolve(&self, s: &StoredSpan) -> Span {
        let (resource, resource_dropped, scope) = match self.sources[s.source as usize]
            .as_ref()
            .and_then(|src| Some((src, self.resources[src.resource as usize].as_ref()?)))
        {
            Some((src, r)) => (
                r.attrs.0.clone(),
                r.dropped_attributes,
                Scope {
                    name: self.strings.resolve(src.scope_name).clone(),
                    version: self.strings.resolve(src.scope_version).clone(),
                },
            ),
            None => (Arc::from(Vec::new()), 0, Scope::default()),
        };
        let extra = s.extra.as_deref();
        Span {
            trace_id: s.trace_id,
            span_id: s.span_id,
            parent_span_id: s.parent_span_id,
            service: self.strings.resolve(s.service).clone(),
            name: self.strings.resolve(s.name).clone(),
            kind: kind_from_u8(s.kind),
            start_unix_nano: s.start,
            end_unix_nano: s.end,
            status: StatusCode::from_u8(s.status),
            status_message: extra.and_then(|e| e.status_message.as_deref().map(Arc::from)),
            attributes: s.attrs.iter().map(|a| self.resolve_attr(a)).collect(),
            resource,
            resource_dropped_attributes: resource_dropped,
            scope,
            events: extra.map(|e| e.events.to_vec()).unwrap_or_default(),
            links: extra.map(|e| e.links.to_vec()).unwrap_or_default(),
            trace_state: extra.and_then(|e| e.trace_state.as_deref().map(Arc::from)),
            flags: u32::from(s.flags),
            dropped_attributes: extra.map_or(0, |e| e.dropped_attributes),
            dropped_events: extra.map_or(0, |e| e.dropped_events),
            dropped_links: extra.map_or(0, |e| e.dropped_links),
        }
    }

    /// Every stored span of `trace_id`, in arrival order.
    pub(crate) fn trace(&self, trace_id: TraceId) -> Vec<Span> {
        let Some(p) = self.traces.get(&trace_id) else {
            return Vec::new();
        };
        p.iter_oldest(self.head)
            .filter_map(|seq| self.span_at(seq))
            .map(|s| self.resolve(s))
            .collect()
    }

    /// Services with stored spans, sorted.
    pub(crate) fn services(&self) -> Vec<String> {
        self.sorted_strings(self.by_service.keys())
    }

    /// Operations (span names) of `service` with stored spans, sorted.
    pub(crate) fn operations(&self, service: &str) -> Vec<String> {
        let Some(svc) = self.strings.lookup(service) else {
            return Vec::new();
        };
        let Some(si) = self.by_service.get(&svc) else {
            return Vec::new();
        };
        self.sorted_strings(si.ops.keys())
    }

    /// The strings of `syms`, sorted.
    fn sorted_strings<'a>(&self, syms: impl Iterator<Item = &'a Sym>) -> Vec<String> {
        let mut v: Vec<String> = syms.map(|&s| self.strings.resolve(s).to_string()).collect();
        v.sort();
        v
    }

    /// Calls `f` with every stored span, oldest first.
    pub(crate) fn for_each_span(&self, mut f: impl FnMut(&Span)) {
        for s in &self.spans {
            f(&self.resolve(s));
        }
    }
}
