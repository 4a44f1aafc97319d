use super::*;

#[test]
fn defaults_are_valid_and_documented_values() {
    let c = SamplingConfig::builder().build().unwrap();
    assert_eq!(c, SamplingConfig::default());
    assert_eq!(c.buffer_max_bytes(), 256 << 20);
    assert_eq!(c.buffer_window(), Duration::from_secs(300));
    assert_eq!(c.idle_gap(), Duration::from_secs(2));
    assert_eq!(c.max_wait(), Duration::from_secs(30));
    assert_eq!(
        c.force_attribute.as_deref(),
        Some("tracewire.sampling.force")
    );
}

#[test]
fn every_limit_is_checked() {
    let err = |b: SamplingConfigBuilder| match b.build() {
        Err(SamplingConfigError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    };
    let b = SamplingConfig::builder;
    assert_eq!(err(b().buffer_max_bytes(0)), "buffer.max_bytes");
    assert_eq!(err(b().buffer_window(Duration::ZERO)), "buffer.window");
    assert_eq!(
        err(b().max_wait(Duration::from_secs(600))),
        "completion.max_wait"
    );
    assert_eq!(
        err(b().idle_gap(Duration::from_secs(31))),
        "completion.idle_gap"
    );
    assert_eq!(
        err(b().max_spans_per_trace(0)),
        "completion.max_spans_per_trace"
    );
    assert_eq!(err(b().decision_ttl(Duration::ZERO)), "decision_cache.ttl");
    assert_eq!(
        err(b().decision_cache_traces(0)),
        "decision_cache.max_traces"
    );
    assert_eq!(
        err(b().adaptive_latency(1.0, Duration::from_secs(1), 1)),
        "policies.latency.quantile"
    );
    assert_eq!(
        err(b().adaptive_latency(0.9, Duration::ZERO, 1)),
        "policies.latency.window"
    );
    assert_eq!(
        err(b().dynamic(f64::NAN)),
        "policies.dynamic.target_per_sec"
    );
    assert_eq!(
        err(b().dynamic(1.0).dynamic_key(&[])),
        "policies.dynamic.key"
    );
    assert_eq!(
        err(b().dynamic(1.0).dynamic_adjust_every(Duration::ZERO)),
        "policies.dynamic.adjust_every"
    );
    assert_eq!(err(b().probabilistic(1.5)), "policies.probabilistic.rate");
    assert_eq!(err(b().limit_per_sec(0.0)), "limit.max_traces_per_sec");
    assert_eq!(
        b().probabilistic(-0.1).build().unwrap_err().to_string(),
        "policies.probabilistic.rate must be between 0 and 1"
    );
}

#[test]
fn builder_turns_policies_off() {
    let c = SamplingConfig::builder()
        .no_adaptive_latency()
        .no_dynamic()
        .keep_errors(false)
        .force_attribute(Some(String::new()))
        .build()
        .unwrap();
    assert!(c.adaptive.is_none() && c.dynamic.is_none() && !c.keep_errors);
    assert_eq!(c.force_attribute, None);
    // Re-enabling the dynamic sampler brings its default key back.
    let c = c.into_builder().dynamic(3.0).build().unwrap();
    assert_eq!(
        c.dynamic.unwrap().key,
        [KeyPart::Service, KeyPart::Operation, KeyPart::Status]
    );
}
