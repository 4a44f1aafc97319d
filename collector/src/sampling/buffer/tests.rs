use std::borrow::Cow;

use super::*;
use crate::ingest::NewValue;
use crate::sampling::size::SourceRef;
use crate::sampling::test_support::{source, span};
use crate::store::map_bytes;

#[test]
fn accounts_every_byte_and_returns_to_zero() {
    let mut b = Buffer::default();
    assert_eq!(b.bytes(), 0);
    let src = source("api");
    let t = TraceId::from_u128(7);
    let slot = b.insert(t, 0);
    let mut root = span(7, 1, 0, 0, 10);
    root.name = Cow::Owned("GET /orders/{id}".to_owned());
    root.attributes.push((
        Cow::Borrowed("http.response.status_code"),
        NewValue::Int(200),
    ));
    let heap = span_heap(&root);
    b.push(slot, &src, span(7, 2, 1, 1, 9), 5);
    b.push(slot, &src, root, 6);
    let e = b.entry(slot).unwrap();
    assert_eq!((e.first, e.last, e.spans, e.root_at), (0, 6, 2, Some(6)));
    let r = e.root.as_ref().unwrap();
    assert_eq!(
        (&*r.name, r.duration, r.http_status),
        ("GET /orders/{id}", 10, Some(200))
    );
    assert_eq!(e.root_service(), Some("api"));
    assert_eq!(b.spans(), 2);
    let expected = map_bytes::<TraceId, Slot>(b.index.capacity())
        + alloc_bytes(b.cells.capacity() * size_of::<Cell>())
        + alloc_bytes(b.order.capacity() * size_of::<Slot>())
        + map_bytes::<Box<str>, Arc<NewSource>>(b.by_content.capacity())
        + map_bytes::<usize, SourceRef>(b.sources.capacity())
        + source_bytes(&src)
        + 2 * alloc_bytes(source_key(&src).len())
        + alloc_bytes(e.received.capacity() * size_of::<(usize, NewSpan)>())
        + heap
        + alloc_bytes(e.sources.capacity() * size_of::<Arc<NewSource>>())
        + alloc_bytes("GET /orders/{id}".len());
    assert_eq!(b.bytes(), expected);
    assert_eq!(e.data.capacity(), 0);
    // Once dropped, the spans are encoded: exactly their bytes, and late ones are appended.
    b.entry_mut(slot).unwrap().dropped = Some(Decision {
        reason: crate::sampling::Reason::SampledOut,
        trigger: crate::sampling::Trigger::IdleGap,
        rate: 0.0,
        at: 6,
    });
    b.compact(slot);
    let e = b.entry(slot).unwrap();
    assert_eq!(e.data.capacity(), e.data.len());
    assert_eq!((e.received.capacity(), e.received_heap), (0, 0));
    let encoded = e.data.len();
    b.push(slot, &src, span(7, 3, 1, 1, 9), 7);
    assert!(b.entry(slot).unwrap().data.len() > encoded);

    let taken = b.take(slot).unwrap();
    let spans = taken.into_spans();
    let ids: Vec<u64> = spans.iter().map(|(_, s)| s.span_id.to_u64()).collect();
    assert_eq!(ids, [2, 1, 3]);
    assert_eq!(spans[1].1.name, "GET /orders/{id}");
    assert!(Arc::ptr_eq(&spans[0].0, &src));
    assert_eq!(
        (b.spans(), b.traces(), b.source_bytes, b.entries_heap),
        (0, 0, 0, 0)
    );
    // Stale handles see nothing.
    assert!(b.entry(slot).is_none() && b.take(slot).is_none());
    assert!(b.oldest().is_none());
}

#[test]
fn sources_are_held_once_however_many_copies_arrive() {
    let mut b = Buffer::default();
    let (x, y) = (source("x"), source("y"));
    // Another batch's copy of the same resource and scope.
    let x2 = source("x");
    let cost = |s: &NewSource| source_bytes(s) + 2 * alloc_bytes(source_key(s).len());
    let s1 = b.insert(TraceId::from_u128(1), 0);
    let s2 = b.insert(TraceId::from_u128(2), 0);
    for i in 0..3 {
        b.push(s1, &x, span(1, i + 1, 0, 0, 1), 0);
    }
    b.push(s1, &y, span(1, 9, 1, 0, 1), 0);
    b.push(s2, &x2, span(2, 1, 0, 0, 1), 0);
    assert_eq!(b.source_bytes, cost(&x) + cost(&y));
    assert!(Arc::ptr_eq(&b.entry(s2).unwrap().sources[0], &x));
    b.take(s1);
    assert_eq!(b.source_bytes, cost(&x));
    let spans = b.take(s2).unwrap().into_spans();
    assert!(Arc::ptr_eq(&spans[0].0, &x));
    assert_eq!(
        (b.source_bytes, b.sources.len(), b.by_content.len()),
        (0, 0, 0)
    );
}

#[test]
fn oldest_skips_removed_traces_and_slots_are_reused() {
    let mut b = Buffer::default();
    let src = source("api");
    let a = b.insert(TraceId::from_u128(1), 0);
    let c = b.insert(TraceId::from_u128(2), 1);
    b.push(a, &src, span(1, 1, 0, 0, 1), 0);
    b.push(c, &src, span(2, 1, 0, 0, 1), 1);
    assert_eq!(b.oldest().unwrap().0, a);
    b.take(a);
    assert_eq!(b.oldest().unwrap().0, c);
    let d = b.insert(TraceId::from_u128(3), 2);
    assert_eq!(d.idx, a.idx);
    assert_ne!(d.generation, a.generation);
    assert_eq!(b.get(TraceId::from_u128(3)), Some(d));
    assert_eq!(b.get(TraceId::from_u128(1)), None);
}

#[test]
fn batches_regroup_by_source() {
    let (x, y) = (source("x"), source("y"));
    let mut out = Vec::new();
    push_span(&mut out, x.clone(), span(1, 1, 0, 0, 1));
    push_span(&mut out, y.clone(), span(1, 2, 1, 0, 1));
    push_span(&mut out, x.clone(), span(1, 3, 1, 0, 1));
    let shape: Vec<(String, Vec<u64>)> = out
        .iter()
        .map(|b| {
            (
                b.source.resource.service.to_string(),
                b.spans.iter().map(|s| s.span_id.to_u64()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [("x".to_owned(), vec![1, 3]), ("y".to_owned(), vec![2])]
    );
}
