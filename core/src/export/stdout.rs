use std::io::Write;

use super::{SpanExporter, unix_nanos};
use crate::error::ExportError;
use crate::resource::Resource;
use crate::span::{SpanData, Status};
use crate::value::{Array, Value};

/// How [`StdoutExporter`] prints spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StdoutFormat {
    /// One readable block per span.
    Pretty,
    /// One JSON object per line.
    JsonLines,
}

/// Prints finished spans to standard output (or any writer).
pub struct StdoutExporter {
    format: StdoutFormat,
    out: Box<dyn Write + Send>,
}

impl std::fmt::Debug for StdoutExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdoutExporter")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl StdoutExporter {
    /// An exporter writing to standard output.
    pub fn new(format: StdoutFormat) -> Self {
        StdoutExporter {
            format,
            out: Box::new(std::io::stdout()),
        }
    }

    /// An exporter writing to `out`.
    pub fn with_writer(format: StdoutFormat, out: impl Write + Send + 'static) -> Self {
        StdoutExporter {
            format,
            out: Box::new(out),
        }
    }
}

fn json_f64(f: f64) -> serde_json::Value {
    serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => (*b).into(),
        Value::I64(i) => (*i).into(),
        Value::F64(f) => json_f64(*f),
        Value::String(s) => s.as_ref().into(),
        Value::Array(Array::Bool(v)) => v.as_slice().into(),
        Value::Array(Array::I64(v)) => v.as_slice().into(),
        Value::Array(Array::F64(v)) => v.iter().map(|f| json_f64(*f)).collect(),
        Value::Array(Array::String(v)) => v.iter().map(|s| s.as_str()).collect(),
    }
}

/// One span as a JSON object (the shape of the JSON-lines output).
pub(crate) fn span_json(span: &SpanData, resource: &Resource) -> serde_json::Value {
    let attrs: serde_json::Map<String, serde_json::Value> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.to_string(), json_value(&kv.value)))
        .collect();
    let events: Vec<serde_json::Value> = span
        .events
        .iter()
        .map(|e| {
            let a: serde_json::Map<String, serde_json::Value> = e
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), json_value(&kv.value)))
                .collect();
            serde_json::json!({ "name": e.name.as_str(), "time_unix_nano": unix_nanos(e.time), "attributes": a })
        })
        .collect();
    let (status, message) = match &span.status {
        Status::Unset => ("unset", None),
        Status::Ok => ("ok", None),
        Status::Error { description } => ("error", Some(description.to_string())),
    };
    serde_json::json!({
        "service.name": resource.service_name(),
        "trace_id": span.span_context.trace_id().to_string(),
        "span_id": span.span_context.span_id().to_string(),
        "parent_span_id": span.parent_span_id.is_valid().then(|| span.parent_span_id.to_string()),
        "name": span.name.as_str(),
        "kind": span.kind.as_str(),
        "start_time_unix_nano": unix_nanos(span.start_time),
        "end_time_unix_nano": unix_nanos(span.end_time),
        "attributes": attrs,
        "events": events,
        "links": span.links.iter().map(|l| serde_json::json!({
            "trace_id": l.span_context.trace_id().to_string(),
            "span_id": l.span_context.span_id().to_string(),
        })).collect::<Vec<_>>(),
        "status": status,
        "status_message": message,
        "dropped_attributes": span.dropped_attributes,
        "dropped_events": span.dropped_events,
    })
}

fn write_pretty(out: &mut dyn Write, span: &SpanData, resource: &Resource) -> std::io::Result<()> {
    let parent = if span.parent_span_id.is_valid() {
        span.parent_span_id.to_string()
    } else {
        "-".to_owned()
    };
    writeln!(
        out,
        "[{}] {} ({}) {:.3}ms trace={} span={} parent={}",
        resource.service_name(),
        span.name,
        span.kind.as_str(),
        span.duration().as_secs_f64() * 1000.0,
        span.span_context.trace_id(),
        span.span_context.span_id(),
        parent,
    )?;
    for kv in &span.attributes {
        writeln!(out, "    {} = {}", kv.key, kv.value)?;
    }
    for e in &span.events {
        write!(out, "    event {:?}", e.name)?;
        for kv in &e.attributes {
            write!(out, " {}={}", kv.key, kv.value)?;
        }
        writeln!(out)?;
    }
    if let Status::Error { description } = &span.status {
        writeln!(out, "    status = error: {description}")?;
    }
    Ok(())
}

impl SpanExporter for StdoutExporter {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        let io = |e: std::io::Error| ExportError::Transport(e.to_string());
        for span in batch {
            match self.format {
                StdoutFormat::Pretty => write_pretty(&mut self.out, span, resource).map_err(io)?,
                StdoutFormat::JsonLines => {
                    serde_json::to_writer(&mut self.out, &span_json(span, resource))
                        .map_err(|e| ExportError::Transport(e.to_string()))?;
                    self.out.write_all(b"\n").map_err(io)?;
                }
            }
        }
        self.out.flush().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::LogCapture;
    use crate::value::KeyValue;
    use crate::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    /// A sampled root span named `name` in trace 1, span 2.
    fn sampled_span(name: &'static str) -> SpanData {
        let cx = SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(2),
            TraceFlags::SAMPLED,
            TraceState::new(),
            false,
        );
        SpanData::new(cx, name)
    }

    #[test]
    fn json_lines() {
        let buf = LogCapture::new();
        let mut e = StdoutExporter::with_writer(StdoutFormat::JsonLines, buf.clone());
        let mut span = sampled_span("GET /users");
        span.attributes
            .push(KeyValue::new("http.response.status_code", 200i64));
        span.attributes.push(KeyValue::new(
            "http.request.header.accept",
            vec!["text/html", "*/*"],
        ));
        span.attributes
            .push(KeyValue::new("retries", Value::from(vec![1i64, 2])));
        span.attributes
            .push(KeyValue::new("ratios", Value::from(vec![0.5, f64::NAN])));
        span.attributes
            .push(KeyValue::new("flags", Value::from(vec![true, false])));
        e.export(&[span.clone(), span], &Resource::new("svc"))
            .unwrap();
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["trace_id"], "00000000000000000000000000000001");
        assert_eq!(v["name"], "GET /users");
        assert_eq!(v["service.name"], "svc");
        assert_eq!(v["attributes"]["http.response.status_code"], 200);
        assert_eq!(
            v["attributes"]["http.request.header.accept"],
            serde_json::json!(["text/html", "*/*"])
        );
        assert_eq!(v["attributes"]["retries"], serde_json::json!([1, 2]));
        assert_eq!(v["attributes"]["ratios"], serde_json::json!([0.5, null]));
        assert_eq!(v["attributes"]["flags"], serde_json::json!([true, false]));
        assert_eq!(v["parent_span_id"], serde_json::Value::Null);
    }

    #[test]
    fn pretty_prints_arrays_as_json() {
        let buf = LogCapture::new();
        let mut e = StdoutExporter::with_writer(StdoutFormat::Pretty, buf.clone());
        let mut span = sampled_span("GET /");
        span.attributes.push(KeyValue::new(
            "http.request.header.accept",
            vec!["text/html", "say \"hi\""],
        ));
        e.export(&[span], &Resource::new("svc")).unwrap();
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            r#"    http.request.header.accept = ["text/html","say \"hi\""]"#
        );
    }
}
