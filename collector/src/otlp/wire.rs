//! A pass over an OTLP/protobuf `ExportTraceServiceRequest` that counts what decoding it would
//! allocate, without allocating anything.
//!
//! The walk follows the trace schema (request → `ResourceSpans` → `Resource`/`ScopeSpans` →
//! `Span` → events, links, attributes and nested values) and, for every field `prost` would
//! allocate, adds an upper bound of the allocation: a repeated message field becomes a `Vec`
//! whose capacity `prost`'s one-at-a-time pushes leave at the next power of two (at least 4),
//! a string or bytes field a buffer of its length (at least 8). Unknown fields are skipped, as
//! `prost` skips them. So the estimate is never below what `prost` will allocate, and a request
//! can be refused before it is decoded.

use std::mem::size_of;

use opentelemetry_proto::tonic::common::v1::{AnyValue, EntityRef, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::decode::{DecodeError, DecodeLimits};

/// What a request holds, as far as the limits care.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) resource_spans: usize,
    pub(crate) scope_spans: usize,
    pub(crate) spans: usize,
    /// An upper bound of the heap bytes the decoded request holds.
    pub(crate) decoded_bytes: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Msg {
    Request,
    ResourceSpans,
    Resource,
    EntityRef,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

/// How one known field is decoded.
#[derive(Clone, Copy)]
enum Field {
    /// A repeated message: a `Vec` of elements of this size.
    Repeated(Msg, usize),
    /// A singular message kept inline (no allocation of its own).
    Inline(Msg),
    /// A string or bytes field.
    Buffer,
    /// A repeated string: a `Vec<String>` plus each string.
    RepeatedString,
    /// Varint and fixed-width scalars.
    Scalar,
}

fn field(msg: Msg, number: u32) -> Option<Field> {
    use Field::*;
    let kv = || Repeated(Msg::KeyValue, size_of::<KeyValue>());
    Some(match (msg, number) {
        (Msg::Request, 1) => Repeated(Msg::ResourceSpans, size_of::<ResourceSpans>()),
        (Msg::ResourceSpans, 1) => Inline(Msg::Resource),
        (Msg::ResourceSpans, 2) => Repeated(Msg::ScopeSpans, size_of::<ScopeSpans>()),
        (Msg::ResourceSpans, 3) => Buffer,
        (Msg::Resource, 1) => kv(),
        (Msg::Resource, 2) => Scalar,
        (Msg::Resource, 3) => Repeated(Msg::EntityRef, size_of::<EntityRef>()),
        (Msg::EntityRef, 1 | 2) => Buffer,
        (Msg::EntityRef, 3 | 4) => RepeatedString,
        (Msg::ScopeSpans, 1) => Inline(Msg::Scope),
        (Msg::ScopeSpans, 2) => Repeated(Msg::Span, size_of::<Span>()),
        (Msg::ScopeSpans, 3) => Buffer,
        (Msg::Scope, 1 | 2) => Buffer,
        (Msg::Scope, 3) => kv(),
        (Msg::Scope, 4) => Scalar,
        (Msg::Span, 1..=5) => Buffer,
        (Msg::Span, 6..=8 | 10 | 12 | 14 | 16) => Scalar,
        (Msg::Span, 9) => kv(),
        (Msg::Span, 11) => Repeated(Msg::Event, size_of::<Event>()),
        (Msg::Span, 13) => Repeated(Msg::Link, size_of::<Link>()),
        (Msg::Span, 15) => Inline(Msg::Status),
        (Msg::Event, 1 | 4) => Scalar,
        (Msg::Event, 2) => Buffer,
        (Msg::Event, 3) => kv(),
        (Msg::Link, 1..=3) => Buffer,
        (Msg::Link, 4) => kv(),
        (Msg::Link, 5 | 6) => Scalar,
        (Msg::Status, 2) => Buffer,
        (Msg::Status, 3) => Scalar,
        (Msg::KeyValue, 1) => Buffer,
        (Msg::KeyValue, 2) => Inline(Msg::AnyValue),
        (Msg::KeyValue, 3) => Scalar,
        (Msg::AnyValue, 1 | 7) => Buffer,
        (Msg::AnyValue, 2..=4 | 8) => Scalar,
        (Msg::AnyValue, 5) => Inline(Msg::ArrayValue),
        (Msg::AnyValue, 6) => Inline(Msg::KeyValueList),
        (Msg::ArrayValue, 1) => Repeated(Msg::AnyValue, size_of::<AnyValue>()),
        (Msg::KeyValueList, 1) => kv(),
        _ => return None,
    })
}

/// The capacity of a `Vec` after `n` single pushes: powers of two from 4 (every element here
/// is small enough for the standard library's minimum of 4).
fn vec_capacity(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        n.next_power_of_two().max(4)
    }
}

/// Bytes of a string or bytes buffer of `len` bytes (the allocator rounds small ones up).
fn buffer_bytes(len: usize) -> usize {
    if len == 0 { 0 } else { len.max(8) }
}

/// The deepest nesting walked (`prost` stops at 100 too).
const MAX_DEPTH: u32 = 100;

const TOO_DEEP: &str = "messages nested too deeply";
const TRUNCATED: &str = "truncated field";
const BAD_VARINT: &str = "invalid varint";
const BAD_KEY: &str = "invalid field key";

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or(TRUNCATED)?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(BAD_VARINT)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if n > self.buf.len() {
            return Err(TRUNCATED);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// Skips a field's value of wire type `wire` (groups included, as `prost` does).
    fn skip(&mut self, wire: u8, number: u32, depth: u32) -> Result<(), &'static str> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.take(8).map(drop),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| TRUNCATED)?;
                self.take(len).map(drop)
            }
            3 => {
                if depth >= MAX_DEPTH {
                    return Err(TOO_DEEP);
                }
                loop {
                    let (n, w) = self.key()?;
                    if w == 4 {
                        return if n == number {
                            Ok(())
                        } else {
                            Err("unexpected end group")
                        };
                    }
                    self.skip(w, n, depth + 1)?;
                }
            }
            5 => self.take(4).map(drop),
            _ => Err("invalid wire type"),
        }
    }

    fn key(&mut self) -> Result<(u32, u8), &'static str> {
        let k = self.varint()?;
        let number = u32::try_from(k >> 3).map_err(|_| BAD_KEY)?;
        if number == 0 {
            return Err(BAD_KEY);
        }
        Ok((number, (k & 7) as u8))
    }
}

struct Walk<'l> {
    limits: &'l DecodeLimits,
    shape: Shape,
}

impl Walk<'_> {
    fn message(&mut self, msg: Msg, buf: &[u8], depth: u32) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(invalid(TOO_DEEP));
        }
        let mut r = Reader { buf };
        // Elements per repeated field of this message (field numbers stay below 16).
        let mut counts = [0usize; 16];
        // A bit per field number in `counts` that holds elements, so the sizes are summed for
        // those alone (most messages here, attributes and values, have no repeated field).
        let mut seen: u16 = 0;
        while !r.buf.is_empty() {
            let (number, wire) = r.key().map_err(invalid)?;
            match field(msg, number) {
                Some(f @ (Field::Repeated(inner, _) | Field::Inline(inner))) if wire == 2 => {
                    let len = usize::try_from(r.varint().map_err(invalid)?)
                        .map_err(|_| invalid(TRUNCATED))?;
                    let body = r.take(len).map_err(invalid)?;
                    if let Field::Repeated(..) = f {
                        counts[number as usize % 16] += 1;
                        seen |= 1 << (number % 16);
                        self.count(inner)?;
                    }
                    self.message(inner, body, depth + 1)?;
                }
                Some(Field::Buffer) if wire == 2 => {
                    let len = usize::try_from(r.varint().map_err(invalid)?)
                        .map_err(|_| invalid(TRUNCATED))?;
                    r.take(len).map_err(invalid)?;
                    self.add(buffer_bytes(len))?;
                }
                Some(Field::RepeatedString) if wire == 2 => {
                    let len = usize::try_from(r.varint().map_err(invalid)?)
                        .map_err(|_| invalid(TRUNCATED))?;
                    r.take(len).map_err(invalid)?;
                    counts[number as usize % 16] += 1;
                    seen |= 1 << (number % 16);
                    self.add(buffer_bytes(len))?;
                }
                Some(Field::Scalar) | None => r.skip(wire, number, depth).map_err(invalid)?,
                // A known field with the wrong wire type: `prost` refuses it too.
                Some(_) => return Err(invalid("invalid wire type for a known field")),
            }
        }
        while seen != 0 {
            let number = seen.trailing_zeros();
            seen &= seen - 1;
            let size = match field(msg, number) {
                Some(Field::Repeated(_, size)) => size,
                Some(Field::RepeatedString) => size_of::<String>(),
                _ => continue,
            };
            self.add(vec_capacity(counts[number as usize]) * size)?;
        }
        Ok(())
    }

    fn count(&mut self, msg: Msg) -> Result<(), DecodeError> {
        let (count, limit, what) = match msg {
            Msg::ResourceSpans => (
                &mut self.shape.resource_spans,
                self.limits.max_resource_spans,
                "resource spans",
            ),
            Msg::ScopeSpans => (
                &mut self.shape.scope_spans,
                self.limits.max_scope_spans,
                "scope spans",
            ),
            Msg::Span => (&mut self.shape.spans, self.limits.max_spans, "spans"),
            _ => return Ok(()),
        };
        *count += 1;
        if *count > limit {
            return Err(DecodeError::TooMany { what, limit });
        }
        Ok(())
    }

    fn add(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.shape.decoded_bytes = self.shape.decoded_bytes.saturating_add(bytes);
        if self.shape.decoded_bytes > self.limits.max_decoded_bytes {
            return Err(DecodeError::TooLarge {
                limit: self.limits.max_decoded_bytes,
            });
        }
        Ok(())
    }
}

fn invalid(reason: &str) -> DecodeError {
    DecodeError::Invalid(reason.to_owned())
}

/// Walks `buf` as an `ExportTraceServiceRequest`, refusing it as soon as a limit is passed.
pub(crate) fn shape(buf: &[u8], limits: &DecodeLimits) -> Result<Shape, DecodeError> {
    let mut w = Walk {
        limits,
        shape: Shape::default(),
    };
    w.message(Msg::Request, buf, 0)?;
    Ok(w.shape)
}

/// The repeated-field table must agree with `prost`'s own types; the one field number past 15
/// (`Span.flags`, 16) is a scalar, so counting modulo 16 never mixes two repeated fields.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scalars_sit_past_field_15() {
        for msg in [
            Msg::Request,
            Msg::ResourceSpans,
            Msg::Resource,
            Msg::EntityRef,
            Msg::ScopeSpans,
            Msg::Scope,
            Msg::Span,
            Msg::Event,
            Msg::Link,
            Msg::Status,
            Msg::KeyValue,
            Msg::AnyValue,
            Msg::ArrayValue,
            Msg::KeyValueList,
        ] {
            for n in 16..64 {
                assert!(matches!(field(msg, n), None | Some(Field::Scalar)));
            }
        }
    }

    #[test]
    fn vec_capacities_follow_single_pushes() {
        for n in [1usize, 3, 4, 5, 17, 1000] {
            let mut v: Vec<KeyValue> = Vec::new();
            for _ in 0..n {
                v.push(KeyValue::default());
            }
            assert_eq!(v.capacity(), vec_capacity(n), "{n} pushes");
        }
    }
}
