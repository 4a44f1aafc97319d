//! The UI pages in a real headless Chromium, against a collector holding known traces, served
//! with the collector's Content-Security-Policy.
//!
//! Chromium is found at `/usr/bin/chromium` or as `chromium` / `chromium-browser` on `PATH`. The
//! tests are `#[ignore]`d, so a plain `cargo test` reports them as ignored rather than passing
//! them without a browser; `.ci/run` installs the Debian `chromium` package and runs them with
//! `--ignored` (locally: `cargo test -p tracewire-collector --test ui_browser -- --ignored`).
//! Once asked to run, a missing Chromium fails them.
//! Each page is loaded with `--dump-dom` after a virtual-time budget (so the page's script has
//! fetched and rendered), its DOM is checked, and a screenshot is saved under
//! `target/ui-screenshots/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use tracewire_collector::{Collector, CollectorHandle, InProcessExporter};

mod analysis_fixture;

use analysis_fixture::*;

fn find_chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.exists() {
        return Some(fixed.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The Chromium to drive. Missing, the test fails: it only runs when asked to (`--ignored`,
/// as `.ci/run` does with `TRACEWIRE_CI=1`), so a missing browser is a broken set-up, never a
/// pass.
fn chromium() -> PathBuf {
    find_chromium().unwrap_or_else(|| {
        let ci = std::env::var("TRACEWIRE_CI").is_ok_and(|v| v == "1");
        panic!(
            "no chromium found at /usr/bin/chromium or on PATH (TRACEWIRE_CI={}): install the \
             Debian `chromium` package (`.ci/run` does, as root)",
            if ci { "1" } else { "unset" }
        )
    })
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("create screenshot dir");
    dir
}

struct Browser {
    exe: PathBuf,
    shots: PathBuf,
}

impl Browser {
    fn run(&self, extra: &[String], url: &str) -> std::process::Output {
        let profile = std::env::temp_dir().join(format!(
            "tracewire-ui-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let out = Command::new(&self.exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1400,900",
                "--virtual-time-budget=5000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("run chromium");
        let _ = std::fs::remove_dir_all(&profile);
        out
    }

    /// The rendered DOM of `url`, with `&gt;`/`&lt;` in attributes unescaped. The page must
    /// break no rule of its Content-Security-Policy (Chromium logs each refusal).
    fn dom(&self, url: &str) -> String {
        let out = self.run(
            &[
                "--dump-dom".to_owned(),
                "--enable-logging=stderr".to_owned(),
            ],
            url,
        );
        let dom = String::from_utf8_lossy(&out.stdout).into_owned();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            dom.contains("data-state=\"ready\""),
            "page did not finish rendering: {url}\n{dom}\n{log}"
        );
        assert!(
            !log.contains("Content Security Policy"),
            "{url} breaks its Content-Security-Policy:\n{log}"
        );
        dom.replace("&gt;", ">")
            .replace("&lt;", "<")
            .replace("&amp;", "&")
    }

    fn screenshot(&self, url: &str, name: &str) {
        let file = self.shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        self.run(&[format!("--screenshot={}", file.display())], url);
        assert!(file.exists(), "no screenshot written for {url}");
    }
}

/// The opening tag of the element whose attributes contain `needle`.
fn tag_with<'a>(dom: &'a str, needle: &str) -> Option<&'a str> {
    let at = dom.find(needle)?;
    let start = dom[..at].rfind('<')?;
    let after = at + needle.len();
    let end = after + dom[after..].find('>')?;
    Some(&dom[start..=end])
}

fn class_of(tag: &str) -> &str {
    tag.split("class=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
}

/// A whole collector on a runtime of its own, holding what `load` exports, so the pages load
/// under the API listener's security headers.
fn serve(
    load: impl FnOnce(&mut InProcessExporter),
) -> (tokio::runtime::Runtime, CollectorHandle, SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (collector, addr) = rt.block_on(async {
        let collector = Collector::builder()
            .ephemeral_ports()
            .spawn()
            .await
            .unwrap();
        load(&mut collector.in_process_exporter());
        collector.flush().await;
        let addr = collector.api_addr().unwrap();
        (collector, addr)
    });
    (rt, collector, addr)
}

#[test]
#[ignore = "needs chromium; runs in .ci/run (TRACEWIRE_CI=1) or with --ignored"]
fn pages_render_in_headless_chromium() {
    let exe = chromium();
    let (rt, collector, addr) = serve(export_fixture);
    let b = Browser {
        exe,
        shots: screenshot_dir(),
    };
    let base = format!("http://{addr}");
    let a = hex_trace(TRACE_A);

    // Search: errors in pricing find trace A only.
    let url = format!("{base}/ui/?service=pricing&errors=1");
    let dom = b.dom(&url);
    assert!(dom.contains(&format!("data-trace-id=\"{a}\"")), "{dom}");
    assert!(!dom.contains(&format!("data-trace-id=\"{}\"", hex_trace(TRACE_B))));
    assert!(dom.contains("gateway: GET /ride"));
    b.screenshot(&url, "search");

    // Trace: every span drawn, the critical path marked, the failing span's details open.
    let url = format!("{base}/ui/trace/{a}#span={}", hex_span(7));
    let dom = b.dom(&url);
    for (name, critical) in [
        ("GET /ride", true),
        ("dispatch.Find", false),
        ("dispatch.Dispatch/Find", false),
        ("ranking.Rank", false),
        ("POST /rank", false),
        ("pricing.Quote", true),
        ("GET /quote", true),
        ("SELECT fares", true),
    ] {
        let tag = tag_with(&dom, &format!("data-span-name=\"{name}\" data-service"))
            .unwrap_or_else(|| panic!("no waterfall row for {name}"));
        let class = class_of(tag);
        assert!(class.contains("wf-row"), "{tag}");
        assert_eq!(
            class.split(' ').any(|c| c == "critical"),
            critical,
            "{name}: {tag}"
        );
    }
    let quote = tag_with(&dom, "data-span-name=\"GET /quote\" data-service").unwrap();
    assert!(class_of(quote).split(' ').any(|c| c == "error"), "{quote}");
    assert!(
        class_of(quote).split(' ').any(|c| c == "selected"),
        "{quote}"
    );
    assert!(dom.contains("error: db timeout"), "span details missing");
    assert!(dom.contains(&format!(
        "id=\"detail-name\" data-span-id=\"{}\"",
        hex_span(7)
    )));
    let cp = &dom[dom
        .find("id=\"critical-path\"")
        .expect("critical path list")..];
    assert!(
        cp.starts_with("id=\"critical-path\"><li data-span-id=\"0000000000000008\""),
        "{cp}"
    );
    b.screenshot(&url, "trace");

    // Service map: the services as nodes, the calls as edges.
    let url = format!("{base}/ui/map");
    let dom = b.dom(&url);
    for node in ["gateway", "dispatch", "ranking", "pricing", "postgresql"] {
        assert!(
            dom.contains(&format!("data-node=\"{node}\"")),
            "node {node}"
        );
    }
    let pg = tag_with(&dom, "data-node=\"postgresql\"").unwrap();
    assert!(class_of(pg).contains("uninstrumented"), "{pg}");
    for edge in [
        "gateway->dispatch",
        "dispatch->ranking",
        "gateway->pricing",
        "pricing->postgresql",
    ] {
        let g = tag_with(&dom, &format!("data-edge=\"{edge}\""))
            .unwrap_or_else(|| panic!("no edge {edge}"));
        assert!(g.starts_with("<g"), "{g}");
    }
    let gp = tag_with(&dom, "data-edge=\"gateway->pricing\" data-calls").unwrap();
    assert!(gp.contains("data-calls=\"2\" data-errors=\"1\""), "{gp}");
    assert!(class_of(gp).contains("has-errors"), "{gp}");
    b.screenshot(&url, "map");

    // Operations: the health table, with exemplar links to the failing and slowest traces.
    let url = format!("{base}/ui/operations");
    let dom = b.dom(&url);
    let row_at = dom
        .find("data-service=\"pricing\" data-operation=\"GET /quote\"")
        .expect("GET /quote row");
    let row = &dom[row_at..row_at + dom[row_at..].find("</tr>").unwrap()];
    assert!(
        row.contains(&format!(
            "href=\"/ui/trace/{a}#span={}\" class=\"exemplar\" data-kind=\"error\"",
            hex_span(7)
        )),
        "{row}"
    );
    assert!(
        row.contains(&format!(
            "href=\"/ui/trace/{a}#span={}\" class=\"exemplar\" data-kind=\"slowest\"",
            hex_span(7)
        )),
        "{row}"
    );
    assert!(dom.contains("data-service=\"ranking\" data-operation=\"POST /rank\""));
    b.screenshot(&url, "operations");

    rt.block_on(collector.shutdown());
}

#[test]
#[ignore = "needs chromium; runs in .ci/run (TRACEWIRE_CI=1) or with --ignored"]
fn a_trace_bigger_than_a_page_loads_the_page_of_the_selected_span() {
    let exe = chromium();
    // 5,000 spans: three pages of 2,000 rows; span 4,501 is on the third.
    let (rt, collector, addr) = serve(|e| export_big_trace(e, 5000));
    let b = Browser {
        exe,
        shots: screenshot_dir(),
    };
    let url = format!(
        "http://{addr}/ui/trace/{}#span={}",
        hex_trace(BIG_TRACE),
        hex_span(4501)
    );
    let dom = b.dom(&url);
    assert!(dom.contains("id=\"trace-spans\">5000<"), "span count");
    assert!(dom.contains(&format!(
        "id=\"detail-name\" data-span-id=\"{}\"",
        hex_span(4501)
    )));
    let row = tag_with(&dom, "data-span-name=\"item 4500\" data-service")
        .expect("the selected span's row is drawn");
    assert!(class_of(row).split(' ').any(|c| c == "selected"), "{row}");
    assert!(row.contains("data-row=\"4500\""), "{row}");
    b.screenshot(&url, "trace-paged");
    rt.block_on(collector.shutdown());
}
