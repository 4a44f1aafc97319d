//! The per-span state the layer keeps in the registry's extensions, and what a sampled span
//! records.

use std::borrow::Cow;
use std::time::SystemTime;

use crate::baggage::Baggage;
use crate::context::{Context, SpanContext};
use crate::id::SpanId;
use crate::limits::SpanLimits;
use crate::span::{Event, Link, SpanKind, Status};
use crate::value::{KeyValue, Value};

/// The per-span state the layer keeps in the registry's extensions.
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
    pub(super) name: Cow<'static, str>,
    pub(super) target: &'static str,
    pub(super) kind: SpanKind,
    pub(super) start: SystemTime,
    pub(super) attributes: Vec<KeyValue>,
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

impl Recording {
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
) {
    if let Some(kv) = replace
        .then(|| rec.attributes.iter_mut().find(|kv| kv.key == key))
        .flatten()
    {
        kv.value = value;
    } else if rec.attributes.len() < limits.attribute_count {
        rec.attributes.push(KeyValue { key, value });
    } else {
        rec.dropped_attributes = rec.dropped_attributes.saturating_add(1);
    }
}

/// The links a new span keeps, within the link and per-link attribute limits, and how many
/// links were dropped.
#[inline]
pub(super) fn limit_links(links: Vec<Link>, limits: &SpanLimits) -> (Vec<Link>, u32) {
    if links.is_empty() {
        return (links, 0);
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
