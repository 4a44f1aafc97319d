//! `tracestate` values next to a valid `traceparent`, and the `TraceState` parser on its own.

#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use tracewire::TraceState;
use tracewire::propagation::TraceContextPropagator;
use tracewire_fuzz::{extract_and_round_trip, single_header};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(state) = s.parse::<TraceState>() {
            assert!(state.len() <= TraceState::MAX_MEMBERS);
            assert!(state.header().len() <= TraceState::MAX_LEN);
            // What we would send parses back to the same list.
            assert_eq!(state.header().parse::<TraceState>(), Ok(state));
        }
    }
    let mut headers = single_header(data, "tracestate");
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    extract_and_round_trip(&TraceContextPropagator::new(), &headers);
});
