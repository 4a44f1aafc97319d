//! The standalone collector: `tracewire-collector --help`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tracewire_collector::Collector;
use tracewire_collector::sampling::SamplingConfig;

const HELP: &str = "\
tracewire-collector: receive OTLP traces, keep them in a bounded store, serve a JSON API

USAGE:
    tracewire-collector [OPTIONS]

OPTIONS:
    --otlp-http <ADDR|off>   OTLP/HTTP listener            [default: 127.0.0.1:4318]
    --otlp-grpc <ADDR|off>   OTLP/gRPC listener            [default: 127.0.0.1:4317]
    --api <ADDR|off>         JSON API listener             [default: 127.0.0.1:16686]
    --max-spans <N>          most spans kept               [default: 1000000]
    --max-bytes <SIZE>       store byte budget, e.g. 512MiB, 2GiB, 100000000
                                                           [default: 512MiB]
    --retention <DURATION>   how long spans are kept, e.g. 30m, 1h, 0 = until evicted
                                                           [default: 1h]
    --max-request-bytes <SIZE>  largest OTLP request body  [default: 4MiB]
    -h, --help               print this help

TAIL SAMPLING (off unless one of these is given; flags override the file):
    --sampling               on, with the defaults: errors, slow traces (adaptive p99),
                             forced traces and ~10 kept traces/s of the rest
    --sampling-config <FILE> settings from a TOML file (see the crate docs, `sampling`)
    --sampling-idle-gap <DURATION>  decide once the root is in and no span came for this long
                                                           [default: 2s]
    --sampling-max-wait <DURATION>  decide at the latest this long after the first span
                                                           [default: 30s]
    --sampling-buffer <SIZE> recent-span buffer budget     [default: 256MiB]
    --sampling-latency <DURATION>   keep traces whose root took longer, e.g. 500ms
    --sampling-rate <FRACTION>      keep at least this share of the other traces, e.g. 0.01
    --sampling-target <N>    kept traces/s the dynamic sampler aims at  [default: 10]
    --sampling-limit <N>     most kept traces/s in all (forced and retroactive excepted)
    --forward-to <URL>       forward kept traces over OTLP, e.g.
                             http://collector:4318/v1/traces (gRPC: http://collector:4317)
    --forward-protocol <P>   http/protobuf, http/json or grpc  [default: http/protobuf]
";

struct Args {
    builder: tracewire_collector::CollectorBuilder,
}

/// The tail-sampling flags, applied once all are read (so they override the file in any order).
#[derive(Default)]
struct SamplingFlags {
    on: bool,
    file: Option<String>,
    settings: Vec<(&'static str, String)>,
}

impl SamplingFlags {
    fn config(self) -> Result<Option<SamplingConfig>, String> {
        if !self.on && self.file.is_none() && self.settings.is_empty() {
            return Ok(None);
        }
        let base = match &self.file {
            Some(path) => SamplingConfig::from_file(path).map_err(|e| e.to_string())?,
            None => SamplingConfig::default(),
        };
        let mut b = base.into_builder();
        // The endpoint before the protocol that refers to it.
        let mut settings = self.settings;
        settings.sort_by_key(|(k, _)| *k == "forward.protocol");
        for (name, value) in settings {
            b = b.set(name, &value).map_err(|e| e.to_string())?;
        }
        b.build().map(Some).map_err(|e| e.to_string())
    }
}

/// The flags that set one sampling setting, and the setting.
const SAMPLING_SETTINGS: [(&str, &str); 9] = [
    ("--sampling-idle-gap", "completion.idle_gap"),
    ("--sampling-max-wait", "completion.max_wait"),
    ("--sampling-buffer", "buffer.max_bytes"),
    ("--sampling-latency", "policies.latency.threshold"),
    ("--sampling-rate", "policies.probabilistic.rate"),
    ("--sampling-target", "policies.dynamic.target_per_sec"),
    ("--sampling-limit", "limit.max_traces_per_sec"),
    ("--forward-to", "forward.endpoint"),
    ("--forward-protocol", "forward.protocol"),
];

fn parse_addr(flag: &str, v: &str) -> Result<Option<SocketAddr>, String> {
    if v == "off" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| format!("{flag}: `{v}` is not an address like 127.0.0.1:4318 (or `off`)"))
}

fn parse_size(flag: &str, v: &str) -> Result<usize, String> {
    let (num, mult) = [
        ("GiB", 1usize << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1_000),
    ]
    .iter()
    .find_map(|(suffix, m)| v.strip_suffix(suffix).map(|n| (n, *m)))
    .unwrap_or((v, 1));
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{flag}: `{v}` is not a size like 512MiB or 1000000"))
}

fn parse_retention(v: &str) -> Result<Duration, String> {
    let err = || format!("--retention: `{v}` is not a duration like 30m, 1h, 90s or 0");
    if v == "0" {
        return Ok(Duration::ZERO);
    }
    let split = v.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().map_err(|_| err())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(err()),
    };
    Ok(Duration::from_secs(secs))
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut b = Collector::builder();
    let mut sampling = SamplingFlags::default();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        if flag == "--sampling" {
            sampling.on = true;
            continue;
        }
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        b = match flag.as_str() {
            "--otlp-http" => b.otlp_http_addr(parse_addr(&flag, &value()?)?),
            "--otlp-grpc" => b.otlp_grpc_addr(parse_addr(&flag, &value()?)?),
            "--api" => b.api_addr(parse_addr(&flag, &value()?)?),
            "--max-spans" => {
                let v = value()?;
                b.max_spans(
                    v.parse()
                        .map_err(|_| format!("--max-spans: `{v}` is not a number"))?,
                )
            }
            "--max-bytes" => b.max_bytes(parse_size(&flag, &value()?)?),
            "--max-request-bytes" => b.max_request_bytes(parse_size(&flag, &value()?)?),
            "--retention" => b.retention(parse_retention(&value()?)?),
            "--sampling-config" => {
                sampling.file = Some(value()?);
                b
            }
            other => match SAMPLING_SETTINGS.iter().find(|(f, _)| *f == other) {
                Some((_, setting)) => {
                    sampling.settings.push((setting, value()?));
                    b
                }
                None => return Err(format!("unknown option `{other}` (see --help)")),
            },
        };
    }
    let b = match sampling.config()? {
        Some(config) => b.sampling(config),
        None => b,
    };
    Ok(Some(Args { builder: b }))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let handle = match args.builder.spawn().await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let show = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
        println!("tracewire-collector listening");
        println!(
            "  OTLP/HTTP  {}  (POST /v1/traces)",
            show(handle.otlp_http_addr())
        );
        println!("  OTLP/gRPC  {}", show(handle.otlp_grpc_addr()));
        println!(
            "  API        {}  (GET /api/services, /api/traces)",
            show(handle.api_addr())
        );
        if let Some(s) = handle.store().sampling_stats() {
            println!(
                "  Sampling   on: {} MiB buffer{}  (POST /api/traces/{{id}}/keep)",
                s.max_buffer_bytes >> 20,
                if s.forward.is_some() {
                    ", kept traces forwarded"
                } else {
                    ""
                }
            );
        }
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("--max-bytes", "512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("--max-bytes", "1000"), Ok(1000));
        assert!(parse_size("--max-bytes", "lots").is_err());
        assert_eq!(parse_retention("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_retention("0"), Ok(Duration::ZERO));
        assert!(parse_retention("5").is_err());
    }

    #[test]
    fn flags() {
        let args = |v: &[&str]| parse(v.iter().map(|s| (*s).to_owned()));
        assert!(args(&["--help"]).unwrap().is_none());
        assert!(
            args(&[
                "--otlp-http",
                "127.0.0.1:0",
                "--api=off",
                "--max-spans",
                "10"
            ])
            .unwrap()
            .is_some()
        );
        assert_eq!(
            args(&["--bogus"]).err(),
            Some("unknown option `--bogus` (see --help)".to_owned())
        );
        assert_eq!(
            args(&["--max-spans"]).err(),
            Some("--max-spans needs a value".to_owned())
        );
        assert!(args(&["--otlp-grpc", "nowhere"]).is_err());
    }

    fn sampling(v: &[&str]) -> Result<Option<SamplingConfig>, String> {
        let mut flags = SamplingFlags::default();
        let mut it = v.iter().map(|s| (*s).to_owned());
        while let Some(f) = it.next() {
            match f.as_str() {
                "--sampling" => flags.on = true,
                "--sampling-config" => flags.file = it.next(),
                other => {
                    let (_, setting) = SAMPLING_SETTINGS
                        .iter()
                        .find(|(flag, _)| *flag == other)
                        .unwrap();
                    flags.settings.push((setting, it.next().unwrap()));
                }
            }
        }
        flags.config()
    }

    #[test]
    fn sampling_flags() {
        assert_eq!(sampling(&[]), Ok(None));
        assert_eq!(
            sampling(&["--sampling"]),
            Ok(Some(SamplingConfig::default()))
        );
        let c = sampling(&[
            "--forward-protocol",
            "grpc",
            "--sampling-idle-gap",
            "500ms",
            "--forward-to",
            "http://upstream:4317",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.idle_gap(), Duration::from_millis(500));
        assert_eq!(c.forward().unwrap().endpoint(), "http://upstream:4317");
        // Flags override the file.
        let dir = std::env::temp_dir().join(format!("tracewire-sampling-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sampling.toml");
        std::fs::write(
            &file,
            "[completion]\nidle_gap = \"5s\"\nmax_wait = \"1m\"\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let c = sampling(&["--sampling-idle-gap", "1s", "--sampling-config", path])
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.idle_gap(), c.max_wait()),
            (Duration::from_secs(1), Duration::from_secs(60))
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            sampling(&["--sampling-rate", "2"]),
            Err("policies.probabilistic.rate must be between 0 and 1".to_owned())
        );
        assert!(
            sampling(&["--sampling-config", "/nonexistent.toml"])
                .unwrap_err()
                .starts_with("cannot read sampling config /nonexistent.toml")
        );
        // Through the real parser too.
        let args = |v: &[&str]| parse(v.iter().map(|s| (*s).to_owned()));
        assert!(
            args(&["--sampling", "--sampling-buffer", "64MiB"])
                .unwrap()
                .is_some()
        );
        assert_eq!(
            args(&["--sampling-buffer", "lots"]).err(),
            Some("buffer.max_bytes `lots` is not a size like 256MiB".to_owned())
        );
    }
}
