//! Every binary of the examples answers `--help` and `-h` with its flags, rejects a bad flag
//! with one line on stderr and exit status 2, and prints a failure with `Display`.

use std::process::{Command, Output};

const DEMO: &str = env!("CARGO_BIN_EXE_demo");
const W3C: &str = env!("CARGO_BIN_EXE_w3c-test-service");
const HOP: &str = env!("CARGO_BIN_EXE_hop-service");

fn run(exe: &str, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .env_remove("PORT")
        .output()
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `--help` and `-h` succeed and name every flag in `flags`.
fn assert_help(exe: &str, flags: &[&str]) {
    for help in ["--help", "-h"] {
        let out = run(exe, &[help]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{exe} {help}: {}", text(&out.stderr));
        assert!(out.stderr.is_empty(), "{exe} {help}: {}", text(&out.stderr));
        for flag in flags {
            assert!(
                stdout.contains(flag),
                "{exe} {help} lacks {flag}:\n{stdout}"
            );
        }
    }
}

/// `args` are refused with exactly `line` on stderr, nothing on stdout, exit status 2.
fn assert_usage_error(exe: &str, args: &[&str], line: &str) {
    let out = run(exe, args);
    assert_eq!(out.status.code(), Some(2), "{exe} {args:?}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert_eq!(text(&out.stderr), format!("{line}\n"), "{exe} {args:?}");
}

#[test]
fn demo_help_names_its_flags_and_hides_the_service_ones() {
    assert_help(
        DEMO,
        &[
            "Usage: demo [OPTIONS]",
            "--requests <N>",
            "--concurrency <N>",
            "--exit",
            "--ui <ADDR>",
            "--otlp-endpoint <URL>",
            "--gateway-faults <FAULTS>",
            "--dispatch-faults <FAULTS>",
            "--pricing-faults <FAULTS>",
            "--ranking-faults <FAULTS>",
            "--log-dir <DIR>",
            "-h, --help",
        ],
    );
    let help = text(&run(DEMO, &["--help"]).stdout);
    assert!(!help.contains("--service"), "{help}");
    assert!(help.contains("[default: slow=0.05:300ms]"), "{help}");
}

#[test]
fn conformance_services_help_names_the_port() {
    for (exe, name, port) in [(W3C, "w3c-test-service", 5000), (HOP, "hop-service", 5001)] {
        assert_help(
            exe,
            &[
                &format!("Usage: {name} [PORT]"),
                &format!("[default: {port}]"),
                "[env: PORT=]",
                "-h, --help",
            ],
        );
    }
}

#[test]
fn bad_flags_get_one_line() {
    assert_usage_error(
        DEMO,
        &["--bogus"],
        "error: unexpected argument '--bogus' found; see 'demo --help'",
    );
    assert_usage_error(
        DEMO,
        &["--request", "5"],
        "error: unexpected argument '--request' found (did you mean '--requests'?); \
         see 'demo --help'",
    );
    assert_usage_error(
        DEMO,
        &["--requests", "many"],
        "error: invalid value 'many' for '--requests <N>': invalid digit found in string; \
         see 'demo --help'",
    );
    assert_usage_error(
        DEMO,
        &["--ranking-faults", "slow=2:1ms"],
        "error: invalid value 'slow=2:1ms' for '--ranking-faults <FAULTS>': invalid \
         probability \"2\" (0 to 1); see 'demo --help'",
    );
    assert_usage_error(
        HOP,
        &["--port", "1"],
        "error: unexpected argument '--port' found; see 'hop-service --help'",
    );
    assert_usage_error(
        W3C,
        &["70000"],
        "error: invalid value '70000' for '[PORT]': 70000 is not in 0..=65535; \
         see 'w3c-test-service --help'",
    );
}

#[test]
fn failures_print_with_display() {
    // A port that is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(HOP, &[&port]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("error: binding 127.0.0.1:{port}: ")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // An invalid OTLP setting stops the demo before anything starts.
    let out = Command::new(DEMO)
        .args(["--exit", "--requests", "1"])
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{stderr}");
    assert!(!stderr.contains("InvalidEnv"), "Debug output: {stderr}");
}
