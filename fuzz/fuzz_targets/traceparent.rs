//! `traceparent` (and repeated `traceparent` values) through the W3C Trace Context propagator.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire::propagation::TraceContextPropagator;
use tracewire_fuzz::{extract_and_round_trip, single_header};

fuzz_target!(|data: &[u8]| {
    let headers = single_header(data, "traceparent");
    extract_and_round_trip(&TraceContextPropagator::new(), &headers);
});
