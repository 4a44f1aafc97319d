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
        encode_id(&self.0)
    }

    /// Parses exactly 32 lowercase hex digits; the all-zero id is rejected.
    pub fn from_hex(s: &[u8]) -> Result<Self, ParseIdError> {
        let bytes = match decode_id::<16>(s) {
            Some(bytes) => bytes,
            None => decode_id_slowly(s)?,
        };
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
        encode_id(&self.0)
    }

    /// Parses exactly 16 lowercase hex digits; the all-zero id is rejected.
    pub fn from_hex(s: &[u8]) -> Result<Self, ParseIdError> {
        let bytes = match decode_id::<8>(s) {
            Some(bytes) => bytes,
            None => decode_id_slowly(s)?,
        };
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

/// An id's bytes as lowercase hex, four bytes at a time ([`hex8_of`]).
#[inline]
fn encode_id<const DIGITS: usize>(bytes: &[u8]) -> [u8; DIGITS] {
    let mut out = [0u8; DIGITS];
    for (quad, digits) in bytes.chunks_exact(4).zip(out.chunks_exact_mut(8)) {
        let quad = [quad[0], quad[1], quad[2], quad[3]];
        digits.copy_from_slice(&hex8_of(u32::from_be_bytes(quad)));
    }
    out
}

/// An id's `2 * N` digits as bytes, eight digits at a time ([`hex8`]); `None` when `s` is not
/// exactly that many lowercase hex digits (the pair-by-pair [`decode_hex`] then says why).
#[inline]
fn decode_id<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (digits, quad) in s.chunks_exact(8).zip(out.chunks_exact_mut(4)) {
        quad.copy_from_slice(&hex8(digits)?.to_be_bytes());
    }
    Some(out)
}

/// What [`decode_id`] refused, pair by pair: the bytes, or which rule the digits break.
#[cold]
#[inline(never)]
fn decode_id_slowly<const N: usize>(s: &[u8]) -> Result<[u8; N], ParseIdError> {
    let mut bytes = [0u8; N];
    decode_hex(s, &mut bytes)?;
    Ok(bytes)
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

/// Eight lowercase hex digits as a number, or `None` if any byte is not one.
fn hex8(digits: &[u8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_be_bytes(digits.try_into().ok()?);
    if x & HIGH != 0 {
        return None;
    }
    // With every high bit clear, adding `0x80 - lo` to each byte sets its high bit exactly when
    // the byte is at least `lo`, and never carries into the next byte.
    let at_least = |lo: u8| x.wrapping_add(ONES * u64::from(0x80 - lo)) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if digit | letter != HIGH {
        return None;
    }
    // '0'..'9' and 'a'..'f' end in 0..9 and 1..6: letters get 9 more.
    let nibbles = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // Pack the eight nibbles (one per byte, first digit highest) into four bytes.
    let pairs = (nibbles | (nibbles >> 4)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    Some(((quads | (quads >> 16)) & 0xffff_ffff) as u32)
}

/// `n` as eight lowercase hex digits, computed eight at a time in a `u64` like [`hex8`] reads
/// them.
fn hex8_of(n: u32) -> [u8; 8] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Spread the eight nibbles over eight bytes, the highest first.
    let v = u64::from(n);
    let v = ((v & 0xffff_0000) << 16) | (v & 0x0000_ffff);
    let v = ((v & 0x0000_ff00_0000_ff00) << 8) | (v & 0x0000_00ff_0000_00ff);
    let v = ((v & 0x00f0_00f0_00f0_00f0) << 4) | (v & 0x000f_000f_000f_000f);
    // 10..15 become 'a'..'f': adding 6 carries into bit 4 exactly for those.
    let letters = ((v + ONES * 6) & (ONES * 0x10)) >> 4;
    (v + ONES * u64::from(b'0') + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
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
    fn eight_digit_decoding_agrees_with_the_pair_decoder() {
        // Every byte value in every digit position of a valid id, plus edge ids: the decoder
        // gives exactly what the pair-by-pair decoder gives, errors included.
        let pairwise = |v: &[u8]| {
            let mut bytes = [0u8; 16];
            decode_hex(v, &mut bytes).map(|()| bytes)
        };
        let check = |v: &[u8]| {
            let fast = decode_id::<16>(v);
            assert_eq!(fast, pairwise(v).ok(), "{:?}", String::from_utf8_lossy(v));
            let expected = pairwise(v).and_then(|b| {
                let id = TraceId::from_bytes(b);
                if id.is_valid() {
                    Ok(id)
                } else {
                    Err(ParseIdError::AllZero)
                }
            });
            assert_eq!(
                TraceId::from_hex(v),
                expected,
                "{:?}",
                String::from_utf8_lossy(v)
            );
        };
        let base = b"4bf92f3577b34da6a3ce929d0e0e4736";
        for pos in 0..32 {
            for b in 0..=u8::MAX {
                let mut v = *base;
                v[pos] = b;
                check(&v);
            }
        }
        check(b"00000000000000000000000000000000");
        check(b"ffffffffffffffffffffffffffffffff");
        check(b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            TraceId::from_hex(b"00000000000000000000000000000000"),
            Err(ParseIdError::AllZero)
        );
    }

    #[test]
    fn eight_digit_encoding_agrees_with_the_table() {
        let table = |n: u32| {
            let mut out = [0u8; 8];
            for (i, b) in n.to_be_bytes().iter().enumerate() {
                out[2 * i] = HEX[(b >> 4) as usize];
                out[2 * i + 1] = HEX[(b & 0x0f) as usize];
            }
            out
        };
        for n in [
            0,
            1,
            9,
            10,
            15,
            16,
            0x0123_4567,
            0x89ab_cdef,
            0xdead_beef,
            u32::MAX,
        ]
        .into_iter()
        .chain((0..8).flat_map(|p| (0..16u32).map(move |d| d << (4 * p))))
        .chain((0..4096u32).map(|i| i.wrapping_mul(0x0010_0ff1)))
        {
            assert_eq!(hex8_of(n), table(n), "{n:#x}");
            assert_eq!(hex8(&hex8_of(n)), Some(n));
        }
        let id = TraceId::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(&id.to_hex(), b"0123456789abcdeffedcba9876543210");
        assert_eq!(
            &SpanId::from_u64(0x00f0_67aa_0ba9_02b7).to_hex(),
            b"00f067aa0ba902b7"
        );
    }

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
