//! A small `--flag value` parser for the demo's binaries (no dependency needed for a handful of
//! flags).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// Parsed `--name value` pairs and bare `--switch`es.
#[derive(Debug, Default, Clone)]
pub struct Args {
    values: HashMap<String, String>,
    switches: Vec<String>,
}

/// A flag that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

impl Args {
    /// Parses `args` (without the program name). `switches` lists the flags that take no value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        switches: &[&str],
    ) -> Result<Args, ArgError> {
        let mut out = Args::default();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(ArgError(format!("unexpected argument {arg:?}")));
            };
            if let Some((k, v)) = name.split_once('=') {
                out.values.insert(k.to_owned(), v.to_owned());
            } else if switches.contains(&name) {
                out.switches.push(name.to_owned());
            } else {
                let v = it
                    .next()
                    .ok_or_else(|| ArgError(format!("--{name} needs a value")))?;
                out.values.insert(name.to_owned(), v);
            }
        }
        Ok(out)
    }

    /// Whether the switch `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    /// The raw value of `--name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name` parsed, or `default`.
    pub fn parse_or<T: FromStr>(&self, name: &str, default: T) -> Result<T, ArgError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ArgError(format!("invalid value {v:?} for --{name}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_and_switches() {
        let a = Args::parse(
            ["--requests", "20", "--exit", "--port=9"].map(String::from),
            &["exit"],
        )
        .unwrap();
        assert!(a.flag("exit"));
        assert_eq!(a.parse_or("requests", 0u32).unwrap(), 20);
        assert_eq!(a.parse_or("port", 0u16).unwrap(), 9);
        assert_eq!(a.parse_or("missing", 7u8).unwrap(), 7);
        assert!(Args::parse(["--requests"].map(String::from), &[]).is_err());
        assert!(a.parse_or::<u8>("requests", 0).is_ok());
        let bad = Args::parse(["--n", "x"].map(String::from), &[]).unwrap();
        assert!(bad.parse_or::<u32>("n", 0).is_err());
    }
}
