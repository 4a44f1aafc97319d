//! The in-band context: [`SpanContext`], [`TraceState`], [`Baggage`] and the [`Context`] that
//! carries them together across process boundaries.

use std::fmt;
use std::sync::Arc;

use crate::error::{BaggageError, TraceStateError};
use crate::id::{SpanId, TraceFlags, TraceId};

/// The identity of one span as other spans and other services see it.
///
/// ```
/// use tracewire::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
///
/// let cx = SpanContext::new(
///     TraceId::from_u128(1),
///     SpanId::from_u64(2),
///     TraceFlags::SAMPLED,
///     TraceState::default(),
///     true,
/// );
/// assert!(cx.is_valid() && cx.is_sampled() && cx.is_remote());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct SpanContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    state: TraceState,
    remote: bool,
}

impl SpanContext {
    /// A span context from its parts.
    pub const fn new(
        trace_id: TraceId,
        span_id: SpanId,
        flags: TraceFlags,
        state: TraceState,
        remote: bool,
    ) -> Self {
        SpanContext {
            trace_id,
            span_id,
            flags,
            state,
            remote,
        }
    }

    /// The trace id.
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id.
    pub const fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags.
    pub const fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// The vendor `tracestate`.
    pub const fn trace_state(&self) -> &TraceState {
        &self.state
    }

    /// Whether the sampled flag is set.
    pub const fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// Whether this context was received from another process.
    pub const fn is_remote(&self) -> bool {
        self.remote
    }

    /// Whether both ids are non-zero.
    pub const fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }

    /// The same context with other flags.
    #[must_use]
    pub fn with_flags(mut self, flags: TraceFlags) -> Self {
        self.flags = flags;
        self
    }

    /// The same context with another `tracestate`.
    #[must_use]
    pub fn with_trace_state(mut self, state: TraceState) -> Self {
        self.state = state;
        self
    }

    /// The same context marked as remote or local.
    #[must_use]
    pub fn with_remote(mut self, remote: bool) -> Self {
        self.remote = remote;
        self
    }
}

impl fmt::Debug for SpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanContext")
            .field("trace_id", &format_args!("{}", self.trace_id))
            .field("span_id", &format_args!("{}", self.span_id))
            .field("flags", &format_args!("{}", self.flags))
            .field("state", &self.state)
            .field("remote", &self.remote)
            .finish()
    }
}

// --- tracestate --------------------------------------------------------------------------------

/// The W3C `tracestate` vendor list: up to 32 `key=value` members, most recently updated first.
///
/// Cloning is cheap (a reference count); an empty list holds no allocation.
///
/// ```
/// use tracewire::TraceState;
///
/// let state: TraceState = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".parse().unwrap();
/// let state = state.insert("rojo", "1").unwrap();
/// assert_eq!(state.header(), "rojo=1,congo=t61rcWkgMzE");
/// assert!("a=1,a=2".parse::<TraceState>().is_err());
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

    /// Parses one or more header values (repeated headers are one list, joined by `,`).
    pub(crate) fn parse_values<'a>(
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<TraceState, TraceStateError> {
        let mut members: Vec<(Box<str>, Box<str>)> = Vec::new();
        let mut total = 0usize;
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
                if members.len() == Self::MAX_MEMBERS {
                    return Err(TraceStateError::TooManyMembers);
                }
                // The grammar admits only ASCII, so these conversions cannot fail.
                let key = std::str::from_utf8(key).map_err(|_| TraceStateError::InvalidKey)?;
                let value =
                    std::str::from_utf8(value).map_err(|_| TraceStateError::InvalidValue)?;
                if members.iter().any(|(k, _)| &**k == key) {
                    return Err(TraceStateError::DuplicateKey);
                }
                members.push((key.into(), value.into()));
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

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn key_char(c: u8) -> bool {
    matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/')
}

/// `simple-key = lcalpha 0*255(keychar)` or `tenant-id "@" system-id` where
/// `tenant-id = (lcalpha / DIGIT) 0*240(keychar)` and `system-id = lcalpha 0*13(keychar)`.
fn valid_key(key: &[u8]) -> bool {
    match key.iter().position(|&b| b == b'@') {
        None => {
            (1..=256).contains(&key.len())
                && key[0].is_ascii_lowercase()
                && key.iter().all(|&c| key_char(c))
        }
        Some(at) => {
            let (tenant, system) = (&key[..at], &key[at + 1..]);
            (1..=241).contains(&tenant.len())
                && (tenant[0].is_ascii_lowercase() || tenant[0].is_ascii_digit())
                && tenant.iter().all(|&c| key_char(c))
                && (1..=14).contains(&system.len())
                && system[0].is_ascii_lowercase()
                && system.iter().all(|&c| key_char(c))
        }
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

// --- baggage -----------------------------------------------------------------------------------

/// One baggage member: a key, a decoded value, and the raw `;`-properties, kept as received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BaggageEntry {
    key: Box<str>,
    value: Box<str>,
    properties: Option<Box<str>>,
}

impl BaggageEntry {
    /// The key (a W3C token).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The percent-decoded value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties after the value (`;k=v;flag`), as received, if any.
    pub fn properties(&self) -> Option<&str> {
        self.properties.as_deref()
    }

    /// The length of `key=value;properties` as [`Baggage::header`] writes it.
    fn encoded_len(&self) -> usize {
        self.key.len()
            + 1
            + percent_encoding::utf8_percent_encode(&self.value, BAGGAGE_VALUE_ENCODE)
                .map(str::len)
                .sum::<usize>()
            + self.properties.as_ref().map_or(0, |p| p.len() + 1)
    }
}

impl fmt::Debug for BaggageEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.key, self.value)?;
        if let Some(p) = &self.properties {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

/// W3C Baggage: application key/value pairs that travel with the trace.
///
/// Bounded to [`Baggage::MAX_MEMBERS`] members and [`Baggage::MAX_BYTES`] bytes on the wire.
/// Cloning is cheap (a reference count); empty baggage holds no allocation.
///
/// ```
/// use tracewire::Baggage;
///
/// let bag = Baggage::new().with("tenant", "acme corp").unwrap();
/// assert_eq!(bag.get("tenant"), Some("acme corp"));
/// assert_eq!(bag.header(), "tenant=acme%20corp");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Baggage(Option<Arc<[BaggageEntry]>>);

impl Baggage {
    /// The most members propagated (the W3C minimum an implementation must carry).
    pub const MAX_MEMBERS: usize = 64;
    /// The most bytes propagated (the W3C minimum an implementation must carry).
    pub const MAX_BYTES: usize = 8192;

    /// Empty baggage.
    pub const fn new() -> Self {
        Baggage(None)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |e| e.len())
    }

    /// The decoded value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entry(key).map(BaggageEntry::value)
    }

    /// The whole entry for `key`.
    pub fn entry(&self, key: &str) -> Option<&BaggageEntry> {
        self.iter().find(|e| &*e.key == key)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageEntry> {
        self.0.iter().flat_map(|e| e.iter())
    }

    /// New baggage with `key=value` set (replacing any entry with that key).
    pub fn with(&self, key: &str, value: &str) -> Result<Baggage, BaggageError> {
        self.with_properties(key, value, None)
    }

    /// New baggage with `key=value;properties` set. `properties` is written as given.
    pub fn with_properties(
        &self,
        key: &str,
        value: &str,
        properties: Option<&str>,
    ) -> Result<Baggage, BaggageError> {
        if key.is_empty() || !key.bytes().all(is_tchar) {
            return Err(BaggageError::InvalidKey);
        }
        let entry = BaggageEntry {
            key: key.into(),
            value: value.into(),
            properties: properties.filter(|p| !p.is_empty()).map(Into::into),
        };
        let mut entries: Vec<BaggageEntry> =
            self.iter().filter(|e| &*e.key != key).cloned().collect();
        entries.push(entry);
        if entries.len() > Self::MAX_MEMBERS {
            return Err(BaggageError::TooManyMembers);
        }
        let b = Baggage(Some(entries.into()));
        if b.encoded_len() > Self::MAX_BYTES {
            return Err(BaggageError::TooLong);
        }
        Ok(b)
    }

    /// New baggage without `key`.
    #[must_use]
    pub fn without(&self, key: &str) -> Baggage {
        let entries: Vec<BaggageEntry> = self.iter().filter(|e| &*e.key != key).cloned().collect();
        if entries.is_empty() {
            Baggage(None)
        } else {
            Baggage(Some(entries.into()))
        }
    }

    /// The `baggage` header value, values percent-encoded (a literal `%` is sent as `%25`).
    pub fn header(&self) -> String {
        let mut out = String::new();
        for (i, e) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&e.key);
            out.push('=');
            out.extend(percent_encoding::utf8_percent_encode(
                &e.value,
                BAGGAGE_VALUE_ENCODE,
            ));
            if let Some(p) = &e.properties {
                out.push(';');
                out.push_str(p);
            }
        }
        out
    }

    fn encoded_len(&self) -> usize {
        let entries = self.len();
        self.iter().map(BaggageEntry::encoded_len).sum::<usize>() + entries.saturating_sub(1)
    }

    /// Parses one or more `baggage` header values.
    ///
    /// Invalid members are skipped but still count against the member and byte limits, so a
    /// degenerate header stops the parser early instead of being scanned to the end. Returns the
    /// baggage and how many members were dropped (invalid or over a limit).
    pub fn parse_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> (Baggage, usize) {
        let mut entries: Vec<BaggageEntry> = Vec::new();
        let mut seen = 0usize;
        let mut bytes = 0usize;
        let mut dropped = 0usize;
        // Sum of the kept entries' encoded lengths, separators not included.
        let mut encoded = 0usize;
        'outer: for value in values {
            for raw in value.split(|&b| b == b',') {
                let member = trim_ows(raw);
                if member.is_empty() {
                    continue;
                }
                seen += 1;
                bytes += member.len() + usize::from(seen > 1);
                if seen > Self::MAX_MEMBERS || bytes > Self::MAX_BYTES {
                    dropped += 1;
                    // Stop scanning: everything after the limit is dropped, counted as one more.
                    break 'outer;
                }
                match parse_member(member) {
                    Some(entry) => {
                        // The limit is on what `header()` writes, and re-encoding can grow a
                        // value (a literal '%' becomes "%25"), so check the encoded length too.
                        let old = entries.iter().position(|e| e.key == entry.key);
                        let old_len = old.map_or(0, |pos| entries[pos].encoded_len());
                        let kept = entries.len() - usize::from(old.is_some());
                        let len = entry.encoded_len();
                        if encoded - old_len + len + kept > Self::MAX_BYTES {
                            dropped += 1;
                            break 'outer;
                        }
                        if let Some(pos) = old {
                            entries.remove(pos);
                            dropped += 1;
                        }
                        encoded = encoded - old_len + len;
                        entries.push(entry);
                    }
                    None => dropped += 1,
                }
            }
        }
        let bag = if entries.is_empty() {
            Baggage(None)
        } else {
            Baggage(Some(entries.into()))
        };
        (bag, dropped)
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// `tchar` from RFC 9110: the characters a baggage key may use.
fn is_tchar(c: u8) -> bool {
    matches!(c,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// Everything outside `baggage-octet`, plus `%` itself, is percent-encoded on the way out.
const BAGGAGE_VALUE_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

fn parse_member(member: &[u8]) -> Option<BaggageEntry> {
    let (kv, props) = match member.iter().position(|&b| b == b';') {
        Some(p) => (&member[..p], Some(&member[p + 1..])),
        None => (member, None),
    };
    let eq = kv.iter().position(|&b| b == b'=')?;
    let key = trim_ows(&kv[..eq]);
    let value = trim_ows(&kv[eq + 1..]);
    if key.is_empty() || !key.iter().all(|&c| is_tchar(c)) {
        return None;
    }
    if !value.iter().all(|&c| is_baggage_octet(c)) {
        return None;
    }
    let decoded = percent_encoding::percent_decode(value).decode_utf8().ok()?;
    let properties = match props {
        Some(p) => {
            let p = trim_ows(p);
            if !valid_properties(p) {
                return None;
            }
            // `valid_properties` admits only ASCII.
            Some(std::str::from_utf8(p).ok()?.into())
        }
        None => None,
    };
    Some(BaggageEntry {
        key: std::str::from_utf8(key).ok()?.into(),
        value: decoded.into(),
        properties,
    })
}

/// `property = key OWS "=" OWS value / key OWS`, separated by `OWS ";" OWS`.
fn valid_properties(p: &[u8]) -> bool {
    p.split(|&b| b == b';').all(|prop| {
        let prop = trim_ows(prop);
        match prop.iter().position(|&b| b == b'=') {
            Some(eq) => {
                let k = trim_ows(&prop[..eq]);
                let v = trim_ows(&prop[eq + 1..]);
                !k.is_empty()
                    && k.iter().all(|&c| is_tchar(c))
                    && v.iter().all(|&c| is_baggage_octet(c))
            }
            None => !prop.is_empty() && prop.iter().all(|&c| is_tchar(c)),
        }
    })
}

// --- context -----------------------------------------------------------------------------------

/// Everything that travels in-band: the span context of the caller (if any) and the baggage.
///
/// This is what propagators extract from and inject into headers, what middleware hands to the
/// `tracing` layer as a remote parent, and what [`current()`](crate::current) returns.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Context {
    span: Option<SpanContext>,
    baggage: Baggage,
}

impl Context {
    /// An empty context: no span, no baggage.
    pub const fn new() -> Self {
        Context {
            span: None,
            baggage: Baggage::new(),
        }
    }

    /// A context holding a span context and no baggage.
    pub fn from_span_context(span: SpanContext) -> Self {
        Context {
            span: Some(span),
            baggage: Baggage::new(),
        }
    }

    /// The span context, if one is set and valid.
    pub fn span_context(&self) -> Option<&SpanContext> {
        self.span.as_ref()
    }

    /// The baggage.
    pub fn baggage(&self) -> &Baggage {
        &self.baggage
    }

    /// The trace id, if a span context is set.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.span.as_ref().map(SpanContext::trace_id)
    }

    /// The span id, if a span context is set.
    pub fn span_id(&self) -> Option<SpanId> {
        self.span.as_ref().map(SpanContext::span_id)
    }

    /// The same context with the span context replaced.
    #[must_use]
    pub fn with_span_context(mut self, span: SpanContext) -> Self {
        self.span = Some(span);
        self
    }

    /// The same context without a span context.
    #[must_use]
    pub fn without_span_context(mut self) -> Self {
        self.span = None;
        self
    }

    /// The same context with the baggage replaced.
    #[must_use]
    pub fn with_baggage(mut self, baggage: Baggage) -> Self {
        self.baggage = baggage;
        self
    }

    pub(crate) fn set_span_context(&mut self, span: SpanContext) {
        self.span = Some(span);
    }

    pub(crate) fn set_baggage(&mut self, baggage: Baggage) {
        self.baggage = baggage;
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("span", &self.span)
            .field("baggage", &self.baggage)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracestate_keys() {
        // W3C Trace Context §3.3.1.3.1 key grammar.
        for ok in [
            "a",
            "a0_-*/",
            "tenant@vendor",
            "0tenant@v",
            &"a".repeat(256),
            &format!("{}@{}", "t".repeat(241), "s".repeat(14)),
        ] {
            assert!(valid_key(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "A",
            "0abc",
            "a b",
            "a=b",
            &"a".repeat(257),
            "@vendor",
            "tenant@",
            "tenant@0v",
            &format!("{}@v", "t".repeat(242)),
            &format!("t@{}", "s".repeat(15)),
            "a@b@c",
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
        assert_eq!(
            "a=1,a=2".parse::<TraceState>(),
            Err(TraceStateError::DuplicateKey)
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

    #[test]
    fn baggage_round_trip_with_encoding_and_properties() {
        let (bag, dropped) =
            Baggage::parse_values([&b"userId=alice%20smith , pct=100%25;p1;p2=x,bad key=1"[..]]);
        assert_eq!(dropped, 1);
        assert_eq!(bag.get("userId"), Some("alice smith"));
        assert_eq!(bag.get("pct"), Some("100%"));
        assert_eq!(bag.entry("pct").unwrap().properties(), Some("p1;p2=x"));
        assert_eq!(bag.header(), "userId=alice%20smith,pct=100%25;p1;p2=x");
    }

    #[test]
    fn baggage_limits_stop_parsing_early() {
        let header: String = (0..100).map(|i| format!("k{i}=v,")).collect();
        let (bag, dropped) = Baggage::parse_values([header.as_bytes()]);
        assert_eq!(bag.len(), 64);
        assert_eq!(dropped, 1);
        // Invalid entries count against the member limit.
        let junk: String = (0..100).map(|_| "=,").collect::<String>() + "late=1";
        let (bag, _) = Baggage::parse_values([junk.as_bytes()]);
        assert!(bag.get("late").is_none());
    }

    #[test]
    fn baggage_byte_limit_counts_re_encoding() {
        // 4002 bytes in, but each literal '%' is sent on as "%25": 12002 bytes out.
        let header = format!("a={}", "%".repeat(4000));
        let (bag, dropped) = Baggage::parse_values([header.as_bytes(), b"b=1"]);
        assert!(bag.is_empty());
        assert_eq!(dropped, 1);
        // A replaced duplicate frees its bytes.
        let big = format!("k={}", "%".repeat(2000));
        let (bag, dropped) = Baggage::parse_values([big.as_bytes(), big.as_bytes(), b"k=1"]);
        assert_eq!(bag.header(), "k=1");
        assert_eq!(dropped, 2);
    }

    #[test]
    fn baggage_with_rejects_bad_keys_and_limits() {
        assert_eq!(
            Baggage::new().with("bad key", "v"),
            Err(BaggageError::InvalidKey)
        );
        let mut bag = Baggage::new();
        for i in 0..64 {
            bag = bag.with(&format!("k{i}"), "v").unwrap();
        }
        assert_eq!(bag.with("one-more", "v"), Err(BaggageError::TooManyMembers));
        assert_eq!(
            Baggage::new().with("k", &"x".repeat(9000)),
            Err(BaggageError::TooLong)
        );
    }
}
