//! Turning `tracing` field values into attribute [`Value`]s: one [`Visit`] implementation,
//! [`Fields`], feeding either a span's recording ([`SpanFields`]) or an event ([`EventFields`]).

use std::borrow::Cow;
use std::fmt;

use tracing::field::{Field, Visit};

use super::state::{Recording, StatusCode, push_attribute};
use crate::limits::SpanLimits;
use crate::span::SpanKind;
use crate::value::{KeyValue, Text, Value};

/// Where the fields of one span or event go, each as an attribute [`Value`].
pub(super) trait FieldSink {
    fn field(&mut self, field: &Field, value: Value);

    /// Like [`field`](Self::field), with the value written by `set`. A sink that appends it
    /// lets `set` write it where it is kept: a value built on the stack and then moved is read
    /// back, right after being written, with wider loads than its stores, and the CPU stalls
    /// on each such load.
    #[inline]
    fn field_in_place(&mut self, field: &Field, set: impl FnOnce(&mut Value)) {
        let mut value = Value::Bool(false);
        set(&mut value);
        self.field(field, value);
    }

    /// A string value.
    #[inline]
    fn field_str(&mut self, field: &Field, value: &str) {
        self.field_in_place(field, |v| v.set_str(value));
    }
}

/// Visits the fields of a span or event and hands each value to a [`FieldSink`].
pub(super) struct Fields<'a, T>(pub(super) &'a mut T);

impl<T: FieldSink> Visit for Fields<'_, T> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.field_in_place(field, |v| v.set(Value::Bool(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.field_in_place(field, |v| v.set(Value::I64(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(i) => self.0.field_in_place(field, |v| v.set(Value::I64(i))),
            // Past `i64`: kept exact, as text.
            Err(_) => self
                .0
                .field(field, Value::String(Text::from(value.to_string()))),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.field_in_place(field, |v| v.set(Value::F64(value)));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.field_str(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .field(field, Value::String(formatted(format_args!("{value}"))));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .field(field, Value::String(formatted(format_args!("{value:?}"))));
    }
}

/// How many bytes of formatted text are kept on the stack before they move to the heap: as many
/// as a [`Text`] holds inline.
const STACK: usize = 30;

/// Formatted text written to the stack while it is short (an IP address, a number, a short
/// `Display` value), so recording it allocates nothing; longer text moves to a `String`.
struct StackText {
    buf: [u8; STACK],
    len: usize,
    long: Option<String>,
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(long) = &mut self.long {
            long.push_str(s);
        } else if let Some(room) = self.buf.get_mut(self.len..self.len + s.len()) {
            room.copy_from_slice(s.as_bytes());
            self.len += s.len();
        } else {
            let mut long = String::with_capacity(2 * (self.len + s.len()));
            long.push_str(self.short());
            long.push_str(s);
            self.long = Some(long);
        }
        Ok(())
    }
}

impl StackText {
    fn short(&self) -> &str {
        // Only whole `str`s are copied in, so the bytes are valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// `args` formatted as a [`Text`], with no heap allocation when the text fits inline.
fn formatted(args: fmt::Arguments<'_>) -> Text {
    if let Some(s) = args.as_str() {
        return Text::new(s);
    }
    let mut out = StackText {
        buf: [0; STACK],
        len: 0,
        long: None,
    };
    // A `Debug` or `Display` implementation that fails leaves what it wrote so far.
    let _ = fmt::Write::write_fmt(&mut out, args);
    match out.long {
        Some(long) => Text::from(long),
        None => Text::new(out.short()),
    }
}

/// A value as text: strings as they are (static ones not copied), others formatted.
fn into_text(value: Value) -> Cow<'static, str> {
    match value {
        Value::String(s) => s.into_cow(),
        other => Cow::Owned(other.to_string()),
    }
}

/// A span's fields: `otel.*` and `error` set the name, kind and status; the rest are attributes.
pub(super) struct SpanFields<'a> {
    pub(super) rec: &'a mut Recording,
    pub(super) limits: &'a SpanLimits,
    /// Whether the span exists already (a `record`), so a field may be recorded a second time;
    /// at creation each field comes once.
    pub(super) update: bool,
}

impl SpanFields<'_> {
    /// `otel.status_code`: `ok`, `error` or `unset` in any case; anything else is ignored.
    fn status_code(&mut self, code: &str) {
        let code = [StatusCode::Ok, StatusCode::Error, StatusCode::Unset]
            .into_iter()
            .zip(["ok", "error", "unset"])
            .find(|(_, name)| name.eq_ignore_ascii_case(code));
        if let Some((code, _)) = code {
            self.rec.status_code = Some(code);
        }
    }

    /// Whether the attributes may already hold `field`'s key: it was recorded before, or keys
    /// other than fields are present (or the field's index is past what the bits track).
    #[inline]
    fn may_hold(&self, field: &Field) -> bool {
        let i = field.index();
        self.rec.other_keys || (self.update && (i >= 64 || self.rec.fields & (1 << i) != 0))
    }

    /// Marks `field` as held by the attributes (when it was kept, not dropped over the cap).
    #[inline]
    fn held(&mut self, field: &Field) {
        if let Some(bit) = 1u64.checked_shl(field.index() as u32) {
            self.rec.fields |= bit;
        }
    }

    fn attribute(&mut self, field: &Field, value: Value) {
        let value = self.limits.cut_value(value);
        let replace = self.may_hold(field);
        let kept = push_attribute(
            self.rec,
            self.limits,
            Cow::Borrowed(field.name()),
            value,
            replace,
        );
        if kept {
            self.held(field);
        }
    }
}

impl FieldSink for SpanFields<'_> {
    /// `otel.name`, `otel.kind` (which the HTTP and gRPC layers set on every span) and
    /// `otel.status_code` are read from the `str` itself, not first copied into a [`Value`] that
    /// is then read back (an inline text's bytes checked as UTF-8 again) and dropped.
    #[inline]
    fn field_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "otel.name" => self.rec.name = Text::new(value),
            "otel.kind" => {
                if let Some(kind) = SpanKind::parse(value) {
                    self.rec.kind = kind;
                }
            }
            "otel.status_code" => self.status_code(value),
            _ => self.field_in_place(field, |v| v.set_str(value)),
        }
    }

    /// A plain attribute of a new span (the common case) is appended with its value written in
    /// place; anything else goes through [`field`](Self::field).
    #[inline]
    fn field_in_place(&mut self, field: &Field, set: impl FnOnce(&mut Value)) {
        let name = field.name();
        if self.may_hold(field)
            || name.starts_with("otel.")
            || name == "error"
            || self.rec.attributes.len() >= self.limits.attribute_count
        {
            let mut value = Value::Bool(false);
            set(&mut value);
            return self.field(field, value);
        }
        self.held(field);
        let attributes = &mut self.rec.attributes;
        attributes.push(KeyValue {
            key: Cow::Borrowed(name),
            value: Value::Bool(false),
        });
        if let Some(kv) = attributes.last_mut() {
            set(&mut kv.value);
            if self.limits.attribute_value_length.is_some() {
                let value = std::mem::replace(&mut kv.value, Value::Bool(false));
                kv.value = self.limits.cut_value(value);
            }
        }
    }

    fn field(&mut self, field: &Field, value: Value) {
        let name = field.name();
        // Most fields are attributes: one prefix test sends them there without comparing the
        // name against each special field in turn.
        if !name.starts_with("otel.") && name != "error" {
            return self.attribute(field, value);
        }
        match name {
            "otel.name" => {
                self.rec.name = match value {
                    Value::String(s) => s,
                    other => Text::from(other.to_string()),
                }
            }
            "otel.kind" => {
                if let Some(kind) = value.as_str().and_then(SpanKind::parse) {
                    self.rec.kind = kind;
                }
            }
            "otel.status_code" => self.status_code(value.as_str().unwrap_or_default()),
            "otel.status_message" => self.rec.status_message = Some(into_text(value)),
            "error" => self.rec.error_message = Some(into_text(value)),
            _ => self.attribute(field, value),
        }
    }
}

/// Records the values that run no user code (strings, numbers, booleans), in order, until the
/// first that would (a `Debug`, `Display` or error value): visited under the span table's lock,
/// it must never call a value's formatting code.
pub(super) struct Plain<'a> {
    fields: SpanFields<'a>,
    /// How many values were recorded.
    applied: usize,
    /// Whether a value that runs user code was met (it and every later value are left).
    stopped: bool,
}

impl<'a> Plain<'a> {
    pub(super) fn new(fields: SpanFields<'a>) -> Self {
        Plain {
            fields,
            applied: 0,
            stopped: false,
        }
    }

    /// `None` when every value was recorded; otherwise how many were, in visiting order.
    pub(super) fn stopped(&self) -> Option<usize> {
        self.stopped.then_some(self.applied)
    }

    fn plain(&mut self, visit: impl FnOnce(&mut Fields<'_, SpanFields<'a>>)) {
        if !self.stopped {
            visit(&mut Fields(&mut self.fields));
            self.applied += 1;
        }
    }
}

impl Visit for Plain<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(|f| f.record_bool(field, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(|f| f.record_i64(field, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(|f| f.record_u64(field, value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.plain(|f| f.record_f64(field, value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.plain(|f| f.record_str(field, value));
    }

    fn record_error(&mut self, _: &Field, _: &(dyn std::error::Error + 'static)) {
        self.stopped = true;
    }

    /// Also where `tracing`'s other provided methods (`i128`, `u128`, bytes) end up.
    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {
        self.stopped = true;
    }
}

/// Passes the values on to a visitor after skipping the first `skip` of them (those [`Plain`]
/// recorded already).
pub(super) struct Skip<V> {
    skip: usize,
    inner: V,
}

impl<V> Skip<V> {
    pub(super) fn new(skip: usize, inner: V) -> Self {
        Skip { skip, inner }
    }

    fn next(&mut self) -> Option<&mut V> {
        if self.skip == 0 {
            Some(&mut self.inner)
        } else {
            self.skip -= 1;
            None
        }
    }
}

/// Each of `Visit`'s methods passing its value on unless it is skipped.
macro_rules! skip_or_forward {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method(&mut self, field: &Field, value: $ty) {
                if let Some(v) = self.next() {
                    v.$method(field, value);
                }
            }
        )*
    };
}

impl<V: Visit> Visit for Skip<V> {
    skip_or_forward!(
        record_bool: bool,
        record_i64: i64,
        record_u64: u64,
        record_f64: f64,
        record_str: &str,
        record_error: &(dyn std::error::Error + 'static),
        record_debug: &dyn fmt::Debug,
    );
}

/// An event's fields: `message` names the span event, `log.*` (from `tracing-log`) is dropped,
/// the rest are its attributes, within the per-event limits.
pub(super) struct EventFields<'a> {
    pub(super) message: Option<Text>,
    pub(super) attributes: Vec<KeyValue>,
    /// Attributes over the per-event cap.
    pub(super) dropped: u32,
    limits: &'a SpanLimits,
}

impl<'a> EventFields<'a> {
    /// Fields recorded into `attributes` (empty; a recycled vector when the sink has one).
    pub(super) fn new(limits: &'a SpanLimits, attributes: Vec<KeyValue>) -> Self {
        EventFields {
            message: None,
            attributes,
            dropped: 0,
            limits,
        }
    }

    /// Adds an attribute within the limits.
    pub(super) fn push(&mut self, key: Cow<'static, str>, value: Value) {
        if self.attributes.len() < self.limits.attribute_per_event {
            let value = self.limits.cut_value(value);
            self.attributes.push(KeyValue { key, value });
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }
}

impl FieldSink for EventFields<'_> {
    fn field(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(t) => t,
                other => Text::from(other.to_string()),
            });
        } else if !field.name().starts_with("log.") {
            self.push(Cow::Borrowed(field.name()), value);
        }
    }
}

#[cfg(test)]
mod tests;
