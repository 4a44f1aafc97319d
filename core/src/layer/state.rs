//! The per-span state the layer keeps in its [table](super::table), and what a sampled span
//! records.

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::SystemTime;

use crate::baggage::Baggage;
use crate::context::{Context, SpanContext};
use crate::id::SpanId;
use crate::limits::SpanLimits;
use crate::span::{Event, Link, SpanKind, Status};
use crate::value::{KeyValue, Text, Value};

/// The per-span state the layer keeps in its table.
pub(super) struct SpanState {
    pub(super) cx: SpanContext,
    pub(super) baggage: Baggage,
    pub(super) parent_span_id: SpanId,
    pub(super) parent_is_remote: bool,
    /// Boxed so an unsampled span's state stays small (ids only).
    pub(super) recording: Option<Box<Recording>>,
}

impl SpanState {
    pub(super) fn context(&self) -> Context {
        Context::from_span_context(self.cx.clone()).with_baggage(self.baggage.clone())
    }
}

pub(super) struct Recording {
    pub(super) name: Text,
    pub(super) target: &'static str,
    pub(super) kind: SpanKind,
    pub(super) start: SystemTime,
    pub(super) attributes: Vec<KeyValue>,
    /// Bit `i` set: the attributes hold the value of the call site's field `i` (for `i` < 64),
    /// so a field recorded again replaces it and a field recorded for the first time is
    /// appended without a search.
    pub(super) fields: u64,
    /// Whether the attributes hold keys that are not the call site's fields (baggage copied
    /// onto the span, keys set through `SpanExt::set_attribute`), which any field may have to
    /// replace.
    pub(super) other_keys: bool,
    pub(super) dropped_attributes: u32,
    pub(super) events: Vec<Event>,
    pub(super) dropped_events: u32,
    pub(super) links: Vec<Link>,
    pub(super) dropped_links: u32,
    pub(super) status_code: Option<StatusCode>,
    pub(super) status_message: Option<Cow<'static, str>>,
    pub(super) error_message: Option<Cow<'static, str>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum StatusCode {
    Unset,
    Ok,
    Error,
}

/// How many emptied recordings one thread keeps for its next sampled spans.
pub(super) const POOL_PER_THREAD: usize = 32;

thread_local! {
    /// Boxes of recordings whose spans closed on this thread, emptied, for the next spans this
    /// thread creates: a sampled span then costs no allocation and no free for its recording.
    /// At most [`POOL_PER_THREAD`]; freed when the thread exits.
    #[expect(
        clippy::vec_box,
        reason = "the boxes are what is pooled: each is handed to a span's state as it is"
    )]
    static POOL: RefCell<Vec<Box<Recording>>> = const { RefCell::new(Vec::new()) };
}

impl Recording {
    /// The recording of a span starting now, in a box this thread emptied if it has one.
    #[inline]
    pub(super) fn start(
        name: &'static str,
        target: &'static str,
        attributes: Vec<KeyValue>,
        (links, dropped_links): (Vec<Link>, u32),
    ) -> Box<Recording> {
        let start = SystemTime::now();
        match POOL.try_with(|p| p.borrow_mut().pop()) {
            Ok(Some(mut b)) => {
                // Filled field by field where it lies, not built on the stack and copied in. A
                // pooled recording owns nothing (see `recycle`), and keeps what `recycle` reset.
                b.name = Text::from(name);
                b.target = target;
                b.kind = SpanKind::Internal;
                b.start = start;
                b.attributes = attributes;
                b.fields = 0;
                b.other_keys = false;
                b.dropped_attributes = 0;
                b.dropped_events = 0;
                b.links = links;
                b.dropped_links = dropped_links;
                b.status_code = None;
                b
            }
            _ => Box::new(Recording {
                name: Text::from(name),
                target,
                kind: SpanKind::Internal,
                start,
                attributes,
                fields: 0,
                other_keys: false,
                dropped_attributes: 0,
                events: Vec::new(),
                dropped_events: 0,
                links,
                dropped_links,
                status_code: None,
                status_message: None,
                error_message: None,
            }),
        }
    }

    /// Returns a box to this thread's pool (or frees it when the pool is full or the thread is
    /// exiting). Whatever it still owns is dropped first, so a pooled recording owns nothing.
    #[inline]
    pub(super) fn recycle(mut b: Box<Recording>) {
        b.name = Text::from("");
        b.attributes = Vec::new();
        b.events = Vec::new();
        b.links = Vec::new();
        b.status_message = None;
        b.error_message = None;
        let _ = POOL.try_with(move |p| {
            let mut p = p.borrow_mut();
            if p.len() < POOL_PER_THREAD {
                if p.capacity() == 0 {
                    p.reserve_exact(POOL_PER_THREAD);
                }
                p.push(b);
            }
        });
    }

    pub(super) fn status(&mut self) -> Status {
        match self.status_code {
            Some(StatusCode::Ok) => Status::Ok,
            Some(StatusCode::Unset) => Status::Unset,
            Some(StatusCode::Error) => Status::Error {
                description: self
                    .status_message
                    .take()
                    .or_else(|| self.error_message.take())
                    .unwrap_or_default(),
            },
            None => match self.error_message.take() {
                Some(description) => Status::Error { description },
                None => Status::Unset,
            },
        }
    }
}

/// Adds or replaces an attribute whose value is already cut to the length limit. `replace`
/// scans for an existing key; it can be skipped while recording a new span's own fields, whose
/// names are unique within their call site.
pub(super) fn push_attribute(
    rec: &mut Recording,
    limits: &SpanLimits,
    key: Cow<'static, str>,
    value: Value,
    replace: bool,
) -> bool {
    if let Some(kv) = replace
        .then(|| rec.attributes.iter_mut().find(|kv| kv.key == key))
        .flatten()
    {
        kv.value = value;
    } else if rec.attributes.len() < limits.attribute_count {
        rec.attributes.push(KeyValue { key, value });
    } else {
        rec.dropped_attributes = rec.dropped_attributes.saturating_add(1);
        return false;
    }
    true
}

/// The links a new span keeps, within the link and per-link attribute limits, and how many
/// links were dropped.
#[inline]
pub(super) fn limit_links(links: Vec<Link>, limits: &SpanLimits) -> (Vec<Link>, u32) {
    if links.is_empty() {
        // A new empty vector rather than `links` moved: nothing to free either way.
        return (Vec::new(), 0);
    }
    limit_some_links(links, limits)
}

fn limit_some_links(mut links: Vec<Link>, limits: &SpanLimits) -> (Vec<Link>, u32) {
    let dropped = links.len().saturating_sub(limits.link_count);
    links.truncate(limits.link_count);
    for link in &mut links {
        let over = link
            .attributes
            .len()
            .saturating_sub(limits.attribute_per_link);
        link.attributes.truncate(limits.attribute_per_link);
        link.dropped_attributes = link
            .dropped_attributes
            .saturating_add(u32::try_from(over).unwrap_or(u32::MAX));
        for kv in &mut link.attributes {
            let value = std::mem::replace(&mut kv.value, Value::Bool(false));
            kv.value = limits.cut_value(value);
        }
    }
    (links, u32::try_from(dropped).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(name: &'static str) -> Box<Recording> {
        Recording::start(name, "t", Vec::with_capacity(1), (Vec::new(), 0))
    }

    fn pooled() -> usize {
        POOL.with(|p| p.borrow().len())
    }

    #[test]
    fn a_recycled_box_is_reused_emptied_and_the_pool_is_capped() {
        // A fresh thread, so the pool starts empty whatever other tests ran here.
        std::thread::spawn(|| {
            let mut first = recording("a");
            first.name = Text::from("owned".to_owned());
            first.attributes.push(KeyValue::new("k", "v"));
            first.events.reserve(4);
            first.status_message = Some(Cow::Owned("kept?".to_owned()));
            first.error_message = Some(Cow::Owned("kept?".to_owned()));
            first.kind = SpanKind::Server;
            first.dropped_attributes = 1;
            first.dropped_events = 2;
            first.dropped_links = 3;
            first.status_code = Some(StatusCode::Error);
            let addr = &*first as *const Recording;
            Recording::recycle(first);
            assert_eq!(pooled(), 1);
            let again = recording("b");
            assert_eq!(&*again as *const Recording, addr, "the box is reused");
            assert_eq!(again.name, "b");
            assert_eq!(again.target, "t");
            assert!(again.kind == SpanKind::Internal && again.status_code.is_none());
            assert!(again.attributes.is_empty() && again.attributes.capacity() >= 1);
            assert!(again.events.is_empty() && again.links.is_empty());
            assert_eq!(
                (
                    again.dropped_attributes,
                    again.dropped_events,
                    again.dropped_links
                ),
                (0, 0, 0)
            );
            assert!(again.status_message.is_none() && again.error_message.is_none());
            assert_eq!(pooled(), 0);

            let many: Vec<_> = (0..POOL_PER_THREAD + 10).map(|_| recording("c")).collect();
            for b in many {
                Recording::recycle(b);
            }
            assert_eq!(pooled(), POOL_PER_THREAD, "the pool keeps at most its cap");
            POOL.with(|p| {
                for b in p.borrow().iter() {
                    assert_eq!(b.name.as_static(), Some(""));
                    assert_eq!(b.attributes.capacity(), 0);
                    assert_eq!(b.events.capacity(), 0);
                    assert_eq!(b.links.capacity(), 0);
                    assert!(b.status_message.is_none() && b.error_message.is_none());
                }
            });
        })
        .join()
        .unwrap();
    }
}
