//! The tracing layer's cost per span: create, enter, exit and close a span with the tracewire
//! layer (sampled and unsampled) against the same with a bare `tracing_subscriber::Registry`,
//! all in one run so the numbers can be read as differences. `child` spans have no fields,
//! `fields3` spans three (a static string, an integer and a borrowed string), both created under
//! an entered parent.

use criterion::Criterion;
use tracewire::export::SpanSink;
use tracewire::{Sampler, SpanData, TracewireLayer};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// A layer that does nothing. A registry with no layer never frees a closed span's slot (only a
/// layered stack's close does), so the registry under this layer is the floor any layer pays.
struct Noop;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Noop {}

/// Drops finished spans, so the numbers are the layer's own cost, not an exporter's.
struct Discard;

impl SpanSink for Discard {
    fn on_end(&self, span: SpanData) {
        std::hint::black_box(span);
    }
}

fn span_cycle() {
    let span = tracing::info_span!(
        "request",
        http.request.method = "GET",
        http.response.status_code = 200
    );
    let _entered = span.enter();
}

fn child_cycle(parent: &tracing::Span) {
    let _p = parent.enter();
    let span = tracing::info_span!("child");
    let _entered = span.enter();
}

fn fields3_cycle(parent: &tracing::Span) {
    let _p = parent.enter();
    let span = tracing::info_span!(
        "child",
        http.request.method = "GET",
        http.response.status_code = 200,
        url.path = std::hint::black_box("/rides/42"),
    );
    let _entered = span.enter();
}

fn bench(c: &mut Criterion) {
    let bare = Dispatch::new(tracing_subscriber::registry());
    let noop = Dispatch::new(tracing_subscriber::registry().with(Noop));
    let sampled = Dispatch::new(
        tracing_subscriber::registry().with(
            TracewireLayer::builder()
                .sampler(Sampler::AlwaysOn)
                .build(Discard),
        ),
    );
    let unsampled = Dispatch::new(
        tracing_subscriber::registry().with(
            TracewireLayer::builder()
                .sampler(Sampler::AlwaysOff)
                .build(Discard),
        ),
    );
    let mut g = c.benchmark_group("span start+enter+close");
    for (name, d) in [
        ("bare registry", &bare),
        ("registry + no-op layer", &noop),
        ("tracewire sampled", &sampled),
        ("tracewire unsampled", &unsampled),
    ] {
        g.bench_function(format!("root/{name}"), |b| {
            tracing::dispatcher::with_default(d, || b.iter(span_cycle))
        });
        g.bench_function(format!("child/{name}"), |b| {
            tracing::dispatcher::with_default(d, || {
                let parent = tracing::info_span!("parent");
                b.iter(|| child_cycle(&parent))
            })
        });
        g.bench_function(format!("fields3/{name}"), |b| {
            tracing::dispatcher::with_default(d, || {
                let parent = tracing::info_span!("parent");
                b.iter(|| fields3_cycle(&parent))
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("context");
    g.bench_function("current() inside a span", |b| {
        tracing::dispatcher::with_default(&sampled, || {
            let _s = tracing::info_span!("s").entered();
            b.iter(tracewire::current)
        })
    });
    g.bench_function("current() ambient, no span", |b| {
        tracewire::scope(tracewire::Context::new(), || b.iter(tracewire::current))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
