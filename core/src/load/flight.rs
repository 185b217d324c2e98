//! Single-flight: one load per key in this process, its outcome shared by every caller that
//! joins it.
//!
//! The flight table is striped by key, and a stripe's lock is also what orders every write
//! to the keys that hash to it: a `set` or `del` and a flight's completion cannot
//! interleave. A flight's outcome is read by each waiter on its own thread, after it is
//! woken: the thread that completes a flight only wakes the others ([`Waker`]s carry no
//! host value), so a host value is cloned only by a thread of its host.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;

use parking_lot::{Mutex, MutexGuard};

use crate::error::Error;
use crate::memory::entry::Key;

/// Identifies one flight; bindings keep the ids a loader runs inside, so that a loader
/// asking for its own key is told so instead of waiting for itself.
pub type FlightId = u64;

/// How a flight ended.
#[derive(Clone)]
pub(crate) enum Outcome<V> {
    Value(V),
    Error(Error),
    /// The leader went away without a result (its task was cancelled, it was dropped):
    /// a waiter takes the load over instead of failing.
    Abandoned,
}

struct State<V> {
    outcome: Option<Outcome<V>>,
    wakers: Vec<Waker>,
}

pub(crate) struct Flight<V> {
    pub id: FlightId,
    /// The key with its namespace prefix; the flight table is keyed by it.
    full: Key,
    /// Where the caller's key starts in `full`, for messages.
    prefix_len: usize,
    /// The process generation the flight was started in (see [`after_fork_in_child`]).
    generation: u64,
    /// When it started (the cache's clock): a late result of an abandoned flight is kept
    /// only over values older than this.
    pub started: u64,
    /// Its callers stopped waiting (`hard_timeout`) and later callers start a new flight.
    pub abandoned: AtomicBool,
    /// The store lease its leader holds (0: none), so that abandoning the flight gives the
    /// lease up at once: the next caller, here or in another process, can load.
    pub lease_token: AtomicU64,
    state: Mutex<State<V>>,
}

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Tells the core that this process is the child of a `fork()`: flights started before the
/// fork belong to threads that do not exist here, so they are forgotten (the next caller of
/// such a key starts a new load), and the store runtime is made anew on first use.
pub fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

pub(crate) fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

impl<V: Clone> Flight<V> {
    fn new(full: &str, prefix_len: usize, started: u64) -> Self {
        Flight {
            id: next_id(),
            full: full.into(),
            prefix_len,
            generation: fork_generation(),
            started,
            abandoned: AtomicBool::new(false),
            lease_token: AtomicU64::new(0),
            state: Mutex::new(State {
                outcome: None,
                wakers: Vec::new(),
            }),
        }
    }

    /// The caller's key (without a namespace prefix), for messages.
    pub fn key(&self) -> &str {
        &self.full[self.prefix_len..]
    }

    /// The key with its namespace prefix.
    pub fn key_with_prefix(&self) -> &str {
        &self.full
    }

    /// Whether the flight belongs to a process before a fork.
    pub fn orphaned(&self) -> bool {
        self.generation != fork_generation()
    }

    /// Records the outcome (the first one wins) and wakes every waiter.
    pub fn publish(&self, outcome: Outcome<V>) {
        let wakers = {
            let mut st = self.state.lock();
            if st.outcome.is_some() {
                return;
            }
            st.outcome = Some(outcome);
            std::mem::take(&mut st.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Wakes every waiter without an outcome, so that each looks again (a stale value it
    /// may serve has appeared).
    pub fn nudge(&self) {
        let wakers = std::mem::take(&mut self.state.lock().wakers);
        for w in wakers {
            w.wake();
        }
    }

    /// The outcome when the flight has ended; else registers `waker` to be woken then.
    pub fn poll(&self, waker: Option<&Waker>) -> Option<Outcome<V>> {
        let mut st = self.state.lock();
        if let Some(o) = &st.outcome {
            return Some(o.clone());
        }
        if let Some(w) = waker {
            if !st.wakers.iter().any(|x| x.will_wake(w)) {
                st.wakers.push(w.clone());
            }
        }
        None
    }

    pub fn is_done(&self) -> bool {
        self.state.lock().outcome.is_some()
    }
}

/// A fresh flight id. Each thread takes ids a block at a time, so that starting a flight
/// makes no atomic write shared with other threads.
fn next_id() -> FlightId {
    const BLOCK: u64 = 1 << 16;
    static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static NEXT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    NEXT.with(|n| {
        let (mut next, mut end) = n.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        n.set((next + 1, end));
        next
    })
}

/// A flight in the table, found by its key (the table holds no copy of the key).
pub(crate) struct Entry<V>(pub Arc<Flight<V>>);

impl<V> Hash for Entry<V> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // As `str` hashes: the table is looked up by `&str`.
        self.0.full.hash(h)
    }
}

impl<V> PartialEq for Entry<V> {
    fn eq(&self, other: &Self) -> bool {
        self.0.full == other.0.full
    }
}

impl<V> Eq for Entry<V> {}

impl<V> std::ops::Deref for Entry<V> {
    type Target = Arc<Flight<V>>;
    fn deref(&self) -> &Arc<Flight<V>> {
        &self.0
    }
}

impl<V> Borrow<str> for Entry<V> {
    fn borrow(&self) -> &str {
        &self.0.full
    }
}

/// The flights of one stripe. Hashed with quick_cache's fast hasher, as the map of entries
/// is: a load miss inserts, looks up and removes its key here.
pub(crate) type FlightMap<V> = HashSet<Entry<V>, quick_cache::DefaultHashBuilder>;

#[repr(align(128))]
struct Stripe<V> {
    map: Mutex<FlightMap<V>>,
}

/// The flight table, striped by key.
pub(crate) struct Flights<V> {
    stripes: Box<[Stripe<V>]>,
    hasher: quick_cache::DefaultHashBuilder,
}

const STRIPES: usize = 64;

impl<V: Clone> Flights<V> {
    pub fn new() -> Self {
        Flights {
            stripes: (0..STRIPES)
                .map(|_| Stripe {
                    map: Mutex::new(HashSet::default()),
                })
                .collect(),
            hasher: Default::default(),
        }
    }

    /// Locks the stripe of `key`: every write to `key` happens under this lock.
    pub fn lock(&self, key: &str) -> MutexGuard<'_, FlightMap<V>> {
        let i = self.hasher.hash_one(key) as usize % STRIPES;
        self.stripes[i].map.lock()
    }

    pub fn lock_all(&self) -> Vec<MutexGuard<'_, FlightMap<V>>> {
        self.stripes.iter().map(|s| s.map.lock()).collect()
    }

    /// A new flight for `full`, whose first `prefix_len` bytes are the namespace prefix.
    pub fn start(
        map: &mut FlightMap<V>,
        full: &str,
        prefix_len: usize,
        now: u64,
    ) -> Arc<Flight<V>> {
        let mut f = Arc::<Flight<V>>::new_uninit();
        Arc::get_mut(&mut f)
            .expect("a new Arc has one owner")
            .write(Flight::new(full, prefix_len, now));
        // SAFETY: written just above.
        let f = unsafe { f.assume_init() };
        map.replace(Entry(f.clone()));
        f
    }
}

/// Detaches the flight of `key`, if any: a write made now wins over its result, and later
/// callers start a new load instead of joining it.
pub(crate) fn supersede<V>(map: &mut FlightMap<V>, key: &str) {
    if !map.is_empty() {
        map.remove(key);
    }
}

/// Removes `flight` from the table if it is still the key's current flight.
pub(crate) fn detach<V>(map: &mut FlightMap<V>, key: &str, flight: &Arc<Flight<V>>) -> bool {
    // One lookup when it is (the usual case): taken out, and put back if it is another's.
    match map.take(key) {
        Some(f) if Arc::ptr_eq(&f.0, flight) => true,
        Some(other) => {
            map.insert(other);
            false
        }
        None => false,
    }
}

thread_local! {
    /// Flights whose loader is running on this thread right now.
    static LEADING: RefCell<Vec<FlightId>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn leading_here(id: FlightId) -> bool {
    LEADING.with(|l| l.borrow().contains(&id))
}

/// Runs `f` marked as the loader of flight `id` on this thread: a synchronous load of the
/// same key from inside `f` is `reentrant` instead of waiting for itself (what
/// [`Op::run_loader`](crate::Op::run_loader) does, for a host that keeps the flight's id
/// rather than the operation at hand).
pub fn run_as_leader<R>(id: FlightId, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            LEADING.with(|l| {
                l.borrow_mut().pop();
            });
        }
    }
    LEADING.with(|l| l.borrow_mut().push(id));
    let _pop = Pop;
    f()
}
