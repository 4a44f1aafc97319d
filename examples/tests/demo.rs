//! The demo as a newcomer runs it: `demo --requests 20 --exit` finishes with exit status 0,
//! reports the traces it collected with a waterfall, and leaves no service process behind.

use std::process::Command;
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    // A process that exited but was not yet reaped shows as a zombie ("Z"): not alive.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn demo_runs_reports_and_leaves_no_orphans() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--requests", "20", "--exit", "--ui", "127.0.0.1:0"])
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    assert!(stdout.contains("20 requests:"), "{stdout}");
    let traces: usize = stdout
        .lines()
        .find_map(|l| l.strip_suffix(" traces collected"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no trace count in:\n{stdout}"));
    assert!(traces >= 20, "only {traces} traces collected:\n{stdout}");
    for service in ["gateway", "dispatch", "pricing", "ranking"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(service)),
            "no stats line for {service}:\n{stdout}"
        );
    }
    assert!(stdout.contains("* = critical path"), "{stdout}");
    assert!(stdout.contains("ride.v1.Dispatch/NearbyCars"), "{stdout}");
    assert!(stdout.contains("web UI: http://127.0.0.1:"), "{stdout}");

    let pids: Vec<u32> = stderr
        .lines()
        .filter_map(|l| l.split(" pid ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 4, "{stderr}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "service processes left running: {left:?}");
}
