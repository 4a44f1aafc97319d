//! [`TraceState`]: the W3C `tracestate` vendor list.

use std::fmt;
use std::sync::Arc;

use crate::error::TraceStateError;
use crate::propagation::trim_ows;

/// The W3C `tracestate` vendor list: up to 32 `key=value` members, most recently updated first.
///
/// Cloning is cheap (a reference count); an empty list holds no allocation.
///
/// Follows the current W3C Trace Context text (Level 2, whose `tracestate` rules the Level 3
/// editor's draft of 2026-06 keeps): a key is `( lcalpha / DIGIT ) 0*255 ( keychar )` with `@`
/// among the key characters — the older `tenant@system` split with its 241/14 character limits
/// is gone. Parsing keeps the first member of a duplicated key and drops the later ones (the
/// spec lets a vendor discard duplicates it did not generate); a list that breaks the grammar or
/// has more than 32 members (duplicates included) is rejected whole.
///
/// ```
/// use tracewire::TraceState;
///
/// let state: TraceState = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".parse().unwrap();
/// let state = state.insert("rojo", "1").unwrap();
/// assert_eq!(state.header(), "rojo=1,congo=t61rcWkgMzE");
/// let dup: TraceState = "a=1,b=2,a=3".parse().unwrap();
/// assert_eq!(dup.header(), "a=1,b=2");
/// assert!("A=1".parse::<TraceState>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct TraceState(Option<Arc<[Member]>>);

/// One `key=value` list member.
type Member = (Box<str>, Box<str>);

impl TraceState {
    /// The most members a `tracestate` may hold.
    pub const MAX_MEMBERS: usize = 32;
    /// The length this implementation propagates; longer lists are truncated per the spec's rule
    /// (members longer than 128 bytes go first, then members from the end).
    pub const MAX_LEN: usize = 512;
    /// Inputs longer than this are rejected without being parsed.
    pub(crate) const MAX_INPUT_LEN: usize = 8192;

    /// An empty list.
    pub const fn new() -> Self {
        TraceState(None)
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The members in order, most recent first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| (&**k, &**v))
    }

    /// A new list with `key=value` at the front and any older member with that key removed, as
    /// the spec asks of a vendor updating its entry.
    pub fn insert(&self, key: &str, value: &str) -> Result<TraceState, TraceStateError> {
        if !valid_key(key.as_bytes()) {
            return Err(TraceStateError::InvalidKey);
        }
        if !valid_value(value.as_bytes()) {
            return Err(TraceStateError::InvalidValue);
        }
        let mut members: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(self.len() + 1);
        members.push((key.into(), value.into()));
        members.extend(
            self.iter()
                .filter(|(k, _)| *k != key)
                .map(|(k, v)| (k.into(), v.into())),
        );
        members.truncate(Self::MAX_MEMBERS);
        Ok(TraceState::from_members(truncate_to_len(members)))
    }

    /// A new list without `key`.
    #[must_use]
    pub fn remove(&self, key: &str) -> TraceState {
        TraceState::from_members(
            self.iter()
                .filter(|(k, _)| *k != key)
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The header value: members joined by `,`.
    pub fn header(&self) -> String {
        let mut out = String::with_capacity(self.header_len());
        self.write_header(&mut out);
        out
    }

    fn header_len(&self) -> usize {
        self.iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>()
            .saturating_sub(1)
    }

    pub(crate) fn write_header(&self, out: &mut String) {
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
    }

    fn from_members(members: Vec<(Box<str>, Box<str>)>) -> TraceState {
        if members.is_empty() {
            TraceState(None)
        } else {
            TraceState(Some(members.into()))
        }
    }

    /// Parses one or more header values (repeated headers are one list, joined by `,`). Every
    /// non-empty member counts against [`TraceState::MAX_MEMBERS`], duplicates included (the
    /// grammar caps the list as sent); a duplicated key keeps its first value.
    pub(crate) fn parse_values<'a>(
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<TraceState, TraceStateError> {
        let mut members: Vec<(Box<str>, Box<str>)> = Vec::new();
        let mut total = 0usize;
        let mut seen = 0usize;
        for value in values {
            total += value.len() + 1;
            if total > Self::MAX_INPUT_LEN {
                return Err(TraceStateError::TooLong);
            }
            for raw in value.split(|&b| b == b',') {
                let member = trim_ows(raw);
                if member.is_empty() {
                    continue;
                }
                let eq = member
                    .iter()
                    .position(|&b| b == b'=')
                    .ok_or(TraceStateError::MissingEquals)?;
                let (key, value) = (&member[..eq], &member[eq + 1..]);
                if !valid_key(key) {
                    return Err(TraceStateError::InvalidKey);
                }
                if !valid_value(value) {
                    return Err(TraceStateError::InvalidValue);
                }
                seen += 1;
                if seen > Self::MAX_MEMBERS {
                    return Err(TraceStateError::TooManyMembers);
                }
                // The grammar admits only ASCII, so these conversions cannot fail.
                let key = std::str::from_utf8(key).map_err(|_| TraceStateError::InvalidKey)?;
                let value =
                    std::str::from_utf8(value).map_err(|_| TraceStateError::InvalidValue)?;
                if !members.iter().any(|(k, _)| &**k == key) {
                    members.push((key.into(), value.into()));
                }
            }
        }
        Ok(TraceState::from_members(truncate_to_len(members)))
    }
}

/// Applies the spec's truncation rule so the list serialises to at most [`TraceState::MAX_LEN`]
/// bytes: first drop members longer than 128 bytes (from the end), then members from the end.
fn truncate_to_len(mut members: Vec<(Box<str>, Box<str>)>) -> Vec<(Box<str>, Box<str>)> {
    let len = |m: &[(Box<str>, Box<str>)]| {
        m.iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>()
            .saturating_sub(1)
    };
    while len(&members) > TraceState::MAX_LEN {
        if let Some(pos) = members
            .iter()
            .rposition(|(k, v)| k.len() + v.len() + 1 > 128)
        {
            members.remove(pos);
        } else {
            members.pop();
        }
    }
    members
}

impl std::str::FromStr for TraceState {
    type Err = TraceStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceState::parse_values([s.as_bytes()])
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.header())
    }
}
/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
fn key_char(c: u8) -> bool {
    matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@')
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`.
fn valid_key(key: &[u8]) -> bool {
    match key.split_first() {
        Some((&first, rest)) => {
            (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.len() <= 255
                && rest.iter().all(|&c| key_char(c))
        }
        None => false,
    }
}

/// `value = 0*255(chr) nblk-chr` with `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`, `chr = %x20 / nblk-chr`.
fn valid_value(value: &[u8]) -> bool {
    let nblk = |c: u8| matches!(c, 0x21..=0x2b | 0x2d..=0x3c | 0x3e..=0x7e);
    match value.split_last() {
        Some((&last, rest)) => {
            value.len() <= 256 && nblk(last) && rest.iter().all(|&c| c == b' ' || nblk(c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracestate_keys() {
        // W3C Trace Context §3.3.1.3.1: key = ( lcalpha / DIGIT ) 0*255 ( keychar ).
        for ok in [
            "a",
            "0abc",
            "a0_-*/@",
            "tenant@vendor",
            "0tenant@v",
            "tenant@",
            "tenant@0v",
            "a@b@c",
            "foo@@bar",
            &"a".repeat(256),
            &format!("{}@{}", "t".repeat(241), "s".repeat(14)),
            &format!("{}@v", "t".repeat(242)),
            &format!("t@{}", "s".repeat(15)),
            &format!("t{}", "@".repeat(255)),
        ] {
            assert!(valid_key(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "A",
            "aB",
            "a b",
            "a=b",
            "a.b",
            "_a",
            "*a",
            "/a",
            "@vendor",
            &"a".repeat(257),
            &format!("t{}", "@".repeat(256)),
        ] {
            assert!(!valid_key(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn tracestate_values() {
        // W3C Trace Context §3.3.1.3.2 value grammar: no ',' or '=', no trailing space.
        assert!(valid_value(b"t61rcWkgMzE"));
        assert!(valid_value(b"a b"));
        assert!(!valid_value(b""));
        assert!(!valid_value(b"a "));
        assert!(!valid_value(b"a=b"));
        assert!(!valid_value(b"a,b"));
        assert!(!valid_value(&[b'a'; 257]));
        assert!(valid_value(&[b'a'; 256]));
    }

    #[test]
    fn tracestate_parse_combines_and_limits() {
        let ts = TraceState::parse_values([&b"a=1, b=2"[..], b"c=3 ,,"]).unwrap();
        assert_eq!(ts.header(), "a=1,b=2,c=3");
        let members: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        let joined = members.join(",");
        assert_eq!(joined.parse::<TraceState>().unwrap().len(), 32);
        let too_many = format!("{joined},x=y");
        assert_eq!(
            too_many.parse::<TraceState>(),
            Err(TraceStateError::TooManyMembers)
        );
        // A duplicated key keeps its first value; the duplicates still count as members.
        assert_eq!(
            "a=1,b=2,a=3".parse::<TraceState>().unwrap().header(),
            "a=1,b=2"
        );
        let dup = TraceState::parse_values([&b"a=1"[..], b"a=1"]).unwrap();
        assert_eq!(dup.header(), "a=1");
        let with_dup = format!("{joined},k0=again");
        assert_eq!(
            with_dup.parse::<TraceState>(),
            Err(TraceStateError::TooManyMembers)
        );
        assert_eq!(
            "a".parse::<TraceState>(),
            Err(TraceStateError::MissingEquals)
        );
    }

    #[test]
    fn tracestate_truncates_long_members_first() {
        let long = format!("big={}", "x".repeat(200));
        let small: Vec<String> = (0..20)
            .map(|i| format!("k{i:02}={}", "v".repeat(16)))
            .collect();
        let header = format!("{long},{}", small.join(","));
        let ts: TraceState = header.parse().unwrap();
        assert!(ts.get("big").is_none());
        assert!(ts.header().len() <= TraceState::MAX_LEN);
        assert_eq!(ts.iter().next().unwrap().0, "k00");
    }
}
