//! What every binary here does with its command line: flags parsed with `clap`, `--help`/`-h`
//! answered on stdout, a bad flag reported on one line of stderr, and a failure printed with
//! `Display` (never `Debug`).

use std::error::Error;
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Command, FromArgMatches, Parser};

use crate::services::BoxError;

/// The exit status of a usage error, as clap and most Unix tools use it.
pub const USAGE_ERROR: u8 = 2;

/// Parses the process's arguments. `Err` carries the status to exit with: success after
/// `--help` was printed, [`USAGE_ERROR`] after a one-line error.
pub fn parse<T: Parser>() -> Result<T, ExitCode> {
    parse_from(T::command(), std::env::args_os())
}

/// [`parse`] with a command built at run time, over given arguments (the first one is the
/// program name).
pub fn parse_from<T: FromArgMatches>(
    command: Command,
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
) -> Result<T, ExitCode> {
    let name = command.get_name().to_owned();
    let matched = command
        .try_get_matches_from(args)
        .and_then(|m| T::from_arg_matches(&m));
    matched.map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{}", one_line(&e, &name));
            ExitCode::from(USAGE_ERROR)
        }
    })
}

/// A clap error as one line: `error: <what>[ (did you mean '<flag>'?)]; see '<bin> --help'`.
pub fn one_line(e: &clap::Error, bin: &str) -> String {
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid arguments");
    let what = first.strip_prefix("error: ").unwrap_or(first);
    let mut line = format!("error: {what}");
    let suggestion = match e.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        Some(ContextValue::Strings(v)) => v.first().map(String::as_str),
        _ => None,
    };
    if let Some(s) = suggestion {
        line.push_str(&format!(" (did you mean '{s}'?)"));
    }
    line.push_str(&format!("; see '{bin} --help'"));
    line
}

/// A whole number of milliseconds or seconds: `300ms`, `2s` (a flag value parser).
pub fn duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {s:?} (e.g. 300ms or 2s)");
    let (number, per) = match s.strip_suffix("ms") {
        Some(n) => (n, Duration::from_millis(1)),
        None => (
            s.strip_suffix('s').ok_or_else(invalid)?,
            Duration::from_secs(1),
        ),
    };
    let n: u32 = number.parse().map_err(|_| invalid())?;
    per.checked_mul(n).ok_or_else(invalid)
}

/// Prints a failure as `error: <Display>`, followed by the causes its message does not already
/// contain, and turns it into exit status 1.
pub fn finish(result: Result<(), BoxError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", error_line(&*e));
            ExitCode::FAILURE
        }
    }
}

/// `error: <Display>: <cause>: …`, skipping causes already spelled out.
pub fn error_line(e: &(dyn Error + 'static)) -> String {
    let mut line = format!("error: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use clap::CommandFactory;

    use super::*;

    /// A test program.
    #[derive(Debug, Parser)]
    #[command(name = "prog")]
    struct Args {
        /// How many.
        #[arg(long, default_value_t = 1)]
        requests: u32,
    }

    fn err(args: &[&str]) -> clap::Error {
        Args::try_parse_from(args).unwrap_err()
    }

    fn parse_args(args: &[&str]) -> Result<Args, ExitCode> {
        parse_from(Args::command(), args)
    }

    #[test]
    fn unknown_flags_get_one_line_with_a_suggestion() {
        assert_eq!(
            one_line(&err(&["prog", "--request", "3"]), "prog"),
            "error: unexpected argument '--request' found (did you mean '--requests'?); \
             see 'prog --help'"
        );
        assert_eq!(
            one_line(&err(&["prog", "--bogus"]), "prog"),
            "error: unexpected argument '--bogus' found; see 'prog --help'"
        );
    }

    #[test]
    fn bad_values_get_one_line() {
        assert_eq!(
            one_line(&err(&["prog", "--requests", "x"]), "prog"),
            "error: invalid value 'x' for '--requests <REQUESTS>': invalid digit found in \
             string; see 'prog --help'"
        );
        assert_eq!(
            one_line(&err(&["prog", "--requests"]), "prog"),
            "error: a value is required for '--requests <REQUESTS>' but none was supplied; \
             see 'prog --help'"
        );
    }

    #[test]
    fn usage_errors_exit_with_status_2() {
        assert_eq!(
            parse_args(&["prog", "--nope"]).unwrap_err(),
            ExitCode::from(USAGE_ERROR)
        );
        assert_eq!(
            parse_args(&["prog", "--requests", "4"]).unwrap().requests,
            4
        );
    }

    #[test]
    fn durations_in_milliseconds_or_seconds() {
        assert_eq!(duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("0ms"), Ok(Duration::ZERO));
        for bad in ["", "ms", "5", "1.5s", "-1s", "2m", "s", "99999999999ms"] {
            assert_eq!(
                duration(bad),
                Err(format!("invalid duration {bad:?} (e.g. 300ms or 2s)"))
            );
        }
    }

    #[derive(Debug)]
    struct Outer(std::io::Error, bool);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if self.1 {
                write!(f, "could not start: {}", self.0)
            } else {
                f.write_str("could not start")
            }
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn errors_print_display_and_new_causes_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        assert_eq!(
            error_line(&Outer(io(), false)),
            "error: could not start: address in use"
        );
        assert_eq!(
            error_line(&Outer(io(), true)),
            "error: could not start: address in use"
        );
    }
}
