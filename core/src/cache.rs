//! The cache: quick_cache as the bounded store, with expiry, single-flight loading,
//! accounting and namespaces on top.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use quick_cache::sync::Cache as Store;
use quick_cache::{DefaultHashBuilder, OptionsBuilder};

use crate::bounds::Bounds;
use crate::clock::Clock;
use crate::entry::{Counter, Entry, EntrySize, EntryWeighter, Key, Released, ReleasedEntries};
use crate::error::{Error, LoaderError, Result};
use crate::expiry::{parse_ttl, Expiry, DEFAULT_TTL_MS, NEVER};
use crate::flight::{self, Flight, FlightId, FlightMap, Flights, Waiter};
use crate::stats::{Counters, Stats};

/// How a cache is built. Every field has the SPEC's default.
#[derive(Clone, Debug)]
pub struct Config {
    /// At most this many entries (default 10 000).
    pub max_entries: u64,
    /// At most this many bytes of keys plus values.
    pub max_bytes: Option<u64>,
    /// A key longer than this (UTF-8 bytes) is not stored.
    pub max_key_bytes: Option<u64>,
    /// A value larger than this is not stored.
    pub max_value_bytes: Option<u64>,
    /// Default TTL in milliseconds (7 days).
    pub ttl: f64,
    /// Every TTL is capped to this many milliseconds.
    pub max_ttl: Option<f64>,
    /// Callers waiting for another caller's load give up after this many milliseconds.
    pub load_timeout: Option<f64>,
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_entries: 10_000,
            max_bytes: None,
            max_key_bytes: None,
            max_value_bytes: None,
            ttl: DEFAULT_TTL_MS as f64,
            max_ttl: None,
            load_timeout: None,
            clock: Clock::default(),
        }
    }
}

/// Options of one `get` that may load.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions<'a> {
    /// TTL of the loaded value in ms; the cache's default when `None`.
    pub ttl: Option<f64>,
    /// A stored value older than this (ms) counts as absent; 0 forces a new load.
    pub max_age: Option<f64>,
    /// How long to wait for another caller's load (ms); the cache's `load_timeout` when `None`.
    pub timeout: Option<f64>,
    /// Flights whose loader this call runs inside (kept by bindings for async loaders,
    /// where the thread does not tell).
    pub within: &'a [FlightId],
}

/// What `begin_load` found.
pub enum Lookup<V: Clone + Send + Sync + 'static> {
    /// A live value.
    Hit(V),
    /// No value and no load: this caller runs the loader and completes the guard.
    Lead(LoadGuard<V>),
    /// Another caller is loading: wait for its outcome.
    Wait(Waiter<V>),
}

type EntryStore<V> = Store<Key, Entry<V>, EntryWeighter, DefaultHashBuilder, Released>;

struct Inner<V> {
    store: EntryStore<V>,
    flights: Flights<V>,
    expiry: Expiry,
    counters: Counters,
    bounds: Bounds,
    clock: Clock,
    load_timeout: Option<Duration>,
}

/// A bounded TTL cache with single-flight loading. Cloning it is cheap and gives another
/// handle to the same cache.
pub struct Cache<V> {
    inner: Arc<Inner<V>>,
    /// Key prefix of a namespace view; empty for the cache itself.
    prefix: Box<str>,
}

impl<V> Clone for Cache<V> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

fn opt_limit(name: &str, v: Option<u64>) -> Result<Option<u64>> {
    match v {
        Some(0) if name == "max_bytes" => {
            Err(Error::invalid("max_bytes must be at least 1, got 0"))
        }
        other => Ok(other),
    }
}

impl<V: Clone + Send + Sync + 'static> Cache<V> {
    pub fn new(config: Config) -> Result<Self> {
        let bounds = Bounds::new(
            config.max_entries,
            opt_limit("max_bytes", config.max_bytes)?,
            config.max_key_bytes,
            config.max_value_bytes,
        )?;
        let ttl = parse_ttl("ttl", config.ttl)?;
        let max_ttl = config
            .max_ttl
            .map(|m| parse_ttl("max_ttl", m))
            .transpose()?;
        let load_timeout = config
            .load_timeout
            .map(|m| parse_ttl("load_timeout", m))
            .transpose()?
            .map(Duration::from_millis);
        let options = OptionsBuilder::new()
            .shards(bounds.shards)
            .estimated_items_capacity(config.max_entries.min(1 << 24) as usize)
            .weight_capacity(bounds.capacity)
            .hot_allocation(bounds.hot_allocation)
            .build()
            .map_err(|e| Error::invalid(format!("{e:?}")))?;
        let store = Store::with_options(
            options,
            EntryWeighter(bounds.clone()),
            DefaultHashBuilder::default(),
            Released,
        );
        Ok(Cache {
            inner: Arc::new(Inner {
                store,
                flights: Flights::new(),
                expiry: Expiry::new(ttl, max_ttl),
                counters: Counters::default(),
                bounds,
                clock: config.clock,
                load_timeout,
            }),
            prefix: "".into(),
        })
    }

    /// A view whose keys live under `name`: it sees only its own keys (and those of the
    /// namespaces made from it), and its `keys` and `clear` stay inside it.
    pub fn namespace(&self, name: &str) -> Result<Cache<V>> {
        if name.is_empty() {
            return Err(Error::invalid("a namespace name must not be empty"));
        }
        if name.contains(':') {
            return Err(Error::invalid(format!(
                "a namespace name must not contain ':', got {name:?}"
            )));
        }
        Ok(Cache {
            inner: self.inner.clone(),
            prefix: format!("{}{name}:", self.prefix).into(),
        })
    }

    #[inline]
    fn full_key<'k>(&self, key: &'k str) -> Cow<'k, str> {
        if self.prefix.is_empty() {
            Cow::Borrowed(key)
        } else {
            Cow::Owned(format!("{}{key}", self.prefix))
        }
    }

    #[inline]
    pub fn now(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    // ---------------------------------------------------------------- reads

    /// The live value of `key`, counting one hit or one miss.
    #[inline]
    pub fn get(&self, key: &str) -> Option<V> {
        self.lookup(&self.full_key(key), None)
    }

    /// Like [`Cache::get`], but a value older than `max_age` ms counts as absent.
    pub fn get_fresh(&self, key: &str, max_age: Option<f64>) -> Result<Option<V>> {
        let max_age = max_age.map(|m| parse_ttl("max_age", m)).transpose()?;
        Ok(self.lookup(&self.full_key(key), max_age))
    }

    #[inline]
    fn lookup(&self, full: &str, max_age: Option<u64>) -> Option<V> {
        let inner = &*self.inner;
        let found = inner.store.get(full);
        let now = self.now();
        if inner.expiry.sweep_due(now) {
            self.sweep(now);
        }
        match found {
            Some(e) if e.fresh(now, max_age) => {
                inner.counters.hit();
                Some(e.value)
            }
            Some(e) => {
                inner.counters.miss();
                if !e.live(now) {
                    self.remove_expired(full, now);
                }
                None
            }
            None => {
                inner.counters.miss();
                None
            }
        }
    }

    #[cold]
    fn remove_expired(&self, full: &str, now: u64) {
        let removed = self.inner.store.remove_if(full, |e| !e.live(now));
        if let Some((k, e)) = &removed {
            self.inner.counters.expired(1);
            self.inner
                .counters
                .add_bytes(-((k.len() as u64 + e.size) as i64));
        }
    }

    fn peek_live(&self, full: &str, now: u64) -> Option<Entry<V>> {
        self.inner.store.peek(full).filter(|e| e.live(now))
    }

    /// Whether `key` has a live value. Counts neither a hit nor a miss.
    pub fn has(&self, key: &str) -> bool {
        let now = self.now();
        self.peek_live(&self.full_key(key), now).is_some()
    }

    /// Milliseconds until `key` expires (`f64::INFINITY` if never), or `None` when absent.
    pub fn remaining_ttl(&self, key: &str) -> Option<f64> {
        let now = self.now();
        self.peek_live(&self.full_key(key), now).map(|e| {
            if e.deadline == NEVER {
                f64::INFINITY
            } else {
                (e.deadline - now) as f64
            }
        })
    }

    /// The live keys of this cache or namespace (without the namespace's prefix).
    pub fn keys(&self) -> Vec<String> {
        let now = self.now();
        self.inner
            .store
            .iter()
            .filter(|(k, e)| e.live(now) && k.starts_with(&*self.prefix))
            .map(|(k, _)| k[self.prefix.len()..].to_string())
            .collect()
    }

    /// Entries stored now (expired entries are swept first).
    pub fn len(&self) -> usize {
        self.purge_expired();
        if self.prefix.is_empty() {
            self.inner.store.len()
        } else {
            self.keys().len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters since the cache was made (shared by all namespaces of one cache).
    pub fn stats(&self) -> Stats {
        self.purge_expired();
        self.inner.counters.snapshot(self.inner.store.len() as u64)
    }

    /// True when the cache answers (an in-memory cache always does).
    pub fn ping(&self) -> bool {
        true
    }

    // ---------------------------------------------------------------- writes

    /// Stores `value` (of `size` bytes, as the caller measures it) under `key`. Returns
    /// false when nothing is stored: `ttl` 0, or an entry over a size limit (counted as
    /// `rejected`). Either way the key's previous value is gone: the newest write wins.
    pub fn set_sized(&self, key: &str, value: V, size: u64, ttl: Option<f64>) -> Result<bool> {
        let ttl = self.inner.expiry.resolve(ttl)?;
        let full = self.full_key(key);
        let now = self.now();
        let mut map = self.inner.flights.lock(&full);
        flight::supersede(&mut map, &full);
        let deadline = Expiry::deadline(now, ttl);
        let (stored, released) = self.write_locked(&map, &full, value, size, deadline, now, now);
        drop(map);
        drop(released);
        self.after_write(now);
        Ok(stored)
    }

    /// Removes `key`. Returns whether it had a live value.
    pub fn del(&self, key: &str) -> bool {
        let full = self.full_key(key);
        let now = self.now();
        let mut map = self.inner.flights.lock(&full);
        flight::supersede(&mut map, &full);
        let removed = self.remove_locked(&map, &full, now);
        drop(map);
        removed.is_some_and(|e| e.live(now))
    }

    /// Sets a new TTL on a live key; `ttl` 0 removes it. Returns whether the key was live.
    pub fn expire(&self, key: &str, ttl: f64) -> Result<bool> {
        let ttl = parse_ttl("ttl", ttl)?;
        let ttl = self.inner.expiry.resolve(Some(ttl as f64)).unwrap_or(ttl);
        let full = self.full_key(key);
        let now = self.now();
        let map = self.inner.flights.lock(&full);
        let Some(e) = self.peek_live(&full, now) else {
            return Ok(false);
        };
        if ttl == 0 {
            let removed = self.remove_locked(&map, &full, now);
            drop(map);
            drop(removed);
            return Ok(true);
        }
        let deadline = Expiry::deadline(now, ttl);
        let (_, released) = self.write_locked(&map, &full, e.value, e.size, deadline, e.born, now);
        drop(map);
        drop(released);
        Ok(true)
    }

    /// Removes every key of this cache (or only this namespace's keys). Loads in flight
    /// for those keys are not stored when they finish.
    pub fn clear(&self) {
        let prefix = &*self.prefix;
        {
            let mut maps = self.inner.flights.lock_all();
            for map in maps.iter_mut() {
                map.retain(|k, _| !k.starts_with(prefix));
            }
        }
        let graveyard = RefCell::new(Vec::new());
        let bytes = Cell::new(0u64);
        self.inner.store.retain(|k, e| {
            if k.starts_with(prefix) {
                // Keep the value alive past the store's lock: dropping a host value may
                // run host code that calls back into the cache.
                graveyard.borrow_mut().push(e.value.clone());
                bytes.set(bytes.get() + k.len() as u64 + e.size);
                false
            } else {
                true
            }
        });
        self.inner.counters.add_bytes(-(bytes.get() as i64));
        drop(graveyard);
    }

    /// Removes every expired entry now. Returns how many it removed.
    pub fn purge_expired(&self) -> usize {
        let now = self.now();
        if self.inner.expiry.any_expired(now) {
            self.sweep(now)
        } else {
            0
        }
    }

    #[cold]
    fn sweep(&self, now: u64) -> usize {
        let Some(mut ticket) = self.inner.expiry.begin_sweep(now) else {
            return 0;
        };
        let graveyard = RefCell::new(Vec::new());
        let bytes = Cell::new(0u64);
        let min_survivor = Cell::new(NEVER);
        self.inner.store.retain(|k, e| {
            if e.live(now) {
                min_survivor.set(min_survivor.get().min(e.deadline));
                true
            } else {
                graveyard.borrow_mut().push(e.value.clone());
                bytes.set(bytes.get() + k.len() as u64 + e.size);
                false
            }
        });
        ticket.min_survivor = min_survivor.get();
        drop(ticket);
        let n = graveyard.borrow().len();
        self.inner.counters.expired(n as u64);
        self.inner.counters.add_bytes(-(bytes.get() as i64));
        drop(graveyard);
        n
    }

    fn after_write(&self, now: u64) {
        if self.inner.expiry.sweep_due(now) {
            self.sweep(now);
        }
    }

    /// Stores an entry; the caller holds the key's stripe lock (`_map`). Returns whether it
    /// was stored and what the store let go of, to be dropped after the lock.
    #[allow(clippy::too_many_arguments)]
    fn write_locked(
        &self,
        _map: &FlightMap<V>,
        full: &str,
        value: V,
        size: u64,
        deadline: u64,
        born: u64,
        now: u64,
    ) -> (bool, ReleasedEntries<V>) {
        let inner = &*self.inner;
        let key_bytes = full.len() as u64;
        if deadline <= now || inner.bounds.check(key_bytes, size).is_err() {
            if deadline > now {
                inner.counters.rejected();
            }
            let mut released = ReleasedEntries::new();
            if let Some(e) = self.remove_locked(_map, full, now) {
                released.push((Key::from(full), e));
            }
            return (false, released);
        }
        let mut released = ReleasedEntries::new();
        inner.store.insert_with_lifecycle(
            Key::from(full),
            Entry {
                value,
                born,
                deadline,
                size,
            },
            &mut released,
        );
        inner.expiry.note(deadline);
        let (mut freed, mut evicted, mut expired) = (0u64, 0u64, 0u64);
        let mut own = 0;
        for (k, e) in &released {
            freed += k.len() as u64 + e.size;
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
            1 => inner.store.contains_key(full),
            _ => false,
        };
        if !stored {
            evicted += 1;
        }
        inner
            .counters
            .add_bytes((key_bytes + size) as i64 - freed as i64);
        inner.counters.evicted(evicted);
        inner.counters.expired(expired);
        (stored, released)
    }

    fn remove_locked(&self, _map: &FlightMap<V>, full: &str, now: u64) -> Option<Entry<V>> {
        let (k, e) = self.inner.store.remove(full)?;
        self.inner
            .counters
            .add_bytes(-((k.len() as u64 + e.size) as i64));
        if !e.live(now) {
            self.inner.counters.expired(1);
        }
        Some(e)
    }

    // ---------------------------------------------------------------- loading

    /// Looks `key` up and, when it has no fresh value, joins or starts its flight.
    pub fn begin_load(&self, key: &str, opts: &LoadOptions<'_>) -> Result<Lookup<V>> {
        let inner = &*self.inner;
        let ttl = inner.expiry.resolve(opts.ttl)?;
        let max_age = opts.max_age.map(|m| parse_ttl("max_age", m)).transpose()?;
        let timeout = match opts.timeout {
            Some(t) => Some(Duration::from_millis(parse_ttl("timeout", t)?)),
            None => inner.load_timeout,
        };
        let full = self.full_key(key);
        if let Some(v) = self.lookup(&full, max_age) {
            return Ok(Lookup::Hit(v));
        }
        let now = self.now();
        let mut map = inner.flights.lock(&full);
        // A load may have finished between the lookup and the lock.
        if let Some(e) = inner.store.peek(&*full).filter(|e| e.fresh(now, max_age)) {
            return Ok(Lookup::Hit(e.value));
        }
        if let Some(f) = map.get(&*full) {
            if opts.within.contains(&f.id) || flight::leading_here(f.id) {
                return Err(Error::Reentrant {
                    key: key.to_string(),
                });
            }
            return Ok(Lookup::Wait(Waiter {
                flight: f.clone(),
                timeout,
            }));
        }
        let flight = Flights::start(&mut map, &full);
        drop(map);
        inner.counters.load();
        Ok(Lookup::Lead(LoadGuard {
            cache: self.clone(),
            full: full.into_owned().into(),
            flight,
            ttl,
            finished: false,
        }))
    }

    /// Sets with the size the value reports (Rust callers).
    pub fn set(&self, key: &str, value: V, ttl: Option<f64>) -> Result<bool>
    where
        V: EntrySize,
    {
        let size = value.entry_size();
        self.set_sized(key, value, size, ttl)
    }

    /// The value of `key`, loading it with `loader` when absent: one loader per key however
    /// many threads ask; the others block until it finishes (or the load timeout passes).
    /// A loader that panics gives every caller an error, and nothing is stored.
    pub fn get_or_load<F>(&self, key: &str, opts: &LoadOptions<'_>, loader: F) -> Result<V>
    where
        V: EntrySize,
        F: FnOnce() -> std::result::Result<V, LoaderError>,
    {
        match self.begin_load(key, opts)? {
            Lookup::Hit(v) => Ok(v),
            Lookup::Wait(w) => w.wait(),
            Lookup::Lead(guard) => match catch_unwind(AssertUnwindSafe(|| guard.run(loader))) {
                Ok(Ok(v)) => {
                    let size = v.entry_size();
                    guard.complete(v, size)
                }
                Ok(Err(e)) => Err(guard.fail(e)),
                Err(panic) => Err(guard.abort(panic_message(&*panic))),
            },
        }
    }

    /// Async [`Cache::get_or_load`]: waiting callers await the flight (on any runtime), and
    /// blocking and async callers of one key share one flight.
    ///
    /// The load timeout is not applied here: a future that needs no particular runtime has
    /// no timer. Wrap the call in your runtime's timeout (`Waiter::timeout()` tells the
    /// configured one); the Python and Node packages arm their event loop's timers.
    pub async fn get_or_load_async<F, Fut>(
        &self,
        key: &str,
        opts: &LoadOptions<'_>,
        loader: F,
    ) -> Result<V>
    where
        V: EntrySize,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<V, LoaderError>>,
    {
        match self.begin_load(key, opts)? {
            Lookup::Hit(v) => Ok(v),
            Lookup::Wait(w) => w.await,
            Lookup::Lead(guard) => match loader().await {
                Ok(v) => {
                    let size = v.entry_size();
                    guard.complete(v, size)
                }
                Err(e) => Err(guard.fail(e)),
            },
        }
    }

    /// Adds `by` to the integer at `key` atomically; a missing key starts at 0 (with the
    /// default TTL); an existing key keeps its TTL.
    pub fn incr(&self, key: &str, by: i64) -> Result<i64>
    where
        V: Counter + EntrySize,
    {
        let full = self.full_key(key);
        let now = self.now();
        let mut map = self.inner.flights.lock(&full);
        let (n, deadline, size) = match self.peek_live(&full, now) {
            Some(e) => {
                let cur = e.value.as_counter().ok_or_else(|| {
                    Error::WrongType(format!("incr: the value at key {key:?} is not an integer"))
                })?;
                let n = cur.checked_add(by).ok_or_else(|| {
                    Error::invalid(format!("incr: {cur} + {by} overflows a 64-bit integer"))
                })?;
                (n, e.deadline, V::from_counter(n).entry_size())
            }
            None => {
                let ttl = self.inner.expiry.resolve(None)?;
                (
                    by,
                    Expiry::deadline(now, ttl),
                    V::from_counter(by).entry_size(),
                )
            }
        };
        flight::supersede(&mut map, &full);
        let (_, released) =
            self.write_locked(&map, &full, V::from_counter(n), size, deadline, now, now);
        drop(map);
        drop(released);
        Ok(n)
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("it panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("it panicked: {s}")
    } else {
        "it panicked".to_string()
    }
}

/// The right, and the duty, to load one key: call [`LoadGuard::complete`] with the value,
/// or [`LoadGuard::fail`] with the loader's error. Dropping it unfinished gives every
/// waiter a `loader_error`.
pub struct LoadGuard<V: Clone + Send + Sync + 'static> {
    cache: Cache<V>,
    full: Box<str>,
    flight: Arc<Flight<V>>,
    ttl: u64,
    finished: bool,
}

impl<V: Clone + Send + Sync + 'static> LoadGuard<V> {
    pub fn flight_id(&self) -> FlightId {
        self.flight.id
    }

    /// Runs `f` (the loader) marked as this flight's loader on this thread, so that a call
    /// for the same key from inside it fails with `reentrant` instead of waiting forever.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        flight::run_as_leader(self.flight.id, f)
    }

    /// Stores the loaded value (unless a write or a clear came first) and gives it to
    /// every waiter.
    pub fn complete(self, value: V, size: u64) -> Result<V> {
        self.complete_with_ttl(value, size, None)
    }

    /// Like [`LoadGuard::complete`], with a TTL computed from the value (ms), which takes
    /// the place of the call's.
    pub fn complete_with_ttl(mut self, value: V, size: u64, ttl: Option<f64>) -> Result<V> {
        let cache = &self.cache;
        let ttl = match ttl.map(|t| cache.inner.expiry.resolve(Some(t))).transpose() {
            Ok(t) => t.unwrap_or(self.ttl),
            Err(e) => {
                self.finish(Err(e.clone()));
                return Err(e);
            }
        };
        let now = cache.now();
        let mut map = cache.inner.flights.lock(&self.full);
        let current = map
            .get(&*self.full)
            .is_some_and(|f| Arc::ptr_eq(f, &self.flight));
        let mut released = ReleasedEntries::new();
        if current {
            map.remove(&*self.full);
            let deadline = Expiry::deadline(now, ttl);
            released = cache
                .write_locked(&map, &self.full, value.clone(), size, deadline, now, now)
                .1;
        }
        drop(map);
        drop(released);
        self.finish(Ok(value.clone()));
        self.cache.after_write(now);
        Ok(value)
    }

    /// Gives the loader's error to every waiter; nothing is stored. Returns the error for
    /// this caller.
    pub fn fail(mut self, error: LoaderError) -> Error {
        self.cache.inner.counters.load_error();
        let e = Error::Loader(error);
        self.finish(Err(e.clone()));
        e
    }

    /// Ends the flight because the loader panicked or was cancelled.
    pub fn abort(mut self, message: String) -> Error {
        self.cache.inner.counters.load_error();
        let e = Error::LoaderAborted {
            key: self.user_key().to_string(),
            message,
        };
        self.finish(Err(e.clone()));
        e
    }

    fn user_key(&self) -> &str {
        &self.full[self.cache.prefix.len()..]
    }

    fn finish(&mut self, outcome: Result<V>) {
        self.finished = true;
        if outcome.is_err() {
            let mut map = self.cache.inner.flights.lock(&self.full);
            if map
                .get(&*self.full)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                map.remove(&*self.full);
            }
        }
        self.flight.publish(outcome);
    }
}

impl<V: Clone + Send + Sync + 'static> Drop for LoadGuard<V> {
    fn drop(&mut self) {
        if !self.finished {
            self.cache.inner.counters.load_error();
            let e = Error::LoaderAborted {
                key: self.user_key().to_string(),
                message: "the load was dropped before it finished".into(),
            };
            self.finish(Err(e));
        }
    }
}
