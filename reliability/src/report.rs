//! Figures: one line per scenario on stdout, and the same as a JSON line appended to
//! `<dir>/<UTC stamp>.jsonl` with the scale, the commit-independent machine facts and the time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::scenario::Figure;
use crate::{BoxError, Scale};

/// Where figures go.
#[derive(Debug)]
pub struct Report {
    path: Option<PathBuf>,
    file: Option<File>,
}

/// The machine a run measured, recorded with every figure.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// `/proc/loadavg`'s first three fields when the figure was taken.
    pub load_average: String,
}

impl Machine {
    /// Now.
    pub fn now() -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
struct Line<'a, F: Serialize> {
    scenario: &'a str,
    scale: Scale,
    unix_time: u64,
    machine: Machine,
    figure: &'a F,
}

impl Report {
    /// Figures printed only.
    pub fn stdout_only() -> Report {
        Report {
            path: None,
            file: None,
        }
    }

    /// Figures printed and appended to a new `<dir>/<stamp>.jsonl`.
    pub fn in_dir(dir: &Path) -> Result<Report, BoxError> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let path = dir.join(format!("{}.jsonl", stamp(unix_time())));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        Ok(Report {
            path: Some(path),
            file: Some(file),
        })
    }

    /// The JSON lines file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Prints `== scenario: ` and the figure's text, and writes the figure as a JSON line.
    pub fn record<F: Figure>(
        &mut self,
        scenario: &str,
        scale: Scale,
        figure: &F,
    ) -> Result<(), BoxError> {
        println!("== {scenario}: {}", figure.text());
        if let Some(f) = &mut self.file {
            let line = Line {
                scenario,
                scale,
                unix_time: unix_time(),
                machine: Machine::now(),
                figure,
            };
            serde_json::to_writer(&mut *f, &line)?;
            f.write_all(b"\n")?;
            f.flush()?;
        }
        Ok(())
    }
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the epoch (civil-from-days, proleptic Gregorian).
fn stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(stamp(0), "19700101T000000Z");
        assert_eq!(stamp(951_782_400), "20000229T000000Z");
        assert_eq!(stamp(1_718_000_000), "20240610T061320Z");
    }

    #[derive(Serialize)]
    struct Demo {
        x: u32,
    }

    impl Figure for Demo {
        fn text(&self) -> String {
            "text".to_owned()
        }
    }

    #[test]
    fn figures_are_appended_as_json_lines() {
        let dir = std::env::temp_dir().join(format!("fault-suite-report-{}", std::process::id()));
        let mut r = Report::in_dir(&dir).unwrap();
        r.record("demo", Scale::Quick, &Demo { x: 1 }).unwrap();
        r.record("demo", Scale::Quick, &Demo { x: 2 }).unwrap();
        let text = std::fs::read_to_string(r.path().unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["scenario"], "demo");
        assert_eq!(lines[1]["scale"], "quick");
        assert_eq!(lines[1]["figure"]["x"], 2);
        assert!(lines[0]["machine"]["cpus"].as_u64().unwrap() >= 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
