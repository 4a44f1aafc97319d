//! The buffer's compact form of a span: a few bytes of header and the span's own text, appended
//! to its trace's byte vector, instead of the decoded [`NewSpan`] with its many small
//! allocations. A buffered span costs about what it says; only kept traces are decoded again.
//!
//! Layout of one span (integers little-endian; `v` = LEB128 varint; `str` = `v` length + UTF-8):
//!
//! | field | encoding |
//! |---|---|
//! | span id, parent id | 8 + 8 bytes |
//! | start | 8 bytes, ns since the Unix epoch |
//! | end − start (wrapping) | `v` |
//! | source index (into the trace's list of resources/scopes) | `v` |
//! | kind, status | 1 + 1 byte |
//! | flags, dropped attributes, events, links | 4 × `v` |
//! | name | `str` |
//! | status message, tracestate | presence byte (+ `str`) each |
//! | attributes | `v` count, then per attribute: key `str`, value |
//! | events | `v` count, then per event: time (8 bytes), name `str`, attributes |
//! | links | `v` count, then per link: trace id (16), span id (8), attributes |
//!
//! A value is a tag byte — 0 text, 1 boolean, 2 integer, 3 double, 4 JSON text — then the
//! text (`str`), one byte, or 8 bytes.

use std::borrow::Cow;

use crate::ingest::{NewEvent, NewLink, NewSpan, NewValue, Str};
use crate::model::{SpanId, StatusCode, TraceId, kind_from_u8, kind_to_u8};

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn text(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn opt_text(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            text(out, s);
        }
        None => out.push(0),
    }
}

fn attrs(out: &mut Vec<u8>, a: &[(Str, NewValue)]) {
    varint(out, a.len() as u64);
    for (k, v) in a {
        text(out, k);
        match v {
            NewValue::Str(s) => {
                out.push(0);
                text(out, s);
            }
            NewValue::Bool(b) => {
                out.push(1);
                out.push(u8::from(*b));
            }
            NewValue::Int(i) => {
                out.push(2);
                out.extend_from_slice(&i.to_le_bytes());
            }
            NewValue::Double(d) => {
                out.push(3);
                out.extend_from_slice(&d.to_le_bytes());
            }
            NewValue::Json(s) => {
                out.push(4);
                text(out, s);
            }
        }
    }
}

/// Appends `s` (from the trace's source number `source`) to `out`.
pub(crate) fn encode(out: &mut Vec<u8>, source: usize, s: &NewSpan) {
    out.extend_from_slice(&s.span_id.to_bytes());
    out.extend_from_slice(&s.parent_span_id.to_bytes());
    out.extend_from_slice(&s.start_unix_nano.to_le_bytes());
    varint(out, s.end_unix_nano.wrapping_sub(s.start_unix_nano));
    varint(out, source as u64);
    out.push(kind_to_u8(s.kind));
    out.push(s.status.to_u8());
    for n in [
        s.flags,
        s.dropped_attributes,
        s.dropped_events,
        s.dropped_links,
    ] {
        varint(out, u64::from(n));
    }
    text(out, &s.name);
    opt_text(out, s.status_message.as_deref());
    opt_text(out, s.trace_state.as_deref());
    attrs(out, &s.attributes);
    varint(out, s.events.len() as u64);
    for e in &s.events {
        out.extend_from_slice(&e.time_unix_nano.to_le_bytes());
        text(out, &e.name);
        attrs(out, &e.attributes);
    }
    varint(out, s.links.len() as u64);
    for l in &s.links {
        out.extend_from_slice(&l.trace_id.to_bytes());
        out.extend_from_slice(&l.span_id.to_bytes());
        attrs(out, &l.attributes);
    }
}

/// Reads back what [`encode`] wrote.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.data.split_first_chunk::<N>()?;
        self.data = rest;
        Some(*head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.bytes::<1>().map(|[b]| b)
    }

    fn u64(&mut self) -> Option<u64> {
        self.bytes().map(u64::from_le_bytes)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint()?).ok()
    }

    fn text(&mut self) -> Option<String> {
        let n = usize::try_from(self.varint()?).ok()?;
        let (s, rest) = self.data.split_at_checked(n)?;
        self.data = rest;
        String::from_utf8(s.to_vec()).ok()
    }

    fn opt_text(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            _ => self.text().map(Some),
        }
    }

    fn attrs(&mut self) -> Option<Vec<(Str, NewValue)>> {
        let n = usize::try_from(self.varint()?).ok()?;
        let mut out = Vec::with_capacity(n.min(self.data.len()));
        for _ in 0..n {
            let key = Cow::Owned(self.text()?);
            let value = match self.byte()? {
                0 => NewValue::Str(Cow::Owned(self.text()?)),
                1 => NewValue::Bool(self.byte()? != 0),
                2 => NewValue::Int(i64::from_le_bytes(self.bytes()?)),
                3 => NewValue::Double(f64::from_le_bytes(self.bytes()?)),
                _ => NewValue::Json(self.text()?),
            };
            out.push((key, value));
        }
        Some(out)
    }

    /// The next span of trace `trace_id` and its source number; `None` at the end.
    pub(crate) fn next_span(&mut self, trace_id: TraceId) -> Option<(usize, NewSpan)> {
        if self.data.is_empty() {
            return None;
        }
        let span_id = SpanId::from_bytes(self.bytes()?);
        let parent_span_id = SpanId::from_bytes(self.bytes()?);
        let start = self.u64()?;
        let end = start.wrapping_add(self.varint()?);
        let source = usize::try_from(self.varint()?).ok()?;
        let kind = kind_from_u8(self.byte()?);
        let status = StatusCode::from_u8(self.byte()?);
        let flags = self.u32()?;
        let dropped_attributes = self.u32()?;
        let dropped_events = self.u32()?;
        let dropped_links = self.u32()?;
        let name = Cow::Owned(self.text()?);
        let status_message = self.opt_text()?;
        let trace_state = self.opt_text()?;
        let attributes = self.attrs()?;
        let n = usize::try_from(self.varint()?).ok()?;
        let mut events = Vec::with_capacity(n.min(self.data.len()));
        for _ in 0..n {
            events.push(NewEvent {
                time_unix_nano: self.u64()?,
                name: Cow::Owned(self.text()?),
                attributes: self.attrs()?,
            });
        }
        let n = usize::try_from(self.varint()?).ok()?;
        let mut links = Vec::with_capacity(n.min(self.data.len()));
        for _ in 0..n {
            links.push(NewLink {
                trace_id: TraceId::from_bytes(self.bytes()?),
                span_id: SpanId::from_bytes(self.bytes()?),
                attributes: self.attrs()?,
            });
        }
        let span = NewSpan {
            trace_id,
            span_id,
            parent_span_id,
            name,
            kind,
            start_unix_nano: start,
            end_unix_nano: end,
            attributes,
            status,
            status_message,
            events,
            links,
            trace_state,
            flags,
            dropped_attributes,
            dropped_events,
            dropped_links,
        };
        Some((source, span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpanKind;
    use crate::sampling::test_support::span;

    fn full() -> NewSpan {
        let mut s = span(
            0xabc,
            7,
            3,
            1_700_000_000_123_456_789,
            1_700_000_000_223_456_789,
        );
        s.name = Cow::Owned("GET /rides/{id}".into());
        s.kind = SpanKind::Server;
        s.status = StatusCode::Error;
        s.status_message = Some("upstream timed out — 504".into());
        s.trace_state = Some("rojo=00f067aa0ba902b7".into());
        s.flags = 0x301;
        s.dropped_attributes = 3;
        s.dropped_events = 1;
        s.dropped_links = u32::MAX;
        s.attributes = vec![
            (Cow::Borrowed("s"), NewValue::Str(Cow::Borrowed("ünïcode"))),
            (Cow::Borrowed("b"), NewValue::Bool(true)),
            (Cow::Borrowed("i"), NewValue::Int(i64::MIN)),
            (Cow::Borrowed("d"), NewValue::Double(-0.5)),
            (Cow::Borrowed("j"), NewValue::Json("[1,{\"a\":2}]".into())),
            (Cow::Borrowed(""), NewValue::Str(Cow::Borrowed(""))),
        ];
        s.events = vec![NewEvent {
            time_unix_nano: 5,
            name: Cow::Borrowed("retry"),
            attributes: vec![(Cow::Borrowed("n"), NewValue::Int(2))],
        }];
        s.links = vec![NewLink {
            trace_id: TraceId::from_u128(u128::MAX),
            span_id: SpanId::from_u64(9),
            attributes: vec![],
        }];
        s
    }

    #[test]
    fn spans_round_trip() {
        let mut data = Vec::new();
        let a = full();
        let mut b = span(0xabc, 8, 7, 10, 5); // end before start
        b.status = StatusCode::Ok;
        encode(&mut data, 300, &a);
        encode(&mut data, 0, &b);
        let mut r = Reader::new(&data);
        let (sa, da) = r.next_span(TraceId::from_u128(0xabc)).unwrap();
        let (sb, db) = r.next_span(TraceId::from_u128(0xabc)).unwrap();
        assert!(r.next_span(TraceId::from_u128(0xabc)).is_none());
        assert_eq!((sa, sb), (300, 0));
        // `Cow`'s Debug shows the text, so borrowed and owned strings compare equal.
        assert_eq!(format!("{da:?}"), format!("{a:?}"));
        assert_eq!(format!("{db:?}"), format!("{b:?}"));
    }

    #[test]
    fn compact_and_truncation_safe() {
        let mut data = Vec::new();
        let s = span(1, 1, 0, 0, 1000);
        encode(&mut data, 0, &s);
        // Ids and start (24), duration, source, kind, status, four counters, "op", two
        // absent strings, three empty lists.
        assert_eq!(data.len(), 24 + 2 + 1 + 2 + 4 + 3 + 2 + 3);
        let mut long = Vec::new();
        encode(&mut long, 0, &full());
        for cut in 0..long.len() {
            assert!(
                Reader::new(&long[..cut])
                    .next_span(TraceId::from_u128(1))
                    .is_none()
                    || cut == 0
            );
        }
    }
}
