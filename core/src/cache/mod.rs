//! The cache as callers see it: every operation, over the in-process tier, the flights, and
//! the shared store when one is configured.
//!
//! Calls that may need the store return a [`Lookup`] or an [`Op`]: an operation the
//! caller drives on its own thread (see [`crate::load`]). Calls that never do return their
//! answer.

use std::borrow::Cow;
use std::sync::Arc;

use crate::clock::{Clock, Now};
use crate::error::{Error, Result};
use crate::host::{Cacheable, Host, Plain};
use crate::load::driver::{Answer, Op};
use crate::load::flight::{self, Flight, Flights};
use crate::load::options::{LoadOptions, Ttl};
use crate::load::policy::Failures;
use crate::memory::bounds::Bounds;
use crate::memory::entry::{ReleasedEntries, Times};
use crate::memory::expiry::{parse_ttl, Expiry, NEVER};
use crate::memory::invalidations::Seen;
use crate::memory::mirror::MirrorBlock;
use crate::memory::{Found, Memory};
use crate::settings::{Config, Settings};
use crate::stats::Stats;
use crate::store::tier::Tier;
use crate::value::envelope::{Body, Envelope};
use crate::value::{codec, Value};

mod copy;

pub(crate) struct Inner<V> {
    pub memory: Memory<V>,
    pub flights: Flights<V>,
    pub settings: Settings,
    pub tier: Option<Tier>,
    pub failures: Failures,
}

/// A bounded TTL cache with single-flight loading, optionally in front of a shared store.
/// Cloning it is cheap and gives another handle to the same cache.
pub struct Cache<V> {
    pub(crate) inner: Arc<Inner<V>>,
    /// Key prefix of a namespace view; empty for the cache itself.
    pub(crate) prefix: Box<str>,
}

impl<V> Clone for Cache<V> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

/// A handle that does not keep its cache alive ([`Cache::downgrade`]).
pub struct WeakCache<V>(std::sync::Weak<Inner<V>>);

impl<V> WeakCache<V> {
    pub fn upgrade(&self) -> Option<Cache<V>> {
        self.0.upgrade().map(|inner| Cache {
            inner,
            prefix: "".into(),
        })
    }

    pub fn is_dead(&self) -> bool {
        self.0.strong_count() == 0
    }
}

/// What a read found at once, or the operation that will find it.
pub enum Lookup<V: Clone + 'static> {
    /// A fresh value in the in-process tier.
    Hit(V),
    /// Nothing, and no store to ask.
    Absent,
    /// The rest needs the store or a loader: drive the operation.
    Pending(Op<V>),
}

/// What a write did at once, or the operation that finishes it in the store.
pub enum Written<V: Clone + 'static> {
    /// No store: the write is done; whether the value was stored.
    Done(bool),
    /// The in-process tier is written; drive the operation for the store's answer.
    Pending(Op<V>),
}

impl<V: Clone + 'static> Written<V> {
    /// Waits for the answer (Rust callers).
    pub fn wait(self, host: &mut dyn Host<V>) -> Result<bool> {
        match self {
            Written::Done(stored) => Ok(stored),
            Written::Pending(op) => op.wait(host)?.into_bool(),
        }
    }
}

impl<V: Clone + 'static> Cache<V> {
    pub fn new(config: Config) -> Result<Self> {
        Self::build(config, false, false)
    }

    /// A cache for a host that runs one call at a time: its in-process tier takes no lock
    /// (a hit makes no locked instruction; see `memory::table`).
    ///
    /// # Safety
    /// No two calls on this cache, its clones or its namespace views may run at the same
    /// time, and each call must see what the calls before it did: the caller orders them
    /// (one thread, or a lock held across every call, such as Python's GIL). A call that
    /// runs host code (a loader, a value's destructor) may let another call run meanwhile;
    /// the core never does so while it uses the map.
    pub unsafe fn new_serialized(config: Config) -> Result<Self> {
        Self::build(config, true, false)
    }

    /// [`Cache::new_serialized`] for a host that also keeps copies of the values it reads
    /// and answers hits from them while the core's [`MirrorBlock`] says they are current
    /// (see `memory::mirror`). A cache on a manual clock, or one that hands out copies
    /// (`copy`), gets no block: the host's clock is not the cache's, and each hit must be a
    /// new copy.
    ///
    /// # Safety
    /// As for [`Cache::new_serialized`].
    pub unsafe fn new_mirrored(config: Config) -> Result<Self> {
        Self::build(config, true, true)
    }

    fn build(mut config: Config, serialized: bool, mirrored: bool) -> Result<Self> {
        let mirrored = mirrored && !config.copy && matches!(config.clock, Clock::System(_));
        if serialized {
            // The unlocked map is one part: the bounds are computed for one.
            config.shards = Some(1);
        }
        let settings = Settings::new(&config)?;
        let bounds = Bounds::new(
            settings.max_entries,
            settings.max_bytes,
            settings.max_key_bytes,
            settings.max_value_bytes,
            settings.shards,
        )?;
        let memory = Memory::new(
            settings.max_entries,
            bounds,
            Expiry::new(settings.ttl, settings.max_ttl),
            settings.store.is_some(),
            serialized,
            mirrored,
        )?;
        let tier = match &settings.store {
            None => None,
            Some(s) => Some(Tier::open(
                s.clone(),
                memory.counters.clone(),
                memory.invalidations.clone(),
                memory.expiry.clone(),
            )?),
        };
        Ok(Cache {
            inner: Arc::new(Inner {
                memory,
                flights: Flights::new(),
                settings,
                tier,
                failures: Failures::default(),
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
    pub(crate) fn full_key<'k>(&self, key: &'k str) -> Cow<'k, str> {
        if self.prefix.is_empty() {
            Cow::Borrowed(key)
        } else {
            Cow::Owned(format!("{}{key}", self.prefix))
        }
    }

    pub(crate) fn user_key<'k>(&self, full: &'k str) -> &'k str {
        &full[self.prefix.len()..]
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.settings.clock
    }

    /// The listening epoch a copy written now records.
    fn epoch(&self) -> u32 {
        self.inner.memory.invalidations.epoch()
    }

    /// The times of a value this process writes now (a `set`, an `incr`), under the
    /// cache's policies.
    pub(crate) fn times(&self, now: u64, deadline: u64, load_ms: u32) -> Times {
        self.inner
            .settings
            .policy
            .times(now, deadline, load_ms, self.epoch())
    }

    /// The in-process tier's time (ms, monotonic).
    #[inline]
    pub fn now(&self) -> u64 {
        self.inner.settings.clock.now_ms()
    }

    /// A handle that does not keep the cache alive (a binding's sweeper keeps these).
    pub fn downgrade(&self) -> WeakCache<V> {
        WeakCache(Arc::downgrade(&self.inner))
    }

    /// Whether a shared store is configured.
    pub fn has_store(&self) -> bool {
        self.inner.tier.is_some()
    }

    /// The last error the store gave, for messages (`None`: none, or no store).
    pub fn store_error(&self) -> Option<String> {
        self.inner.tier.as_ref().and_then(|t| t.last_error())
    }

    // ---------------------------------------------------------------- reads

    /// The fresh value of `key` in the in-process tier, counting one hit or one miss. This
    /// is the hit path; with a store, use [`Cache::lookup`] to read through to it.
    #[inline]
    pub fn get(&self, key: &str) -> Option<V> {
        self.get_with(key, |v| v.into_owned())
    }

    /// [`Cache::get`], handing `f` the value by reference where the in-process map allows
    /// (a cache made by [`Cache::new_serialized`]) instead of a copy: a binding converts it
    /// at once, and no reference count goes up and down. `f` runs while the map is in use,
    /// so it must not call this cache (on a serialized cache such a call panics).
    #[inline]
    pub fn get_with<R>(&self, key: &str, f: impl FnOnce(Cow<'_, V>) -> R) -> Option<R> {
        let full = self.full_key(key);
        let mut now = Now::new(self.clock());
        if self.inner.memory.expiry.sweep_due_at(&mut now) {
            self.housekeeping(now.exact());
        }
        self.inner
            .memory
            .read_local(&full, &mut now, None, |v, _| f(v))
    }

    /// [`Cache::get_with`] for a host that keeps copies of what it reads (a cache made by
    /// [`Cache::new_mirrored`]; on another, this is `get_with`): `f` answers the value and
    /// whether the host may keep it as it is (a value handed out as a new object on each
    /// hit may not); on a hit the mirror's `FILL_*` words say how the host may keep it
    /// (see [`MirrorBlock`]).
    #[inline]
    pub fn get_mirrored<R>(&self, key: &str, f: impl FnOnce(Cow<'_, V>) -> (R, bool)) -> Option<R> {
        let m = &self.inner.memory;
        let Some(mirror) = m.mirror() else {
            return self.get_with(key, |v| f(v).0);
        };
        // The host saw no pending change, or this call's housekeeping takes it: pairs with
        // the store thread's `announce`, which follows the queued removal and the poke.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        let full = self.full_key(key);
        let seen = mirror.seen(&full);
        let mut now = Now::new(self.clock());
        if m.expiry.sweep_due_at(&mut now) {
            self.housekeeping(now.exact());
        }
        m.read_local(&full, &mut now, None, |v, live| {
            let (r, keep) = f(v);
            mirror.record(seen, if keep && !m.pressed() { live } else { 0 });
            r
        })
    }

    /// The block of words a host that keeps copies reads (see [`MirrorBlock`]), or `None`
    /// for a cache without one.
    pub fn mirror_block(&self) -> Option<MirrorBlock> {
        self.inner.memory.mirror().cloned().map(MirrorBlock)
    }

    /// Hits the host answered from its copies, counted as hits of the cache.
    pub fn count_mirror_hits(&self, n: u64) {
        self.inner.memory.counters.hits(n);
    }

    /// Like [`Cache::get`], but a value older than `max_age` ms counts as absent.
    pub fn get_fresh(&self, key: &str, max_age: Option<f64>) -> Result<Option<V>> {
        let max_age = max_age.map(|m| parse_ttl("max_age", m)).transpose()?;
        let full = self.full_key(key);
        let mut now = Now::new(self.clock());
        if self.inner.memory.expiry.sweep_due_at(&mut now) {
            self.housekeeping(now.exact());
        }
        Ok(self
            .inner
            .memory
            .read_local(&full, &mut now, max_age, |v, _| v.into_owned()))
    }

    /// [`Cache::get`], then, on a miss with a store, the store read to drive (the miss is
    /// counted once). The hit path of a `get` without options.
    #[inline]
    pub fn read(&self, key: &str) -> Lookup<V> {
        let full = self.full_key(key);
        let mut now = Now::new(self.clock());
        if self.inner.memory.expiry.sweep_due_at(&mut now) {
            self.housekeeping(now.exact());
        }
        match self.inner.memory.lookup(&full, &mut now, None) {
            Found::Fresh(v) | Found::Aging(v) => Lookup::Hit(v),
            Found::Absent => Op::read_store(self, &full, None, None),
            // Without a loader, an expired value counts as absent.
            Found::Stale(_) => {
                self.inner.memory.counters.miss();
                Op::read_store(self, &full, None, None)
            }
            Found::Unverified(v) => {
                self.inner.memory.counters.miss();
                Op::read_store(self, &full, None, Some(v))
            }
        }
    }

    /// Reads `key` through both tiers (no loader): a hit now, or the store read to drive.
    pub fn lookup(&self, key: &str, max_age: Option<f64>) -> Result<Lookup<V>> {
        let opts = LoadOptions {
            max_age,
            ..Default::default()
        };
        Op::start(self, key, &opts, false, false)
    }

    /// Reads `key`, loading it when absent: a hit now, or the operation (lead, join, or read
    /// the store) to drive. See [`crate::load`].
    pub fn load(&self, key: &str, opts: &LoadOptions<'_>) -> Result<Lookup<V>> {
        Op::start(self, key, opts, true, false)
    }

    /// [`Cache::lookup`] (no loader) or [`Cache::load`] (`has_loader`), always as an
    /// operation, so that [`Op::served`] tells how the value was served (`get_entry`).
    pub fn load_entry(&self, key: &str, opts: &LoadOptions<'_>, has_loader: bool) -> Result<Op<V>> {
        Ok(match Op::start(self, key, opts, has_loader, true)? {
            Lookup::Pending(op) => op,
            Lookup::Hit(v) => Op::answered(self, Answer::Value(v)),
            Lookup::Absent => {
                let mut op = Op::answered(self, Answer::Absent);
                op.mark_miss();
                op
            }
        })
    }

    /// Checks a call's resilience options the way a load would (`memoize` checks them when
    /// it decorates).
    pub fn check_policy(&self, options: &crate::PolicyOptions) -> Result<()> {
        self.inner.settings.policy.with(options).map(|_| ())
    }

    /// Removes what other processes changed, and expired entries when the sweep is due.
    /// Runs on the calling (host) thread.
    #[cold]
    pub(crate) fn housekeeping(&self, now: u64) {
        let m = &self.inner.memory;
        let sweep = m.expiry.unpoke(now);
        let (all, keys) = m.invalidations.take();
        let mut gone: Vec<V> = Vec::new();
        if all {
            gone.extend(m.clear(""));
        }
        for k in keys {
            let map = self.inner.flights.lock(&k);
            if let Some(e) = m.remove(&map, &k, now) {
                drop(map);
                gone.push(e.value);
            }
        }
        if sweep {
            m.sweep(now);
        }
        drop(gone);
    }

    /// Whether `key` has a live value in the in-process tier. Counts neither a hit nor a
    /// miss.
    pub fn has_local(&self, key: &str) -> bool {
        let now = self.now();
        self.inner
            .memory
            .peek_live(&self.full_key(key), now)
            .is_some()
    }

    /// Whether `key` has a live value (in either tier). Counts neither a hit nor a miss.
    pub fn has(&self, key: &str) -> Op<V> {
        if self.has_local(key) || self.inner.tier.is_none() {
            return Op::answered(self, Answer::Bool(self.has_local(key)));
        }
        Op::has(self, &self.full_key(key))
    }

    /// Milliseconds until `key` expires (`f64::INFINITY` if never), or `None` when absent.
    pub fn remaining_ttl(&self, key: &str) -> Op<V> {
        let full = self.full_key(key);
        if self.inner.tier.is_some() {
            return Op::remaining_ttl(self, &full);
        }
        let now = self.now();
        Op::answered(
            self,
            Answer::Ms(self.inner.memory.peek_live(&full, now).map(|e| {
                if e.times.deadline == NEVER {
                    f64::INFINITY
                } else {
                    (e.times.deadline - now) as f64
                }
            })),
        )
    }

    /// The live keys of this cache or namespace (without the namespace's prefix).
    pub fn keys(&self) -> Op<V> {
        if self.inner.tier.is_some() {
            return Op::keys(self);
        }
        Op::answered(self, Answer::Keys(self.local_keys()))
    }

    pub(crate) fn local_keys(&self) -> Vec<String> {
        self.inner.memory.keys(&self.prefix, self.now())
    }

    /// Entries in the in-process tier now (expired entries are swept first).
    pub fn len(&self) -> usize {
        self.purge_expired();
        if self.prefix.is_empty() {
            self.inner.memory.len()
        } else {
            self.local_keys().len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters since the cache was made (shared by all namespaces of one cache).
    pub fn stats(&self) -> Stats {
        self.purge_expired();
        let m = &self.inner.memory;
        m.counters.snapshot(m.len() as u64)
    }

    /// True when the cache and its store answer.
    pub fn ping(&self) -> Op<V> {
        if self.inner.tier.is_some() {
            return Op::ping(self);
        }
        Op::answered(self, Answer::Bool(true))
    }

    /// Visits every value of the in-process tier by reference (for a host's garbage
    /// collector).
    pub fn for_each_value(&self, f: impl FnMut(&V)) {
        self.inner.memory.for_each_value(f)
    }

    // ---------------------------------------------------------------- writes

    /// Stores `value` under `key`, in both tiers. The answer is whether it was stored:
    /// false for `ttl` 0, an entry over a size limit (counted as `rejected`), or a store
    /// that did not take it (the in-process tier still has it). Either way the key's
    /// previous value is gone: the newest write wins. A value a store cannot hold is a
    /// `wrong_type` error, and then nothing changes.
    pub fn set_with(
        &self,
        key: &str,
        value: V,
        ttl: Ttl,
        host: &mut dyn Host<V>,
    ) -> Result<Written<V>> {
        let (value, ttl, size, encoded) = self.prepare_write(value, ttl, host)?;
        let full = self.full_key(key);
        let now = self.now();
        let deadline = Expiry::deadline(now, ttl);
        let mut map = self.inner.flights.lock(&full);
        flight::supersede(&mut map, &full);
        self.inner.memory.invalidations.bump(&full);
        let mut released = ReleasedEntries::new();
        let times = self.times(now, deadline, 0);
        let stored = (self.inner.memory).write(&map, &full, value, size, times, now, &mut released);
        drop(map);
        drop(released);
        self.after_write(now);
        let (Some(_), Some(body)) = (&self.inner.tier, encoded) else {
            return Ok(Written::Done(stored));
        };
        if ttl == 0 || self.over_entry_limits(&full, size) {
            // Nothing is kept (the in-process tier counted it as rejected), and the previous
            // value must not survive in the store either.
            return Ok(Written::Pending(Op::store_delete(self, &full, None)));
        }
        let env = self.envelope(body, ttl, 0, self.inner.settings.policy.keep_ms());
        let _ = stored;
        Ok(Written::Pending(Op::store_set(self, &full, env)))
    }

    /// What a `set` or `add` checks and measures before it changes anything: the value to
    /// keep (the cache's own copy with the `copy` option), its TTL, its size, and its
    /// encoding when a store is configured. An error here leaves the cache as it was.
    fn prepare_write(
        &self,
        value: V,
        ttl: Ttl,
        host: &mut dyn Host<V>,
    ) -> Result<(V, u64, u64, Option<Vec<u8>>)> {
        let ttl = match ttl {
            Ttl::FromValue => self.inner.memory.expiry.resolve(host.ttl_of(&value)?)?,
            t => self.inner.memory.expiry.resolve(t.fixed())?,
        };
        let size = host.size_of(&value)?;
        let encoded = match &self.inner.tier {
            Some(_) => Some(codec::encode(&host.export(&value)?)),
            None => None,
        };
        let value = match self.copies() {
            true => self.own_copy(&value, encoded.as_deref(), host)?,
            false => value,
        };
        Ok((value, ttl, size, encoded))
    }

    /// Whether an entry is over `max_key_bytes` / `max_value_bytes`. One measure for both
    /// tiers, the size rule's: a limit means the same in memory and in the store.
    pub(crate) fn over_entry_limits(&self, full: &str, size: u64) -> bool {
        let b = &self.inner.memory.bounds;
        b.max_key_bytes.is_some_and(|m| full.len() as u64 > m)
            || b.max_value_bytes.is_some_and(|m| size > m)
    }

    /// An envelope for a value written now with `ttl` (ms).
    pub(crate) fn envelope(&self, body: Vec<u8>, ttl: u64, load_ms: u32, keep_ms: u64) -> Envelope {
        let now = self.inner.settings.clock.epoch_ms();
        let fresh_until = if ttl == NEVER {
            u64::MAX
        } else {
            now.saturating_add(ttl)
        };
        Envelope {
            created: now,
            fresh_until,
            stale_until: fresh_until.saturating_add(keep_ms),
            load_ms,
            body: Body::Value(body),
        }
    }

    /// Sets with the size the value reports, and waits for the store (Rust callers).
    pub fn set(&self, key: &str, value: V, ttl: Option<f64>) -> Result<bool>
    where
        V: Cacheable,
    {
        self.set_with(key, value, ttl.into(), &mut Plain)?
            .wait(&mut Plain)
    }

    /// Stores `value` under `key` only if the key has no live value: checked and written in
    /// one atomic step under the key's lock (and, with a store, in the store: the store's
    /// value decides). The answer is whether it was stored. A load in flight for the key is
    /// superseded, as by a `set`. Counts no hit, miss or load. `ttl` 0 stores nothing and
    /// answers false; an entry over a size limit is counted as `rejected` and answers false.
    pub fn add_with(&self, key: &str, value: V, ttl: Ttl, host: &mut dyn Host<V>) -> Result<Op<V>> {
        let (value, ttl, size, encoded) = self.prepare_write(value, ttl, host)?;
        let full = self.full_key(key);
        if ttl == 0 {
            return Ok(Op::answered(self, Answer::Bool(false)));
        }
        if self.over_entry_limits(&full, size) {
            // Never stored, whatever the key holds: the same answer with or without a store.
            self.inner.memory.counters.rejected();
            return Ok(Op::answered(self, Answer::Bool(false)));
        }
        let (Some(_), Some(body)) = (&self.inner.tier, encoded) else {
            let stored = self.add_local(&full, value, size, ttl);
            return Ok(Op::answered(self, Answer::Bool(stored)));
        };
        let mut map = self.inner.flights.lock(&full);
        flight::supersede(&mut map, &full);
        self.inner.memory.invalidations.bump(&full);
        drop(map);
        let env = self.envelope(body, ttl, 0, self.inner.settings.policy.keep_ms());
        Ok(Op::add(self, &full, env, value, size, ttl))
    }

    /// `add` in the in-process tier alone (no store, or a store that cannot answer).
    pub(crate) fn add_local(&self, full: &str, value: V, size: u64, ttl: u64) -> bool {
        let now = self.now();
        let mut map = self.inner.flights.lock(full);
        if ttl == 0 || self.inner.memory.peek_live(full, now).is_some() {
            return false;
        }
        flight::supersede(&mut map, full);
        self.inner.memory.invalidations.bump(full);
        let deadline = Expiry::deadline(now, ttl);
        let mut released = ReleasedEntries::new();
        let times = self.times(now, deadline, 0);
        let stored = (self.inner.memory).write(&map, full, value, size, times, now, &mut released);
        drop(map);
        drop(released);
        self.after_write(now);
        stored
    }

    /// [`Cache::add_with`] with the size the value reports, waiting for the store (Rust
    /// callers).
    pub fn add(&self, key: &str, value: V, ttl: Option<f64>) -> Result<bool>
    where
        V: Cacheable,
    {
        let op = self.add_with(key, value, ttl.into(), &mut Plain)?;
        op.wait(&mut Plain)?.into_bool()
    }

    /// Removes `key` from both tiers. The answer is whether it had a live value.
    pub fn del(&self, key: &str) -> Op<V> {
        let full = self.full_key(key);
        let now = self.now();
        let mut map = self.inner.flights.lock(&full);
        flight::supersede(&mut map, &full);
        self.inner.memory.invalidations.bump(&full);
        self.inner.failures.forget(&full);
        let removed = self.inner.memory.remove(&map, &full, now);
        drop(map);
        let live = removed.as_ref().is_some_and(|e| e.live(now));
        drop(removed);
        if self.inner.tier.is_some() {
            return Op::store_delete(self, &full, Some(live));
        }
        Op::answered(self, Answer::Bool(live))
    }

    /// Sets a new TTL on a live key; `ttl` 0 removes it. The answer is whether the key was
    /// live.
    pub fn expire(&self, key: &str, ttl: f64) -> Result<Op<V>> {
        let ttl = parse_ttl("ttl", ttl)?;
        let ttl = self
            .inner
            .memory
            .expiry
            .resolve(Some(ttl as f64))
            .unwrap_or(ttl);
        let full = self.full_key(key);
        let now = self.now();
        let map = self.inner.flights.lock(&full);
        let local = self.inner.memory.peek_live(&full, now);
        let mut released = ReleasedEntries::new();
        let mut was_live = false;
        if let Some(e) = local {
            was_live = true;
            if ttl == 0 {
                if let Some(old) = self.inner.memory.remove(&map, &full, now) {
                    released.push((full.as_ref().into(), old));
                }
            } else {
                let deadline = Expiry::deadline(now, ttl);
                let t = e.times;
                let refresh_at =
                    (self.inner.settings.policy).refresh_at(t.born, deadline, t.load_ms);
                let times = t.with_deadline(deadline, refresh_at);
                (self.inner.memory).write(&map, &full, e.value, e.size, times, now, &mut released);
            }
        }
        drop(map);
        drop(released);
        if self.inner.tier.is_some() {
            self.inner.memory.invalidations.bump(&full);
            return Ok(Op::expire(self, &full, ttl, was_live));
        }
        Ok(Op::answered(self, Answer::Bool(was_live)))
    }

    /// Adds `by` to the integer at `key` atomically (across processes with a store); a
    /// missing key starts at 0 with the default TTL; an existing key keeps its TTL.
    pub fn incr(&self, key: &str, by: i64, host: &mut dyn Host<V>) -> Result<Op<V>> {
        self.incr_with(key, by, false, host)
    }

    /// [`Cache::incr`]; with `must_exist`, a key without a live value is a `not_found` error
    /// and nothing is written (checked and added in one atomic step, in the store too).
    pub fn incr_with(
        &self,
        key: &str,
        by: i64,
        must_exist: bool,
        host: &mut dyn Host<V>,
    ) -> Result<Op<V>> {
        let full = self.full_key(key);
        if self.inner.tier.is_some() {
            // The store holds the count; this process's copy is replaced when it answers (a
            // failed incr leaves it as it was).
            let mut map = self.inner.flights.lock(&full);
            flight::supersede(&mut map, &full);
            self.inner.memory.invalidations.bump(&full);
            drop(map);
            return Ok(Op::incr(self, &full, by, must_exist));
        }
        self.incr_local(&full, by, must_exist, host)
            .map(|n| Op::answered(self, Answer::Int(n)))
    }

    pub(crate) fn incr_local(
        &self,
        full: &str,
        by: i64,
        must_exist: bool,
        host: &mut dyn Host<V>,
    ) -> Result<i64> {
        let now = self.now();
        let mut map = self.inner.flights.lock(full);
        let (n, deadline) = match self.inner.memory.peek_live(full, now) {
            Some(e) => {
                let cur = host.as_integer(&e.value).ok_or_else(|| {
                    Error::WrongType(format!(
                        "incr: the value at key {:?} is not an integer",
                        self.user_key(full)
                    ))
                })?;
                (checked_incr(cur, by)?, e.times.deadline)
            }
            None if must_exist => {
                return Err(Error::NotFound {
                    op: "incr",
                    key: self.user_key(full).to_string(),
                })
            }
            None => {
                let ttl = self.inner.memory.expiry.resolve(None)?;
                (by, Expiry::deadline(now, ttl))
            }
        };
        let v = host.integer(n)?;
        let size = host.size_of(&v)?;
        flight::supersede(&mut map, full);
        let mut released = ReleasedEntries::new();
        let times = self.times(now, deadline, 0);
        (self.inner.memory).write(&map, full, v, size, times, now, &mut released);
        drop(map);
        drop(released);
        Ok(n)
    }

    /// Removes every key of this cache (or only this namespace's keys), in both tiers.
    /// Loads in flight for those keys are not stored when they finish.
    pub fn clear(&self) -> Op<V> {
        let prefix = &*self.prefix;
        {
            let mut maps = self.inner.flights.lock_all();
            for map in maps.iter_mut() {
                map.retain(|f| !f.0.key_with_prefix().starts_with(prefix));
            }
        }
        let gone = self.inner.memory.clear(prefix);
        drop(gone);
        self.inner.failures.forget_prefix(prefix);
        if self.inner.tier.is_some() {
            self.inner.memory.invalidations.changed_all();
            // This process's copies are gone already; the store's go next.
            let _ = self.inner.memory.invalidations.take();
            return Op::clear(self);
        }
        Op::answered(self, Answer::Done)
    }

    /// Drops every copy of the in-process tier, of every namespace (a host breaking a
    /// reference cycle); the store keeps its entries.
    pub fn clear_local(&self) {
        let gone = self.inner.memory.clear("");
        drop(gone);
    }

    /// Removes every expired entry of the in-process tier now. Returns how many.
    pub fn purge_expired(&self) -> usize {
        let now = self.now();
        if self.inner.memory.expiry.sweep_due(now) {
            self.housekeeping(now);
        }
        self.inner.memory.purge_expired(now)
    }

    pub(crate) fn after_write(&self, now: u64) {
        if self.inner.memory.expiry.sweep_due(now) {
            self.housekeeping(now);
        }
    }

    /// Writes a loaded or store-read value into the in-process tier, if the flight it
    /// belongs to is still the key's (no `set`, `del` or `clear` came first) and no other
    /// process changed the key since `seen` was read (the copy records `seen`'s listening
    /// epoch; without `seen`, the current one).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fill(
        &self,
        full: &str,
        flight: Option<&Arc<Flight<V>>>,
        seen: Option<Seen>,
        value: V,
        size: u64,
        times: Times,
    ) {
        self.fill_at(self.now(), full, flight, seen, value, size, times)
    }

    /// [`Cache::fill`] at `now`, read by the caller a moment before.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fill_at(
        &self,
        now: u64,
        full: &str,
        flight: Option<&Arc<Flight<V>>>,
        seen: Option<Seen>,
        value: V,
        size: u64,
        times: Times,
    ) {
        let mut map = self.inner.flights.lock(full);
        let current = match flight {
            Some(f) => {
                flight::detach(&mut map, full, f)
                    || (f.abandoned.load(std::sync::atomic::Ordering::SeqCst)
                        // The late result of a load its callers gave up on: kept unless a
                        // newer load is under way or a value is there that may be newer (one
                        // written in the same millisecond as the load started counts as newer).
                        && !map.contains(full)
                        && self
                            .inner
                            .memory
                            .peek_kept(full, now)
                            .is_none_or(|e| e.times.born < f.started))
            }
            None => !map.contains(full),
        };
        let invalidations = &self.inner.memory.invalidations;
        let unchanged = seen.is_none_or(|s| s.generation == invalidations.generation(full));
        let epoch = seen.map_or_else(|| invalidations.epoch(), |s| s.epoch);
        let mut released = ReleasedEntries::new();
        if current && unchanged {
            let mut times = times;
            times.epoch = epoch;
            (self.inner.memory).write(&map, full, value, size, times, now, &mut released);
        }
        drop(map);
        drop(released);
        self.after_write(now);
    }

    /// Removes the copy of `full` that the store no longer has, unless this process wrote
    /// the key (or heard of a change) since `seen`.
    pub(crate) fn drop_copy(&self, full: &str, seen: Seen) {
        let now = self.now();
        let map = self.inner.flights.lock(full);
        let removed = if seen.generation == self.inner.memory.invalidations.generation(full) {
            self.inner.memory.remove(&map, full, now)
        } else {
            None
        };
        drop(map);
        drop(removed);
    }

    /// Ends a flight without writing (an error, a value not to keep).
    pub(crate) fn end_flight(&self, full: &str, flight: &Arc<Flight<V>>) {
        let mut map = self.inner.flights.lock(full);
        flight::detach(&mut map, full, flight);
    }

    // ---------------------------------------------------------------- Rust callers

    /// The value of `key`, loading it with `loader` when absent: one loader per key however
    /// many threads ask (and, with a store, however many processes); the others block
    /// until it finishes (or the load timeout passes). A loader that panics gives every
    /// caller an error, and nothing is stored.
    pub fn get_or_load<F>(&self, key: &str, opts: &LoadOptions<'_>, loader: F) -> Result<V>
    where
        V: Cacheable,
        F: FnOnce() -> std::result::Result<V, crate::LoaderError>,
    {
        match self.load(key, opts)? {
            Lookup::Hit(v) => Ok(v),
            Lookup::Absent => unreachable!("a load with a loader always has an answer"),
            Lookup::Pending(op) => op.run_blocking(&mut Plain, loader)?.into_value(),
        }
    }

    /// Async [`Cache::get_or_load`]: waiting callers await the flight (on any runtime), and
    /// blocking and async callers of one key share one flight.
    pub async fn get_or_load_async<F, Fut>(
        &self,
        key: &str,
        opts: &LoadOptions<'_>,
        loader: F,
    ) -> Result<V>
    where
        V: Cacheable,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<V, crate::LoaderError>>,
    {
        match self.load(key, opts)? {
            Lookup::Hit(v) => Ok(v),
            Lookup::Absent => unreachable!("a load with a loader always has an answer"),
            Lookup::Pending(op) => op.run_async(&mut Plain, loader).await?.into_value(),
        }
    }
}

pub(crate) fn checked_incr(cur: i64, by: i64) -> Result<i64> {
    cur.checked_add(by)
        .ok_or_else(|| Error::invalid(format!("incr: {cur} + {by} overflows a 64-bit integer")))
}

/// A value read from a store, decoded for the host: its size and in-process deadline.
pub(crate) fn from_store<V>(host: &mut dyn Host<V>, value: Value) -> Result<(V, u64)> {
    let v = host.import(value)?;
    let size = host.size_of(&v)?;
    Ok((v, size))
}
