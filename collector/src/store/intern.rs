//! A reference-counted string interner: every string the store keeps (service and span names,
//! attribute keys and string values) lives here once, and spans hold 4-byte symbols. A string is
//! freed when the last span referring to it is evicted, so the interner never outgrows the
//! spans it serves.

use std::mem::size_of;
use std::sync::Arc;

use crate::hash::SeededMap;

/// An interned string's handle.
pub(crate) type Sym = u32;

struct Entry {
    s: Option<Arc<str>>,
    refs: u32,
}

#[derive(Default)]
pub(crate) struct Interner {
    map: SeededMap<Arc<str>, Sym>,
    entries: Vec<Entry>,
    free: Vec<Sym>,
    /// Heap bytes of the strings themselves (Arc header + text), kept as a running total.
    string_bytes: usize,
}

/// What one `Arc<str>` of `len` bytes costs on the heap: two counters and the text, rounded up to
/// the allocator's 16-byte granule.
pub(crate) fn arc_str_bytes(len: usize) -> usize {
    (16 + len).next_multiple_of(16)
}

impl Interner {
    /// Interns `s`, taking one reference.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.map.get(s) {
            self.entries[sym as usize].refs += 1;
            return sym;
        }
        let arc: Arc<str> = Arc::from(s);
        self.string_bytes += arc_str_bytes(s.len());
        let entry = Entry {
            s: Some(arc.clone()),
            refs: 1,
        };
        let sym = match self.free.pop() {
            Some(sym) => {
                self.entries[sym as usize] = entry;
                sym
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as Sym
            }
        };
        self.map.insert(arc, sym);
        sym
    }

    /// Takes one more reference to an interned symbol.
    pub(crate) fn retain(&mut self, sym: Sym) {
        self.entries[sym as usize].refs += 1;
    }

    /// Drops one reference; the string is freed with the last (and `true` returned).
    pub(crate) fn release(&mut self, sym: Sym) -> bool {
        let e = &mut self.entries[sym as usize];
        e.refs -= 1;
        if e.refs == 0 {
            if let Some(s) = e.s.take() {
                self.string_bytes -= arc_str_bytes(s.len());
                self.map.remove(&*s);
            }
            self.free.push(sym);
            return true;
        }
        false
    }

    /// The symbol of `s`, if some live span uses it.
    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        self.map.get(s).copied()
    }

    /// The string of a live symbol.
    pub(crate) fn resolve(&self, sym: Sym) -> &Arc<str> {
        static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        self.entries[sym as usize]
            .s
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(|| Arc::from("")))
    }

    /// Releases spare capacity; an empty interner starts over.
    pub(crate) fn shrink(&mut self) {
        if self.map.is_empty() {
            *self = Interner::default();
        } else {
            self.map.shrink_to_fit();
        }
    }

    /// Live strings.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Heap bytes: the strings, the map's table and the entry vector.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.string_bytes
            + map_bytes::<Arc<str>, Sym>(self.map.capacity())
            + self.entries.capacity() * size_of::<Entry>()
            + self.free.capacity() * size_of::<Sym>()
    }
}

/// The heap bytes of a hashbrown table able to hold `capacity` items: buckets are the next power
/// of two of `capacity * 8 / 7`, each with one control byte and one `(K, V)` slot.
pub(crate) fn map_bytes<K, V>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        if capacity < 4 { 4 } else { 8 }
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    buckets * (size_of::<(K, V)>() + 1) + 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refcounts_free_strings_and_reuse_symbols() {
        let mut i = Interner::default();
        let a = i.intern("checkout");
        let b = i.intern("checkout");
        assert_eq!(a, b);
        assert_eq!(&**i.resolve(a), "checkout");
        let before = i.string_bytes;
        i.release(a);
        assert_eq!(i.lookup("checkout"), Some(a));
        i.release(a);
        assert_eq!(i.lookup("checkout"), None);
        assert_eq!(i.string_bytes, before - arc_str_bytes(8));
        let c = i.intern("payments");
        assert_eq!(c, a, "freed symbols are reused");
        assert_eq!(i.len(), 1);
    }

    #[test]
    fn strings_colliding_under_fxhash_spread_in_the_interner() {
        use std::hash::BuildHasher;
        let keys = crate::hash::tests::fx_colliding_keys(1000);
        let mut i = Interner::default();
        let syms: Vec<Sym> = keys.iter().map(|k| i.intern(k)).collect();
        let mut hashes: Vec<u64> = keys.iter().map(|k| i.map.hasher().hash_one(k)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), 1000, "every key has its own hash");
        for (k, s) in keys.iter().zip(&syms) {
            assert_eq!(i.lookup(k), Some(*s));
            assert_eq!(&**i.resolve(*s), k.as_str());
        }
    }
}
