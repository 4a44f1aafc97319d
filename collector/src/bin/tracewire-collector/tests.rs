use super::*;

fn parse(args: &[&str]) -> Result<ArgMatches, clap::Error> {
    command()
        .try_get_matches_from(std::iter::once("tracewire-collector").chain(args.iter().copied()))
}

#[test]
fn the_command_is_well_formed() {
    command().debug_assert();
}

#[test]
fn sizes_and_durations() {
    assert_eq!(parse_size("512MiB"), Ok(512 << 20));
    assert_eq!(parse_size("1000"), Ok(1000));
    assert!(parse_size("lots").is_err());
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_retention("0"), Ok(Duration::ZERO));
    assert!(parse_duration("0").is_err());
    assert!(parse_duration("5").is_err());
    assert!(parse_duration("99999999999999999999s").is_err());
    assert!(parse_duration("4294967296d").is_err());
}

#[test]
fn ingest_and_query_flags_reach_the_builder() {
    let m = parse(&[
        "--max-resources-per-request=3",
        "--max-scopes-per-request=4",
        "--max-spans-per-request=5",
        "--max-decoded-request-bytes=6MiB",
        "--max-resource-attributes=7",
        "--ingest-queue-spans=11",
        "--ingest-queue-bytes=1MiB",
        "--query-threads=3",
        "--query-queue=9",
        "--query-time-budget=250ms",
    ])
    .unwrap();
    let b = format!("{:?}", builder(&m).unwrap());
    for part in [
        "decode: DecodeLimits { max_resource_spans: 3, max_scope_spans: 4, max_spans: 5, \
         max_decoded_bytes: 6291456, max_resource_attributes: 7 }",
        "max_queue_bytes: Some(1048576)",
        "queries: PoolLimits { threads: 3, queue: 9, budget: 250ms }",
        "queue_spans: 11",
    ] {
        assert!(b.contains(part), "{part} missing in {b}");
    }
    // Without the flags: the documented defaults, and no queue bound of its own.
    let b = format!("{:?}", builder(&parse(&[]).unwrap()).unwrap());
    for part in [
        "decode: DecodeLimits { max_resource_spans: 4096, max_scope_spans: 4096, \
         max_spans: 100000, max_decoded_bytes: 67108864, max_resource_attributes: 128 }",
        "max_queue_bytes: None",
        "queries: PoolLimits { threads: 2, queue: 32, budget: 5s }",
        "queue_spans: 262144",
    ] {
        assert!(b.contains(part), "{part} missing in {b}");
    }
}

#[test]
fn flags() {
    let m = parse(&[
        "--otlp-http",
        "127.0.0.1:0",
        "--api=off",
        "--max-spans",
        "10",
    ])
    .unwrap();
    assert_eq!(
        m.get_one::<Option<SocketAddr>>("otlp-http"),
        Some(&Some("127.0.0.1:0".parse().unwrap()))
    );
    assert_eq!(m.get_one::<Option<SocketAddr>>("api"), Some(&None));
    assert!(builder(&m).is_ok());
    let m = parse(&[
        "--header-read-timeout",
        "250ms",
        "--allow-host",
        "a",
        "--allow-host",
        "b",
    ])
    .unwrap();
    assert_eq!(
        m.get_one::<Duration>("header-read-timeout"),
        Some(&Duration::from_millis(250))
    );
    assert_eq!(m.get_many::<String>("allow-host").unwrap().count(), 2);
    assert_eq!(
        m.get_one::<Duration>("keep-alive-timeout"),
        Some(&Duration::from_secs(60))
    );
    assert_eq!(m.get_one::<usize>("max-in-flight-bytes"), Some(&(64 << 20)));
    assert_eq!(
        parse(&["--bogus"]).unwrap_err().kind(),
        clap::error::ErrorKind::UnknownArgument
    );
    assert!(parse(&["--otlp-grpc", "nowhere"]).is_err());
    assert_eq!(
        parse(&["--tls-cert", "c.pem"]).unwrap_err().kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
    let m = parse(&[
        "--tls-cert",
        "/nonexistent/c.pem",
        "--tls-key",
        "/nonexistent/k.pem",
    ])
    .unwrap();
    let e = builder(&m).err().unwrap();
    assert!(
        e.starts_with("could not read the certificate chain from /nonexistent/c.pem"),
        "{e}"
    );
    assert_eq!(
        parse(&["--help"]).unwrap_err().kind(),
        clap::error::ErrorKind::DisplayHelp
    );
}

#[test]
fn sampling_flags() {
    let config = |args: &[&str]| sampling(&parse(args).unwrap());
    assert_eq!(config(&[]), Ok(None));
    assert_eq!(config(&["--sampling"]), Ok(Some(SamplingConfig::default())));
    let c = config(&[
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
    let c = config(&["--sampling-idle-gap", "1s", "--sampling-config", path])
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.idle_gap(), c.max_wait()),
        (Duration::from_secs(1), Duration::from_secs(60))
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        config(&["--sampling-rate", "2"]),
        Err("policies.probabilistic.rate must be between 0 and 1".to_owned())
    );
    assert!(
        config(&["--sampling-config", "/nonexistent.toml"])
            .unwrap_err()
            .starts_with("cannot read sampling config /nonexistent.toml")
    );
    assert_eq!(
        builder(&parse(&["--sampling-buffer", "lots"]).unwrap()).err(),
        Some("buffer.max_bytes `lots` is not a size like 256MiB".to_owned())
    );
    assert!(builder(&parse(&["--sampling", "--sampling-buffer", "64MiB"]).unwrap()).is_ok());
    assert_eq!(
        parse(&["--forward-protocol", "grpc"]).unwrap_err().kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
}

#[test]
fn help_shows_every_default_and_hides_the_token() {
    let help = command().render_long_help().to_string();
    for default in [
        "[default: 127.0.0.1:4318]",
        "[default: 10s]",
        "[default: 30s]",
        "[default: 60s]",
        "[default: 5s]",
        "[default: 256]",
        "[default: 64MiB]",
        "[env: TRACEWIRE_COLLECTOR_TOKEN]",
        "--max-spans-per-request <N>",
        "[default: 100000]",
        "[default: 4096]",
        "[default: 128]",
        "[default: 262144]",
        "[default: max-bytes / 8, at least max-decoded-request-bytes]",
        "--query-threads <N>",
        "[default: 2]",
        "[default: 32]",
    ] {
        assert!(help.contains(default), "{default} missing in\n{help}");
    }
}
