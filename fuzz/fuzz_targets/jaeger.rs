//! `uber-trace-id` and `uberctx-*` baggage headers through the Jaeger propagator.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire::propagation::JaegerPropagator;
use tracewire_fuzz::{extract_and_round_trip, header_map};

const NAMES: [&str; 4] = [
    "uber-trace-id",
    "uberctx-user",
    "uberctx-tenant",
    "uberctx-x",
];

fuzz_target!(|data: &[u8]| {
    extract_and_round_trip(&JaegerPropagator::new(), &header_map(data, &NAMES));
});
