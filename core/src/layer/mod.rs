//! The `tracing_subscriber::Layer` that turns `tracing` spans into trace spans.
//!
//! Every span the layer sees gets a [`SpanContext`] when it is created, so its ids can be read at
//! once ([`SpanExt::span_context`]) — for log lines, response headers and outbound calls. Its
//! parent is decided then and never changes:
//!
//! 1. a parent given with [`with_parent`] (what server middleware uses for the inbound context);
//! 2. otherwise the nearest enclosing span the layer knows (explicit `parent:` or contextual);
//! 3. otherwise the ambient context ([`scope`](crate::scope), [`FutureExt::in_context`]), when
//!    no span was entered since it came into scope — so a context survives disabled spans;
//! 4. otherwise a new trace.
//!
//! The sampler runs for local roots (cases 1, 3 and 4); children of a local span inherit its
//! decision. Sampled spans record fields as attributes (`otel.name`, `otel.kind`,
//! `otel.status_code`, `otel.status_message` and `error` are understood), events as span events,
//! and are handed to the sink when they close. Unsampled spans carry ids only.
//!
//! [`FutureExt::in_context`]: crate::FutureExt::in_context

mod builder;
mod parent;
mod span_ext;
mod state;
mod table;
mod visit;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TracingEvent, Level, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

pub use self::builder::LayerBuilder;
use self::parent::{CREATED, ParentChoice};
pub use self::parent::{Parent, with_parent, with_parent_and_context};
pub use self::span_ext::SpanExt;
use self::span_ext::SpanLookup;
pub(crate) use self::span_ext::current_span_context;
use self::state::{Recording, SpanState, limit_links, push_attribute};
pub(crate) use self::table::SpanTable;
use self::visit::{EventFields, Fields, Plain, Skip, SpanFields};
use crate::context::{Context, SpanContext};
use crate::export::SpanSink;
use crate::id::{SpanId, TraceFlags, TraceId};
use crate::limits::SpanLimits;
use crate::sampler::{Sampler, SamplingInput};
use crate::span::{Event, Link, SpanData};
use crate::value::{Text, Value};

/// Settings shared by the layer.
struct Config {
    sampler: Sampler,
    sink: Arc<dyn SpanSink>,
    limits: SpanLimits,
    baggage_attributes: Vec<Box<str>>,
    error_events_set_status: bool,
    /// Whether the sink exports anything; if not, sampled spans are not recorded.
    record: bool,
}

/// The tracewire `tracing` layer. Build one with [`TracewireLayer::builder`], or let
/// [`init`](crate::init) install it.
#[derive(Clone)]
pub struct TracewireLayer {
    config: Arc<Config>,
    /// The state of every live span this layer knows, by id.
    spans: Arc<SpanTable>,
    /// Set when the layer is added to a subscriber: how [`SpanExt`] walks a span's ancestors in
    /// it.
    lookup: Option<SpanLookup>,
}

impl fmt::Debug for TracewireLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracewireLayer")
            .field("sampler", &self.config.sampler)
            .field("limits", &self.config.limits)
            .field("baggage_attributes", &self.config.baggage_attributes)
            .finish_non_exhaustive()
    }
}

impl TracewireLayer {
    /// A builder with the defaults.
    pub fn builder() -> LayerBuilder {
        LayerBuilder::default()
    }

    /// The table of this layer's live spans.
    #[cfg(feature = "fmt")]
    pub(crate) fn spans(&self) -> &Arc<SpanTable> {
        &self.spans
    }
}

impl<S> tracing_subscriber::Layer<S> for TracewireLayer
where
    S: Subscriber + for<'a> LookupSpan<'a> + 'static,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        // Span ids are only unique within one subscriber: a clone of a layer that is already in
        // use gets a table of its own.
        if !self.spans.claim() {
            self.spans = Arc::new(SpanTable::new());
            self.spans.claim();
        }
        self.lookup = Some(SpanLookup::of::<S>());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let meta = attrs.metadata();
        let span_id = SpanId::random();
        let (choice, pending) = self.choose_parent(attrs, id, &ctx);
        let (cx, baggage, parent_span_id, parent_is_remote, sampled, links) = match choice {
            ParentChoice::Local { cx, baggage } => {
                let own = SpanContext::new(
                    cx.trace_id(),
                    span_id,
                    cx.flags(),
                    cx.trace_state().clone(),
                    false,
                );
                (
                    own,
                    baggage,
                    cx.span_id(),
                    false,
                    cx.is_sampled(),
                    Vec::new(),
                )
            }
            ParentChoice::Context {
                cx,
                links,
                ignore_sampled_flag,
            } => {
                let parent = cx.span_context().filter(|p| p.is_valid());
                let (trace_id, random, state) = match parent {
                    Some(p) => (p.trace_id(), p.flags().is_random(), p.trace_state().clone()),
                    None => (TraceId::random(), true, Default::default()),
                };
                let sampled = self.config.sampler.should_sample(&SamplingInput {
                    trace_id,
                    parent: if ignore_sampled_flag { None } else { parent },
                    name: meta.name(),
                });
                let flags = TraceFlags::NONE.with_random(random).with_sampled(sampled);
                let own = SpanContext::new(trace_id, span_id, flags, state, false);
                let (parent_id, remote) =
                    parent.map_or((SpanId::INVALID, false), |p| (p.span_id(), p.is_remote()));
                (own, cx.baggage().clone(), parent_id, remote, sampled, links)
            }
        };
        if pending {
            CREATED.with(|c| {
                *c.borrow_mut() =
                    Some(Context::from_span_context(cx.clone()).with_baggage(baggage.clone()));
            });
        }
        let limits = &self.config.limits;
        let recording = (sampled && self.config.record).then(|| {
            // Sized from the call site: the span's own fields (a few of them `otel.*`, which
            // are not attributes) and the baggage keys, so recording never grows it.
            // Taken back from the export worker when the sink keeps emptied vectors.
            let capacity = (meta.fields().len() + self.config.baggage_attributes.len())
                .min(limits.attribute_count);
            let attributes = self
                .config
                .sink
                .recycled_attributes(capacity)
                .unwrap_or_else(|| Vec::with_capacity(capacity));
            let mut rec = Recording::start(
                meta.name(),
                meta.target(),
                attributes,
                limit_links(links, limits),
            );
            for key in &self.config.baggage_attributes {
                if let Some(v) = baggage.get(key) {
                    push_attribute(
                        &mut rec,
                        limits,
                        Cow::Owned(key.to_string()),
                        Value::String(Text::new(limits.cut_str(v))),
                        true,
                    );
                }
            }
            // A field may have to replace a baggage key of the same name.
            rec.other_keys = !rec.attributes.is_empty();
            attrs.record(&mut Fields(&mut SpanFields {
                rec: &mut rec,
                limits,
                update: false,
            }));
            rec
        });
        #[cfg(feature = "fmt")]
        if crate::fmt::ids_in_extensions() {
            crate::fmt::store_ids(&ctx, id, &cx);
        }
        self.spans.insert(
            id,
            SpanState {
                cx,
                baggage,
                parent_span_id,
                parent_is_remote,
                recording,
            },
        );
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: LayerContext<'_, S>) {
        let limits = &self.config.limits;
        // Values that run no user code (strings, numbers, booleans: `tracing`'s `Value` is
        // sealed, so those are never a user type) are recorded under the table's lock, in one
        // lookup. From the first `Debug` or error value on, the recording is taken out and the
        // rest are visited with no lock held: their `Debug` may log.
        let Some(Some((rec, applied))) = self.spans.with(id, |s| {
            let rec = s.recording.as_deref_mut()?;
            let mut plain = Plain::new(SpanFields {
                rec,
                limits,
                update: true,
            });
            values.record(&mut plain);
            let applied = plain.stopped()?;
            s.recording.take().map(|rec| (rec, applied))
        }) else {
            return;
        };
        let mut rec = rec;
        values.record(&mut Skip::new(
            applied,
            Fields(&mut SpanFields {
                rec: &mut rec,
                limits,
                update: true,
            }),
        ));
        self.spans.with(id, |s| s.recording = Some(rec));
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, _ctx: LayerContext<'_, S>) {
        let Some(other) = self.spans.with(follows, |s| s.cx.clone()) else {
            return;
        };
        let link_count = self.config.limits.link_count;
        self.spans.with(id, |s| {
            if let Some(rec) = s.recording.as_mut() {
                if rec.links.len() < link_count {
                    rec.links.push(Link::new(other, Vec::new()));
                } else {
                    rec.dropped_links = rec.dropped_links.saturating_add(1);
                }
            }
        });
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: LayerContext<'_, S>) {
        let meta = event.metadata();
        let limits = &self.config.limits;
        let error = self.config.error_events_set_status && *meta.level() == Level::ERROR;
        // Whether to record the event, and whether the span has a vector of events yet.
        let Some((id, Some(unallocated))) = self.event_span(event, &ctx, |rec| {
            let sets_status = error && rec.status_code.is_none() && rec.error_message.is_none();
            let full = rec.events.len() >= limits.event_count;
            if full && !sets_status {
                rec.dropped_events = rec.dropped_events.saturating_add(1);
                return None;
            }
            Some(rec.events.capacity() == 0)
        }) else {
            return;
        };
        // The fields are visited with no lock held: their `Debug` may log. They go into a
        // vector the export worker handed back when there is one, sized for every field and
        // the level.
        let room = (meta.fields().len() + 1).min(limits.attribute_per_event);
        let attributes = self
            .config
            .sink
            .recycled_attributes(room)
            .unwrap_or_else(|| Vec::with_capacity(room));
        let mut fields = EventFields::new(limits, attributes);
        event.record(&mut Fields(&mut fields));
        let name = fields.message.take().unwrap_or(Text::from(meta.name()));
        fields.push(Cow::Borrowed("level"), Value::from(meta.level().as_str()));
        let time = SystemTime::now();
        // A span's first event goes into a vector the export worker handed back, if any (taken
        // before the table's lock, like the attributes').
        let events = if unallocated {
            self.config.sink.recycled_events()
        } else {
            None
        };
        self.spans.with(&id, |s| {
            let Some(rec) = s.recording.as_mut() else {
                return;
            };
            if error && rec.status_code.is_none() && rec.error_message.is_none() {
                rec.error_message = Some(name.clone().into_cow());
            }
            if rec.events.len() >= limits.event_count {
                rec.dropped_events = rec.dropped_events.saturating_add(1);
                return;
            }
            let mut recorded = Event::new(name, time, fields.attributes);
            recorded.dropped_attributes = fields.dropped;
            if rec.events.capacity() == 0
                && let Some(events) = events
            {
                rec.events = events;
            }
            rec.events.push(recorded);
        });
    }

    fn on_close(&self, id: Id, _ctx: LayerContext<'_, S>) {
        let Some(state) = self.spans.remove(&id) else {
            return;
        };
        let Some(mut rec) = state.recording else {
            if !self.config.record && state.cx.is_sampled() {
                self.config.sink.on_discard();
            }
            return;
        };
        let status = rec.status();
        // The parts are taken out of the box, which then goes back to this thread's pool. The
        // `SpanData` is built in the call: built first into a local, it was copied into the
        // call's argument, and that copy read back bytes just written (a stall on each).
        self.config.sink.on_end(SpanData {
            span_context: state.cx,
            parent_span_id: state.parent_span_id,
            parent_is_remote: state.parent_is_remote,
            kind: rec.kind,
            name: std::mem::replace(&mut rec.name, Text::from("")),
            target: Cow::Borrowed(rec.target),
            start_time: rec.start,
            end_time: SystemTime::now(),
            attributes: std::mem::take(&mut rec.attributes),
            dropped_attributes: rec.dropped_attributes,
            events: std::mem::take(&mut rec.events),
            dropped_events: rec.dropped_events,
            links: std::mem::take(&mut rec.links),
            dropped_links: rec.dropped_links,
            status,
        });
        Recording::recycle(rec);
    }
}
