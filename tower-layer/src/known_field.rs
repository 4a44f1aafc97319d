//! Span fields found once, for the values the layers record after creating a span.

use std::sync::OnceLock;

use tracing::Span;
use tracing::field::{Field, Value};

/// One field of the spans a layer records into after creating them. `Span::record` with a name
/// compares the call site's field names in turn; a `KnownField` finds the field in the first
/// span it records into and records by it into every span of that call site (by name into a
/// span of any other call site, so a value is never lost).
pub(crate) struct KnownField {
    name: &'static str,
    field: OnceLock<Option<Field>>,
}

impl KnownField {
    pub(crate) const fn new(name: &'static str) -> Self {
        KnownField {
            name,
            field: OnceLock::new(),
        }
    }

    /// Records `value` as this field of `span` (nothing when the span is disabled, as
    /// `Span::record` does).
    #[inline]
    pub(crate) fn record<V: Value>(&self, span: &Span, value: V) {
        let Some(meta) = span.metadata() else {
            return;
        };
        match self.field.get_or_init(|| meta.fields().field(self.name)) {
            Some(field) if field.callsite() == meta.callsite() => span.record(field, value),
            _ => span.record(self.name, value),
        };
    }
}

#[cfg(test)]
mod tests {
    use tracewire::testing::Recorder;

    use super::*;

    #[test]
    fn a_known_field_records_into_spans_of_any_call_site() {
        static PORT: KnownField = KnownField::new("server.port");
        let r = Recorder::new();
        r.in_scope(|| {
            for port in [1u16, 2] {
                let first = tracing::info_span!("first", server.port = tracing::field::Empty);
                PORT.record(&first, port);
            }
            // Another call site, with the field at another index: recorded by name.
            let other =
                tracing::info_span!("other", before = 1i64, server.port = tracing::field::Empty);
            PORT.record(&other, 3u16);
            // A call site without the field: nothing recorded, nothing lost elsewhere.
            let without = tracing::info_span!("without", x = 1i64);
            PORT.record(&without, 4u16);
            PORT.record(&tracing::Span::none(), 5u16);
        });
        let firsts = r.spans_named("first");
        assert_eq!(firsts.len(), 2);
        firsts[0].assert_attr("server.port", 1i64);
        firsts[1].assert_attr("server.port", 2i64);
        r.span("other").assert_attr("server.port", 3i64);
        r.span("without").assert_no_attr("server.port");
    }
}
