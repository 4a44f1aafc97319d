//! B3 single (`b3`) and multi (`X-B3-*`) headers through the B3 propagator, both encodings.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tracewire::propagation::{B3Encoding, B3Propagator, Propagator};
use tracewire_fuzz::{extract_and_round_trip, header_map};

const SINGLE: B3Propagator = B3Propagator::new(B3Encoding::SingleHeader);
const MULTI: B3Propagator = B3Propagator::new(B3Encoding::MultiHeader);

/// The single header and every multi header.
static NAMES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| [SINGLE.fields(), MULTI.fields()].concat());

fuzz_target!(|data: &[u8]| {
    let headers = header_map(data, &NAMES);
    extract_and_round_trip(&SINGLE, &headers);
    extract_and_round_trip(&MULTI, &headers);
});
