//! Every format's headers at once through a composite of all propagators.

#![no_main]

use std::sync::LazyLock;

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use tracewire::Context;
use tracewire::propagation::Propagators;
use tracewire_fuzz::{check_limits, header_map};

/// Every header the formats read, plus two Jaeger baggage names.
static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut names = composite().fields().to_vec();
    names.extend(["uberctx-user", "uberctx-tenant"]);
    names
});

fn composite() -> Propagators {
    Propagators::from_names("tracecontext,baggage,b3,b3multi,jaeger")
        .expect("known propagator names")
}

fuzz_target!(|data: &[u8]| {
    let headers = header_map(data, &NAMES);
    let all = composite();
    let mut cx = Context::new();
    let _ = all.extract_into(&headers, &mut cx);
    check_limits(&cx);
    let mut out = HeaderMap::new();
    all.inject(&cx, &mut out);
    // Everything we send is extracted again without error.
    let again = all.extract(&out).expect("our own headers extract");
    assert_eq!(again.trace_id(), cx.trace_id());
    assert_eq!(again.span_id(), cx.span_id());
});
