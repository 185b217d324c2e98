//! The in-process tier: quick_cache as the bounded map, with each entry's deadline, the
//! two bounds folded into one weight, the sweep that reclaims expired entries, and the
//! counters.
//!
//! Every write to a key happens while its flight stripe is locked (the `_lock` witness
//! arguments), so a `set`, a `del` and a load's completion of one key never interleave.
//! Values this tier lets go of are handed back to the caller, which drops them after its
//! locks: dropping a host value can run host code that calls back into the cache.

pub(crate) mod bounds;
pub(crate) mod entry;
pub(crate) mod expiry;
pub(crate) mod invalidations;
pub(crate) mod mirror;
pub(crate) mod table;

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use quick_cache::OptionsBuilder;

use crate::clock::Now;
use crate::error::{Error, Result};
use crate::load::flight::FlightMap;
use crate::stats::Counters;
use bounds::Bounds;
use entry::{Entry, EntryWeighter, Key, ReleasedEntries, Times};
use expiry::{Expiry, NEVER};
use invalidations::Invalidations;
use mirror::Mirror;
use table::Table;

/// What [`Memory::read_local`] found, once the map is no longer in use.
enum Local<R> {
    Hit(R),
    Kept,
    Expired,
    Absent,
}

/// What the in-process tier holds for a key.
pub(crate) enum Found<V> {
    /// A fresh copy that may be answered as it is (counted as a hit).
    Fresh(V),
    /// A fresh copy whose refresh ahead of expiry is due (counted as a hit).
    Aging(V),
    /// A fresh copy made while changes of other processes may have gone unannounced: ask
    /// the store first, answer this copy if the store cannot (counted by the caller).
    Unverified(V),
    /// An expired entry still kept for stale serving, or one older than the call's
    /// `max_age` (counted by the caller).
    Stale(Entry<V>),
    /// Nothing (counted as a miss).
    Absent,
}

pub(crate) struct Memory<V> {
    map: Table<V>,
    pub expiry: Arc<Expiry>,
    pub invalidations: Arc<Invalidations>,
    pub counters: Arc<Counters>,
    pub bounds: Bounds,
    /// The total weight held, kept by every write and removal: a write that would need room
    /// sweeps expired entries first instead of evicting a live one.
    weight: AtomicU64,
}

impl<V: Clone> Memory<V> {
    /// `shared`: a store is configured behind this tier. `serialized`: the host runs one
    /// call at a time (see [`table`]), and `mirrored`: it also keeps copies of what it
    /// reads (see [`mirror`]).
    pub fn new(
        max_entries: u64,
        bounds: Bounds,
        expiry: Expiry,
        shared: bool,
        serialized: bool,
        mirrored: bool,
    ) -> Result<Self> {
        let options = OptionsBuilder::new()
            .shards(bounds.shards)
            .estimated_items_capacity(max_entries.min(1 << 24) as usize)
            .weight_capacity(bounds.capacity)
            .hot_allocation(bounds.hot_allocation)
            .build()
            .map_err(|e| Error::invalid(format!("{e:?}")))?;
        let mirror = (serialized && mirrored).then(|| Arc::new(Mirror::new(max_entries)));
        Ok(Memory {
            map: Table::new(
                options,
                EntryWeighter(bounds.clone()),
                serialized,
                mirror.clone(),
            ),
            expiry: Arc::new(expiry),
            invalidations: Arc::new(Invalidations::new(shared, mirror)),
            counters: Arc::new(Counters::default()),
            bounds,
            weight: AtomicU64::new(0),
        })
    }

    /// The fresh value of `full`, counting one hit or one miss (an unverified copy counts
    /// nothing). This is the hit path (the caller checks `expiry.sweep_due_at` for
    /// housekeeping). `now` reads the precise clock only when its cheap bound cannot tell
    /// whether a time of the entry has been reached.
    #[inline]
    pub fn lookup(&self, full: &str, now: &mut Now<'_>, max_age: Option<u64>) -> Found<V> {
        match self.map.get(full) {
            Some(e) if e.fresh_at(now, max_age) => {
                if !self.invalidations.trusted(e.times.epoch) {
                    return Found::Unverified(e.value);
                }
                self.counters.hit();
                if now.reached(e.times.refresh_at()) {
                    Found::Aging(e.value)
                } else {
                    Found::Fresh(e.value)
                }
            }
            Some(e) if !now.reached(e.times.keep_until()) => Found::Stale(e),
            Some(_) => {
                self.counters.miss();
                self.remove_expired(full, now.exact());
                Found::Absent
            }
            None => {
                self.counters.miss();
                Found::Absent
            }
        }
    }

    /// The in-process tier alone (`Cache::get`): `f` of the fresh value of `full` (by
    /// reference where the map allows) and of how many milliseconds more it stays fresh at
    /// least, counting one hit or one miss. A copy made while changes of other processes
    /// may have gone unannounced is what this tier has: a hit. `f` runs while the map is in
    /// use.
    #[inline(always)]
    pub fn read_local<R>(
        &self,
        full: &str,
        now: &mut Now<'_>,
        max_age: Option<u64>,
        f: impl FnOnce(Cow<'_, V>, u64) -> R,
    ) -> Option<R> {
        let seen = self.map.get_with(full, |e| match e {
            Some(e) if e.fresh_at(now, max_age) => {
                let live = e.times.deadline.saturating_sub(now.bound());
                Local::Hit(f(
                    match e {
                        Cow::Borrowed(e) => Cow::Borrowed(&e.value),
                        Cow::Owned(e) => Cow::Owned(e.value),
                    },
                    live,
                ))
            }
            Some(e) if !now.reached(e.times.keep_until()) => Local::Kept,
            Some(_) => Local::Expired,
            None => Local::Absent,
        });
        match seen {
            Local::Hit(r) => {
                self.counters.hit();
                Some(r)
            }
            // Kept for stale serving: without a loader, absent.
            Local::Kept | Local::Absent => {
                self.counters.miss();
                None
            }
            Local::Expired => {
                self.counters.miss();
                self.remove_expired(full, now.exact());
                None
            }
        }
    }

    /// The host's copies (see [`mirror`]), if it keeps any.
    #[inline]
    pub fn mirror(&self) -> Option<&Arc<Mirror>> {
        self.map.mirror()
    }

    /// Fuller than three quarters of a bound: evictions may come soon, and the eviction
    /// policy must see every hit (a host's copy answers without telling it).
    #[inline]
    pub fn pressed(&self) -> bool {
        (self.weight.load(Relaxed) as u128) * 4 >= (self.bounds.capacity as u128) * 3
    }

    /// The entry of `full` if it is still kept (fresh or stale), counting nothing.
    pub fn peek_kept(&self, full: &str, now: u64) -> Option<Entry<V>> {
        self.map.peek(full).filter(|e| e.kept(now))
    }

    /// The live entry of `full`, counting nothing.
    pub fn peek_live(&self, full: &str, now: u64) -> Option<Entry<V>> {
        self.map.peek(full).filter(|e| e.live(now))
    }

    /// The fresh entry of `full` that may be answered without asking the store, counting
    /// nothing.
    pub fn peek_fresh(&self, full: &str, now: u64, max_age: Option<u64>) -> Option<Entry<V>> {
        self.map
            .peek(full)
            .filter(|e| e.fresh(now, max_age) && self.invalidations.trusted(e.times.epoch))
    }

    #[cold]
    fn remove_expired(&self, full: &str, now: u64) {
        if let Some((k, e)) = self.map.remove_if(full, |e| !e.kept(now)) {
            self.counters.expired(1);
            self.released(&k, &e);
        }
    }

    fn released(&self, k: &Key, e: &Entry<V>) {
        let bytes = k.len() as u64 + e.size;
        self.counters.add_bytes(-(bytes as i64));
        self.weight.fetch_sub(self.bounds.weight(bytes), Relaxed);
    }

    /// Stores an entry; the caller holds the key's stripe lock. Returns whether it was
    /// stored; what the map let go of is added to `released`, to be dropped after the lock
    /// (the caller's own list: a write moves no list of entries around).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn write(
        &self,
        lock: &FlightMap<V>,
        full: &str,
        value: V,
        size: u64,
        times: Times,
        now: u64,
        released: &mut ReleasedEntries<V>,
    ) -> bool {
        let key_bytes = full.len() as u64;
        if times.deadline <= now || self.bounds.check(key_bytes, size).is_err() {
            if times.deadline > now {
                self.counters.rejected();
            }
            if let Some(e) = self.remove(lock, full, now) {
                released.push((Key::from(full), e));
            }
            return false;
        }
        self.insert(full, value, size, times, now, released)
    }

    /// Keeps an expired value still within its stale window (read from the store while a
    /// refresh starts), so that this process's next callers can be served it; writes
    /// nothing when the key has an entry or the value is past its window or over a bound.
    #[allow(clippy::too_many_arguments)]
    pub fn write_kept(
        &self,
        lock: &FlightMap<V>,
        full: &str,
        value: V,
        size: u64,
        times: Times,
        now: u64,
        released: &mut ReleasedEntries<V>,
    ) -> bool {
        let key_bytes = full.len() as u64;
        if times.deadline > now
            || times.keep_until() <= now
            || self.bounds.check(key_bytes, size).is_err()
            || self.map.contains_key(full)
        {
            return false;
        }
        let _ = lock;
        self.insert(full, value, size, times, now, released)
    }

    #[inline(always)]
    fn insert(
        &self,
        full: &str,
        value: V,
        size: u64,
        times: Times,
        now: u64,
        released: &mut ReleasedEntries<V>,
    ) -> bool {
        let key_bytes = full.len() as u64;
        let weight = self.bounds.weight(key_bytes + size);
        if self.weight.load(Relaxed).saturating_add(weight) > self.bounds.capacity
            && self.expiry.any_expired(now)
        {
            // Room is needed: expired entries go first, whatever the sweep schedule says.
            self.sweep_collect(now, released);
        }
        // What the sweep released is counted already; the insert's releases follow it.
        let first = released.len();
        self.map
            .insert(Key::from(full), Entry { value, size, times }, released);
        self.expiry.note(times.keep_until());
        let (mut evicted, mut expired) = (0u64, 0u64);
        let mut own = 0;
        // What the releases free is added up here and counted once with the new entry (one
        // atomic add for the bytes and one for the weight per write, not two per release).
        let mut freed = 0u64;
        let mut freed_weight = 0u64;
        for (k, e) in released[first..].iter() {
            let bytes = k.len() as u64 + e.size;
            freed += bytes;
            freed_weight += self.bounds.weight(bytes);
            if k.as_str() == full {
                own += 1;
            } else if e.live(now) {
                evicted += 1;
            } else {
                expired += 1;
            }
        }
        // Releases of our own key: the value we replaced, then possibly the new value
        // itself if the policy evicted it at once (a key re-admitted from quick_cache's
        // ghost list has no old value, so one release can also be the new value).
        let stored = match own {
            0 => true,
            1 => self.map.contains_key(full),
            _ => false,
        };
        if !stored {
            evicted += 1;
        }
        self.counters
            .add_bytes((key_bytes + size) as i64 - freed as i64);
        // A write that replaces or evicts an entry of its own weight (the common case of a
        // full cache) changes nothing: no locked instruction for it.
        if weight > freed_weight {
            self.weight.fetch_add(weight - freed_weight, Relaxed);
        } else if weight < freed_weight {
            self.weight.fetch_sub(freed_weight - weight, Relaxed);
        }
        self.counters.evicted(evicted);
        self.counters.expired(expired);
        stored
    }

    pub fn remove(&self, _lock: &FlightMap<V>, full: &str, now: u64) -> Option<Entry<V>> {
        let (k, e) = self.map.remove(full)?;
        self.released(&k, &e);
        if !e.live(now) {
            self.counters.expired(1);
        }
        Some(e)
    }

    /// The live keys that start with `prefix`, without it.
    pub fn keys(&self, prefix: &str, now: u64) -> Vec<String> {
        let mut out = Vec::new();
        // Visited by reference: no value is cloned to list the keys.
        self.map.visit(|k, e| {
            if e.live(now) && k.starts_with(prefix) {
                out.push(k[prefix.len()..].to_string());
            }
        });
        out
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Visits every stored value by reference (Python's garbage collector walks them).
    pub fn for_each_value(&self, mut f: impl FnMut(&V)) {
        self.map.visit_if_idle(|_, e| f(&e.value));
    }

    /// Removes every entry under `prefix`; returns the values, to be dropped after the
    /// caller's locks.
    pub fn clear(&self, prefix: &str) -> Vec<V> {
        let graveyard = RefCell::new(Vec::new());
        self.map.retain(|k, e| {
            if k.starts_with(prefix) {
                graveyard.borrow_mut().push((k.clone(), e.clone()));
                false
            } else {
                true
            }
        });
        graveyard
            .into_inner()
            .into_iter()
            .map(|(k, e)| {
                self.released(&k, &e);
                e.value
            })
            .collect()
    }

    /// Removes every expired entry now. Returns how many it removed.
    pub fn purge_expired(&self, now: u64) -> usize {
        if self.expiry.any_expired(now) {
            self.sweep(now)
        } else {
            0
        }
    }

    #[cold]
    pub fn sweep(&self, now: u64) -> usize {
        let mut dead = ReleasedEntries::new();
        self.sweep_collect(now, &mut dead);
        dead.len()
    }

    /// Removes the expired entries and adds them to `out` (the caller drops them after its
    /// locks).
    fn sweep_collect(&self, now: u64, out: &mut ReleasedEntries<V>) {
        let Some(mut ticket) = self.expiry.begin_sweep(now) else {
            return;
        };
        let graveyard = RefCell::new(Vec::new());
        let min_survivor = Cell::new(NEVER);
        self.map.retain(|k, e| {
            if e.kept(now) {
                min_survivor.set(min_survivor.get().min(e.times.keep_until()));
                true
            } else {
                graveyard.borrow_mut().push((k.clone(), e.clone()));
                false
            }
        });
        ticket.min_survivor = min_survivor.get();
        drop(ticket);
        let dead = graveyard.into_inner();
        self.counters.expired(dead.len() as u64);
        for (k, e) in dead {
            self.released(&k, &e);
            out.push((k, e));
        }
    }
}
