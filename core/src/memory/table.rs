//! The map under the in-process tier, in one of two forms.
//!
//! A cache that Rust code may call from many threads at once keeps quick_cache's locked
//! map. A cache whose host already lets only one call run at a time (the JS thread of a
//! Node cache, the GIL of a Python one) keeps quick_cache's map without locks: the lock
//! of the locked map costs a hit two locked instructions, which on x86 wait for every
//! earlier memory access, so consecutive hits on random keys could not overlap their cache
//! misses (raw quick_cache, 100,000 random keys: 87–112 ns per hit locked against 61–78 ns
//! unlocked on the development machine, the unlocked one still cloning the value).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use quick_cache::sync::Cache as SharedMap;
use quick_cache::unsync::Cache as LocalMap;
use quick_cache::{DefaultHashBuilder, Options};

use super::entry::{Entry, EntryWeighter, Key, Released, ReleasedEntries};
use super::mirror::Mirror;

type Shared<V> = SharedMap<Key, Entry<V>, EntryWeighter, DefaultHashBuilder, Released>;
type Local<V> = LocalMap<Key, Entry<V>, EntryWeighter, DefaultHashBuilder, Released>;

// One table per cache: boxing the larger form would put one more pointer between a hit
// and the map.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Table<V> {
    /// Locked shards: calls from any threads at once.
    Shared(Shared<V>),
    /// One map without a lock, for a host that runs one call at a time.
    Serialized(Serialized<V>),
}

/// The unlocked map. A `RefCell` and not an `UnsafeCell`: every borrow ends inside the
/// method that takes it (no host code runs in between), so a borrow that finds another
/// is a bug, and it panics instead of corrupting the map. With a `mirror`, every change
/// is announced to the host's copies (see [`super::mirror`]).
pub(crate) struct Serialized<V> {
    map: RefCell<Local<V>>,
    mirror: Option<Arc<Mirror>>,
}

// SAFETY: a `Serialized` table is made only by `Cache::new_serialized`, whose caller
// promises that no two calls on the cache run at the same time and that each call sees
// what the previous ones did (the host's own lock or single thread orders them). Under
// that promise the `RefCell` is never touched by two threads at once, and its values move
// between threads only as a `Send` value may.
unsafe impl<V: Send> Sync for Serialized<V> {}

impl<V: Clone> Table<V> {
    /// `serialized`: the unlocked form, with `mirror` if given (the locked form has none).
    pub fn new(
        options: Options,
        weighter: EntryWeighter,
        serialized: bool,
        mirror: Option<Arc<Mirror>>,
    ) -> Self {
        if serialized {
            Table::Serialized(Serialized {
                map: RefCell::new(LocalMap::with_options(
                    options,
                    weighter,
                    DefaultHashBuilder::default(),
                    Released,
                )),
                mirror,
            })
        } else {
            Table::Shared(SharedMap::with_options(
                options,
                weighter,
                DefaultHashBuilder::default(),
                Released,
            ))
        }
    }

    /// A copy of the entry of `full`, marking it used (the eviction policy counts it).
    #[inline]
    pub fn get(&self, full: &str) -> Option<Entry<V>> {
        self.get_with(full, |e| e.map(Cow::into_owned))
    }

    /// `f` of the entry of `full`, marking it used: by reference from the unlocked map
    /// (borrowed while `f` runs), as the copy the locked map makes (which `f` may keep).
    #[inline(always)]
    pub fn get_with<R>(&self, full: &str, f: impl FnOnce(Option<Cow<'_, Entry<V>>>) -> R) -> R {
        // `f` called from one place, so that it is inlined (from two, it was not, and the
        // locked map's hit took 21 instructions more).
        let borrowed;
        let found = match self {
            Table::Shared(m) => m.get(full).map(Cow::Owned),
            Table::Serialized(m) => {
                borrowed = m.map.borrow();
                borrowed.get(full).map(Cow::Borrowed)
            }
        };
        f(found)
    }

    /// A copy of the entry of `full`, leaving the policy as it is.
    #[inline]
    pub fn peek(&self, full: &str) -> Option<Entry<V>> {
        match self {
            Table::Shared(m) => m.peek(full),
            Table::Serialized(m) => m.map.borrow().peek(full).cloned(),
        }
    }

    pub fn contains_key(&self, full: &str) -> bool {
        match self {
            Table::Shared(m) => m.contains_key(full),
            Table::Serialized(m) => m.map.borrow().contains_key(full),
        }
    }

    pub fn remove(&self, full: &str) -> Option<(Key, Entry<V>)> {
        match self {
            Table::Shared(m) => m.remove(full),
            Table::Serialized(m) => m.removed(full, m.map.borrow_mut().remove(full)),
        }
    }

    pub fn remove_if(
        &self,
        full: &str,
        f: impl FnOnce(&Entry<V>) -> bool,
    ) -> Option<(Key, Entry<V>)> {
        match self {
            Table::Shared(m) => m.remove_if(full, f),
            Table::Serialized(m) => m.removed(full, m.map.borrow_mut().remove_if(full, f)),
        }
    }

    /// Stores an entry; what the map lets go of (the replaced value, evicted entries) is
    /// added to `released`.
    #[inline(always)]
    pub fn insert(&self, key: Key, entry: Entry<V>, released: &mut ReleasedEntries<V>) {
        match self {
            Table::Shared(m) => m.insert_with_lifecycle(key, entry, released),
            Table::Serialized(m) => {
                // One call of the map's insert (from two, the entry was copied through the
                // stack first: +33 instructions on a Rust set, which never has a mirror).
                let mirror = m.copied_mirror();
                let slot = mirror.map(|mirror| mirror.slot(key.as_str()));
                let first = released.len();
                m.map
                    .borrow_mut()
                    .insert_with_lifecycle(key, entry, released);
                if let (Some(mirror), Some(slot)) = (mirror, slot) {
                    inserted(mirror, slot, &released[first..]);
                }
            }
        }
    }

    /// Keeps the entries for which `f` is true; the others are dropped inside (the caller
    /// keeps a copy of any value whose last reference must be dropped later).
    pub fn retain(&self, f: impl Fn(&Key, &Entry<V>) -> bool) {
        match self {
            Table::Shared(m) => m.retain(f),
            Table::Serialized(m) => {
                let dropped = Cell::new(false);
                m.map.borrow_mut().retain(|k, e| {
                    let keep = f(k, e);
                    dropped.set(dropped.get() || !keep);
                    keep
                });
                if let (true, Some(mirror)) = (dropped.get(), m.copied_mirror()) {
                    mirror.bump_epoch();
                }
            }
        }
    }

    /// Visits every entry by reference, changing nothing.
    pub fn visit(&self, mut f: impl FnMut(&Key, &Entry<V>)) {
        match self {
            // The locked map visits by reference only through `retain`.
            Table::Shared(m) => {
                let f = RefCell::new(f);
                m.retain(|k, e| {
                    (f.borrow_mut())(k, e);
                    true
                })
            }
            Table::Serialized(m) => m.map.borrow().iter().for_each(|(k, e)| f(k, e)),
        }
    }

    /// [`Table::visit`] for Python's garbage collector, which may walk the cache from
    /// inside any allocation: a map that is in use at that moment is not walked. Not
    /// reporting the cache's references only keeps objects alive.
    pub fn visit_if_idle(&self, f: impl FnMut(&Key, &Entry<V>)) {
        match self {
            Table::Serialized(m) if m.map.try_borrow().is_err() => {}
            _ => self.visit(f),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Table::Shared(m) => m.len(),
            Table::Serialized(m) => m.map.borrow().len(),
        }
    }

    /// The host's copies, if it keeps any.
    pub fn mirror(&self) -> Option<&Arc<Mirror>> {
        match self {
            Table::Shared(_) => None,
            Table::Serialized(m) => m.mirror.as_ref(),
        }
    }
}

/// A key written to a mirrored table: its slot is bumped, and if the write let another key go
/// (an eviction), the epoch, so that the host drops its copies, values included.
#[inline(never)]
fn inserted<V>(mirror: &Mirror, slot: usize, released: &[(Key, Entry<V>)]) {
    mirror.bump_slot(slot);
    if released
        .iter()
        .any(|(k, _)| mirror.slot(k.as_str()) != slot)
    {
        mirror.bump_epoch();
    }
}

impl<V> Serialized<V> {
    /// The mirror, if the host may hold copies: before its first copy, changes need no bump.
    #[inline]
    fn copied_mirror(&self) -> Option<&Arc<Mirror>> {
        self.mirror.as_ref().filter(|m| m.copied())
    }

    #[inline]
    fn removed(&self, full: &str, r: Option<(Key, Entry<V>)>) -> Option<(Key, Entry<V>)> {
        if let (Some(_), Some(mirror)) = (&r, self.copied_mirror()) {
            mirror.bump(full);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::bounds::Bounds;
    use crate::memory::entry::Times;
    use quick_cache::OptionsBuilder;

    fn serialized() -> Table<u64> {
        let bounds = Bounds::new(100, None, None, None, Some(1)).unwrap();
        let options = OptionsBuilder::new()
            .estimated_items_capacity(100)
            .weight_capacity(bounds.capacity)
            .build()
            .unwrap();
        let table = Table::new(options, EntryWeighter(bounds), true, None);
        for (i, k) in ["a", "b", "c"].into_iter().enumerate() {
            let times = Times::new(0, 1_000, 1_000, u64::MAX, 0, 0);
            table.insert(
                Key::from(k),
                Entry {
                    value: i as u64,
                    size: 8,
                    times,
                },
                &mut ReleasedEntries::new(),
            );
        }
        table
    }

    #[test]
    fn a_walk_that_comes_while_the_map_is_changing_is_skipped() {
        let table = serialized();
        let mut walked = 0;
        table.visit_if_idle(|_, _| walked += 1);
        assert_eq!(walked, 3, "walked when idle");
        table.retain(|_, _| {
            table.visit_if_idle(|_, _| panic!("walked a map in the middle of a change"));
            true
        });
        assert_eq!(table.len(), 3);
    }

    #[test]
    #[should_panic(expected = "already borrowed")]
    fn a_change_from_inside_a_use_of_the_map_panics_instead_of_corrupting_it() {
        let table = serialized();
        table.visit(|_, _| {
            table.remove("a");
        });
    }
}
