//! Counts heap allocations on the propagation hot path with a counting global allocator.
//!
//! This lives here rather than in `core/tests` because the workspace forbids `unsafe_code`, and a
//! global allocator is an `unsafe impl`. `.ci/run` runs it with
//! `cargo test --manifest-path fuzz/Cargo.toml --no-default-features --test alloc` (stable, no
//! C++ toolchain: without the default `libfuzzer` feature the fuzz targets are not built).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use http::{HeaderMap, HeaderValue};
use tracewire::propagation::{Propagator, Propagators, TraceContextPropagator};
use tracewire::{Context, SpanId, TraceId};

struct Counting;

thread_local! {
    // Per thread, so the test harness's other threads do not add noise. `const` initialisation
    // means reading it never allocates.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`; the counter is a thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations made by `f` on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    black_box(f());
    ALLOCATIONS.with(Cell::get) - before
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn ids_never_allocate() {
    let trace = b"4bf92f3577b34da6a3ce929d0e0e4736";
    let span = b"00f067aa0ba902b7";
    assert_eq!(allocations(|| TraceId::from_hex(black_box(trace))), 0);
    assert_eq!(allocations(|| SpanId::from_hex(black_box(span))), 0);
    assert_eq!(
        allocations(|| TraceId::from_hex(b"not hex")),
        0,
        "errors too"
    );
    let id = TraceId::from_hex(trace).unwrap();
    assert_eq!(allocations(|| black_box(id).to_hex()), 0);
    assert_eq!(allocations(|| SpanId::from_u64(7).to_hex()), 0);
    assert_eq!(allocations(TraceId::random), 0);
}

#[test]
fn traceparent_extract_allocates_nothing_without_tracestate() {
    let mut h = HeaderMap::new();
    h.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
    let bare = TraceContextPropagator::new();
    let w3c = Propagators::w3c();
    // Warm up lazily initialised state (the id generator's thread-local seed, for instance).
    let _ = w3c.extract(&h);
    assert_eq!(
        allocations(|| {
            let mut cx = Context::new();
            let _ = bare.extract(&h, &mut cx);
            cx
        }),
        0
    );
    assert_eq!(allocations(|| w3c.extract(&h)), 0);

    // With a tracestate, the list itself is on the heap.
    h.insert("tracestate", HeaderValue::from_static("congo=t61rcWkgMzE"));
    let with_state = allocations(|| w3c.extract(&h));
    assert!(with_state > 0);
    println!("extract with a one-member tracestate: {with_state} allocations");
}

#[test]
fn traceparent_inject_allocates_only_the_header_value() {
    let mut inbound = HeaderMap::new();
    inbound.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
    let w3c = Propagators::w3c();
    let cx = w3c.extract(&inbound).unwrap();
    let mut out = HeaderMap::new();
    w3c.inject(&cx, &mut out);
    // The traceparent text is formatted into a stack buffer; the one allocation is
    // `HeaderValue::from_bytes` copying it into the map's shared buffer.
    assert_eq!(allocations(|| w3c.inject(&cx, &mut out)), 1);
    assert_eq!(
        allocations(|| TraceContextPropagator::new().inject(&cx, &mut out)),
        1
    );
    assert_eq!(
        allocations(|| {
            let cx = w3c.extract(&inbound).unwrap();
            w3c.inject(&cx, &mut out);
        }),
        1
    );
    assert_eq!(out["traceparent"], TRACEPARENT);
}

#[test]
fn capping_untrusted_values_never_allocates() {
    let long = "Mozilla/5.0 ".repeat(500);
    let cut = allocations(|| tracewire::limits::untrusted(black_box(&long)).len());
    assert_eq!(cut, 0);
    assert_eq!(
        tracewire::limits::untrusted(&long).len(),
        tracewire::limits::UNTRUSTED_MAX_BYTES
    );
}
