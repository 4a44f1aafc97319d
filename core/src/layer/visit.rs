//! Turning `tracing` field values into attribute [`Value`]s, for span fields and event fields.

use std::borrow::Cow;
use std::fmt;

use tracing::field::{Field, Visit};

use super::state::{Recording, StatusCode, push_attribute};
use crate::span::{KeyValue, SpanKind, Text, Value};

pub(super) struct SpanVisitor<'a> {
    pub(super) rec: &'a mut Recording,
    pub(super) max: usize,
    /// Whether a recorded key may already be present (updates, or fields after baggage).
    pub(super) replace: bool,
}

impl SpanVisitor<'_> {
    fn record_value(&mut self, field: &Field, value: Value) {
        match field.name() {
            "otel.name" => {
                if let Value::String(s) = value {
                    self.rec.name = s.into_cow();
                } else {
                    self.rec.name = Cow::Owned(value.to_string());
                }
            }
            "otel.kind" => {
                if let Some(kind) = value.as_str().and_then(SpanKind::parse) {
                    self.rec.kind = kind;
                }
            }
            "otel.status_code" => {
                self.rec.status_code = match value.as_str().map(str::to_ascii_lowercase).as_deref()
                {
                    Some("ok") => Some(StatusCode::Ok),
                    Some("error") => Some(StatusCode::Error),
                    Some("unset") => Some(StatusCode::Unset),
                    _ => self.rec.status_code,
                };
            }
            "otel.status_message" => {
                self.rec.status_message = Some(match value {
                    Value::String(s) => s.into_cow(),
                    other => Cow::Owned(other.to_string()),
                });
            }
            "error" => {
                self.rec.error_message = Some(match value {
                    Value::String(s) => s.into_cow(),
                    other => Cow::Owned(other.to_string()),
                });
            }
            name => push_attribute(self.rec, self.max, Cow::Borrowed(name), value, self.replace),
        }
    }
}

impl Visit for SpanVisitor<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_value(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_value(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_value(field, u64_value(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record_value(field, Value::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_value(field, Value::String(Text::new(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_value(field, Value::String(Text::from(value.to_string())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_value(field, Value::String(Text::from(format!("{value:?}"))));
    }
}

fn u64_value(v: u64) -> Value {
    match i64::try_from(v) {
        Ok(i) => Value::I64(i),
        Err(_) => Value::String(Text::from(v.to_string())),
    }
}

#[derive(Default)]
pub(super) struct EventVisitor {
    pub(super) message: Option<Cow<'static, str>>,
    pub(super) attributes: Vec<KeyValue>,
}

impl EventVisitor {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s.into_cow(),
                other => Cow::Owned(other.to_string()),
            });
        } else if !field.name().starts_with("log.") {
            self.attributes.push(KeyValue::new(field.name(), value));
        }
    }
}

impl Visit for EventVisitor {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, u64_value(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::String(Text::new(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::String(Text::from(value.to_string())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::String(Text::from(format!("{value:?}"))));
    }
}
