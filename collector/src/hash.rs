//! Hashers for the store's maps.
//!
//! Keys that senders choose (service, operation and attribute strings, trace ids, attribute
//! values) go through [`SeededState`]: foldhash keyed with a seed drawn from the operating
//! system once per process and mixed with a counter per map, so nobody outside the process can
//! compute which keys collide. Keys the store generates itself (interned symbols, which are small
//! consecutive integers) use [`FxHasher`], which is faster and cannot be steered by a sender.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::SharedSeed;
use foldhash::fast::{FoldHasher, SeedableRandomState};

/// FxHash, as used by rustc: for keys the store generates.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A final avalanche so hashbrown's top-7-bit control bytes are well spread.
        let mut z = self.hash;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 33)
    }
}

/// The `BuildHasher` for [`FxHasher`].
pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// A map keyed by something the store generates (symbols).
pub(crate) type SymMap<K, V> = HashMap<K, V, FxBuild>;

/// A map keyed by something a sender chose.
pub(crate) type SeededMap<K, V> = HashMap<K, V, SeededState>;

/// The process's secret: 64 bits from the operating system, drawn once.
fn shared_seed() -> &'static SharedSeed {
    static SHARED: OnceLock<SharedSeed> = OnceLock::new();
    SHARED.get_or_init(|| SharedSeed::from_u64(os_random()))
}

fn os_random() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness (a sandbox without getrandom): fall back to the clock and an
        // address, weaker but still unknown to a remote sender.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let addr = std::ptr::addr_of!(b) as u64;
        return t ^ addr.rotate_left(32);
    }
    u64::from_le_bytes(b)
}

/// foldhash keyed with the process's secret seed and a distinct per-map seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeededState(SeedableRandomState);

impl Default for SeededState {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // A Weyl sequence: distinct per map, mixed by foldhash with the secret.
        let per_map = NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        SeededState(SeedableRandomState::with_seed(per_map, shared_seed()))
    }
}

impl BuildHasher for SeededState {
    type Hasher = FoldHasher;

    #[inline]
    fn build_hasher(&self) -> FoldHasher {
        self.0.build_hasher()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    use super::*;

    /// `n` distinct 24-byte ASCII strings with the same FxHash: the first two 8-byte words are
    /// free, and the third is chosen to bring the hasher's state to the same value. A state is
    /// usable when that third word comes out as ASCII (one try in 256).
    pub(crate) fn fx_colliding_keys(n: usize) -> Vec<String> {
        const TARGET: u64 = 0x2a2a_2a2a_2a2a_2a2a;
        let mut out = Vec::with_capacity(n);
        let mut i: u64 = 0;
        while out.len() < n {
            // Two words of lowercase letters spelling out `i` in base 26.
            let mut w = [b'a'; 16];
            let mut x = i;
            for b in w.iter_mut() {
                *b = b'a' + (x % 26) as u8;
                x /= 26;
            }
            i += 1;
            let w1 = u64::from_le_bytes(w[..8].try_into().unwrap_or([0; 8]));
            let w2 = u64::from_le_bytes(w[8..].try_into().unwrap_or([0; 8]));
            let mut h = FxHasher::default();
            h.add(w1);
            h.add(w2);
            let w3 = h.hash.rotate_left(5) ^ TARGET;
            if w3 & 0x8080_8080_8080_8080 != 0 {
                continue;
            }
            let mut s = w.to_vec();
            s.extend_from_slice(&w3.to_le_bytes());
            if let Ok(s) = String::from_utf8(s) {
                out.push(s);
            }
        }
        out
    }

    thread_local! {
        static EQ_CALLS: Cell<u64> = const { Cell::new(0) };
    }

    /// A string key that counts how often the map compares it: the work a lookup does.
    struct Counted(String);

    impl std::hash::Hash for Counted {
        fn hash<H: Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }

    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            EQ_CALLS.set(EQ_CALLS.get() + 1);
            self.0 == other.0
        }
    }

    impl Eq for Counted {}

    /// Key comparisons made while inserting every key and looking each one up again.
    fn comparisons<S: BuildHasher + Default>(keys: &[String]) -> u64 {
        EQ_CALLS.set(0);
        let mut map: HashMap<Counted, usize, S> = HashMap::default();
        for (i, k) in keys.iter().enumerate() {
            map.insert(Counted(k.clone()), i);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(map.get(&Counted(k.clone())), Some(&i));
        }
        EQ_CALLS.get()
    }

    #[test]
    fn colliding_keys_really_collide_under_fxhash() {
        let keys = fx_colliding_keys(64);
        let fx = FxBuild::default();
        let first = fx.hash_one(&keys[0]);
        assert!(keys.iter().all(|k| fx.hash_one(k) == first));
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 64);
        assert!(keys.iter().all(|k| k.len() == 24 && k.is_ascii()));
    }

    #[test]
    fn colliding_keys_cost_quadratic_work_under_fxhash_and_linear_work_seeded() {
        let n = 2000u64;
        let keys = fx_colliding_keys(n as usize);
        // FxHash: every key lands in one probe sequence, so each insert and lookup compares it
        // with the keys before it: about n² comparisons in all.
        let fx = comparisons::<FxBuild>(&keys);
        assert!(fx >= n * (n - 1) / 2, "FxHash made only {fx} comparisons");
        // Seeded: a lookup compares only keys whose 7-bit tag matches in the probed group: one
        // successful comparison per lookup plus a few false tag matches.
        let seeded = comparisons::<SeededState>(&keys);
        assert!(seeded <= 2 * n, "seeded hasher made {seeded} comparisons");
    }

    #[test]
    fn seeded_hashes_of_colliding_keys_are_spread() {
        let keys = fx_colliding_keys(1000);
        let s = SeededState::default();
        let mut hashes: Vec<u64> = keys.iter().map(|k| s.hash_one(k)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), 1000);
        // Two maps do not share a hash function.
        let other = SeededState::default();
        assert_ne!(s.hash_one(&keys[0]), other.hash_one(&keys[0]));
    }
}
