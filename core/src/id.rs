//! Trace and span identifiers and trace flags. The ids come from [`crate::rng`].

use std::fmt;
use std::str::FromStr;

use crate::error::ParseIdError;
use crate::rng::{next_u64, next_u128};

/// A 16-byte trace identifier, shared by every span of one trace.
///
/// The all-zero value is invalid in every propagation format; [`TraceId::INVALID`] names it and
/// [`TraceId::is_valid`] tells it apart. Generated ids are never all-zero.
///
/// ```
/// use tracewire::TraceId;
///
/// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!("4BF92F3577B34DA6A3CE929D0E0E4736".parse::<TraceId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId([u8; 16]);

/// An 8-byte span identifier, unique within a trace.
///
/// ```
/// use tracewire::SpanId;
///
/// let id: SpanId = "00f067aa0ba902b7".parse().unwrap();
/// assert_eq!(id.to_bytes(), [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// The all-zero, invalid trace id.
    pub const INVALID: TraceId = TraceId([0; 16]);

    /// A trace id from its big-endian bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        TraceId(bytes)
    }

    /// The id's big-endian bytes.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// A trace id from its big-endian `u128` value.
    pub const fn from_u128(v: u128) -> Self {
        TraceId(v.to_be_bytes())
    }

    /// The id as a big-endian `u128`.
    pub const fn to_u128(self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// Whether the id is not all zeros.
    pub const fn is_valid(self) -> bool {
        self.to_u128() != 0
    }

    /// The lower 8 bytes, used by formats and samplers that only see 64 bits.
    pub const fn low_u64(self) -> u64 {
        self.to_u128() as u64
    }

    /// A new random trace id from the calling thread's generator. Never all-zero.
    pub fn random() -> Self {
        loop {
            let v = next_u128();
            if v != 0 {
                return TraceId::from_u128(v);
            }
        }
    }

    /// Lowercase hex into a fixed buffer, with no allocation.
    pub fn to_hex(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        encode_hex(&self.0, &mut out);
        out
    }

    /// Parses exactly 32 lowercase hex digits; the all-zero id is rejected.
    pub fn from_hex(s: &[u8]) -> Result<Self, ParseIdError> {
        let mut bytes = [0u8; 16];
        decode_hex(s, &mut bytes)?;
        let id = TraceId(bytes);
        if id.is_valid() {
            Ok(id)
        } else {
            Err(ParseIdError::AllZero)
        }
    }
}

impl SpanId {
    /// The all-zero, invalid span id.
    pub const INVALID: SpanId = SpanId([0; 8]);

    /// A span id from its big-endian bytes.
    pub const fn from_bytes(bytes: [u8; 8]) -> Self {
        SpanId(bytes)
    }

    /// The id's big-endian bytes.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// A span id from its big-endian `u64` value.
    pub const fn from_u64(v: u64) -> Self {
        SpanId(v.to_be_bytes())
    }

    /// The id as a big-endian `u64`.
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// Whether the id is not all zeros.
    pub const fn is_valid(self) -> bool {
        self.to_u64() != 0
    }

    /// A new random span id from the calling thread's generator. Never all-zero.
    pub fn random() -> Self {
        loop {
            let v = next_u64();
            if v != 0 {
                return SpanId::from_u64(v);
            }
        }
    }

    /// Lowercase hex into a fixed buffer, with no allocation.
    pub fn to_hex(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        encode_hex(&self.0, &mut out);
        out
    }

    /// Parses exactly 16 lowercase hex digits; the all-zero id is rejected.
    pub fn from_hex(s: &[u8]) -> Result<Self, ParseIdError> {
        let mut bytes = [0u8; 8];
        decode_hex(s, &mut bytes)?;
        let id = SpanId(bytes);
        if id.is_valid() {
            Ok(id)
        } else {
            Err(ParseIdError::AllZero)
        }
    }
}

macro_rules! hex_impls {
    ($ty:ident, $len:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let hex = self.to_hex();
                // `to_hex` writes only ASCII hex digits.
                f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), self)
            }
        }

        impl fmt::LowerHex for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $ty {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::from_hex(s.as_bytes())
            }
        }
    };
}

hex_impls!(TraceId, 32);
hex_impls!(SpanId, 16);

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 0x0f) as usize];
    }
}

/// Decodes lowercase hex of exactly `2 * out.len()` digits.
pub(crate) fn decode_hex(s: &[u8], out: &mut [u8]) -> Result<(), ParseIdError> {
    if s.len() != out.len() * 2 {
        return Err(ParseIdError::Length {
            expected: out.len() * 2,
            found: s.len(),
        });
    }
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        if (hi | lo) > 0x0f {
            // Not lowercase hex: find which rule it breaks, off the fast path.
            lower_hex_digit(pair[0])?;
            lower_hex_digit(pair[1])?;
        }
        out[i] = (hi << 4) | lo;
    }
    Ok(())
}

/// The value of each lowercase hex digit; 0xff for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes hex digits of either case, for formats (B3, Jaeger) that allow it.
pub(crate) fn hex_digit_any_case(c: u8) -> Result<u8, ParseIdError> {
    match c {
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => lower_hex_digit(c),
    }
}

pub(crate) fn lower_hex_digit(c: u8) -> Result<u8, ParseIdError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Err(ParseIdError::Uppercase),
        _ => Err(ParseIdError::NotHex),
    }
}

/// W3C trace flags: bit 0 `sampled`, bit 1 `random` (Trace Context level 2).
///
/// ```
/// use tracewire::TraceFlags;
///
/// let flags = TraceFlags::SAMPLED.with_random(true);
/// assert_eq!(flags.to_u8(), 0x03);
/// assert!(flags.is_sampled() && flags.is_random());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flags set.
    pub const NONE: TraceFlags = TraceFlags(0);
    /// The `sampled` flag.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// The level-2 `random` flag: the trace id's right-most 7 bytes are random.
    pub const RANDOM: TraceFlags = TraceFlags(0x02);

    /// Flags from the wire byte. Unknown bits are kept so a forwarding hop does not lose them;
    /// [`TraceFlags::known`] masks them off.
    pub const fn new(bits: u8) -> Self {
        TraceFlags(bits)
    }

    /// The wire byte.
    pub const fn to_u8(self) -> u8 {
        self.0
    }

    /// Only the bits this version of the spec defines (sampled and random).
    #[must_use]
    pub const fn known(self) -> Self {
        TraceFlags(self.0 & 0x03)
    }

    /// Whether the `sampled` flag is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Whether the `random` flag is set.
    pub const fn is_random(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// The flags with `sampled` set or cleared.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            TraceFlags(self.0 | 0x01)
        } else {
            TraceFlags(self.0 & !0x01)
        }
    }

    /// The flags with `random` set or cleared.
    #[must_use]
    pub const fn with_random(self, random: bool) -> Self {
        if random {
            TraceFlags(self.0 | 0x02)
        } else {
            TraceFlags(self.0 & !0x02)
        }
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceFlags")
            .field("sampled", &self.is_sampled())
            .field("random", &self.is_random())
            .finish()
    }
}

impl fmt::Display for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(id.to_string().parse::<TraceId>().unwrap(), id);
        let span = SpanId::from_u64(0x00f067aa0ba902b7);
        assert_eq!(span.to_string(), "00f067aa0ba902b7");
        assert_eq!(format!("{span:?}"), "SpanId(00f067aa0ba902b7)");
    }

    #[test]
    fn parse_errors_are_typed() {
        assert_eq!(
            "abc".parse::<SpanId>(),
            Err(ParseIdError::Length {
                expected: 16,
                found: 3
            })
        );
        assert_eq!(
            "00F067AA0BA902B7".parse::<SpanId>(),
            Err(ParseIdError::Uppercase)
        );
        assert_eq!(
            "00f067aa0ba902bz".parse::<SpanId>(),
            Err(ParseIdError::NotHex)
        );
        assert_eq!(
            "0000000000000000".parse::<SpanId>(),
            Err(ParseIdError::AllZero)
        );
        assert_eq!(
            "00000000000000000000000000000000".parse::<TraceId>(),
            Err(ParseIdError::AllZero)
        );
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let t = TraceId::random();
            assert!(t.is_valid());
            assert!(seen.insert(t));
            assert!(SpanId::random().is_valid());
        }
    }

    #[test]
    fn flags() {
        let f = TraceFlags::new(0xff);
        assert!(f.is_sampled() && f.is_random());
        assert_eq!(f.known().to_u8(), 0x03);
        assert_eq!(f.with_sampled(false).to_u8(), 0xfe);
        assert_eq!(TraceFlags::NONE.with_random(true).to_string(), "02");
    }
}
