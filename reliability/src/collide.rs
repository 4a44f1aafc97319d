//! Strings that all hash alike under FxHash (rustc's hasher, which the collector's store once
//! used for sender-chosen strings): the hash-flooding part of the corpus. A map keyed by such
//! strings puts them all in one probe sequence, so each insert and lookup costs a comparison
//! with every earlier key. Under a seeded hasher they are ordinary strings.
//!
//! FxHash folds 8-byte little-endian words: `h = (rotl(h, 5) ^ w) * K`, and `str`'s `Hash`
//! adds a `0xff` byte after the bytes. For two-word strings `w1 w2` the state after `w2` is
//! `(rotl(w1 * K, 5) ^ w2) * K`, so every pair with `w2 = C ^ rotl(w1 * K, 5)` for one constant
//! `C` collides fully. `w1` is taken from a counter; pairs whose `w2` is not ASCII are skipped
//! (about 269 of 270), which keeps every string valid UTF-8.

/// FxHash's multiplier.
const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
/// The constant every pair's state meets; any value works.
const C: u64 = 0x2f2f_2f2f_2f2f_2f2f;

/// The state after folding the first word.
fn after_first(w1: u64) -> u64 {
    w1.wrapping_mul(K)
}

/// The first word for counter value `n`: eight letters and digits, distinct for every `n`,
/// least significant digit first. (The low bytes of the word must vary: the low bits of the
/// product depend only on them, and they decide bytes of the second word.)
fn first_word(mut n: u64) -> [u8; 8] {
    const DIGITS: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut w = [b'0'; 8];
    for b in w.iter_mut() {
        *b = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    w
}

/// An endless sequence of distinct 16-byte ASCII strings with one FxHash, starting from
/// counter value `start` (use distinct starts for distinct sets of the same hash).
pub fn colliding(start: u64) -> impl Iterator<Item = String> {
    (start..).filter_map(|n| {
        let w1 = first_word(n);
        let w2 = (C ^ after_first(u64::from_le_bytes(w1)).rotate_left(5)).to_le_bytes();
        if !w2.iter().all(|b| (1..0x80).contains(b)) {
            return None;
        }
        let mut s = Vec::with_capacity(16);
        s.extend_from_slice(&w1);
        s.extend_from_slice(&w2);
        String::from_utf8(s).ok()
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::{Hash, Hasher};

    use super::*;

    /// The attacked hasher, as rustc (and the collector's store) wrote it.
    #[derive(Default)]
    struct Fx(u64);

    impl Fx {
        fn add(&mut self, w: u64) {
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
    }

    impl Hasher for Fx {
        fn write(&mut self, bytes: &[u8]) {
            for c in bytes.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                self.add(u64::from_le_bytes(w));
            }
        }
        fn write_u8(&mut self, i: u8) {
            self.add(u64::from(i));
        }
        fn finish(&self) -> u64 {
            self.0
        }
    }

    fn fx(s: &str) -> u64 {
        let mut h = Fx::default();
        s.hash(&mut h);
        h.finish()
    }

    #[test]
    fn every_string_has_the_same_fxhash() {
        let keys: Vec<String> = colliding(0).take(2000).collect();
        let first = fx(&keys[0]);
        assert!(keys.iter().all(|k| fx(k) == first));
        assert!(keys.iter().all(|k| k.len() == 16 && k.is_ascii()));
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), keys.len());
        assert_ne!(fx("an ordinary key!"), first);
    }

    #[test]
    fn different_starts_give_different_strings() {
        let a: HashSet<String> = colliding(0).take(100).collect();
        assert!(colliding(1 << 40).take(100).all(|k| !a.contains(&k)));
    }
}
