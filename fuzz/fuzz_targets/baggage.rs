//! `baggage` values through the parser and the W3C Baggage propagator.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tracewire::Baggage;
use tracewire::propagation::BaggagePropagator;
use tracewire_fuzz::{extract_and_round_trip, single_header};

fuzz_target!(|data: &[u8]| {
    let (bag, _dropped) = Baggage::parse_values(data.split(|&b| b == b'\n'));
    assert!(bag.len() <= Baggage::MAX_MEMBERS);
    let header = bag.header();
    assert!(header.len() <= Baggage::MAX_BYTES);
    // What we send parses back to the same baggage, with nothing dropped.
    assert_eq!(Baggage::parse_values([header.as_bytes()]), (bag, 0));
    extract_and_round_trip(&BaggagePropagator::new(), &single_header(data, "baggage"));
});
