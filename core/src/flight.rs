//! Single-flight: one load per key, its outcome shared by every caller that waits for it.
//!
//! quick_cache's placeholder guards hand a failed load to the next waiter, which then loads
//! again; here a flight's error is shared with every waiter, as its value is. The flight
//! table is striped by key, and a stripe's lock is also what orders every write to the keys
//! that hash to it: a `set` or `del` and a flight's completion cannot interleave.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};

/// Identifies one flight; bindings keep the ids a loader runs inside, so that a loader
/// asking for its own key is told so instead of waiting for itself.
pub type FlightId = u64;

type Callback<V> = Box<dyn FnOnce(Result<V>) + Send>;

struct State<V> {
    outcome: Option<Result<V>>,
    wakers: Vec<Waker>,
    callbacks: Vec<Callback<V>>,
}

pub(crate) struct Flight<V> {
    pub id: FlightId,
    pub key: Box<str>,
    state: Mutex<State<V>>,
    done: Condvar,
}

impl<V: Clone> Flight<V> {
    fn new(key: &str) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Flight {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            key: key.into(),
            state: Mutex::new(State {
                outcome: None,
                wakers: Vec::new(),
                callbacks: Vec::new(),
            }),
            done: Condvar::new(),
        }
    }

    /// Gives the outcome to every waiter. Callbacks run on this thread, after every lock
    /// is released, so they may call back into the cache.
    pub fn publish(&self, outcome: Result<V>) {
        let (wakers, callbacks) = {
            let mut st = self.state.lock();
            if st.outcome.is_some() {
                return;
            }
            st.outcome = Some(outcome.clone());
            (
                std::mem::take(&mut st.wakers),
                std::mem::take(&mut st.callbacks),
            )
        };
        self.done.notify_all();
        for w in wakers {
            w.wake();
        }
        for cb in callbacks {
            cb(outcome.clone());
        }
    }
}

pub(crate) type FlightMap<V> = HashMap<Box<str>, Arc<Flight<V>>>;

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
                    map: Mutex::new(HashMap::new()),
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

    pub fn start(map: &mut FlightMap<V>, key: &str) -> Arc<Flight<V>> {
        let f = Arc::new(Flight::new(key));
        map.insert(key.into(), f.clone());
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

thread_local! {
    /// Flights whose loader is running on this thread right now.
    static LEADING: RefCell<Vec<FlightId>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn leading_here(id: FlightId) -> bool {
    LEADING.with(|l| l.borrow().contains(&id))
}

/// Runs `f` marked as the loader of flight `id` on this thread.
pub(crate) fn run_as_leader<R>(id: FlightId, f: impl FnOnce() -> R) -> R {
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

/// A caller waiting for another caller's load. Wait for it by blocking ([`Waiter::wait`]),
/// by awaiting it (it is a `Future` that needs no particular runtime), or with a callback.
pub struct Waiter<V> {
    pub(crate) flight: Arc<Flight<V>>,
    pub(crate) timeout: Option<Duration>,
}

impl<V: Clone> Waiter<V> {
    pub fn flight_id(&self) -> FlightId {
        self.flight.id
    }

    /// The load timeout that applies to this waiter, for bindings that wait on their own
    /// event loop's timers.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The error a waiter gets when the timeout passes.
    pub fn timeout_error(&self) -> Error {
        Error::Timeout {
            key: self.flight.key.to_string(),
            ms: self.timeout.map_or(0, |t| t.as_millis() as u64),
        }
    }

    /// Blocks until the load finishes or the timeout passes. Holds no lock of the cache's
    /// while waiting, so a binding may release its interpreter lock around it.
    pub fn wait(self) -> Result<V> {
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let mut st = self.flight.state.lock();
        loop {
            if let Some(o) = &st.outcome {
                return o.clone();
            }
            match deadline {
                None => self.flight.done.wait(&mut st),
                Some(d) => {
                    if self.flight.done.wait_until(&mut st, d).timed_out() && st.outcome.is_none() {
                        return Err(self.timeout_error());
                    }
                }
            }
        }
    }

    /// The `reentrant` error when this flight is one of `within` (the flights the caller
    /// runs inside). For bindings that look a key up with an empty `within` first, on the
    /// hit path, and learn their caller's flights only when it has to wait.
    pub fn check_within(&self, within: &[FlightId]) -> Result<()> {
        if within.contains(&self.flight.id) {
            Err(Error::Reentrant {
                key: self.flight.key.to_string(),
            })
        } else {
            Ok(())
        }
    }

    /// The outcome if the load has finished.
    pub fn try_result(&self) -> Option<Result<V>> {
        self.flight.state.lock().outcome.clone()
    }

    /// Calls `callback` with the outcome: right away if the load has finished, otherwise on
    /// the thread that finishes it.
    pub fn on_complete(self, callback: impl FnOnce(Result<V>) + Send + 'static) {
        let mut st = self.flight.state.lock();
        if let Some(o) = st.outcome.clone() {
            drop(st);
            callback(o);
        } else {
            st.callbacks.push(Box::new(callback));
        }
    }
}

impl<V: Clone> Future for Waiter<V> {
    type Output = Result<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<V>> {
        let mut st = self.flight.state.lock();
        if let Some(o) = &st.outcome {
            return Poll::Ready(o.clone());
        }
        if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
