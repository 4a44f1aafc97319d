//! A reference-counted string interner: every string the store keeps (service and span names,
//! attribute keys and string values) lives here once, and spans hold 4-byte symbols. A string is
//! freed when the last span referring to it is evicted, so the interner never outgrows the
//! spans it serves.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::Arc;

use tracewire::Text;

use super::limits::truncate;
use super::table::TableSize;
use crate::hash::SeededMap;
use crate::ingest::StrRef;

/// An interned string's handle.
pub(crate) type Sym = u32;

struct Entry {
    s: Option<Arc<str>>,
    refs: u32,
    /// Bumped each time the symbol is freed, so a remembered `(symbol, generation)` pair tells
    /// whether the symbol still names the same string (it fits in `Entry`'s padding).
    generation: u32,
    /// The store's attribute index for this string as a key ([`NO_SLOT`] if none), so the
    /// write path reaches it from the symbol it just interned, with no map lookup. Cleared when
    /// the symbol is freed.
    key_slot: u32,
}

/// [`Entry::key_slot`] of a string with no attribute index.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// Sets of [`StaticSyms`], two slots each: a power of two, well above the distinct `'static`
/// strings a process's instrumentation uses (keys, span names, literal values), so that three of
/// them rarely share a set.
const STATIC_SETS: usize = 512;

/// Symbols of `'static` strings, found by the string's address and length: spans exported in
/// process carry the same literal keys, names and values span after span, so after the first
/// lookup such a string costs one slot compare instead of hashing and comparing its bytes. A
/// `'static` string's bytes never change, so its address names its text for the whole process;
/// a slot is used only while its symbol's generation is unchanged (the string was not freed),
/// and holds no reference of its own, so caching never keeps a string alive. Each set keeps its
/// two most recently missed strings, the newer first.
struct StaticSyms {
    /// `(address, length, symbol, generation)`; length `usize::MAX` when empty. A fixed-size
    /// array, so indexing by [`static_set`] needs no bounds check.
    slots: Box<[(usize, usize, Sym, u32); 2 * STATIC_SETS]>,
}

impl Default for StaticSyms {
    fn default() -> Self {
        StaticSyms {
            slots: Box::new([(0, usize::MAX, 0, 0); 2 * STATIC_SETS]),
        }
    }
}

/// The first slot of the set for a string at `addr` of `len` bytes.
fn static_set(addr: usize, len: usize) -> usize {
    let h = ((addr ^ len.rotate_left(40)) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    2 * ((h >> 32) as usize & (STATIC_SETS - 1))
}

/// An interned string as the map keys it: by its bytes, so a string value exported in process
/// is found from the bytes its `Text` keeps (valid UTF-8 by construction) without checking them
/// again; only a string the interner keeps for the first time is checked.
struct Key(Arc<str>);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes() == other.0.as_bytes()
    }
}

impl Eq for Key {}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

#[derive(Default)]
pub(crate) struct Interner {
    map: SeededMap<Key, Sym>,
    entries: Vec<Entry>,
    free: Vec<Sym>,
    /// Heap bytes of the strings themselves (Arc header + text), kept as a running total.
    string_bytes: usize,
    /// The size of `map`'s table (`capacity()` falls below it as strings are freed).
    map_table: TableSize<Arc<str>, Sym>,
    statics: StaticSyms,
}

/// What one `Arc<str>` of `len` bytes costs on the heap: two counters and the text, rounded up to
/// the allocator's 16-byte granule.
pub(crate) fn arc_str_bytes(len: usize) -> usize {
    (16 + len).next_multiple_of(16)
}

impl Interner {
    /// Interns `s`, taking one reference.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        match self.hit(s.as_bytes()) {
            Some(sym) => sym,
            None => self.insert(s),
        }
    }

    /// Takes one more reference to the symbol of the string with these bytes, if interned.
    #[inline]
    fn hit(&mut self, bytes: &[u8]) -> Option<Sym> {
        let sym = *self.map.get(bytes)?;
        self.entries[sym as usize].refs += 1;
        Some(sym)
    }

    /// Keeps `s`, not interned yet, with one reference.
    fn insert(&mut self, s: &str) -> Sym {
        let arc: Arc<str> = Arc::from(s);
        self.string_bytes += arc_str_bytes(s.len());
        let sym = match self.free.pop() {
            Some(sym) => {
                let e = &mut self.entries[sym as usize];
                e.s = Some(arc.clone());
                e.refs = 1;
                sym
            }
            None => {
                self.entries.push(Entry {
                    s: Some(arc.clone()),
                    refs: 1,
                    generation: 0,
                    key_slot: NO_SLOT,
                });
                (self.entries.len() - 1) as Sym
            }
        };
        self.map.insert(Key(arc), sym);
        self.map_table.inserted(self.map.capacity());
        sym
    }

    /// Interns `s` cut to at most `max` bytes (on a character boundary), looking `'static`
    /// strings up by address first and a [`StrRef::Text`] that needs no cut by its bytes.
    /// Inlined: a hit is a few instructions, and the call would cost as much (a miss goes to
    /// [`Interner::intern_static_miss`]).
    #[inline(always)]
    pub(crate) fn intern_ref(&mut self, s: StrRef<'_>, max: usize) -> Sym {
        let s: &'static str = match s {
            StrRef::Static(s) => s,
            StrRef::Other(s) => return self.intern(truncate(s, max)),
            StrRef::Text(t) => return self.intern_text(t, max),
        };
        let (addr, len) = (s.as_ptr() as usize, s.len());
        let set = static_set(addr, len);
        for slot in set..set + 2 {
            let (a, l, sym, generation) = self.statics.slots[slot];
            if a == addr && l == len {
                let e = &mut self.entries[sym as usize];
                if e.generation == generation {
                    e.refs += 1;
                    return sym;
                }
            }
        }
        self.intern_static_miss(s, set, max)
    }

    /// Interns a text cut to at most `max` bytes, found by its bytes when it needs no cut (its
    /// bytes are checked as UTF-8 only when it is kept for the first time).
    fn intern_text(&mut self, t: &Text, max: usize) -> Sym {
        if t.len() > max {
            return self.intern(truncate(t.as_str(), max));
        }
        match self.hit(t.as_bytes()) {
            Some(sym) => sym,
            None => self.insert(t.as_str()),
        }
    }

    /// Interns a `'static` string its set did not remember, and remembers it.
    #[cold]
    #[inline(never)]
    fn intern_static_miss(&mut self, s: &'static str, set: usize, max: usize) -> Sym {
        let (addr, len) = (s.as_ptr() as usize, s.len());
        let sym = self.intern(truncate(s, max));
        self.statics.slots[set + 1] = self.statics.slots[set];
        self.statics.slots[set] = (addr, len, sym, self.entries[sym as usize].generation);
        sym
    }

    /// Takes one more reference to an interned symbol.
    pub(crate) fn retain(&mut self, sym: Sym) {
        self.entries[sym as usize].refs += 1;
    }

    /// Drops one reference. The string is freed with the last, and its attribute-index slot
    /// returned (`Some(NO_SLOT)` if it had none); `None` while other references remain.
    /// Inlined: most releases only decrement (the last one goes to [`Interner::release_last`]).
    #[inline(always)]
    pub(crate) fn release(&mut self, sym: Sym) -> Option<u32> {
        let e = &mut self.entries[sym as usize];
        if e.refs > 1 {
            e.refs -= 1;
            return None;
        }
        self.release_last(sym)
    }

    /// [`Interner::release`] of a symbol's last reference: frees its string and clears its slot.
    #[cold]
    #[inline(never)]
    fn release_last(&mut self, sym: Sym) -> Option<u32> {
        let e = &mut self.entries[sym as usize];
        e.refs -= 1;
        if e.refs != 0 {
            return None;
        }
        if let Some(s) = e.s.take() {
            self.string_bytes -= arc_str_bytes(s.len());
            self.map.remove(s.as_bytes());
        }
        let slot = std::mem::replace(&mut e.key_slot, NO_SLOT);
        // A symbol freed 2^32 times is retired rather than let its generation wrap, so an
        // old `StaticSyms` slot can never match it again.
        if let Some(g) = e.generation.checked_add(1) {
            e.generation = g;
            self.free.push(sym);
        }
        Some(slot)
    }

    /// The attribute-index slot of a live symbol ([`NO_SLOT`] if it has none).
    #[inline]
    pub(crate) fn key_slot(&self, sym: Sym) -> u32 {
        self.entries[sym as usize].key_slot
    }

    /// Gives a live symbol its attribute-index slot.
    pub(crate) fn set_key_slot(&mut self, sym: Sym, slot: u32) {
        self.entries[sym as usize].key_slot = slot;
    }

    /// The symbol of `s`, if some live span uses it.
    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        self.map.get(s.as_bytes()).copied()
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
            let before = self.map.capacity();
            self.map.shrink_to_fit();
            self.map_table.shrunk(before, self.map.capacity());
        }
    }

    /// The most the map and the symbol table grow by if up to `new` strings are added: each
    /// doubles when full (the map may instead rebuild in place, dropping its tombstones), so a
    /// store near its byte budget counts that before it happens.
    pub(crate) fn growth_bytes(&self, new: usize) -> usize {
        let mut grow = 0;
        grow += self
            .map_table
            .growth(self.map.len(), self.map.capacity(), new);
        let pushed = new.saturating_sub(self.free.len());
        let (len, cap) = (self.entries.len(), self.entries.capacity());
        let need = len.saturating_add(pushed);
        if need > cap {
            // One push at a time: it doubles (from 4) as often as it takes.
            let mut to = cap.max(4);
            while to < need {
                to = to.saturating_mul(2);
            }
            grow += (to - cap).saturating_mul(size_of::<Entry>());
        }
        grow
    }

    /// Live strings.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Heap bytes: the strings, the map's table and the entry vector.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.string_bytes
            + self.map_table.bytes()
            + self.entries.capacity() * size_of::<Entry>()
            + self.free.capacity() * size_of::<Sym>()
            + size_of_val(&*self.statics.slots)
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
    use std::borrow::Cow;

    use super::*;

    impl Interner {
        #[expect(
            clippy::ptr_arg,
            reason = "whether the string is borrowed for 'static is what the lookup keys on"
        )]
        fn intern_cow(&mut self, s: &Cow<'static, str>, max: usize) -> Sym {
            self.intern_ref(s.into(), max)
        }
    }

    #[test]
    fn the_table_is_counted_at_its_size_while_removals_leave_tombstones() {
        // Strings come and go as spans are evicted: a removal from a full part of the table
        // leaves a tombstone that `capacity()` counts as used, but the table keeps its size
        // until it is rebuilt. Fill it, empty most of it, then replace strings one at a time.
        let mut i = Interner::default();
        let mut live: std::collections::VecDeque<Sym> =
            (0..1700).map(|n| i.intern(&format!("value-{n}"))).collect();
        let table = |i: &Interner| i.heap_bytes() - i.string_bytes;
        let mut last = table(&i);
        for n in 1700..40_000 {
            let sym = live.pop_front().expect("live strings");
            i.release(sym);
            assert!(table(&i) >= last, "the table shrank in the count at {n}");
            last = table(&i);
            if live.len() > 300 && n % 2 == 0 {
                continue;
            }
            // About to take a slot: what it may add is counted before it is added.
            let grow = i.growth_bytes(1);
            live.push_back(i.intern(&format!("value-{n}")));
            assert!(
                table(&i) <= last + grow,
                "{} bytes after an insert counted as {grow} more than {last}",
                table(&i)
            );
            last = table(&i);
        }
    }

    #[test]
    fn static_strings_are_found_by_address_only_while_their_symbol_lives() {
        let mut i = Interner::default();
        let key: Cow<'static, str> = Cow::Borrowed("http.route");
        let a = i.intern_cow(&key, usize::MAX);
        assert_eq!(
            i.intern_cow(&key, usize::MAX),
            a,
            "second lookup hits the slot"
        );
        assert_eq!(
            i.intern_cow(&Cow::Owned("http.route".into()), usize::MAX),
            a
        );
        assert_eq!(i.entries[a as usize].refs, 3);
        assert_eq!(i.release(a), None);
        assert_eq!(i.release(a), None);
        assert_eq!(
            i.release(a),
            Some(NO_SLOT),
            "the slot holds no reference of its own"
        );
        assert_eq!(i.len(), 0);
        let other = i.intern("other");
        assert_eq!(other, a, "the freed symbol is reused");
        let b = i.intern_cow(&key, usize::MAX);
        assert_ne!(b, a, "a stale slot is not trusted");
        assert_eq!(&**i.resolve(b), "http.route");
        assert_eq!(&**i.resolve(a), "other");
        assert_eq!(i.entries[a as usize].refs, 1);
        let long: Cow<'static, str> = Cow::Borrowed("abcdef");
        let c = i.intern_cow(&long, 3);
        assert_eq!(&**i.resolve(c), "abc");
        assert_eq!(i.intern_cow(&long, 3), c);
        assert_eq!(i.lookup("abc"), Some(c));
    }

    #[test]
    fn texts_are_found_by_their_bytes_and_cut_on_a_character_boundary() {
        use tracewire::Text;
        let mut i = Interner::default();
        let a = i.intern("checkout");
        let inline = Text::new("checkout");
        let shared = Text::new(&"x".repeat(40));
        assert_eq!(
            i.intern_ref(StrRef::Text(&inline), 64),
            a,
            "found by its bytes"
        );
        assert_eq!(i.entries[a as usize].refs, 2);
        let s = i.intern_ref(StrRef::Text(&shared), 64);
        assert_eq!(&**i.resolve(s), "x".repeat(40));
        assert_eq!(
            i.intern(&"x".repeat(40)),
            s,
            "a text kept first is found as a str"
        );
        // A new inline text with multi-byte characters is kept as it is, and cut on a
        // character boundary when over the limit: "é" is two bytes, so 5 bytes keep two.
        let accents = Text::new("ééé");
        let e = i.intern_ref(StrRef::Text(&accents), 64);
        assert_eq!(&**i.resolve(e), "ééé");
        let cut = i.intern_ref(StrRef::Text(&accents), 5);
        assert_eq!(&**i.resolve(cut), "éé");
        assert_eq!(i.lookup("éé"), Some(cut));
        assert_eq!(
            i.intern_ref(StrRef::Text(&accents), 6),
            e,
            "exactly the limit: no cut"
        );
        assert_eq!(i.len(), 4);
    }

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
    fn a_key_slot_lives_as_long_as_its_symbol_and_is_handed_back_with_the_last_reference() {
        let mut i = Interner::default();
        let a = i.intern("http.route");
        assert_eq!(i.key_slot(a), NO_SLOT);
        i.set_key_slot(a, 7);
        assert_eq!(i.intern("http.route"), a);
        assert_eq!(i.key_slot(a), 7);
        assert_eq!(i.release(a), None, "one reference left");
        assert_eq!(i.key_slot(a), 7);
        assert_eq!(i.release(a), Some(7), "freed: its slot comes back");
        let b = i.intern("user.id");
        assert_eq!(b, a, "the freed symbol is reused");
        assert_eq!(i.key_slot(b), NO_SLOT, "without the old string's slot");
        assert_eq!(i.release(b), Some(NO_SLOT));
    }

    #[test]
    fn strings_colliding_under_fxhash_spread_in_the_interner() {
        use std::hash::BuildHasher;
        let keys = crate::hash::tests::fx_colliding_keys(1000);
        let mut i = Interner::default();
        let syms: Vec<Sym> = keys.iter().map(|k| i.intern(k)).collect();
        let mut hashes: Vec<u64> = keys
            .iter()
            .map(|k| i.map.hasher().hash_one(k.as_bytes()))
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), 1000, "every key has its own hash");
        for (k, s) in keys.iter().zip(&syms) {
            assert_eq!(i.lookup(k), Some(*s));
            assert_eq!(&**i.resolve(*s), k.as_str());
        }
    }
}
