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
        match self.resolve(meta) {
            Some(field) => span.record(field, value),
            None => span.record(self.name, value),
        };
    }

    /// The field, if it is one of `meta`'s call site.
    #[inline]
    fn resolve(&self, meta: &tracing::Metadata<'_>) -> Option<&Field> {
        self.field
            .get_or_init(|| meta.fields().field(self.name))
            .as_ref()
            .filter(|f| f.callsite() == meta.callsite())
    }
}

/// Records the values given for several fields into `span` in one `record` call (one dispatch
/// and one span lookup, not one per field). A field that is not one of the span's call site's
/// is recorded by name, as [`KnownField::record`] does; a `None` value records nothing.
#[inline]
pub(crate) fn record_known<const N: usize>(
    span: &Span,
    values: [(&KnownField, Option<&dyn Value>); N],
) {
    let Some(meta) = span.metadata() else {
        return;
    };
    // Plain loops: `array::map` and `array::from_fn` were not inlined (~70 instructions a call).
    let mut resolved: [Option<&Field>; N] = [None; N];
    let mut any = None;
    for (r, (k, _)) in resolved.iter_mut().zip(&values) {
        *r = k.resolve(meta);
        any = any.or(*r);
    }
    if let Some(any) = any {
        // A field found elsewhere holds no value here (`record` skips it).
        let mut set: [(&Field, Option<&dyn Value>); N] = [(any, None); N];
        for ((entry, f), (_, v)) in set.iter_mut().zip(&resolved).zip(&values) {
            if let Some(f) = f {
                *entry = (f, *v);
            }
        }
        span.record_all(&meta.fields().value_set(&set));
    }
    for ((k, v), f) in values.iter().zip(&resolved) {
        if f.is_none()
            && let Some(v) = v
        {
            span.record(k.name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use tracewire::testing::Recorder;

    use crate::test_helpers::FieldLog;

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

    #[test]
    fn several_known_fields_are_recorded_in_one_call_and_by_name_elsewhere() {
        use tracing_subscriber::layer::SubscriberExt;

        static ADDRESS: KnownField = KnownField::new("server.address");
        static PORT: KnownField = KnownField::new("server.port");
        static URL: KnownField = KnownField::new("url.full");
        // What another layer sees of each call site's spans, `record` calls counted.
        let (first_log, other_log) = (FieldLog::new("first"), FieldLog::new("other"));
        let logs = (first_log.clone(), other_log.clone());
        let r = Recorder::with_layer_and(tracewire::TracewireLayer::builder(), |s| {
            tracing::Dispatch::new(s.with(logs.0).with(logs.1))
        });
        r.in_scope(|| {
            let empty = tracing::field::Empty;
            for port in [1u16, 2] {
                let first = tracing::info_span!(
                    "first",
                    server.address = empty,
                    server.port = empty,
                    url.full = empty
                );
                let url = format!("http://a:{port}/");
                record_known(
                    &first,
                    [
                        (&ADDRESS, Some(&"a" as &dyn Value)),
                        (&PORT, Some(&port as &dyn Value)),
                        (&URL, (port == 2).then_some(&url.as_str() as &dyn Value)),
                    ],
                );
            }
            assert_eq!(first_log.records(), 2, "one record a span for every value");
            // Another call site: its fields at other places, one missing.
            let other = tracing::info_span!("other", url.full = empty, server.port = empty);
            record_known(
                &other,
                [
                    (&ADDRESS, Some(&"b" as &dyn Value)),
                    (&PORT, Some(&3u16 as &dyn Value)),
                    (&URL, Some(&"http://b:3/" as &dyn Value)),
                ],
            );
            assert_eq!(
                other_log.records(),
                2,
                "by name, none being this call site's field (the one it lacks not at all)"
            );
            // A disabled span: nothing recorded, nothing panics.
            record_known(&tracing::Span::none(), [(&PORT, Some(&4u16 as &dyn Value))]);
        });
        assert_eq!((first_log.records(), other_log.records()), (2, 2));
        let firsts = r.spans_named("first");
        assert_eq!(firsts.len(), 2);
        firsts[0]
            .assert_attr("server.address", "a")
            .assert_attr("server.port", 1i64)
            .assert_no_attr("url.full");
        firsts[1]
            .assert_attr("server.port", 2i64)
            .assert_attr("url.full", "http://a:2/");
        r.span("other")
            .assert_no_attr("server.address")
            .assert_attr("server.port", 3i64)
            .assert_attr("url.full", "http://b:3/");
    }
}
