//! Resources and scopes, shared by the spans that came with them and freed with the last.

use std::mem::size_of;
use std::sync::Arc;

use super::Store;
use super::intern::arc_str_bytes;
use super::limits::{alloc_bytes, attrs_bytes, truncate};
use crate::ingest::{NewSource, NewValue, Str};
use crate::model::{AttrValue, Attribute, Scope};

/// A resource plus scope, shared by the spans that came with it.
pub(super) struct Source {
    pub(super) key: Box<str>,
    pub(super) resource: Arc<[Attribute]>,
    pub(super) scope: Scope,
    pub(super) refs: u32,
    pub(super) bytes: usize,
}

impl Store {
    pub(super) fn source_for(&mut self, source: &NewSource) -> u32 {
        let mut key = String::with_capacity(64);
        key.push_str(&source.service);
        key.push('\0');
        key.push_str(&source.scope_name);
        key.push('\0');
        key.push_str(&source.scope_version);
        for (k, v) in &source.resource {
            key.push('\0');
            key.push_str(k);
            key.push('=');
            push_value_text(&mut key, v);
        }
        if let Some(&id) = self.source_ids.get(key.as_str()) {
            self.retain_source(id);
            return id;
        }
        let max_len = self.limits.max_value_len;
        let resource: Arc<[Attribute]> = source
            .resource
            .iter()
            .take(self.limits.max_attributes)
            .map(|(k, v)| resolved_attr(k, v, max_len))
            .collect();
        let scope = Scope {
            name: Arc::from(truncate(&source.scope_name, max_len)),
            version: Arc::from(truncate(&source.scope_version, max_len)),
        };
        let key: Box<str> = key.into_boxed_str();
        let bytes = alloc_bytes(key.len()) * 2
            + (16 + resource.len() * size_of::<Attribute>()).next_multiple_of(16)
            + attrs_bytes(&resource)
            - alloc_bytes(resource.len() * size_of::<Attribute>())
            + arc_str_bytes(scope.name.len())
            + arc_str_bytes(scope.version.len());
        self.source_bytes += bytes;
        let entry = Source {
            key: key.clone(),
            resource,
            scope,
            refs: 1,
            bytes,
        };
        let id = match self.free_sources.pop() {
            Some(id) => {
                self.sources[id as usize] = Some(entry);
                id
            }
            None => {
                self.sources.push(Some(entry));
                (self.sources.len() - 1) as u32
            }
        };
        self.source_ids.insert(key, id);
        id
    }

    pub(super) fn retain_source(&mut self, id: u32) {
        if let Some(s) = &mut self.sources[id as usize] {
            s.refs += 1;
        }
    }

    pub(super) fn release_source(&mut self, id: u32) {
        let slot = &mut self.sources[id as usize];
        if let Some(s) = slot {
            s.refs -= 1;
            if s.refs == 0 {
                self.source_bytes -= s.bytes;
                self.source_ids.remove(&s.key);
                *slot = None;
                self.free_sources.push(id);
            }
        }
    }
}

fn push_value_text(out: &mut String, v: &NewValue) {
    use std::fmt::Write;
    let _ = match v {
        NewValue::Str(s) => write!(out, "s{s}"),
        NewValue::Bool(b) => write!(out, "b{b}"),
        NewValue::Int(i) => write!(out, "i{i}"),
        NewValue::Double(d) => write!(out, "d{d}"),
        NewValue::Json(j) => write!(out, "j{j}"),
    };
}

pub(super) fn resolved_attr(k: &Str, v: &NewValue, max: usize) -> Attribute {
    Attribute {
        key: Arc::from(truncate(k, max)),
        value: match v {
            NewValue::Str(s) => AttrValue::String(Arc::from(truncate(s, max))),
            NewValue::Bool(b) => AttrValue::Bool(*b),
            NewValue::Int(i) => AttrValue::Int(*i),
            NewValue::Double(d) => AttrValue::Double(*d),
            NewValue::Json(s) => AttrValue::Json(Arc::from(truncate(s, max))),
        },
    }
}
