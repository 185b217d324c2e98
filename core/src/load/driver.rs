//! [`Op`]: one cache call that needs a loader or the store, as a state machine its caller
//! drives (see the [module docs](crate::load)).
//!
//! The protocol for `get(key, loader)`:
//!
//! 1. A fresh value in the in-process tier: the answer (no `Op` is made).
//! 2. Another caller of this process loads the key: join its flight and wait (bounded by the
//!    load timeout); if its leader goes away without a result, start over (take it over).
//! 3. Otherwise lead this process's flight. Without a store: run the loader, store, answer.
//! 4. With a store: read it. A fresh entry: fill the in-process tier and answer. Else take
//!    the key's lease. Taken: read once more (another process may have just filled it),
//!    run the loader while a task renews the lease, write the value only if the lease is
//!    still ours (a `set` or `del` voids it), answer. Not taken: watch the key, read
//!    again, and wait for the holder's value or failure; when the lease runs out without
//!    either (its holder died), take it over.
//! 5. A store that fails or is slow is skipped: the loader runs here, as without a store.
//!
//! Every value the host sees is made on the host's thread inside `step`; store commands
//! run on the store runtime and hand back bytes.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::cache::{checked_incr, from_store, Cache, Lookup};
use crate::clock::Now;
use crate::error::{Error, LoaderError, Result};
use crate::host::Host;
use crate::load::flight::{self, Flight, FlightId, Flights, Outcome};
use crate::load::options::{LoadOptions, Ttl};
use crate::load::policy::Policy;
use crate::memory::entry::{Entry, Key, ReleasedEntries, Times};
use crate::memory::expiry::{parse_ttl, Expiry, NEVER};
use crate::memory::invalidations::Seen;
use crate::memory::Found;
use crate::pending::{CurrentParker, Parker, Pending};
use crate::store::tier::Tier;
use crate::store::{LeaseState, StoreResult, KEY_PREFIX};
use crate::value::envelope::{Body, Envelope};
use crate::value::{codec, Value};

/// What the caller does next.
pub enum Step<V: Clone + 'static> {
    /// The call's answer.
    Done(Result<Answer<V>>),
    /// Run the loader now, on this thread or event loop, and hand its result to
    /// [`Op::loaded`]; then step again.
    RunLoader,
    /// Nothing to do until the waker given to `step` is woken, or until the instant passes
    /// (a timeout the core will then apply); then step again.
    Park(Option<Instant>),
    /// Drive this other operation to its end in the background, on a thread or task of
    /// the host, with the same loader (its answer is of no use to anyone); then step this
    /// one again. A refresh, or a load that goes on after its caller stopped waiting.
    Spawn(Box<Op<V>>),
}

/// The answer of a call.
#[derive(Debug)]
pub enum Answer<V> {
    Value(V),
    Absent,
    Bool(bool),
    Int(i64),
    /// Milliseconds (`f64::INFINITY`: never), or `None` when absent.
    Ms(Option<f64>),
    Keys(Vec<String>),
    Done,
}

impl<V> Answer<V> {
    #[cold]
    fn mismatch(&self, want: &str) -> Error {
        Error::invalid(format!("internal: expected {want}, got {}", self.name()))
    }
    fn name(&self) -> &'static str {
        match self {
            Answer::Value(_) => "a value",
            Answer::Absent => "nothing",
            Answer::Bool(_) => "a boolean",
            Answer::Int(_) => "an integer",
            Answer::Ms(_) => "milliseconds",
            Answer::Keys(_) => "keys",
            Answer::Done => "done",
        }
    }
    #[inline]
    pub fn into_value(self) -> Result<V> {
        match self {
            Answer::Value(v) => Ok(v),
            other => Err(other.mismatch("a value")),
        }
    }
    pub fn into_option(self) -> Result<Option<V>> {
        match self {
            Answer::Value(v) => Ok(Some(v)),
            Answer::Absent => Ok(None),
            other => Err(other.mismatch("a value or nothing")),
        }
    }
    pub fn into_bool(self) -> Result<bool> {
        match self {
            Answer::Bool(b) => Ok(b),
            other => Err(other.mismatch("a boolean")),
        }
    }
    pub fn into_int(self) -> Result<i64> {
        match self {
            Answer::Int(n) => Ok(n),
            other => Err(other.mismatch("an integer")),
        }
    }
    pub fn into_ms(self) -> Result<Option<f64>> {
        match self {
            Answer::Ms(m) => Ok(m),
            other => Err(other.mismatch("milliseconds")),
        }
    }
    pub fn into_keys(self) -> Result<Vec<String>> {
        match self {
            Answer::Keys(k) => Ok(k),
            other => Err(other.mismatch("keys")),
        }
    }
}

/// How a value was served: what a platform shows as the "Cached" badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A fresh value was there.
    Hit,
    /// Nothing was there and there was no loader.
    Miss,
    /// This call ran the loader.
    Loaded,
    /// This call waited for another caller's load (in this process or another).
    Joined,
    /// An expired value, served because the load failed or took too long.
    Stale,
    /// An expired value, served at once while a refresh runs (stale-while-revalidate).
    Refreshing,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Hit => "hit",
            Status::Miss => "miss",
            Status::Loaded => "loaded",
            Status::Joined => "joined",
            Status::Stale => "stale",
            Status::Refreshing => "refreshing",
        }
    }
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Memory => "memory",
            Source::Store => "store",
            Source::Loader => "loader",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Memory,
    Store,
    Loader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    pub status: Status,
    pub source: Source,
    /// The served value's write time and deadline (the cache's clock), when a value was
    /// served.
    pub times: Option<(u64, u64)>,
}

/// What `get_entry` reports besides the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntryInfo {
    pub status: Status,
    pub source: Source,
    /// How old the value is (ms); 0 for a value just loaded; `None` without a value.
    pub age_ms: Option<f64>,
    /// How long until it expires (ms; 0 once expired, infinity for never); `None`
    /// without a value.
    pub remaining_ttl: Option<f64>,
}

impl Served {
    fn new(status: Status, source: Source) -> Served {
        Served {
            status,
            source,
            times: None,
        }
    }

    fn of<V>(status: Status, source: Source, e: &Entry<V>) -> Served {
        Served {
            status,
            source,
            times: Some((e.times.born, e.times.deadline)),
        }
    }

    /// The report at `now` (the cache's clock).
    pub fn info(&self, now: u64) -> EntryInfo {
        let (age_ms, remaining_ttl) = match self.times {
            Some((born, deadline)) => (
                Some(now.saturating_sub(born) as f64),
                Some(if deadline == NEVER {
                    f64::INFINITY
                } else {
                    deadline.saturating_sub(now) as f64
                }),
            ),
            None => (None, None),
        };
        EntryInfo {
            status: self.status,
            source: self.source,
            age_ms,
            remaining_ttl,
        }
    }
}

/// How long a waiter for another process's load sleeps between reads when no announcement
/// comes (the bounded polling behind the store's notifications).
const REMOTE_POLL: Duration = Duration::from_millis(100);
/// How long a failure record stays, so that the waiters of every process read it.
const FAILURE_RECORD_MS: u64 = 1_000;

type Get = Pending<StoreResult<Option<Vec<u8>>>>;

/// A store command's answer, made on the store runtime: plain data, no host value.
enum Reply {
    Bool(bool),
    /// `incr`'s count, with what this process needs to keep a copy of it: the entry's
    /// deadline and the key's generation before the store was asked.
    Counted {
        n: i64,
        fresh_until: u64,
        seen: Seen,
    },
    /// `add` wrote its value, fresh until then (epoch ms); the key's generation before the
    /// store was asked.
    Added {
        fresh_until: u64,
        seen: Seen,
    },
    Ms(Option<f64>),
    Keys(Vec<String>),
    Done,
    Failed(Error),
}

/// What a command answers when the store fails.
enum Fallback<V> {
    Bool(bool),
    /// `true` when the store's answer is to be or-ed with this one (`del`: the copy here
    /// was live).
    OrBool(bool),
    LocalTtl,
    LocalKeys,
    /// `incr` here: `by`, and whether the key must exist.
    LocalIncr(i64, bool),
    /// `add` here, with the value, its size and its ttl (ms); the same value is this
    /// process's copy when the store takes it.
    Add {
        value: V,
        size: u64,
        ttl: u64,
    },
    Done,
}

struct LeaseHold {
    token: u64,
    stop: Arc<AtomicBool>,
}

impl Drop for LeaseHold {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

enum Lead<V> {
    StoreRead(Get),
    Lease {
        token: u64,
        pending: Pending<StoreResult<LeaseState>>,
        /// This caller was waiting for another process's load (see `Reread`).
        waited: bool,
    },
    Reread {
        lease: LeaseHold,
        pending: Get,
        /// This caller was waiting for another process's load: a failure that load left
        /// is its answer, as it is for the callers still waiting (its watch may have gone
        /// quiet just before the holder failed and let the lease go).
        waited: bool,
    },
    Remote {
        watch: Pending<bool>,
        read: Option<Get>,
        lease_until: Instant,
    },
    Loader {
        lease: Option<LeaseHold>,
        /// False when the store holds something this version must not overwrite.
        write_store: bool,
        /// When the loader started, on the cache's clock (the load's duration feeds
        /// refresh ahead of expiry).
        started_ms: u64,
        counted: bool,
        result: Option<std::result::Result<V, LoaderError>>,
    },
    Filling {
        lease: LeaseHold,
        value: V,
        size: u64,
        times: Times,
        pending: Pending<StoreResult<bool>>,
    },
}

impl<V> Lead<V> {
    fn loader(lease: Option<LeaseHold>, write_store: bool, now: u64) -> Lead<V> {
        Lead::Loader {
            lease,
            write_store,
            started_ms: now,
            counted: false,
            result: None,
        }
    }
}

enum Phase<V> {
    Start,
    Joined {
        flight: Arc<Flight<V>>,
        /// The load timeout: the caller stops waiting, the flight goes on.
        deadline: Option<Instant>,
        /// `soft_timeout`: a stale value is served from then on.
        soft_at: Option<Instant>,
        /// `hard_timeout`: the caller stops waiting and the flight is abandoned.
        hard_at: Option<Instant>,
    },
    Leading {
        flight: Arc<Flight<V>>,
        lead: Lead<V>,
        /// What the last store read issued saw first: every fill of this load checks it.
        seen: Seen,
    },
}

struct Load<V> {
    ttl: Ttl,
    max_age: Option<u64>,
    timeout: Option<Duration>,
    within: Vec<FlightId>,
    has_loader: bool,
    /// When this caller started waiting, for its timeouts (`None`: no timeout applies, and
    /// the clock is not read).
    started: Option<Instant>,
    /// An unverified copy (see `memory::invalidations`): answered if the store cannot be
    /// asked.
    fallback: Option<V>,
    /// The policies in force for this call.
    policy: Policy,
    /// An expired value still kept (in this process or the store), for the policies that
    /// serve one.
    stale: Option<(Entry<V>, Source)>,
    /// A refresh ahead of expiry: the creation time (epoch ms) of the value it replaces;
    /// only a newer value in the store makes the load unnecessary.
    refresh_of: Option<u64>,
    /// When this caller first found another process holding the key's lease (epoch ms): a
    /// failure that process leaves is this caller's answer only if it came after that.
    waiting_since: Option<u64>,
    /// This caller handed its load to the background (a timeout applies): a value from
    /// the flight is one it loaded.
    detached: bool,
    phase: Phase<V>,
}

enum State<V> {
    Answered(Option<Result<Answer<V>>>),
    Command {
        pending: Pending<StoreResult<Reply>>,
        fallback: Fallback<V>,
    },
    Read {
        pending: Get,
        seen: Seen,
        max_age: Option<u64>,
        /// An unverified copy: answered if the store cannot be asked.
        fallback: Option<V>,
    },
    Load(Box<Load<V>>),
}

/// One call that needs a loader or the store. Drive it with [`Op::step`] on the thread
/// (or event loop) that made it; drop it to abandon it (a load it leads is then taken
/// over by one of its waiters).
pub struct Op<V: Clone + 'static> {
    cache: Cache<V>,
    full: Key,
    state: State<V>,
    served: Served,
    /// An operation to hand to the caller's background driver before going on.
    spawn: Option<Box<Op<V>>>,
    /// Why this operation runs in the background, if it does.
    background: Option<Background>,
}

/// Operations nobody waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Background {
    /// Replaces a value served stale or ahead of its expiry: counted as a refresh.
    Refresh,
    /// A load whose callers stopped waiting (`soft_timeout` / `hard_timeout`).
    Detached,
}

/// `Box::new(v)` with `v` built in the allocation: `Box::new` (or a function taking `v`)
/// builds a `Load` (376 bytes) on the stack and copies it, a `memcpy` on every miss.
macro_rules! boxed {
    ($v:expr) => {{
        let mut b = Box::new_uninit();
        b.write($v);
        // SAFETY: the value was written just above.
        unsafe { b.assume_init() }
    }};
}

/// When a caller starts waiting: read only if one of its timeouts applies.
fn timer_start(timeout: Option<Duration>, policy: &Policy) -> Option<Instant> {
    (timeout.is_some() || policy.soft_timeout.is_some() || policy.hard_timeout.is_some())
        .then(Instant::now)
}

/// The moment `t` after `started`, when both are known.
fn after(started: Option<Instant>, t: Option<Duration>) -> Option<Instant> {
    Some(started? + t?)
}

fn token() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    RandomState::new().hash_one((n, std::process::id())) | 1
}

/// How a load that found no fresh value goes on, decided under the key's stripe lock.
enum Begin<V> {
    /// A load finished since the lookup.
    Fresh(Entry<V>),
    /// A refresh, and the key is being loaded already: nothing to do.
    Busy,
    /// The caller is loading this key itself (it would wait for itself).
    Reentrant,
    Join(Arc<Flight<V>>),
    /// A load of this key failed a moment ago (fail-safe back-off): no new loader call.
    Backoff(Error),
    /// An unverified copy, and no store to check it against: the best answer.
    Unverified,
    /// This caller leads a new flight; `read_store`: the store is asked first.
    Lead {
        flight: Arc<Flight<V>>,
        seen: Seen,
        read_store: bool,
    },
}

impl<V: Clone + 'static> Begin<V> {
    /// Joins or starts the flight of `full`. A miss decides before its operation is built
    /// (from the key and the time its lookup read), so the operation starts in the phase
    /// it is decided into; a caller's flights known only later are checked by
    /// [`Op::set_within`].
    fn decide(
        cache: &Cache<V>,
        full: &str,
        now: u64,
        max_age: Option<u64>,
        within: &[FlightId],
        background: Option<Background>,
        has_fallback: bool,
    ) -> Begin<V> {
        let mut map = cache.inner.flights.lock(full);
        // A load may have finished since the lookup (a refresh looks for a newer value).
        if let Some(e) = cache.inner.memory.peek_fresh(full, now, max_age) {
            let due = background == Some(Background::Refresh) && now >= e.times.refresh_at();
            if !due {
                return Begin::Fresh(e);
            }
        }
        // Most misses find no flight in their stripe: no lookup then.
        let found = if map.is_empty() {
            None
        } else {
            map.get(full).map(|e| &e.0)
        };
        if let Some(f) = found {
            if f.orphaned() || f.is_done() {
                map.remove(full);
            } else if background.is_some() {
                return Begin::Busy;
            } else if within.contains(&f.id) || flight::leading_here(f.id) {
                return Begin::Reentrant;
            } else {
                return Begin::Join(f.clone());
            }
        }
        if let Some(err) = cache.inner.failures.active(full, now) {
            return Begin::Backoff(err);
        }
        let read_store = cache.inner.tier.as_ref().is_some_and(|t| t.available());
        if !read_store && has_fallback {
            return Begin::Unverified;
        }
        let prefix_len = full.len() - cache.user_key(full).len();
        let flight = Flights::start(&mut map, full, prefix_len, now);
        drop(map);
        let seen = cache.inner.memory.invalidations.seen(full);
        Begin::Lead {
            flight,
            seen,
            read_store,
        }
    }
}

impl<V: Clone + 'static> Op<V> {
    /// An operation whose answer is already known.
    pub fn answered(cache: &Cache<V>, answer: Answer<V>) -> Op<V> {
        Op {
            cache: cache.clone(),
            // The key of an operation answered at once is never read (empty: no allocation).
            full: Key::default(),
            state: State::Answered(Some(Ok(answer))),
            served: Served::new(Status::Hit, Source::Memory),
            spawn: None,
            background: None,
        }
    }

    fn with(cache: &Cache<V>, full: &str, state: State<V>) -> Op<V> {
        Op {
            cache: cache.clone(),
            full: full.into(),
            state,
            served: Served::new(Status::Miss, Source::Memory),
            spawn: None,
            background: None,
        }
    }

    fn tier(&self) -> &Tier {
        self.cache
            .inner
            .tier
            .as_ref()
            .expect("store commands are made only with a store")
    }

    fn command<F>(cache: &Cache<V>, full: &str, fallback: Fallback<V>, f: F) -> Op<V>
    where
        F: FnOnce(
                Arc<dyn crate::store::Store>,
                String,
            ) -> crate::store::BoxFuture<'static, StoreResult<Reply>>
            + Send
            + 'static,
    {
        let tier = cache.inner.tier.as_ref().expect("a store");
        let key = Tier::key(full);
        let pending = tier.call(move |s| f(s, key));
        Op::with(cache, full, State::Command { pending, fallback })
    }

    /// Writes a `set` to the store: the answer is whether the store took it (the
    /// in-process tier may not hold an entry larger than its own bounds; the store does).
    pub(crate) fn store_set(cache: &Cache<V>, full: &str, env: Envelope) -> Op<V> {
        let reclaim = reclaim_at(&env);
        let bytes = env.encode();
        Op::command(cache, full, Fallback::Bool(false), move |s, key| {
            Box::pin(async move {
                s.set(&key, bytes, reclaim).await?;
                Ok(Reply::Bool(true))
            })
        })
    }

    /// Removes the key from the store. `local`: whether this process's copy was live (a
    /// `del`: the answer is whether either tier had it); `None`: a write that keeps nothing
    /// (answers false).
    pub(crate) fn store_delete(cache: &Cache<V>, full: &str, local: Option<bool>) -> Op<V> {
        let (fallback, fixed) = match local {
            Some(b) => (Fallback::OrBool(b), None),
            None => (Fallback::Bool(false), Some(false)),
        };
        let local = matches!(fallback, Fallback::OrBool(true));
        let clock = cache.clock().clone();
        Op::command(cache, full, fallback, move |s, key| {
            Box::pin(async move {
                let had = s.delete(&key).await?;
                let live = had.is_some_and(|fresh_until| fresh_until > clock.epoch_ms());
                Ok(Reply::Bool(fixed.unwrap_or(live || local)))
            })
        })
    }

    pub(crate) fn has(cache: &Cache<V>, full: &str) -> Op<V> {
        let clock = cache.clock().clone();
        Op::command(cache, full, Fallback::Bool(false), move |s, key| {
            Box::pin(async move {
                let now = clock.epoch_ms();
                Ok(Reply::Bool(s.get(&key).await?.is_some_and(|b| {
                    matches!(Envelope::decode(&b), Ok(e) if matches!(e.body, Body::Value(_)) && e.is_fresh(now))
                })))
            })
        })
    }

    pub(crate) fn remaining_ttl(cache: &Cache<V>, full: &str) -> Op<V> {
        let clock = cache.clock().clone();
        Op::command(cache, full, Fallback::LocalTtl, move |s, key| {
            Box::pin(async move {
                let now = clock.epoch_ms();
                let left = s.get(&key).await?.and_then(|b| match Envelope::decode(&b) {
                    Ok(e) if matches!(e.body, Body::Value(_)) && e.is_fresh(now) => {
                        Some(match e.remaining(now) {
                            u64::MAX => f64::INFINITY,
                            n => n as f64,
                        })
                    }
                    _ => None,
                });
                Ok(Reply::Ms(left))
            })
        })
    }

    pub(crate) fn keys(cache: &Cache<V>) -> Op<V> {
        let clock = cache.clock().clone();
        let prefix = format!("{KEY_PREFIX}{}", cache.prefix);
        let full = cache.prefix.to_string();
        let tier = cache.inner.tier.as_ref().expect("a store");
        let pending = tier.call(move |s| {
            Box::pin(async move {
                let now = clock.epoch_ms();
                let keys = s.keys(&prefix, now).await?;
                Ok(Reply::Keys(
                    keys.into_iter()
                        .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
                        .collect(),
                ))
            })
        });
        Op::with(
            cache,
            &full,
            State::Command {
                pending,
                fallback: Fallback::LocalKeys,
            },
        )
    }

    pub(crate) fn clear(cache: &Cache<V>) -> Op<V> {
        let prefix = format!("{KEY_PREFIX}{}", cache.prefix);
        let tier = cache.inner.tier.as_ref().expect("a store");
        let pending = tier.call(move |s| {
            Box::pin(async move {
                s.clear(&prefix).await?;
                Ok(Reply::Done)
            })
        });
        Op::with(
            cache,
            "",
            State::Command {
                pending,
                fallback: Fallback::Done,
            },
        )
    }

    pub(crate) fn ping(cache: &Cache<V>) -> Op<V> {
        let tier = cache.inner.tier.as_ref().expect("a store");
        let pending = tier.call(move |s| {
            Box::pin(async move {
                s.ping().await?;
                Ok(Reply::Bool(true))
            })
        });
        Op::with(
            cache,
            "",
            State::Command {
                pending,
                fallback: Fallback::Bool(false),
            },
        )
    }

    pub(crate) fn expire(cache: &Cache<V>, full: &str, ttl: u64, was_live: bool) -> Op<V> {
        let clock = cache.clock().clone();
        Op::command(cache, full, Fallback::Bool(was_live), move |s, key| {
            Box::pin(async move {
                loop {
                    let now = clock.epoch_ms();
                    let Some(old) = s.get(&key).await? else {
                        return Ok(Reply::Bool(false));
                    };
                    let env = match Envelope::decode(&old) {
                        Ok(e) if matches!(e.body, Body::Value(_)) && e.is_fresh(now) => e,
                        _ => return Ok(Reply::Bool(false)),
                    };
                    if ttl == 0 {
                        s.delete(&key).await?;
                        return Ok(Reply::Bool(true));
                    }
                    let fresh_until = if ttl == NEVER {
                        u64::MAX
                    } else {
                        now.saturating_add(ttl)
                    };
                    let new = Envelope {
                        fresh_until,
                        stale_until: fresh_until,
                        ..env
                    };
                    let reclaim = reclaim_at(&new);
                    if s.compare_and_set(&key, Some(old), new.encode(), reclaim)
                        .await?
                    {
                        return Ok(Reply::Bool(true));
                    }
                }
            })
        })
    }

    /// `add` in the store: writes `env` only if the store has no fresh value for the key
    /// (read, then compare-and-set against what was read, until one of the two decides).
    pub(crate) fn add(
        cache: &Cache<V>,
        full: &str,
        env: Envelope,
        value: V,
        size: u64,
        ttl: u64,
    ) -> Op<V> {
        let clock = cache.clock().clone();
        let seen = cache.inner.memory.invalidations.seen(full);
        let reclaim = reclaim_at(&env);
        let fresh_until = env.fresh_until;
        let bytes = env.encode();
        let fallback = Fallback::Add { value, size, ttl };
        Op::command(cache, full, fallback, move |s, key| {
            Box::pin(async move {
                loop {
                    let now = clock.epoch_ms();
                    let old = s.get(&key).await?;
                    let live = old.as_deref().map(Envelope::decode).is_some_and(
                        |e| matches!(e, Ok(e) if matches!(e.body, Body::Value(_)) && e.is_fresh(now)),
                    );
                    if live {
                        return Ok(Reply::Bool(false));
                    }
                    if s.compare_and_set(&key, old, bytes.clone(), reclaim).await? {
                        return Ok(Reply::Added { fresh_until, seen });
                    }
                }
            })
        })
    }

    pub(crate) fn incr(cache: &Cache<V>, full: &str, by: i64, must_exist: bool) -> Op<V> {
        let clock = cache.clock().clone();
        let default_ttl = cache.inner.memory.expiry.resolve(None).unwrap_or(NEVER);
        let user_key = cache.user_key(full).to_string();
        let seen = cache.inner.memory.invalidations.seen(full);
        Op::command(
            cache,
            full,
            Fallback::LocalIncr(by, must_exist),
            move |s, key| {
                Box::pin(async move {
                    loop {
                        let now = clock.epoch_ms();
                        let old = s.get(&key).await?;
                        let current = old.as_deref().map(Envelope::decode);
                        let (n, base) = match current {
                            Some(Ok(e)) if matches!(e.body, Body::Value(_)) && e.is_fresh(now) => {
                                match e.value() {
                                    Some(Value::Int(cur)) => match checked_incr(cur, by) {
                                        Ok(n) => (n, Some(e)),
                                        Err(err) => return Ok(Reply::Failed(err)),
                                    },
                                    _ => {
                                        return Ok(Reply::Failed(Error::WrongType(format!(
                                            "incr: the value at key {user_key:?} is not an integer"
                                        ))))
                                    }
                                }
                            }
                            _ if must_exist => {
                                return Ok(Reply::Failed(Error::NotFound {
                                    op: "incr",
                                    key: user_key,
                                }))
                            }
                            _ => (by, None),
                        };
                        let body = codec::encode(&Value::Int(n));
                        let env = match base {
                            Some(e) => Envelope {
                                body: Body::Value(body),
                                ..e
                            },
                            None => {
                                let fresh_until = if default_ttl == NEVER {
                                    u64::MAX
                                } else {
                                    now.saturating_add(default_ttl)
                                };
                                Envelope {
                                    created: now,
                                    fresh_until,
                                    stale_until: fresh_until,
                                    load_ms: 0,
                                    body: Body::Value(body),
                                }
                            }
                        };
                        let reclaim = reclaim_at(&env);
                        let fresh_until = env.fresh_until;
                        if s.compare_and_set(&key, old, env.encode(), reclaim).await? {
                            return Ok(Reply::Counted {
                                n,
                                fresh_until,
                                seen,
                            });
                        }
                    }
                })
            },
        )
    }

    /// Starts `get` (with or without a loader): a hit or a plain miss now, or the
    /// operation that finds the answer.
    pub(crate) fn start(
        cache: &Cache<V>,
        key: &str,
        opts: &LoadOptions<'_>,
        has_loader: bool,
        want_entry: bool,
    ) -> Result<Lookup<V>> {
        let max_age = opts.max_age.map(|m| parse_ttl("max_age", m)).transpose()?;
        let ttl = match opts.ttl {
            Ttl::Ms(ms) => Ttl::Ms(cache.inner.memory.expiry.resolve(Some(ms))? as f64),
            t => t,
        };
        let timeout = match opts.timeout {
            Some(t) => Some(Duration::from_millis(parse_ttl("timeout", t)?)),
            None => cache.inner.settings.load_timeout,
        };
        // The call's policies over the cache's: checked now, copied only past a fresh hit.
        let call_policy = if opts.policy.is_empty() {
            None
        } else {
            Some(cache.inner.settings.policy.with(&opts.policy)?)
        };
        let full = cache.full_key(key);
        let mut at = Now::new(cache.clock());
        let memory = &cache.inner.memory;
        if memory.expiry.sweep_due_at(&mut at) {
            cache.housekeeping(at.exact());
        }
        let mut stale = None;
        let found = memory.lookup(&full, &mut at, max_age);
        if let Found::Fresh(v) = found {
            if !want_entry {
                return Ok(Lookup::Hit(v));
            }
            return Ok(Op::hit(cache, &full, v, Status::Hit, None));
        }
        let policy = call_policy.unwrap_or(cache.inner.settings.policy);
        let fallback = match found {
            Found::Fresh(_) => unreachable!("answered above"),
            Found::Aging(v) => {
                let now = at.exact();
                let created = memory.peek_kept(&full, now).map(|e| {
                    cache
                        .clock()
                        .epoch_ms()
                        .saturating_sub(now.saturating_sub(e.times.born))
                });
                let refresh = has_loader
                    .then(|| Op::refresh(cache, &full, ttl, policy, opts.within, created))
                    .flatten();
                if refresh.is_none() && !want_entry {
                    return Ok(Lookup::Hit(v));
                }
                return Ok(Op::hit(cache, &full, v, Status::Hit, refresh));
            }
            Found::Unverified(v) => {
                memory.counters.miss();
                Some(v)
            }
            Found::Stale(e) if has_loader && policy.serves_stale(&e, at.exact()) => {
                // Stale-while-revalidate: this value now, one refresh in the background.
                memory.counters.hit();
                memory.counters.stale_hit();
                let refresh = Op::refresh(cache, &full, ttl, policy, opts.within, None);
                let mut op = Op::answered(cache, Answer::Value(e.value.clone()));
                op.full = full.as_ref().into();
                op.served = Served::of(Status::Refreshing, Source::Memory, &e);
                op.spawn = refresh.map(Box::new);
                return Ok(Lookup::Pending(op));
            }
            Found::Stale(e) => {
                memory.counters.miss();
                stale = has_loader.then_some((e, Source::Memory));
                None
            }
            Found::Absent => None,
        };
        if !has_loader {
            return Ok(Op::read_store(cache, &full, max_age, fallback));
        }
        let now = at.exact();
        let decided = Begin::decide(
            cache,
            &full,
            now,
            max_age,
            opts.within,
            None,
            fallback.is_some(),
        );
        let mut op = Op::with(
            cache,
            &full,
            State::Load(boxed!(Load {
                ttl,
                max_age,
                timeout,
                within: opts.within.to_vec(),
                has_loader,
                started: timer_start(timeout, &policy),
                fallback,
                policy,
                stale,
                refresh_of: None,
                waiting_since: None,
                detached: false,
                phase: Phase::Start,
            })),
        );
        if let Some(a) = op.apply(decided, now) {
            op.state = State::Answered(Some(Ok(a)));
        }
        Ok(Lookup::Pending(op))
    }

    /// A hit reported with how it was served (`get_entry`), and a refresh to start.
    fn hit(
        cache: &Cache<V>,
        full: &str,
        v: V,
        status: Status,
        refresh: Option<Op<V>>,
    ) -> Lookup<V> {
        let now = cache.now();
        let mut op = Op::answered(cache, Answer::Value(v));
        op.full = full.into();
        if let Some(e) = cache.inner.memory.peek_kept(full, now) {
            op.served = Served::of(status, Source::Memory, &e);
        }
        op.spawn = refresh.map(Box::new);
        Lookup::Pending(op)
    }

    /// A background load that replaces the value of `full` (served stale, or due for a
    /// refresh ahead of its expiry), unless a load of the key is already under way.
    /// `refresh_of`: the creation time (epoch ms) of the value it replaces, when the store
    /// may hold a newer one.
    fn refresh(
        cache: &Cache<V>,
        full: &str,
        ttl: Ttl,
        policy: Policy,
        within: &[FlightId],
        refresh_of: Option<u64>,
    ) -> Option<Op<V>> {
        if cache
            .inner
            .flights
            .lock(full)
            .get(full)
            .is_some_and(|f| !f.is_done() && !f.orphaned())
        {
            return None;
        }
        let mut op = Op::with(
            cache,
            full,
            State::Load(boxed!(Load {
                ttl,
                max_age: None,
                timeout: None,
                within: within.to_vec(),
                has_loader: true,
                started: timer_start(None, &policy),
                fallback: None,
                policy,
                stale: None,
                refresh_of,
                waiting_since: None,
                detached: false,
                phase: Phase::Start,
            })),
        );
        op.background = Some(Background::Refresh);
        Some(op)
    }

    /// The store read of a `get` without a loader whose in-process lookup missed (and was
    /// counted): nothing without a store. `fallback`, an unverified copy, is the answer
    /// when the store cannot be asked.
    pub(crate) fn read_store(
        cache: &Cache<V>,
        full: &str,
        max_age: Option<u64>,
        fallback: Option<V>,
    ) -> Lookup<V> {
        let tier = match cache.inner.tier.as_ref() {
            Some(t) if t.available() || fallback.is_none() => t,
            _ => {
                return match fallback {
                    Some(v) => Lookup::Hit(v),
                    None => Lookup::Absent,
                }
            }
        };
        let seen = cache.inner.memory.invalidations.seen(full);
        let skey = Tier::key(full);
        let pending = tier.call(move |s| Box::pin(async move { s.get(&skey).await }));
        Lookup::Pending(Op::with(
            cache,
            full,
            State::Read {
                pending,
                seen,
                max_age,
                fallback,
            },
        ))
    }

    /// How the answer was served (meaningful once `step` is done).
    pub fn served(&self) -> Served {
        self.served
    }

    /// How the answer was served, as `get_entry` reports it (once `step` is done).
    pub fn entry_info(&self) -> EntryInfo {
        self.served.info(self.cache.now())
    }

    /// The flight this operation leads, if it leads one: async hosts keep it in their task's
    /// context so that a loader asking for its own key is told so.
    pub fn flight_id(&self) -> Option<FlightId> {
        match &self.state {
            State::Load(l) => match &l.phase {
                Phase::Leading { flight, .. } => Some(flight.id),
                _ => None,
            },
            _ => None,
        }
    }

    /// The flight of this process this operation waits for, if it waits for one (a host
    /// whose waiting would block the thread that has to finish it can tell).
    pub fn joined_flight(&self) -> Option<FlightId> {
        match &self.state {
            State::Load(l) => match &l.phase {
                Phase::Joined { flight, .. } => Some(flight.id),
                _ => None,
            },
            _ => None,
        }
    }

    /// The caller's key (without a namespace's prefix).
    pub fn key(&self) -> &str {
        self.cache.user_key(&self.full)
    }

    /// Runs `f` (a synchronous loader) marked as this operation's loader on this thread,
    /// so that a call for the same key from inside it is `reentrant`.
    pub fn run_loader<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.flight_id() {
            Some(id) => flight::run_as_leader(id, f),
            None => f(),
        }
    }

    /// Hands over the loader's result (after [`Step::RunLoader`]).
    pub fn loaded(&mut self, result: std::result::Result<V, LoaderError>) {
        if let State::Load(l) = &mut self.state {
            if let Phase::Leading {
                lead: Lead::Loader { result: slot, .. },
                ..
            } = &mut l.phase
            {
                *slot = Some(result);
            }
        }
    }

    /// Ends a load whose loader panicked or was cancelled: every waiter gets a
    /// `loader_aborted` error.
    pub fn abort(&mut self, message: impl Into<String>) -> Error {
        let e = Error::LoaderAborted {
            key: self.cache.user_key(&self.full).to_string(),
            message: message.into(),
        };
        if let State::Load(l) = &mut self.state {
            if let Phase::Leading { flight, lead, .. } = &mut l.phase {
                let flight = flight.clone();
                if let Lead::Loader { lease, .. } = lead {
                    if let Some(hold) = lease.take() {
                        self.release_lease(hold, None);
                    }
                }
                self.cache.inner.memory.counters.load_error();
                self.cache.end_flight(&self.full, &flight);
                flight.publish(Outcome::Error(e.clone()));
            }
        }
        self.state = State::Answered(None);
        e
    }

    /// Advances the operation. `host` converts values, on this thread; `waker` is woken
    /// when a [`Step::Park`] may be over.
    pub fn step(&mut self, host: &mut dyn Host<V>, waker: &Waker) -> Step<V> {
        if let Some(o) = self.spawn.take() {
            return Step::Spawn(o);
        }
        let step = self.step_state(host, waker);
        if let (Step::Done(r), Some(Background::Refresh)) = (&step, self.background) {
            let counters = &self.cache.inner.memory.counters;
            match r {
                Ok(Answer::Value(_)) => counters.refreshed(),
                Err(_) => counters.refresh_error(),
                Ok(_) => {}
            }
        }
        match step {
            // Copy semantics: the caller gets a copy of its own (see `Cache::hand_out`).
            Step::Done(Ok(Answer::Value(v))) if self.cache.copies() => {
                Step::Done(self.cache.hand_out(v, host).map(Answer::Value))
            }
            step => step,
        }
    }

    /// The answer, when the operation has one already and nothing else to do (no
    /// background work to hand over): what [`Op::step`] would return, without a waker.
    pub fn answered_now(&mut self) -> Option<Result<Answer<V>>> {
        if self.spawn.is_some() || self.background.is_some() {
            return None;
        }
        if self.cache.copies() && matches!(self.state, State::Answered(Some(Ok(Answer::Value(_)))))
        {
            // A value is handed out as a copy, which takes the host: `step` does it.
            return None;
        }
        match &mut self.state {
            State::Answered(a) => Some(
                a.take()
                    .unwrap_or_else(|| Err(Error::invalid("this operation has already answered"))),
            ),
            _ => None,
        }
    }

    /// Hands `other` back: the next [`Op::step`] returns it as [`Step::Spawn`] again (a
    /// binding that stepped an operation where it cannot start background work yet).
    /// The flights the caller is loading (see [`LoadOptions::within`]), given after
    /// [`Cache::load`] answered with an operation: a host whose `within` costs something to
    /// find (a context variable) need not find it for a hit.
    pub fn set_within(&mut self, within: &[FlightId]) {
        if let State::Load(l) = &mut self.state {
            l.within = within.to_vec();
            // Joined before the caller's flights were known (see `Begin::decide`).
            if let Phase::Joined { flight, .. } = &l.phase {
                if within.contains(&flight.id) {
                    self.state = State::Answered(Some(Err(self.reentrant())));
                }
            }
        }
    }

    pub fn defer_spawn(&mut self, other: Box<Op<V>>) {
        debug_assert!(self.spawn.is_none());
        self.spawn = Some(other);
    }

    /// How a `get_entry` that found nothing reports.
    pub(crate) fn mark_miss(&mut self) {
        self.served = Served::new(Status::Miss, Source::Memory);
    }

    /// Whether this operation runs in the background (nobody waits for its answer).
    pub fn is_background(&self) -> bool {
        self.background.is_some()
    }

    fn step_state(&mut self, host: &mut dyn Host<V>, waker: &Waker) -> Step<V> {
        loop {
            let next = match &mut self.state {
                State::Answered(a) => {
                    return Step::Done(a.take().unwrap_or_else(|| {
                        Err(Error::invalid("this operation has already answered"))
                    }))
                }
                State::Command { pending, fallback } => match pending.try_take() {
                    None => {
                        pending.park(waker);
                        if pending.is_ready() {
                            continue;
                        }
                        return Step::Park(None);
                    }
                    Some(r) => {
                        let fallback = std::mem::replace(fallback, Fallback::Done);
                        let answer = self.finish_command(r, fallback, host);
                        State::Answered(Some(answer))
                    }
                },
                State::Read {
                    pending,
                    seen,
                    max_age,
                    fallback,
                } => match pending.try_take() {
                    None => {
                        pending.park(waker);
                        if pending.is_ready() {
                            continue;
                        }
                        return Step::Park(None);
                    }
                    Some(r) => {
                        let (seen, max_age, fallback) = (*seen, *max_age, fallback.take());
                        let failed = r.is_err();
                        let policy = self.cache.inner.settings.policy;
                        let found = self.store_value(r, max_age, host, false, &policy, false);
                        let answer = match found {
                            Some((v, size, times, _)) => {
                                self.cache.fill(
                                    &self.full,
                                    None,
                                    Some(seen),
                                    v.clone(),
                                    size,
                                    times,
                                );
                                self.served = Served {
                                    status: Status::Hit,
                                    source: Source::Store,
                                    times: Some((times.born, times.deadline)),
                                };
                                Answer::Value(v)
                            }
                            None => match fallback {
                                // The store cannot say: the copy here is the best answer.
                                Some(v) if failed => {
                                    self.served = Served::new(Status::Hit, Source::Memory);
                                    Answer::Value(v)
                                }
                                // Gone from the store: the copy here is gone too.
                                Some(_) => {
                                    self.cache.drop_copy(&self.full, seen);
                                    Answer::Absent
                                }
                                None => Answer::Absent,
                            },
                        };
                        State::Answered(Some(Ok(answer)))
                    }
                },
                State::Load(_) => match self.step_load(host, waker) {
                    Some(step) => return step,
                    None => continue,
                },
            };
            self.state = next;
        }
    }

    #[inline(never)]
    fn finish_command(
        &mut self,
        r: StoreResult<Reply>,
        fallback: Fallback<V>,
        host: &mut dyn Host<V>,
    ) -> Result<Answer<V>> {
        match r {
            Ok(Reply::Bool(b)) => Ok(Answer::Bool(b)),
            Ok(Reply::Counted {
                n,
                fresh_until,
                seen,
            }) => {
                // This process keeps a copy of the count, as it would of any write of its own.
                if let Ok(v) = host.integer(n) {
                    if let Ok(size) = host.size_of(&v) {
                        let now = self.cache.now();
                        let epoch = self.cache.clock().epoch_ms();
                        let deadline = match fresh_until {
                            u64::MAX => NEVER,
                            f => now.saturating_add(f.saturating_sub(epoch)),
                        };
                        let times = self.cache.times(now, deadline, 0);
                        self.cache
                            .fill_at(now, &self.full, None, Some(seen), v, size, times);
                    }
                }
                Ok(Answer::Int(n))
            }
            Ok(Reply::Added { fresh_until, seen }) => {
                // This process keeps the value it added, as it would after a `set`.
                if let Fallback::Add { value, size, .. } = fallback {
                    let now = self.cache.now();
                    let epoch = self.cache.clock().epoch_ms();
                    let deadline = match fresh_until {
                        u64::MAX => NEVER,
                        f => now.saturating_add(f.saturating_sub(epoch)),
                    };
                    let times = self.cache.times(now, deadline, 0);
                    self.cache
                        .fill_at(now, &self.full, None, Some(seen), value, size, times);
                }
                Ok(Answer::Bool(true))
            }
            Ok(Reply::Ms(m)) => Ok(Answer::Ms(m)),
            Ok(Reply::Keys(k)) => Ok(Answer::Keys(k)),
            Ok(Reply::Done) => Ok(Answer::Done),
            Ok(Reply::Failed(e)) => Err(e),
            // The store failed: answer from this process, as if there were no store.
            Err(_) => Ok(match fallback {
                Fallback::Bool(b) | Fallback::OrBool(b) => Answer::Bool(b),
                Fallback::Done => Answer::Done,
                Fallback::LocalKeys => Answer::Keys(self.cache_at_prefix().local_keys()),
                Fallback::LocalTtl => {
                    let now = self.cache.now();
                    Answer::Ms(self.cache.inner.memory.peek_live(&self.full, now).map(|e| {
                        if e.times.deadline == NEVER {
                            f64::INFINITY
                        } else {
                            (e.times.deadline - now) as f64
                        }
                    }))
                }
                Fallback::LocalIncr(by, must_exist) => {
                    Answer::Int(self.cache.incr_local(&self.full, by, must_exist, host)?)
                }
                Fallback::Add { value, size, ttl } => {
                    Answer::Bool(self.cache.add_local(&self.full, value, size, ttl))
                }
            }),
        }
    }

    fn cache_at_prefix(&self) -> Cache<V> {
        self.cache.clone()
    }

    /// A value from a store read, decoded on this thread, with its size and its times in
    /// this process: `(value, size, times, true)` for a fresh value; with `want_stale`,
    /// `(…, false)` for an expired one the store still keeps; `None` for nothing usable.
    /// `waiting` accepts a hand-off (a `ttl` 0 value for the waiters of the load that
    /// made it).
    fn store_value(
        &self,
        r: StoreResult<Option<Vec<u8>>>,
        max_age: Option<u64>,
        host: &mut dyn Host<V>,
        waiting: bool,
        policy: &Policy,
        want_stale: bool,
    ) -> Option<(V, u64, Times, bool)> {
        let counters = &self.cache.inner.memory.counters;
        let Some(bytes) = r.ok()? else {
            counters.store_miss();
            return None;
        };
        let Ok(env) = Envelope::decode(&bytes) else {
            counters.store_miss();
            return None;
        };
        let epoch = self.cache.clock().epoch_ms();
        let (usable, fresh) = match &env.body {
            Body::Value(_) if env.is_fresh(epoch) => (
                max_age.is_none_or(|m| epoch.saturating_sub(env.created) < m),
                true,
            ),
            Body::Value(_) => (want_stale && env.stale_until > epoch, false),
            Body::Handoff(_) => (waiting, true),
            Body::Failure { .. } => (false, false),
        };
        if !usable {
            counters.store_miss();
            return None;
        }
        let value = env.value()?;
        let (v, size) = from_store(host, value).ok()?;
        if fresh {
            counters.store_hit();
        } else {
            counters.store_miss();
        }
        let now = self.cache.now();
        // A store's time (epoch ms) as this process's cache time.
        let local = |t: u64| {
            if t == u64::MAX {
                NEVER
            } else if t >= epoch {
                now.saturating_add(t - epoch)
            } else {
                now.saturating_sub(epoch - t)
            }
        };
        let born = local(env.created);
        let deadline = match &env.body {
            Body::Handoff(_) => now,
            _ => local(env.fresh_until),
        };
        let times = Times::new(
            born,
            deadline,
            local(env.stale_until).max(deadline),
            policy.refresh_at(born, deadline, env.load_ms),
            env.load_ms,
            self.cache.inner.memory.invalidations.epoch(),
        );
        Some((v, size, times, fresh))
    }

    /// One step of a load; `None` to be called again at once.
    fn step_load(&mut self, host: &mut dyn Host<V>, waker: &Waker) -> Option<Step<V>> {
        let State::Load(load) = &mut self.state else {
            unreachable!()
        };

        match &mut load.phase {
            Phase::Start => match self.begin() {
                Some(a) => Some(Step::Done(Ok(a))),
                // Leading now: its first step at once (on most misses, asking for the
                // loader) rather than through another turn of `step_state`.
                None => self.step_leading(host, waker),
            },
            Phase::Joined { .. } => self.step_joined(waker),
            Phase::Leading { .. } => self.step_leading(host, waker),
        }
    }

    /// A leader's step: the loader's (every miss's) here, the store's out of line.
    #[inline(always)]
    fn step_leading(&mut self, host: &mut dyn Host<V>, waker: &Waker) -> Option<Step<V>> {
        match &self.state {
            State::Load(l) => match &l.phase {
                Phase::Leading {
                    lead: Lead::Loader { .. },
                    ..
                } => self.step_loader(host),
                Phase::Leading { .. } => self.step_lead(host, waker),
                _ => None,
            },
            _ => None,
        }
    }

    /// A caller waiting for another caller's load. Out of line, as are the store's steps:
    /// what a miss runs stays together in a few cache lines of code (inlined, the steps of
    /// every path made two functions of about 20 KB, and a miss missed the instruction
    /// cache about 26 times).
    #[inline(never)]
    fn step_joined(&mut self, waker: &Waker) -> Option<Step<V>> {
        let State::Load(load) = &mut self.state else {
            unreachable!()
        };
        let Phase::Joined {
            flight,
            deadline,
            soft_at,
            hard_at,
        } = &mut load.phase
        else {
            unreachable!()
        };
        match flight.poll(Some(waker)) {
            Some(Outcome::Value(v)) => {
                let status = if load.detached {
                    Status::Loaded
                } else {
                    Status::Joined
                };
                let now = self.cache.now();
                self.served = match self.cache.inner.memory.peek_kept(&self.full, now) {
                    Some(e) => Served::of(status, Source::Loader, &e),
                    None => Served::new(status, Source::Loader),
                };
                self.state = State::Answered(None);
                Some(Step::Done(Ok(Answer::Value(v))))
            }
            Some(Outcome::Error(e)) => {
                if let Some(step) = self.stale_instead(false) {
                    return Some(step);
                }
                self.state = State::Answered(None);
                Some(Step::Done(Err(e)))
            }
            Some(Outcome::Abandoned) => {
                load.phase = Phase::Start;
                None
            }
            None => {
                if self.background.is_none() && load.has_loader {
                    // A refresh of a value this caller may be served stale (kept here
                    // by the flight's store read): served now instead of waiting.
                    let now = self.cache.now();
                    let policy = load.policy;
                    if let Some(e) = self.cache.inner.memory.peek_kept(&self.full, now) {
                        if policy.serves_stale(&e, now) {
                            self.cache.inner.memory.counters.miss_became_stale_hit();
                            self.served = Served::of(Status::Refreshing, Source::Memory, &e);
                            self.state = State::Answered(None);
                            return Some(Step::Done(Ok(Answer::Value(e.value))));
                        }
                    }
                }
                let now = Instant::now();
                let (d, soft, hard) = (*deadline, *soft_at, *hard_at);
                let flight = flight.clone();
                if hard.is_some_and(|h| now >= h) {
                    // Abandoned: later callers start a new load; this one's late result
                    // is kept only over nothing newer (see `Cache::fill`).
                    flight.abandoned.store(true, Ordering::SeqCst);
                    let mut map = self.cache.inner.flights.lock(&self.full);
                    flight::detach(&mut map, &self.full, &flight);
                    drop(map);
                    let token = flight.lease_token.swap(0, Ordering::SeqCst);
                    if token != 0 && self.cache.has_store() {
                        // Its late store write is refused (the lease is gone); here its
                        // late result is kept only over nothing newer.
                        let key = Tier::key(&self.full);
                        self.tier().detach(move |s| {
                            Box::pin(async move { s.release(&key, token, None).await })
                        });
                    }
                    if let Some(step) = self.stale_instead(true) {
                        return Some(step);
                    }
                    let ms = self
                        .policy()
                        .hard_timeout
                        .map_or(0, |t| t.as_millis() as u64);
                    self.state = State::Answered(None);
                    return Some(Step::Done(Err(Error::Timeout {
                        key: flight.key().to_string(),
                        ms,
                    })));
                }
                if soft.is_some_and(|s| now >= s) {
                    if let Some(step) = self.stale_instead(false) {
                        return Some(step);
                    }
                }
                if d.is_some_and(|d| now >= d) {
                    let e = Error::Timeout {
                        key: flight.key().to_string(),
                        ms: load_timeout_ms(&self.state),
                    };
                    self.state = State::Answered(None);
                    return Some(Step::Done(Err(e)));
                }
                let soft = soft.filter(|s| *s > now && self.has_stale_on_error());
                let wake = [d, soft, hard].into_iter().flatten().min();
                Some(Step::Park(wake))
            }
        }
    }

    fn policy(&self) -> Policy {
        match &self.state {
            State::Load(l) => l.policy,
            _ => self.cache.inner.settings.policy,
        }
    }

    /// Whether this caller holds an expired value it may serve instead of an error.
    fn has_stale_on_error(&self) -> bool {
        let now = self.cache.now();
        match &self.state {
            State::Load(l) => l
                .stale
                .as_ref()
                .is_some_and(|(e, _)| l.policy.serves_on_error(e, now)),
            _ => false,
        }
    }

    /// Serves the expired value this caller holds instead of an error or a wait, if the
    /// policies allow (`any_kept`: any kept value will do, as after a `hard_timeout`).
    fn stale_instead(&mut self, any_kept: bool) -> Option<Step<V>> {
        if self.background.is_some() {
            return None;
        }
        let now = self.cache.now();
        let State::Load(l) = &mut self.state else {
            return None;
        };
        let ok = l
            .stale
            .as_ref()
            .is_some_and(|(e, _)| l.policy.serves_on_error(e, now) || (any_kept && e.kept(now)));
        if !ok {
            return None;
        }
        let (e, source) = l.stale.take()?;
        self.cache.inner.memory.counters.miss_became_stale_hit();
        self.served = Served::of(Status::Stale, source, &e);
        self.state = State::Answered(None);
        Some(Step::Done(Ok(Answer::Value(e.value))))
    }

    /// Joins or leads this process's flight for the key.
    fn begin(&mut self) -> Option<Answer<V>> {
        let State::Load(load) = &self.state else {
            unreachable!()
        };
        let now = self.cache.now();
        let d = Begin::decide(
            &self.cache,
            &self.full,
            now,
            load.max_age,
            &load.within,
            self.background,
            load.fallback.is_some(),
        );
        self.apply(d, now)
    }

    /// The error of a caller that would wait for its own load.
    fn reentrant(&self) -> Error {
        Error::Reentrant {
            key: self.cache.user_key(&self.full).to_string(),
        }
    }

    /// Carries out what [`Begin::decide`] decided: the answer when there is one now.
    fn apply(&mut self, d: Begin<V>, now: u64) -> Option<Answer<V>> {
        let background = self.background;
        let State::Load(load) = &mut self.state else {
            unreachable!()
        };
        match d {
            Begin::Fresh(e) => {
                self.state = State::Answered(None);
                if background.is_some() {
                    return Some(Answer::Done);
                }
                self.served = Served::of(Status::Hit, Source::Memory, &e);
                Some(Answer::Value(e.value))
            }
            Begin::Busy => {
                self.state = State::Answered(None);
                Some(Answer::Done)
            }
            Begin::Reentrant => {
                self.state = State::Answered(Some(Err(self.reentrant())));
                None
            }
            Begin::Join(flight) => {
                load.phase = Phase::Joined {
                    flight,
                    deadline: after(load.started, load.timeout),
                    soft_at: after(load.started, load.policy.soft_timeout),
                    hard_at: after(load.started, load.policy.hard_timeout),
                };
                None
            }
            Begin::Backoff(err) => {
                if background.is_some() {
                    self.state = State::Answered(None);
                    return Some(Answer::Done);
                }
                if let Some(Step::Done(Ok(a))) = self.stale_instead(false) {
                    return Some(a);
                }
                self.state = State::Answered(Some(Err(err)));
                None
            }
            Begin::Unverified => {
                let v = load.fallback.take().expect("decided on an unverified copy");
                self.state = State::Answered(None);
                self.served = Served::new(Status::Hit, Source::Memory);
                Some(Answer::Value(v))
            }
            Begin::Lead {
                flight,
                seen,
                read_store,
            } => {
                let lead = match &self.cache.inner.tier {
                    Some(tier) if read_store => {
                        let key = Tier::key(&self.full);
                        Lead::StoreRead(
                            tier.call(move |s| Box::pin(async move { s.get(&key).await })),
                        )
                    }
                    _ => Lead::loader(None, true, now),
                };
                load.phase = Phase::Leading { flight, lead, seen };
                None
            }
        }
    }

    /// Moves this load (its flight, lease and lead) into a new operation that goes on in
    /// the background; this one is left at `Phase::Start`, for its caller to answer or to
    /// join the flight.
    fn split_off(&mut self, why: Background) -> Op<V> {
        let State::Load(load) = &mut self.state else {
            unreachable!()
        };
        let phase = std::mem::replace(&mut load.phase, Phase::Start);
        let moved = Load {
            ttl: load.ttl,
            max_age: load.max_age,
            timeout: None,
            within: load.within.clone(),
            has_loader: true,
            started: load.started,
            fallback: None,
            policy: load.policy,
            stale: None,
            refresh_of: load.refresh_of,
            waiting_since: None,
            detached: false,
            phase,
        };
        let mut op = Op::with(&self.cache, &self.full, State::Load(boxed!(moved)));
        op.background = Some(why);
        op
    }

    /// The steps of a load that asks the store (out of line: see `step_joined`).
    #[inline(never)]
    fn step_lead(&mut self, host: &mut dyn Host<V>, waker: &Waker) -> Option<Step<V>> {
        let State::Load(load) = &mut self.state else {
            unreachable!()
        };
        let max_age = load.max_age;
        let timeout_at = after(load.started, load.timeout);
        let policy = load.policy;
        let refresh_of = load.refresh_of;
        let want_stale = policy.keep_ms() > 0 && load.stale.is_none();
        let Phase::Leading { flight, lead, .. } = &mut load.phase else {
            unreachable!()
        };
        // Each branch that keeps the flight past a call on `self` clones it; the loader's
        // branch, every miss's, does not (two atomic writes each time).
        match lead {
            Lead::StoreRead(p) => {
                let flight = flight.clone();
                let Some(r) = poll(p, waker) else {
                    return Some(Step::Park(None));
                };
                let failed = r.is_err();
                let foreign = matches!(&r, Ok(Some(b)) if matches!(
                    Envelope::decode(b),
                    Err(crate::value::envelope::EnvelopeError::Foreign
                        | crate::value::envelope::EnvelopeError::NewerVersion(_))
                ));
                match self.store_value(r, max_age, host, false, &policy, want_stale) {
                    Some(found) if found.3 && self.newer_than_refreshed(&found.2, refresh_of) => {
                        return Some(self.lead_done_from_store(&flight, found, Status::Hit));
                    }
                    Some((v, size, times, false)) => {
                        // Expired, still kept by the store: a stale value for this call.
                        let e = Entry {
                            value: v,
                            size,
                            times,
                        };
                        let now = self.cache.now();
                        if self.background.is_none() && policy.serves_stale(&e, now) {
                            // Stale-while-revalidate: the load goes on in the background.
                            self.cache.inner.memory.counters.miss_became_stale_hit();
                            // Kept here too, and the callers already waiting for this flight
                            // told: they serve it instead of waiting for the refresh.
                            let seen = self.seen();
                            let map = self.cache.inner.flights.lock(&self.full);
                            let mut released = ReleasedEntries::new();
                            let memory = &self.cache.inner.memory;
                            if seen.generation == memory.invalidations.generation(&self.full) {
                                let v = e.value.clone();
                                let full = &self.full;
                                memory.write_kept(&map, full, v, size, times, now, &mut released);
                            }
                            drop(map);
                            drop(released);
                            flight.nudge();
                            let mut rest = self.split_off(Background::Refresh);
                            rest.set_lead(rest.take_lease(false));
                            self.served = Served::of(Status::Refreshing, Source::Store, &e);
                            self.state = State::Answered(Some(Ok(Answer::Value(e.value))));
                            return Some(Step::Spawn(Box::new(rest)));
                        }
                        if let State::Load(l) = &mut self.state {
                            l.stale = Some((e, Source::Store));
                        }
                    }
                    _ => {}
                }
                if let Some(v) = self.take_fallback() {
                    if failed {
                        // The store cannot say: the unverified copy here is the answer.
                        self.cache.end_flight(&self.full, &flight);
                        flight.publish(Outcome::Value(v.clone()));
                        self.state = State::Answered(None);
                        self.served = Served::new(Status::Hit, Source::Memory);
                        return Some(Step::Done(Ok(Answer::Value(v))));
                    }
                    // Gone from the store (or not this version's): so is the copy here.
                    self.cache.drop_copy(&self.full, self.seen());
                }
                let next = if failed || foreign {
                    Lead::loader(None, !foreign, self.cache.now())
                } else {
                    self.take_lease(false)
                };
                self.set_lead(next);
                None
            }
            Lead::Lease {
                token,
                pending,
                waited,
            } => {
                let (token, waited) = (*token, *waited);
                let Some(r) = poll(pending, waker) else {
                    return Some(Step::Park(None));
                };
                let next = match r {
                    Ok(LeaseState::Acquired) => {
                        if let Some(f) = self.leading_flight() {
                            f.lease_token.store(token, Ordering::SeqCst);
                        }
                        let hold = self.hold_lease(token);
                        let pending = self.read_key();
                        Lead::Reread {
                            lease: hold,
                            pending,
                            waited,
                        }
                    }
                    Ok(LeaseState::Held { remaining_ms }) => {
                        let now = self.cache.clock().epoch_ms();
                        if let State::Load(l) = &mut self.state {
                            l.waiting_since.get_or_insert(now);
                        }
                        self.watch_remote(Instant::now() + Duration::from_millis(remaining_ms + 1))
                    }
                    Err(_) => Lead::loader(None, true, self.cache.now()),
                };
                self.set_lead(next);
                None
            }
            Lead::Reread { pending, .. } => {
                let flight = flight.clone();
                let Some(r) = poll(pending, waker) else {
                    return Some(Step::Park(None));
                };
                let failed = r.is_err();
                // A failure from before this caller began waiting is not its answer (the
                // holder's release had not landed when it asked for the lease).
                let since = match &self.state {
                    State::Load(l) => l.waiting_since,
                    _ => None,
                };
                let remote_failure = self
                    .remote_failure_after(&r)
                    .filter(|(_, created)| since.is_some_and(|t| *created > t))
                    .map(|(le, _)| le);
                let found = self
                    .store_value(r, max_age, host, false, &policy, false)
                    .filter(|f| self.newer_than_refreshed(&f.2, refresh_of));
                let Lead::Reread { lease, waited, .. } = self.take_lead() else {
                    unreachable!()
                };
                if let Some(le) = remote_failure.filter(|_| waited) {
                    self.release_lease(lease, None);
                    return Some(self.lead_failed(&flight, Error::Loader(le), false));
                }
                if let Some(found) = found {
                    self.release_lease(lease, None);
                    return Some(self.lead_done_from_store(&flight, found, Status::Hit));
                }
                // A store that just failed is not asked again by this call: one store
                // timeout at most, then the loader's value is kept here only.
                let lease = if failed {
                    self.release_lease(lease, None);
                    None
                } else {
                    Some(lease)
                };
                self.set_lead(Lead::loader(lease, true, self.cache.now()));
                None
            }
            Lead::Remote {
                read, lease_until, ..
            } => {
                let flight = flight.clone();
                if let Some(p) = read {
                    let Some(r) = poll(p, waker) else {
                        return Some(Step::Park(timeout_at));
                    };
                    *read = None;
                    let lease_until = *lease_until;
                    if let Some(le) = self.remote_failure(&r) {
                        let e = Error::Loader(le);
                        return Some(self.lead_failed(&flight, e, false));
                    }
                    let store_failed = r.is_err();
                    if let Some(found) = self.store_value(r, max_age, host, true, &policy, false) {
                        self.cache.inner.memory.counters.remote_load_joined();
                        return Some(self.lead_done_from_store(&flight, found, Status::Joined));
                    }
                    if store_failed {
                        self.set_lead(Lead::loader(None, true, self.cache.now()));
                        return None;
                    }
                    if Instant::now() >= lease_until {
                        // The holder's lease ran out without a value: take the load over.
                        let next = self.take_lease(true);
                        self.set_lead(next);
                        return None;
                    }
                }
                if timeout_at.is_some_and(|d| Instant::now() >= d) {
                    let e = Error::Timeout {
                        key: flight.key().to_string(),
                        ms: load_timeout_ms(&self.state),
                    };
                    return Some(self.lead_failed(&flight, e, false));
                }
                let Lead::Remote {
                    watch, lease_until, ..
                } = self.lead_mut()
                else {
                    unreachable!()
                };
                let lease_until = *lease_until;
                let next = match poll(watch, waker) {
                    None if Instant::now() < lease_until => {
                        let until = match timeout_at {
                            Some(t) => t.min(lease_until),
                            None => lease_until,
                        };
                        return Some(Step::Park(Some(until)));
                    }
                    // Announced: read what the holder left (a value, or its failure).
                    Some(true) => self.watch_remote(lease_until),
                    // Quiet for a while: ask for the lease again. A holder that died is
                    // found out here (by its lease running out, or sooner, where the store
                    // can tell), and this caller takes the load over.
                    _ => self.take_lease(true),
                };
                self.set_lead(next);
                None
            }
            Lead::Loader { .. } => unreachable!("stepped by step_loader"),
            Lead::Filling { pending, .. } => {
                let flight = flight.clone();
                let Some(r) = poll(pending, waker) else {
                    return Some(Step::Park(None));
                };
                let Lead::Filling {
                    value, size, times, ..
                } = self.take_lead()
                else {
                    unreachable!()
                };
                // Refused (a `set` or `del` voided the lease): the callers get the value, but
                // it is not kept, here either. A store failure: kept here.
                if !matches!(r, Ok(false)) {
                    let seen = self.seen();
                    self.cache.fill(
                        &self.full,
                        Some(&flight),
                        Some(seen),
                        value.clone(),
                        size,
                        times,
                    );
                } else {
                    self.cache.end_flight(&self.full, &flight);
                }
                self.served.times = Some((times.born, times.deadline));
                flight.publish(Outcome::Value(value.clone()));
                self.state = State::Answered(None);
                Some(Step::Done(Ok(Answer::Value(value))))
            }
        }
    }

    /// The loader's part of leading: run it, then keep and hand over its result.
    fn step_loader(&mut self, host: &mut dyn Host<V>) -> Option<Step<V>> {
        let background = self.background;
        let State::Load(load) = &mut self.state else {
            unreachable!()
        };
        let timeouts = load.policy.soft_timeout.is_some() || load.policy.hard_timeout.is_some();
        let Phase::Leading {
            flight,
            lead: Lead::Loader {
                result, counted, ..
            },
            ..
        } = &mut load.phase
        else {
            unreachable!()
        };
        if !*counted && background.is_none() && timeouts {
            // The caller may stop waiting before the loader ends: the loader runs in the
            // background, and this caller waits for its flight.
            let flight = flight.clone();
            let rest = self.split_off(Background::Detached);
            let State::Load(load) = &mut self.state else {
                unreachable!()
            };
            load.detached = true;
            load.phase = Phase::Joined {
                flight,
                deadline: after(load.started, load.timeout),
                soft_at: after(load.started, load.policy.soft_timeout),
                hard_at: after(load.started, load.policy.hard_timeout),
            };
            return Some(Step::Spawn(Box::new(rest)));
        }
        if !*counted {
            *counted = true;
            self.cache.inner.memory.counters.load();
            self.served = Served::new(Status::Loaded, Source::Loader);
            return Some(Step::RunLoader);
        }
        let Some(result) = result.take() else {
            return Some(Step::RunLoader);
        };
        self.after_loader(result, host)
    }

    fn lead_mut(&mut self) -> &mut Lead<V> {
        match &mut self.state {
            State::Load(l) => match &mut l.phase {
                Phase::Leading { lead, .. } => lead,
                _ => unreachable!(),
            },
            _ => unreachable!(),
        }
    }

    fn set_lead(&mut self, next: Lead<V>) {
        *self.lead_mut() = next;
    }

    fn take_lead(&mut self) -> Lead<V> {
        std::mem::replace(
            self.lead_mut(),
            Lead::Loader {
                lease: None,
                write_store: false,
                started_ms: 0,
                counted: true,
                result: None,
            },
        )
    }

    /// The flight this operation leads.
    fn flight(&self) -> Arc<Flight<V>> {
        self.leading_flight()
            .expect("this operation leads a flight")
    }

    fn leading_flight(&self) -> Option<Arc<Flight<V>>> {
        match &self.state {
            State::Load(l) => match &l.phase {
                Phase::Leading { flight, .. } => Some(flight.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    /// Asks for the store's lease; `waited`: this caller was waiting for another process's
    /// load.
    fn take_lease(&self, waited: bool) -> Lead<V> {
        let token = token();
        let key = Tier::key(&self.full);
        let ttl = self.tier().lease_ms();
        let pending = self
            .tier()
            .call(move |s| Box::pin(async move { s.lease(&key, token, ttl).await }));
        Lead::Lease {
            token,
            pending,
            waited,
        }
    }

    /// The failure another process's loader left for its waiters, while it is fresh.
    fn remote_failure(&self, r: &StoreResult<Option<Vec<u8>>>) -> Option<LoaderError> {
        self.remote_failure_after(r).map(|(le, _)| le)
    }

    /// [`Op::remote_failure`], with when it was written (epoch ms).
    fn remote_failure_after(&self, r: &StoreResult<Option<Vec<u8>>>) -> Option<(LoaderError, u64)> {
        let Ok(Some(b)) = r else {
            return None;
        };
        match Envelope::decode(b) {
            Ok(Envelope {
                body: Body::Failure { type_name, message },
                fresh_until,
                created,
                ..
            }) if fresh_until > self.cache.clock().epoch_ms() => {
                Some((LoaderError::remote(type_name, message), created))
            }
            _ => None,
        }
    }

    /// Keeps the lease alive while the loader runs: renewed every third of its length, by a
    /// task that stops when the hold is dropped.
    fn hold_lease(&self, token: u64) -> LeaseHold {
        let stop = Arc::new(AtomicBool::new(false));
        let tier = self.tier();
        let ttl = tier.lease_ms();
        let key = Tier::key(&self.full);
        let flag = stop.clone();
        let every = Duration::from_millis((ttl / 3).max(1));
        let timeout = tier.timeout();
        tier.background(move |s| {
            Box::pin(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if flag.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    // A renewal that fails or is late is tried again next time: the lease
                    // outlives two missed renewals.
                    if let Ok(Ok(false)) =
                        tokio::time::timeout(timeout, s.renew(&key, token, ttl)).await
                    {
                        return Ok(());
                    }
                }
            })
        });
        LeaseHold { token, stop }
    }

    #[cold]
    fn release_lease(&self, hold: LeaseHold, failure: Option<(Vec<u8>, u64)>) {
        let key = Tier::key(&self.full);
        let token = hold.token;
        drop(hold);
        self.tier()
            .detach(move |s| Box::pin(async move { s.release(&key, token, failure).await }));
    }

    /// Waits for another process's load: watch first, then read, so that no announcement
    /// between the two is missed.
    fn watch_remote(&mut self, lease_until: Instant) -> Lead<V> {
        let key = Tier::key(&self.full);
        let left = lease_until.saturating_duration_since(Instant::now());
        let watch = self
            .tier()
            .watch(&key, left.min(REMOTE_POLL).max(Duration::from_millis(1)));
        let read = self.read_key();
        Lead::Remote {
            watch,
            read: Some(read),
            lease_until,
        }
    }

    /// Issues a store read of the key, noting first what a fill from it must check.
    fn read_key(&mut self) -> Get {
        let now = self.cache.inner.memory.invalidations.seen(&self.full);
        if let State::Load(l) = &mut self.state {
            if let Phase::Leading { seen, .. } = &mut l.phase {
                *seen = now;
            }
        }
        let key = Tier::key(&self.full);
        self.tier()
            .call(move |s| Box::pin(async move { s.get(&key).await }))
    }

    /// What the last store read of this load saw first.
    fn seen(&self) -> Seen {
        match &self.state {
            State::Load(l) => match &l.phase {
                Phase::Leading { seen, .. } => *seen,
                _ => unreachable!(),
            },
            _ => unreachable!(),
        }
    }

    fn take_fallback(&mut self) -> Option<V> {
        match &mut self.state {
            State::Load(l) => l.fallback.take(),
            _ => None,
        }
    }

    /// Whether a store value found by a refresh ahead of expiry is newer than the value
    /// being refreshed (else the refresh loads anyway).
    fn newer_than_refreshed(&self, times: &Times, refresh_of: Option<u64>) -> bool {
        let Some(old) = refresh_of else {
            return true;
        };
        let now = self.cache.now();
        let created = self
            .cache
            .clock()
            .epoch_ms()
            .saturating_sub(now.saturating_sub(times.born));
        // Both times went through the same conversion: 1 ms covers its rounding.
        created > old.saturating_add(1)
    }

    fn lead_done_from_store(
        &mut self,
        flight: &Arc<Flight<V>>,
        (v, size, times, _): (V, u64, Times, bool),
        status: Status,
    ) -> Step<V> {
        let seen = self.seen();
        self.cache
            .fill(&self.full, Some(flight), Some(seen), v.clone(), size, times);
        flight.publish(Outcome::Value(v.clone()));
        self.served = Served {
            status,
            source: Source::Store,
            times: Some((times.born, times.deadline)),
        };
        self.state = State::Answered(None);
        Step::Done(Ok(Answer::Value(v)))
    }

    #[cold]
    fn lead_failed(&mut self, flight: &Arc<Flight<V>>, e: Error, count: bool) -> Step<V> {
        if count {
            self.cache.inner.memory.counters.load_error();
            let policy = self.policy();
            if policy.stale_if_error > 0 {
                // Fail-safe: no new loader call for this key during the back-off.
                let now = self.cache.now();
                let until = now.saturating_add(policy.fail_safe_backoff);
                self.cache
                    .inner
                    .failures
                    .record(&self.full, until, e.clone(), now);
            }
        }
        self.cache.end_flight(&self.full, flight);
        flight.publish(Outcome::Error(e.clone()));
        if let Some(step) = self.stale_instead(false) {
            return step;
        }
        self.state = State::Answered(None);
        Step::Done(Err(e))
    }

    fn after_loader(
        &mut self,
        result: std::result::Result<V, LoaderError>,
        host: &mut dyn Host<V>,
    ) -> Option<Step<V>> {
        let Lead::Loader {
            lease,
            write_store,
            started_ms,
            ..
        } = self.take_lead()
        else {
            unreachable!()
        };
        let v = match result {
            Ok(v) => v,
            Err(le) => {
                if let Some(hold) = lease {
                    let record = self.failure_record(&le);
                    self.release_lease(hold, Some(record));
                }
                return Some(self.lead_failed(&self.flight(), Error::Loader(le), true));
            }
        };
        if !host.keep(&v) {
            // Nothing to keep (JS `undefined`): the callers get it, no tier stores it.
            return Some(self.answer_unkept(lease, &self.flight(), v));
        }
        // Copy semantics: the tiers keep the cache's own copy, and the callers get that (each
        // is handed a copy of it); a value the wire format cannot hold is returned to the
        // callers, not kept, and counted (as with a store).
        let v = match self
            .cache
            .copies()
            .then(|| self.cache.own_copy(&v, None, host))
        {
            None => v,
            Some(Ok(copy)) => copy,
            Some(Err(_)) => {
                self.cache.inner.memory.counters.rejected();
                return Some(self.answer_unkept(lease, &self.flight(), v));
            }
        };
        // Measuring, the TTL function and conversion are the host's code: an error there
        // fails the load for every caller, as a loader error would.
        let ttl = match self.load_ttl(&v, host) {
            Ok(t) => t,
            Err(e) => {
                if let Some(hold) = lease {
                    self.release_lease(hold, None);
                }
                return Some(self.lead_failed(&self.flight(), e, true));
            }
        };
        let size = match host.size_of(&v) {
            Ok(s) => s,
            Err(e) => {
                if let Some(hold) = lease {
                    self.release_lease(hold, None);
                }
                return Some(self.lead_failed(&self.flight(), e, true));
            }
        };
        let now = self.cache.now();
        let deadline = Expiry::deadline(now, ttl);
        let load_ms = now.saturating_sub(started_ms).min(u32::MAX as u64) as u32;
        let policy = self.policy();
        let times = policy.times(now, deadline, load_ms, 0);
        self.served.times = Some((now, deadline));
        let Some(hold) = lease else {
            // No store, or it failed: this process keeps the value. The flight is moved out
            // of the operation, not cloned: no host code runs from here on.
            let _ = write_store;
            let State::Load(load) = &mut self.state else {
                unreachable!()
            };
            let Phase::Leading { flight, seen, .. } =
                std::mem::replace(&mut load.phase, Phase::Start)
            else {
                unreachable!()
            };
            let full = &self.full;
            (self.cache).fill_at(now, full, Some(&flight), Some(seen), v.clone(), size, times);
            // The flight has left the table (callers join only through it, under the lock
            // `fill_at` took): held by this operation alone, nobody waits for its outcome,
            // and no lock, copy of the value or wake-up is spent telling it.
            if Arc::strong_count(&flight) > 1 {
                flight.publish(Outcome::Value(v.clone()));
            }
            self.state = State::Answered(None);
            return Some(Step::Done(Ok(Answer::Value(v))));
        };
        self.write_store(hold, v, size, times, ttl, load_ms, &policy, now, host)
    }

    /// The loader's value, with the store's lease held: written to the store, then kept
    /// here. Out of line (see `step_joined`).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn write_store(
        &mut self,
        hold: LeaseHold,
        v: V,
        size: u64,
        times: Times,
        ttl: u64,
        load_ms: u32,
        policy: &Policy,
        now: u64,
        host: &mut dyn Host<V>,
    ) -> Option<Step<V>> {
        let body = match host.export(&v) {
            Ok(shared) => codec::encode(&shared),
            Err(_) => {
                // Outside the shared model: returned to this process's callers, not kept,
                // counted.
                self.cache.inner.memory.counters.rejected();
                self.release_lease(hold, None);
                let flight = self.flight();
                self.cache.end_flight(&self.full, &flight);
                flight.publish(Outcome::Value(v.clone()));
                self.state = State::Answered(None);
                return Some(Step::Done(Ok(Answer::Value(v))));
            }
        };
        let too_large = self.cache.over_entry_limits(&self.full, size);
        let mut env = self.cache.envelope(body, ttl, load_ms, policy.keep_ms());
        if ttl == 0 || too_large {
            // Not kept, but the waiters of other processes still get it.
            if too_large && ttl > 0 {
                self.cache.inner.memory.counters.rejected();
            }
            let Body::Value(b) = env.body else {
                unreachable!()
            };
            env.body = Body::Handoff(b);
            let epoch = env.created;
            env.fresh_until = epoch;
            env.stale_until = epoch;
        }
        let reclaim = if matches!(env.body, Body::Handoff(_)) {
            Some(env.created + FAILURE_RECORD_MS)
        } else {
            reclaim_at(&env)
        };
        let bytes = env.encode();
        let key = Tier::key(&self.full);
        let token = hold.token;
        let pending = if self.flight().abandoned.load(Ordering::SeqCst) {
            // Its lease was given up when its callers stopped waiting: the late result goes
            // only where nothing is stored (a newer value, or a newer load's, wins).
            self.tier().call(move |s| {
                Box::pin(async move { s.compare_and_set(&key, None, bytes, reclaim).await })
            })
        } else {
            self.tier()
                .call(move |s| Box::pin(async move { s.fill(&key, token, bytes, reclaim).await }))
        };
        let times = if ttl == 0 || too_large {
            times.ended_at(now)
        } else {
            times
        };
        self.set_lead(Lead::Filling {
            lease: hold,
            value: v,
            size,
            times,
            pending,
        });
        // Not parked yet: the next step polls the write with the caller's waker.
        None
    }

    /// Ends a load whose value is handed to its callers but kept by no tier.
    #[cold]
    fn answer_unkept(
        &mut self,
        lease: Option<LeaseHold>,
        flight: &Arc<Flight<V>>,
        v: V,
    ) -> Step<V> {
        if let Some(hold) = lease {
            self.release_lease(hold, None);
        }
        self.cache.end_flight(&self.full, flight);
        flight.publish(Outcome::Value(v.clone()));
        self.state = State::Answered(None);
        Step::Done(Ok(Answer::Value(v)))
    }

    fn load_ttl(&self, v: &V, host: &mut dyn Host<V>) -> Result<u64> {
        let State::Load(load) = &self.state else {
            unreachable!()
        };
        let expiry = &self.cache.inner.memory.expiry;
        match load.ttl {
            Ttl::FromValue => expiry.resolve(host.ttl_of(v)?),
            Ttl::Ms(ms) => Ok(ms as u64),
            Ttl::Default => expiry.resolve(None),
        }
    }

    #[cold]
    fn failure_record(&self, le: &LoaderError) -> (Vec<u8>, u64) {
        let now = self.cache.clock().epoch_ms();
        let (type_name, message) = match le.as_remote() {
            Some(r) => (r.type_name.clone(), r.message.clone()),
            None => (error_type_name(le), le.to_string()),
        };
        let env = Envelope {
            created: now,
            fresh_until: now + FAILURE_RECORD_MS,
            stale_until: now + FAILURE_RECORD_MS,
            load_ms: 0,
            body: Body::Failure { type_name, message },
        };
        (env.encode(), now + FAILURE_RECORD_MS)
    }

    /// Drives the operation to its answer on this thread, running `loader` when asked
    /// (Rust callers; a panicking loader gives every caller an error). The loader runs
    /// once, so background work (a refresh, a load past a timeout) runs here, before the
    /// answer: the bindings, whose loaders can be called again, run it in the background.
    pub fn run_blocking<F>(mut self, host: &mut dyn Host<V>, loader: F) -> Result<Answer<V>>
    where
        F: FnOnce() -> std::result::Result<V, LoaderError>,
    {
        if let Some(a) = self.answered_now() {
            // Most writes without a store: no parker to make.
            return a;
        }
        let mut loader = Some(loader);
        // Until a step parks, a waker that does nothing will do: a step that parks is
        // stepped again with this thread's parker, whose waker it registers then. A load
        // this caller leads without a store never parks, and takes no parker.
        let mut current: Option<CurrentParker> = None;
        let noop = Waker::noop();
        loop {
            let waker = current.as_ref().map_or(noop, |c| c.waker());
            match self.step(host, waker) {
                Step::Done(a) => return a,
                Step::RunLoader => {
                    let f = loader.take().expect("the loader runs once");
                    match catch_unwind(AssertUnwindSafe(|| self.run_loader(f))) {
                        Ok(r) => self.loaded(r),
                        Err(panic) => return Err(self.abort(panic_message(&*panic))),
                    }
                }
                Step::Park(until) => match &current {
                    Some(c) => {
                        c.parker().park_until(until);
                    }
                    None => current = Some(Parker::current()),
                },
                Step::Spawn(other) => {
                    if let Some(f) = loader.take() {
                        let _ = other.run_blocking(host, f);
                    }
                }
            }
        }
    }

    /// Waits for the answer (operations that never run a loader).
    pub fn wait(self, host: &mut dyn Host<V>) -> Result<Answer<V>> {
        self.run_blocking(host, || {
            Err(LoaderError::new("this operation has no loader"))
        })
    }

    /// Drives the operation to its answer as a future, awaiting `loader` when asked.
    pub async fn run_async<H, F, Fut>(mut self, host: &mut H, loader: F) -> Result<Answer<V>>
    where
        H: Host<V>,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<V, LoaderError>>,
    {
        let mut loader = Some(loader);
        loop {
            let step =
                std::future::poll_fn(|cx| std::task::Poll::Ready(self.step(host, cx.waker())))
                    .await;
            match step {
                Step::Done(a) => return a,
                Step::RunLoader => {
                    let f = loader.take().expect("the loader runs once");
                    let r = f().await;
                    self.loaded(r);
                }
                Step::Park(until) => {
                    ParkFuture::new(until).await;
                }
                Step::Spawn(other) => {
                    if let Some(f) = loader.take() {
                        let _ = Box::pin(other.run_async(host, f)).await;
                    }
                }
            }
        }
    }
}

/// Blocking answers for Rust callers (the bindings drive `step` themselves).
impl<V: crate::host::Cacheable + 'static> Op<V> {
    pub fn wait_bool(self) -> Result<bool> {
        self.wait(&mut crate::host::Plain)?.into_bool()
    }
    pub fn wait_int(self) -> Result<i64> {
        self.wait(&mut crate::host::Plain)?.into_int()
    }
    pub fn wait_ms(self) -> Result<Option<f64>> {
        self.wait(&mut crate::host::Plain)?.into_ms()
    }
    pub fn wait_keys(self) -> Result<Vec<String>> {
        self.wait(&mut crate::host::Plain)?.into_keys()
    }
    pub fn wait_value(self) -> Result<Option<V>> {
        self.wait(&mut crate::host::Plain)?.into_option()
    }
    pub fn wait_done(self) -> Result<()> {
        match self.wait(&mut crate::host::Plain)? {
            Answer::Done => Ok(()),
            other => Err(other.mismatch("done")),
        }
    }
}

/// Yields once to the executor (woken by the waker `step` registered), or sleeps until a
/// deadline on a helper thread when no wake comes (a future that needs no runtime).
struct ParkFuture {
    until: Option<Instant>,
    polled: bool,
}

impl ParkFuture {
    fn new(until: Option<Instant>) -> Self {
        ParkFuture {
            until,
            polled: false,
        }
    }
}

impl std::future::Future for ParkFuture {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.polled {
            return std::task::Poll::Ready(());
        }
        self.polled = true;
        if let Some(until) = self.until {
            let w = cx.waker().clone();
            std::thread::spawn(move || {
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                w.wake();
            });
        }
        std::task::Poll::Pending
    }
}

impl<V: Clone + 'static> Drop for Op<V> {
    fn drop(&mut self) {
        // A load abandoned while leading: its waiters take it over instead of failing.
        if let State::Load(l) = &mut self.state {
            if let Phase::Leading { flight, lead, .. } = &mut l.phase {
                if let Lead::Loader { counted: true, .. } = lead {
                    self.cache.inner.memory.counters.load_error();
                }
                if let Some(tier) = &self.cache.inner.tier {
                    let hold = match lead {
                        Lead::Reread { lease, .. } | Lead::Filling { lease, .. } => {
                            Some(lease.token)
                        }
                        Lead::Loader { lease, .. } => lease.as_ref().map(|l| l.token),
                        _ => None,
                    };
                    if let Some(token) = hold {
                        let key = Tier::key(&self.full);
                        tier.detach(move |s| {
                            Box::pin(async move { s.release(&key, token, None).await })
                        });
                    }
                }
                let mut map = self.cache.inner.flights.lock(&self.full);
                flight::detach(&mut map, &self.full, flight);
                drop(map);
                flight.publish(Outcome::Abandoned);
            }
        }
    }
}

fn poll<T>(p: &Pending<T>, waker: &Waker) -> Option<T> {
    if let Some(v) = p.try_take() {
        return Some(v);
    }
    p.park(waker);
    p.try_take()
}

fn reclaim_at(env: &Envelope) -> Option<u64> {
    (env.stale_until != u64::MAX).then_some(env.stale_until)
}

fn load_timeout_ms<V: Clone + 'static>(state: &State<V>) -> u64 {
    match state {
        State::Load(l) => l.timeout.map_or(0, |t| t.as_millis() as u64),
        _ => 0,
    }
}

/// The type name of a loader's error for other processes: the host's, when the binding
/// named it ([`LoaderError::named`]).
fn error_type_name(le: &LoaderError) -> String {
    le.type_name().unwrap_or("Error").to_string()
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
