//! Every scenario of the fault suite, scaled down, against the collector binary of this build
//! and the traced service. These assert outcomes (answers, survival, counters, failed requests),
//! never timings; the figures come from `reliability/run.sh`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use tracewire_reliability::Scale;
use tracewire_reliability::corpus::Family;
use tracewire_reliability::process::profile_dir;
use tracewire_reliability::scenario::{self, Env, Figure};

/// The `tracewire-collector` binary: `$TRACEWIRE_COLLECTOR_BIN`, or built now with the profile
/// of this test (a no-op when `cargo test --workspace` already built it).
fn collector() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TRACEWIRE_COLLECTOR_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("the test's path");
        let dir = profile_dir(&exe).expect("a profile directory");
        let target = dir.parent().expect("a target directory");
        let mut cmd = Command::new(env!("CARGO"));
        // The variables cargo set for this test (package name, manifest, ...) would make the
        // inner build look different from a plain `cargo build` and rebuild dependencies.
        for (key, _) in std::env::vars_os() {
            if key
                .to_str()
                .is_some_and(|k| k.starts_with("CARGO_") && k != "CARGO_HOME")
            {
                cmd.env_remove(key);
            }
        }
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", target)
            .args([
                "build",
                "--quiet",
                "-p",
                "tracewire-collector",
                "--bin",
                "tracewire-collector",
            ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo");
        assert!(status.success(), "building tracewire-collector failed");
        dir.join("tracewire-collector")
    })
    .clone()
}

fn env() -> Env {
    let t0 = std::time::Instant::now();
    let collector = collector();
    eprintln!("collector binary ready in {:?}", t0.elapsed());
    Env {
        collector,
        suite: PathBuf::from(env!("CARGO_BIN_EXE_fault-suite")),
        scale: Scale::Quick,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_gets_the_expected_answers_and_the_collector_survives() {
    let f = scenario::corpus::run(&env()).await.unwrap();
    eprintln!("{}", f.text());
    assert_eq!(f.unexpected, 0, "{:#?}", f.unexpected_cases);
    for family in Family::ALL {
        assert!(f.families[&family].sent > 0, "{family:?}");
    }
    assert_eq!(f.saturated, Some(true), "dropped counts do not saturate");
    assert!(f.survival.ok(), "{:?}", f.survival);
    assert!(
        f.within_budget,
        "peak RSS {} over idle {} + budgets",
        f.peak_rss_bytes, f.idle_rss_bytes
    );
    assert_eq!(f.flood.spans, 8000);
    assert!(
        f.flood.colliding_ms.is_some(),
        "colliding keys: {}",
        f.flood.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_neither_lock_out_an_exporter_nor_stay() {
    let f = scenario::slow::run(&env()).await.unwrap();
    eprintln!("{}", f.text());
    let answers = |p: &tracewire_reliability::load::ProbeOutcome| {
        p.statuses.keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(answers(&f.baseline), ["200"], "{f:?}");
    // Sockets that hold no data never keep an exporter out: every export was stored.
    let c = &f.connections;
    assert_eq!(answers(&c.during), ["200"], "{c:?}");
    // Sockets past the cap, heads and bodies that dawdle are all closed by the collector.
    for (name, fate) in [
        ("idle", c.idle),
        ("slowloris", c.slowloris),
        ("drip", c.drip),
        ("declared drip", c.declared_drip),
    ] {
        assert!(fate.opened > 0, "{name}: {fate:?}");
        assert!(fate.closed_by_collector > 0, "{name}: {fate:?}");
    }
    // Uploads that really hold the budget get the exporter told to retry, never cut off.
    let m = &f.memory;
    assert!(m.stall.closed_by_collector > 0, "{m:?}");
    for status in answers(&m.during) {
        assert!(status == "200" || status == "429", "{m:?}");
    }
    assert!(f.survival.ok(), "{:?}", f.survival);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expensive_queries_are_bounded_and_exports_keep_succeeding() {
    let f = scenario::queries::run(&env()).await.unwrap();
    eprintln!("{}", f.text());
    assert_eq!(
        f.during.statuses.keys().collect::<Vec<_>>(),
        ["200"],
        "{f:?}"
    );
    assert!(f.stored_spans >= 15_000, "{}", f.stored_spans);
    for (name, t) in &f.queries {
        assert!(
            !t.statuses.contains_key("error"),
            "{name} got no answer: {t:?}"
        );
        for status in t.statuses.keys() {
            assert!(
                ["200", "400", "503"].contains(&status.as_str()),
                "{name}: {t:?}"
            );
        }
    }
    // Every query was answered (a 503 is the time budget's answer); 4,000 tags are refused
    // outright; the largest page of the huge trace is a valid query.
    assert_eq!(f.queries.len(), 6, "{:?}", f.queries.keys());
    let statuses = |q: &str| {
        f.queries
            .get(q)
            .map(|t| t.statuses.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(statuses("search, 4000 tags"), Some(vec!["400".to_owned()]));
    assert!(statuses("trace, largest page").is_some_and(|s| !s.contains(&"400".to_owned())));
    assert!(f.survival.ok(), "{:?}", f.survival);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_or_hostile_endpoint_never_fails_a_request() {
    let f = scenario::exporter::run(&env()).await.unwrap();
    eprintln!("{}", f.text());
    let names: Vec<&str> = f.runs.iter().map(|r| r.endpoint.as_str()).collect();
    assert_eq!(
        names,
        [
            "untraced",
            "collector",
            "dead",
            "hanging",
            "503",
            "hostile-retry-after"
        ]
    );
    for r in &f.runs {
        assert_eq!(r.requests.failed, 0, "{}: {r:?}", r.endpoint);
        assert_eq!(r.requests.ok, 2_000, "{}: {r:?}", r.endpoint);
        assert!(r.alive, "{} died", r.endpoint);
        assert_eq!(r.stats.pipeline.panics, 0, "{}: {r:?}", r.endpoint);
    }
    assert!(f.runs[1].stats.pipeline.exported > 0, "{:?}", f.runs[1]);
    for r in &f.runs[2..] {
        let p = r.stats.pipeline;
        assert_eq!(p.exported, 0, "{}: {r:?}", r.endpoint);
        assert!(
            p.dropped + p.failed > 0,
            "{}: nothing counted: {r:?}",
            r.endpoint
        );
    }
    for r in &f.runs[3..] {
        assert!(r.endpoint_requests > 0, "{}: {r:?}", r.endpoint);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_killed_and_restarted_is_exported_to_again() {
    let f = scenario::restart::run(&env()).await.unwrap();
    eprintln!("{}", f.text());
    assert_eq!(f.requests.failed, 0, "{f:?}");
    assert!(f.export_again_ms.is_some(), "{f:?}");
    assert!(
        f.at_end.pipeline.exported > f.at_kill.pipeline.exported,
        "{f:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headline_run_scaled_down() {
    let f = scenario::headline::run(&env(), 6_000).await.unwrap();
    eprintln!("{}", f.text());
    assert_eq!(f.requests.failed, 0, "{f:?}");
    assert_eq!(f.requests.total(), 6_000);
    let phases: Vec<&str> = f.phases.iter().map(|p| p.name).collect();
    assert_eq!(phases, ["warm-up", "dead", "hostile", "back"]);
    assert!(f.hostile_requests > 0, "{f:?}");
    assert!(f.export_again_ms.is_some(), "{f:?}");
    let p = f.service_stats.pipeline;
    assert!(p.dropped + p.failed > 0, "no drop counted: {p:?}");
    assert_eq!(p.panics, 0);
    assert_eq!(f.corpus.unexpected, 0, "{:#?}", f.corpus.unexpected_cases);
    assert!(f.corpus.survival.ok(), "{:?}", f.corpus.survival);
}
