//! Resources and scopes, shared by the spans that came with them and freed with the last.
//!
//! A resource is kept once however many scopes and requests name it: resources are looked up
//! by content ([`ResourceKey`]), and a source is the small triple (resource, scope name, scope
//! version). Within one insert, consecutive batches that share one decoded resource (the scopes
//! of one OTLP `ResourceSpans`) resolve it once, so a request with many scopes costs one
//! resource lookup, not one per scope.

use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::Arc;

use super::Store;
use super::intern::{Sym, arc_str_bytes};
use super::limits::{alloc_bytes, truncate};
use crate::ingest::{IngestAttr, NewResource, NewSource, ValueRef, array_json};
use crate::model::{AttrValue, Attribute};

/// A resource's attributes, hashed and compared by content (doubles by their bits, so a `NaN`
/// value still finds itself).
#[derive(Clone)]
pub(super) struct ResourceKey(pub(super) Arc<[Attribute]>);

impl Hash for ResourceKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for a in self.0.iter() {
            a.key.hash(state);
            match &a.value {
                AttrValue::String(s) => (0u8, s).hash(state),
                AttrValue::Bool(b) => (1u8, b).hash(state),
                AttrValue::Int(i) => (2u8, i).hash(state),
                AttrValue::Double(d) => (3u8, d.to_bits()).hash(state),
                AttrValue::Json(s) => (4u8, s).hash(state),
            }
        }
    }
}

impl PartialEq for ResourceKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(other.0.iter()).all(|(a, b)| {
                a.key == b.key
                    && match (&a.value, &b.value) {
                        (AttrValue::Double(x), AttrValue::Double(y)) => x.to_bits() == y.to_bits(),
                        (x, y) => x == y,
                    }
            })
    }
}

impl Eq for ResourceKey {}

/// A stored resource.
pub(super) struct ResourceEntry {
    pub(super) attrs: ResourceKey,
    pub(super) dropped_attributes: u32,
    /// Sources naming it.
    pub(super) refs: u32,
    /// Heap bytes of `attrs` (the shared slice and its strings).
    pub(super) bytes: usize,
}

/// A resource plus scope, shared by the spans that came with it.
pub(super) struct Source {
    pub(super) resource: u32,
    pub(super) scope_name: Sym,
    pub(super) scope_version: Sym,
    /// Spans (and in-progress batches) using it.
    pub(super) refs: u32,
}

/// Remembers the last decoded resource resolved during one insert. It holds a reference to the
/// stored resource (and a clone of the decoded one, so the pointer cannot be reused), released
/// with [`Store::end_resource_cache`].
#[derive(Default)]
pub(super) struct ResourceCache(Option<(Arc<NewResource>, u32)>);

/// Heap bytes of a shared attribute slice and its strings.
fn resource_bytes(attrs: &[Attribute]) -> usize {
    let mut n = alloc_bytes(2 * size_of::<usize>() + std::mem::size_of_val(attrs));
    for a in attrs {
        n += arc_str_bytes(a.key.len());
        if let AttrValue::String(s) | AttrValue::Json(s) = &a.value {
            n += arc_str_bytes(s.len());
        }
    }
    n
}

impl Store {
    /// The stored source for `source`, with one reference taken for the caller.
    pub(super) fn source_for(&mut self, source: &NewSource, cache: &mut ResourceCache) -> u32 {
        let resource = self.resource_for(&source.resource, cache);
        let max = self.limits.max_value_len;
        let name = self.strings.intern(truncate(&source.scope_name, max));
        let version = self.strings.intern(truncate(&source.scope_version, max));
        if let Some(&id) = self.source_ids.get(&(resource, name, version)) {
            // The source already holds these references.
            self.release_sym(name);
            self.release_sym(version);
            self.retain_source(id);
            return id;
        }
        self.retain_resource(resource);
        let entry = Source {
            resource,
            scope_name: name,
            scope_version: version,
            refs: 1,
        };
        let id = occupy(&mut self.sources, &mut self.free_sources, entry);
        self.source_ids.insert((resource, name, version), id);
        self.source_table.inserted(self.source_ids.capacity());
        id
    }

    /// The stored resource for `r`; the cache keeps one reference to it until the insert ends.
    fn resource_for(&mut self, r: &Arc<NewResource>, cache: &mut ResourceCache) -> u32 {
        if let Some((last, id)) = &cache.0
            && Arc::ptr_eq(last, r)
        {
            return *id;
        }
        self.end_resource_cache(cache);
        let max = self.limits.max_value_len;
        let kept = r.attributes.len().min(self.limits.max_attributes);
        let over = u32::try_from(r.attributes.len() - kept).unwrap_or(u32::MAX);
        let attrs: Arc<[Attribute]> = r
            .attributes
            .iter()
            .take(kept)
            .map(|a| resolved_attr(a, max))
            .collect();
        let key = ResourceKey(attrs);
        let id = match self.resource_ids.get(&key) {
            Some(&id) => {
                self.retain_resource(id);
                id
            }
            None => {
                let bytes = resource_bytes(&key.0);
                self.source_bytes += bytes;
                let entry = ResourceEntry {
                    attrs: key.clone(),
                    dropped_attributes: r.dropped_attributes.saturating_add(over),
                    refs: 1,
                    bytes,
                };
                let id = occupy(&mut self.resources, &mut self.free_resources, entry);
                self.resource_ids.insert(key, id);
                self.resource_table.inserted(self.resource_ids.capacity());
                id
            }
        };
        cache.0 = Some((r.clone(), id));
        id
    }

    /// Drops the cache's reference to its resource.
    pub(super) fn end_resource_cache(&mut self, cache: &mut ResourceCache) {
        if let Some((_, id)) = cache.0.take() {
            self.release_resource(id);
        }
    }

    fn retain_resource(&mut self, id: u32) {
        if let Some(r) = &mut self.resources[id as usize] {
            r.refs += 1;
        }
    }

    fn release_resource(&mut self, id: u32) {
        let slot = &mut self.resources[id as usize];
        if let Some(r) = slot {
            r.refs -= 1;
            if r.refs == 0 {
                self.source_bytes -= r.bytes;
                self.resource_ids.remove(&r.attrs);
                *slot = None;
                self.free_resources.push(id);
            }
        }
    }

    pub(super) fn retain_source(&mut self, id: u32) {
        if let Some(s) = &mut self.sources[id as usize] {
            s.refs += 1;
        }
    }

    pub(super) fn release_source(&mut self, id: u32) {
        let slot = &mut self.sources[id as usize];
        let Some(s) = slot else { return };
        s.refs -= 1;
        if s.refs > 0 {
            return;
        }
        let (resource, name, version) = (s.resource, s.scope_name, s.scope_version);
        *slot = None;
        self.free_sources.push(id);
        self.source_ids.remove(&(resource, name, version));
        self.release_sym(name);
        self.release_sym(version);
        self.release_resource(resource);
    }
}

/// Puts `entry` in a free slot of `slots` (or a new one at the end) and returns its index.
fn occupy<T>(slots: &mut Vec<Option<T>>, free: &mut Vec<u32>, entry: T) -> u32 {
    match free.pop() {
        Some(id) => {
            slots[id as usize] = Some(entry);
            id
        }
        None => {
            slots.push(Some(entry));
            (slots.len() - 1) as u32
        }
    }
}

/// An attribute as readers see it, its key and text cut at `max` bytes.
pub(super) fn resolved_attr(a: &impl IngestAttr, max: usize) -> Attribute {
    Attribute {
        key: Arc::from(truncate(a.key().as_str(), max)),
        value: match a.value() {
            ValueRef::Str(s) => AttrValue::String(Arc::from(truncate(s.as_str(), max))),
            ValueRef::Bool(b) => AttrValue::Bool(b),
            ValueRef::Int(i) => AttrValue::Int(i),
            ValueRef::Double(d) => AttrValue::Double(d),
            ValueRef::Json(s) => AttrValue::Json(Arc::from(truncate(s, max))),
            ValueRef::Array(a) => AttrValue::Json(Arc::from(truncate(&array_json(a), max))),
            ValueRef::Other(v) => AttrValue::String(Arc::from(truncate(&v.to_string(), max))),
        },
    }
}
