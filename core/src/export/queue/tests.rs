use std::time::Duration;

use super::*;
use crate::SpanContext;

fn span(n: usize) -> SpanData {
    SpanData::new(SpanContext::default(), n.to_string())
}

/// Pushes spans `from..to`, returning what each push said.
fn push_range(q: &SpanQueue, from: usize, to: usize) -> Vec<Push> {
    (from..to).map(|i| q.push(span(i))).collect()
}

fn accepted(pushed: &[Push]) -> bool {
    pushed.iter().all(|&p| p != Push::Refused)
}

fn names(chunk: &[SpanData]) -> Vec<String> {
    chunk.iter().map(|s| s.name.to_string()).collect()
}

#[test]
fn the_bound_is_exact_below_at_and_above_one_batch() {
    for (bound, max_batch) in [(3, 8), (8, 8), (20, 8)] {
        let q = SpanQueue::new(bound, max_batch);
        let pushed = push_range(&q, 0, bound);
        assert!(accepted(&pushed), "{bound}: {pushed:?}");
        assert_eq!(q.len(), bound);
        assert_eq!(push_range(&q, bound, bound + 1), [Push::Refused], "{bound}");
        assert_eq!((q.len(), q.accepted()), (bound, bound as u64), "{bound}");
        // Taking a chunk out makes room for exactly that many.
        let taken = q.take_any().unwrap().len();
        assert!(accepted(&push_range(&q, 100, 100 + taken)));
        assert_eq!(q.push(span(0)), Push::Refused, "{bound}");
        assert_eq!(q.accepted(), (bound + taken) as u64);
    }
}

#[test]
fn a_push_says_filled_exactly_when_it_fills_a_chunk() {
    let q = SpanQueue::new(100, 8);
    let expected: Vec<_> = (1..=20)
        .map(|i| {
            if i % 8 == 0 {
                Push::Filled
            } else {
                Push::Queued
            }
        })
        .collect();
    assert_eq!(push_range(&q, 0, 20), expected);
    // The partial chunk taken on a timer: the next chunk counts from its own first span.
    assert_eq!(q.take_full().map(|c| c.len()), Some(8));
    assert_eq!(q.take_full().map(|c| c.len()), Some(8));
    assert_eq!(q.take_full().map(|c| c.len()), None);
    assert_eq!(q.take_any().map(|c| c.len()), Some(4));
    let pushed = push_range(&q, 20, 28);
    assert_eq!(pushed[..7], vec![Push::Queued; 7]);
    assert_eq!(pushed[7], Push::Filled);
    // A queue smaller than a batch fills its one chunk when it is full.
    let small = SpanQueue::new(5, 8);
    let pushed = push_range(&small, 0, 5);
    assert_eq!(pushed[..4], vec![Push::Queued; 4]);
    assert_eq!(pushed[4], Push::Filled);
}

#[test]
fn chunks_hold_at_most_one_batch_and_keep_the_order() {
    let q = SpanQueue::new(100, 8);
    push_range(&q, 0, 50);
    let mut sizes = Vec::new();
    let mut order = Vec::new();
    while let Some(chunk) = q.take_any() {
        assert_eq!(chunk.capacity(), 8);
        sizes.push(chunk.len());
        order.extend(names(&chunk));
        q.give_back(chunk);
    }
    assert_eq!(sizes, [8, 8, 8, 8, 8, 8, 2]);
    let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(order, expected);
    assert_eq!(q.len(), 0);
    // Chunks given back are filled again, in order.
    push_range(&q, 50, 60);
    assert_eq!(
        names(&q.take_full().unwrap()),
        ["50", "51", "52", "53", "54", "55", "56", "57"]
    );
    assert_eq!(names(&q.take_any().unwrap()), ["58", "59"]);
}

#[test]
fn after_a_burst_only_the_spare_chunks_are_kept() {
    let q = SpanQueue::new(1000, 8);
    assert_eq!(q.retained(), (0, 0), "no storage before the first span");
    push_range(&q, 0, 100);
    assert_eq!(q.retained(), (13, 13 * 8));
    let mut chunks = Vec::new();
    while let Some(chunk) = q.take_any() {
        chunks.push(chunk);
    }
    assert_eq!(chunks.len(), 13);
    for chunk in chunks {
        q.give_back(chunk);
    }
    assert_eq!(q.retained(), (SPARE_CHUNKS, SPARE_CHUNKS * 8));
    // The spares serve the next spans: no third chunk until two are full.
    push_range(&q, 0, 16);
    assert_eq!(q.retained(), (2, 16));
    push_range(&q, 16, 17);
    assert_eq!(q.retained(), (3, 24));
}

#[test]
fn chunks_whose_storage_an_exporter_took_are_not_kept() {
    let q = SpanQueue::new(100, 8);
    push_range(&q, 0, 8);
    let mut chunk = q.take_full().unwrap();
    // What `std::mem::take(batch)` in an exporter leaves behind.
    drop(std::mem::take(&mut chunk));
    q.give_back(chunk);
    q.give_back(Vec::with_capacity(64));
    assert_eq!(q.retained(), (0, 0));
    // A chunk with spans still in it comes back empty.
    push_range(&q, 0, 3);
    let chunk = q.take_any().unwrap();
    q.give_back(chunk);
    assert_eq!(q.retained(), (1, 8));
    assert_eq!(q.len(), 0);
    assert_eq!(push_range(&q, 3, 4), [Push::Queued]);
    assert_eq!(names(&q.take_any().unwrap()), ["3"]);
}

#[test]
fn closing_takes_everything_in_order_and_refuses_later_spans() {
    let q = SpanQueue::new(100, 8);
    push_range(&q, 0, 8);
    q.give_back(Vec::with_capacity(8));
    push_range(&q, 8, 19);
    let left = q.close();
    let sizes: Vec<usize> = left.iter().map(Vec::len).collect();
    assert_eq!(sizes, [8, 8, 3]);
    let order: Vec<String> = left.iter().flat_map(|c| names(c)).collect();
    let expected: Vec<String> = (0..19).map(|i| i.to_string()).collect();
    assert_eq!(order, expected);
    assert_eq!(push_range(&q, 19, 20), [Push::Refused]);
    assert_eq!((q.len(), q.accepted()), (0, 19));
    // Nothing is kept once closed.
    for chunk in left {
        q.give_back(chunk);
    }
    assert_eq!(q.retained(), (0, 0));
    assert!(q.take_any().is_none());
}

#[test]
fn pushes_racing_a_close_are_either_taken_or_refused() {
    let q = SpanQueue::new(100_000, 64);
    let threads = 4;
    let per_thread = 5_000;
    let (accepted, taken) = std::thread::scope(|s| {
        let pushers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..per_thread)
                        .filter(|&i| q.push(span(i)) != Push::Refused)
                        .count()
                })
            })
            .collect();
        let mut taken = 0;
        for _ in 0..50 {
            taken += q.take_any().map_or(0, |c| c.len());
            std::thread::yield_now();
        }
        taken += q.close().iter().map(Vec::len).sum::<usize>();
        let accepted: usize = pushers.into_iter().map(|p| p.join().unwrap()).sum();
        (accepted, taken)
    });
    assert_eq!(accepted, taken);
    assert_eq!(q.accepted(), accepted as u64);
    assert_eq!(q.len(), 0);
}

#[test]
fn a_push_waits_for_a_held_lock_through_its_spins_yields_and_naps_then_lands() {
    let q = SpanQueue::new(10, 4);
    let guard = q.lock();
    std::thread::scope(|s| {
        let producer = s.spawn(|| q.push(span(7)));
        // Long enough for the waiter to spin, yield its way past the lock's yields and nap; it
        // cannot finish while the lock is held.
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !producer.is_finished(),
            "a push went in under another's lock"
        );
        drop(guard);
        assert_eq!(producer.join().unwrap(), Push::Queued);
    });
    assert_eq!((q.len(), q.accepted()), (1, 1));
    assert_eq!(names(&q.take_any().unwrap()), ["7"]);
}
