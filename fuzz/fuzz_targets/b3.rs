//! B3 single (`b3`) and multi (`X-B3-*`) headers through the B3 propagator, both encodings.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire::propagation::{B3Encoding, B3Propagator};
use tracewire_fuzz::{extract_and_round_trip, header_map};

const NAMES: [&str; 6] = [
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

fuzz_target!(|data: &[u8]| {
    let headers = header_map(data, &NAMES);
    extract_and_round_trip(&B3Propagator::new(B3Encoding::SingleHeader), &headers);
    extract_and_round_trip(&B3Propagator::new(B3Encoding::MultiHeader), &headers);
});
