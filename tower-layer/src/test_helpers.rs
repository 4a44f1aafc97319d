//! Fakes shared by the unit tests.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

/// A body yielding a fixed list of frames.
pub(crate) struct FramesBody(VecDeque<Result<Frame<Bytes>, std::io::Error>>);

impl FramesBody {
    pub(crate) fn new(frames: Vec<Result<Frame<Bytes>, std::io::Error>>) -> Self {
        FramesBody(frames.into())
    }
}

impl Body for FramesBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(self.0.pop_front())
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}

/// A streaming body fed by a channel: each message is one data frame; closing the sender ends it.
pub(crate) struct ChannelBody(pub(crate) mpsc::UnboundedReceiver<Bytes>);

impl ChannelBody {
    pub(crate) fn new() -> (mpsc::UnboundedSender<Bytes>, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, ChannelBody(rx))
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// A `tracing` layer that keeps the fields every span of one name was given, at creation or
/// recorded later (`Empty` fields left out): what any subscriber other than tracewire sees of
/// the server (`HTTP request`) or client (`HTTP client request`) spans.
#[derive(Clone)]
pub(crate) struct FieldLog {
    span: &'static str,
    fields: Arc<Mutex<Vec<(String, String)>>>,
    /// `record` calls on those spans.
    records: Arc<std::sync::atomic::AtomicUsize>,
}

impl FieldLog {
    /// Keeps the fields of the spans named `span`.
    pub(crate) fn new(span: &'static str) -> Self {
        FieldLog {
            span,
            fields: Arc::default(),
            records: Arc::default(),
        }
    }

    /// How many `record` calls reached those spans so far.
    pub(crate) fn records(&self) -> usize {
        self.records.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The fields given so far, `name=value` (strings unquoted), in the order they came.
    pub(crate) fn fields(&self) -> Vec<String> {
        let log = self.fields.lock().unwrap();
        log.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The names of the fields given so far, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let log = self.fields.lock().unwrap();
        let mut names: Vec<String> = log.iter().map(|(k, _)| k.clone()).collect();
        names.sort();
        names
    }
}

struct Visitor<'a>(&'a mut Vec<(String, String)>);

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S> tracing_subscriber::Layer<S> for FieldLog
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
        if attrs.metadata().name() == self.span {
            attrs.record(&mut Visitor(&mut self.fields.lock().unwrap()));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        if ctx.metadata(id).is_some_and(|m| m.name() == self.span) {
            self.records
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            values.record(&mut Visitor(&mut self.fields.lock().unwrap()));
        }
    }
}

pub(crate) fn assert_send_sync<T: Send + Sync>() {}
