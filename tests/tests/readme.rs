//! The README's promises that can rot silently: its set-up is exactly two commands, the test
//! command is the one CI runs, and the axum service it shows is the one `cargo test` builds
//! (`examples/readme_axum.rs`).

use std::path::Path;

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The section of `text` from the heading `heading` to the next heading of any level (a line
/// of `#`s and a space outside code blocks: `#[tokio::main]` is not one).
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no {heading:?}"))
        + heading.len()
        + 2;
    let rest = &text[start..];
    let mut in_code = false;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        in_code ^= line.starts_with("```");
        if !in_code && line.trim_start_matches('#').starts_with(' ') && line.starts_with('#') {
            break;
        }
        offset += line.len();
    }
    &rest[..offset]
}

/// The fenced code blocks of `text` with their language.
fn blocks(text: &str) -> Vec<(&str, &str)> {
    text.split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.split_once('\n').unwrap_or((b, "")))
        .collect()
}

#[test]
fn the_set_up_is_two_commands_and_the_test_command_is_the_one_ci_runs() {
    let readme = read("README.md");
    let commands = blocks(section(&readme, "## Set-up"));
    assert_eq!(
        commands,
        [
            (
                "sh",
                "cargo run --release -p tracewire-examples --bin demo\n"
            ),
            ("sh", "cargo test --workspace --locked\n"),
        ]
    );
    let ci = read(".ci/run");
    assert_eq!(
        ci.lines()
            .filter(|l| *l == "cargo test --workspace --locked")
            .count(),
        1,
        "{ci}"
    );
}

#[test]
fn the_readmes_axum_service_is_the_example_that_cargo_test_builds() {
    let readme = read("README.md");
    let shown = blocks(section(
        &readme,
        "### A deployed axum service, exporting over OTLP",
    ));
    let rust: Vec<&str> = shown
        .iter()
        .filter(|b| b.0 == "rust")
        .map(|b| b.1)
        .collect();
    let example = read("tests/examples/readme_axum.rs");
    let code = example
        .split_once("\n\n")
        .expect("a header, then the code")
        .1;
    assert_eq!(rust, [code]);
    // Its dependencies are the ones the README lists above it.
    let toml: Vec<&str> = shown
        .iter()
        .filter(|b| b.0 == "toml")
        .map(|b| b.1)
        .collect();
    assert_eq!(toml.len(), 1, "{shown:?}");
    for dep in [
        "tracewire-otlp",
        "tracewire-axum",
        "axum",
        "tokio",
        "tracing",
    ] {
        assert!(
            toml[0].contains(&format!("\n{dep} = ")),
            "{dep} missing: {}",
            toml[0]
        );
    }
}
