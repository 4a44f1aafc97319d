//! The per-thread id generator: xoshiro256++ seeded from the OS, reseeded after `fork`.
//!
//! A forked child starts with a copy of the parent's memory, generator state included, so
//! without care parent and child would hand out the same ids. The generators remember the
//! process they were seeded in; when the process id changes, a process-wide generation counter
//! moves and every thread's generator reseeds on its next use. Reading the process id is a
//! system call, so it is done on cold paths only: when a thread seeds, when a pipeline, a layer
//! or the setup is built (what a child that sets itself up again runs first), and once every
//! [`CHECK_EVERY`] ids per thread — so even a child that just carries on hands out at most that
//! many ids from the copied state. The hot path adds one relaxed atomic load.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// How many ids a thread generates between two process-id checks.
const CHECK_EVERY: u32 = 1024;

/// Moves when the process is found to have forked; a generator seeded under another value
/// reseeds before its next id. Starts at 1 so a fresh thread (generation 0) seeds.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// The process the generators were seeded in (0 before the first check).
static SEEDED_PID: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy)]
struct Generator {
    state: [u64; 4],
    generation: u64,
    until_check: u32,
}

thread_local! {
    static RNG: Cell<Generator> = const {
        Cell::new(Generator { state: [0; 4], generation: 0, until_check: 0 })
    };
}

/// Checks whether this is still the process the generators were seeded in; if not (a forked
/// child), makes every generator reseed. A system call: for cold paths.
pub(crate) fn check_fork() {
    note_pid(std::process::id());
}

fn note_pid(pid: u32) {
    let before = SEEDED_PID.swap(pid, Ordering::Relaxed);
    if before != 0 && before != pid {
        GENERATION.fetch_add(1, Ordering::Relaxed);
    }
}
fn seed() -> [u64; 4] {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // The OS source is unavailable (very early boot, exotic sandbox): fall back to std's
        // per-process random hasher keys mixed with the time and thread, which is still unique
        // per thread and unpredictable enough for trace ids (they are not secrets).
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write(format!("{:?}", std::thread::current().id()).as_bytes());
        let mut x = h.finish();
        for chunk in bytes.chunks_exact_mut(8) {
            x = splitmix64(&mut x);
            chunk.copy_from_slice(&x.to_le_bytes());
        }
    }
    let mut s = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        s[i] = u64::from_le_bytes(chunk.try_into().unwrap_or([1; 8]));
    }
    if s == [0; 4] {
        s[0] = 0x9e37_79b9_7f4a_7c15;
    }
    s
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One xoshiro256++ step.
fn step(s: &mut [u64; 4]) -> u64 {
    let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
    let t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(45);
    result
}

/// Runs `f` on the calling thread's generator, reseeded first if needed.
#[inline]
fn with_generator<R>(f: impl FnOnce(&mut [u64; 4]) -> R) -> R {
    RNG.with(|cell| {
        let mut g = cell.get();
        if g.until_check == 0 {
            check_fork();
            g.until_check = CHECK_EVERY;
        }
        g.until_check -= 1;
        let generation = GENERATION.load(Ordering::Relaxed);
        if g.generation != generation {
            g.state = seed();
            g.generation = generation;
        }
        let result = f(&mut g.state);
        cell.set(g);
        result
    })
}

/// The next 64 random bits from the calling thread's generator.
pub(crate) fn next_u64() -> u64 {
    with_generator(step)
}

/// The next 128 random bits from the calling thread's generator.
pub(crate) fn next_u128() -> u128 {
    with_generator(|s| (u128::from(step(s)) << 64) | u128::from(step(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Generator {
        RNG.with(Cell::get)
    }

    #[test]
    fn threads_get_distinct_streams() {
        let a = std::thread::spawn(next_u128).join().unwrap();
        let b = std::thread::spawn(next_u128).join().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_new_process_id_reseeds_the_generator() {
        let _ = next_u64();
        // What this thread would hand out next from its current state: what a forked child
        // would repeat.
        let mut copied = state().state;
        let parent_next = [step(&mut copied), step(&mut copied)];
        // As if this were a forked child: the process id differs from the one seeded in.
        let generation = GENERATION.load(Ordering::Relaxed);
        note_pid(std::process::id().wrapping_add(1));
        check_fork();
        assert!(GENERATION.load(Ordering::Relaxed) > generation);
        let child_next = [next_u64(), next_u64()];
        assert_ne!(child_next, parent_next);
        assert_eq!(SEEDED_PID.load(Ordering::Relaxed), std::process::id());
    }

    #[test]
    fn the_process_id_is_checked_every_so_many_ids() {
        // Start a fresh check period in a thread of its own.
        std::thread::spawn(|| {
            let _ = next_u64();
            assert_eq!(state().until_check, CHECK_EVERY - 1);
            // A fork that no cold path noticed: the stored id is another process's. (Tests
            // running in parallel may notice it first, on a cold path of theirs; then the
            // generation has moved already and this thread reseeds on its next id all the same.)
            let before = GENERATION.load(Ordering::Relaxed);
            SEEDED_PID.store(std::process::id().wrapping_add(1), Ordering::Relaxed);
            for _ in 1..CHECK_EVERY {
                let _ = next_u64();
            }
            assert_eq!(state().until_check, 0);
            let _ = next_u64();
            // The check ran on this id: a new period started, and the fork was noticed.
            assert_eq!(state().until_check, CHECK_EVERY - 1);
            assert_eq!(SEEDED_PID.load(Ordering::Relaxed), std::process::id());
            assert!(
                state().generation > before,
                "reseeded in a generation after the fork"
            );
        })
        .join()
        .unwrap();
    }
}
