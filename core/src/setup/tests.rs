//! Tests of the setup: errors, limits and timeouts.

use super::*;
use crate::export::{PipelineBuilder, PipelineError};
use crate::layer::LayerBuilder;
use crate::limits::SpanLimits;
use crate::sampler::Sampler;

#[test]
fn a_pipeline_that_cannot_start_fails_the_setup() {
    let err = Builder::new()
        .no_env_exporter()
        .sampler(Sampler::AlwaysOn)
        .pipeline(PipelineBuilder::default().unspawnable())
        .build()
        .unwrap_err();
    assert!(
        matches!(err, InitError::Pipeline(PipelineError::Spawn(_))),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn limits_reach_the_layer_under_the_layer_builders_own() {
    let limits = SpanLimits {
        attribute_count: 3,
        link_count: 4,
        ..SpanLimits::default()
    };
    let (layer, _guard) = Builder::new()
        .no_env_exporter()
        .sampler(Sampler::AlwaysOn)
        .pipeline(PipelineBuilder::default())
        .limits(limits)
        .layer(LayerBuilder::default().max_links(1))
        .build()
        .unwrap();
    let debug = format!("{layer:?}");
    assert!(debug.contains("attribute_count: 3"), "{debug}");
    assert!(debug.contains("link_count: 1"), "{debug}");
}

#[test]
fn a_huge_shutdown_timeout_is_waited_out_not_a_panic() {
    let (_layer, guard) = Builder::new()
        .no_env_exporter()
        .sampler(Sampler::AlwaysOn)
        .pipeline(PipelineBuilder::default())
        .shutdown_timeout(Duration::MAX)
        .build()
        .unwrap();
    guard.flush(Duration::MAX).unwrap();
    drop(guard);
}
