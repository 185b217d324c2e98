//! Results that arrive later, from another thread, as plain data: the bridge between the
//! store's I/O threads and the host threads that wait for them.
//!
//! A [`Pending`] is completed by whoever does the work (a task on the store runtime) and
//! read by the host thread that asked: the completing thread only stores the result and
//! wakes the waker the host registered. Hosts wait their own way: Rust callers block
//! ([`Reply::wait`]) or `.await`; Python threads block with the interpreter released; Python
//! asyncio and Node register a waker that wakes their event loop.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

struct Slot<T> {
    state: Mutex<SlotState<T>>,
}

struct SlotState<T> {
    value: Option<T>,
    waker: Option<Waker>,
    taken: bool,
}

/// A result that another thread will provide.
pub struct Pending<T>(Arc<Slot<T>>);

/// The other end of a [`Pending`]: gives it its result. Dropped without a result, it gives
/// the `on_drop` result, so that no host waits forever for work that was abandoned.
pub(crate) struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
    on_drop: fn() -> T,
}

pub(crate) fn pending<T>(on_drop: fn() -> T) -> (Pending<T>, Completer<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState {
            value: None,
            waker: None,
            taken: false,
        }),
    });
    (
        Pending(slot.clone()),
        Completer {
            slot: Some(slot),
            on_drop,
        },
    )
}

impl<T> Completer<T> {
    pub fn complete(mut self, value: T) {
        if let Some(slot) = self.slot.take() {
            fill(&slot, value);
        }
    }
}

fn fill<T>(slot: &Slot<T>, value: T) {
    let waker = {
        let mut st = slot.state.lock().unwrap_or_else(|p| p.into_inner());
        st.value = Some(value);
        st.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            fill(&slot, (self.on_drop)());
        }
    }
}

impl<T> Pending<T> {
    /// A result that is already known.
    pub fn ready(value: T) -> Self {
        Pending(Arc::new(Slot {
            state: Mutex::new(SlotState {
                value: Some(value),
                waker: None,
                taken: false,
            }),
        }))
    }

    /// The result, once; `None` while it has not arrived (or after it was taken).
    pub fn try_take(&self) -> Option<T> {
        let mut st = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        let v = st.value.take();
        if v.is_some() {
            st.taken = true;
        }
        v
    }

    pub fn is_ready(&self) -> bool {
        let st = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        st.value.is_some()
    }

    /// Wakes `waker` when the result arrives (at once if it already has).
    pub fn park(&self, waker: &Waker) {
        let mut st = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.value.is_some() || st.taken {
            drop(st);
            waker.wake_by_ref();
        } else {
            st.waker = Some(waker.clone());
        }
    }

    /// Blocks this thread until the result arrives.
    pub fn wait(self) -> T {
        Parker::with_current(|parker, waker| loop {
            if let Some(v) = self.try_take() {
                return v;
            }
            self.park(waker);
            parker.park_until(None);
        })
    }
}

impl<T> Future for Pending<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if let Some(v) = self.try_take() {
            return Poll::Ready(v);
        }
        self.park(cx.waker());
        match self.try_take() {
            Some(v) => Poll::Ready(v),
            None => Poll::Pending,
        }
    }
}

/// The answer of a call that may need the store: known now, or later.
pub enum Reply<T> {
    Ready(T),
    Pending(Pending<T>),
}

impl<T> Reply<T> {
    /// Blocks until the answer is known.
    pub fn wait(self) -> T {
        match self {
            Reply::Ready(v) => v,
            Reply::Pending(p) => p.wait(),
        }
    }

    pub fn map<U: Send + 'static>(self, f: impl FnOnce(T) -> U + Send + 'static) -> Reply<U>
    where
        T: Send + 'static,
    {
        match self {
            Reply::Ready(v) => Reply::Ready(f(v)),
            Reply::Pending(p) => {
                // Without a runtime at hand, chain by a waker: the mapping runs on the thread
                // that completes the first result. `f` carries no host value (`Send`).
                let (out, done) = pending(|| panic!("a mapped reply lost its source"));
                let p = Arc::new(p);
                let chain = Arc::new(Chain {
                    source: p.clone(),
                    f: Mutex::new(Some((Box::new(f) as Box<dyn FnOnce(T) -> U + Send>, done))),
                });
                p.park(&Waker::from(chain));
                Reply::Pending(out)
            }
        }
    }
}

struct Chain<T, U> {
    source: Arc<Pending<T>>,
    #[allow(clippy::type_complexity)]
    f: Mutex<Option<(Box<dyn FnOnce(T) -> U + Send>, Completer<U>)>>,
}

impl<T: Send, U: Send> Wake for Chain<T, U> {
    fn wake(self: Arc<Self>) {
        if let Some(v) = self.source.try_take() {
            let job = self.f.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some((f, done)) = job {
                done.complete(f(v));
            }
        }
    }
}

thread_local! {
    static CURRENT_PARKER: std::cell::Cell<Option<(u64, Parker, Waker)>> =
        const { std::cell::Cell::new(None) };
}

/// This thread's parker, lent by [`Parker::current`]; given back when dropped.
pub struct CurrentParker(Option<(u64, Parker, Waker)>);

impl CurrentParker {
    pub fn parker(&self) -> &Parker {
        &self.0.as_ref().expect("lent until dropped").1
    }

    pub fn waker(&self) -> &Waker {
        &self.0.as_ref().expect("lent until dropped").2
    }
}

impl Drop for CurrentParker {
    fn drop(&mut self) {
        let mine = self.0.take();
        let _ = CURRENT_PARKER.try_with(|c| {
            let outer = c.take();
            c.set(outer.or(mine));
        });
    }
}

/// Blocks a thread until it is woken: the waker a blocking host hands the core.
#[derive(Clone)]
pub struct Parker(Arc<ParkerInner>);

struct ParkerInner {
    woken: Mutex<bool>,
    cv: Condvar,
    /// `woken`, readable without the lock: what a waiter spins on before it sleeps.
    signal: AtomicBool,
}

impl Wake for ParkerInner {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let mut woken = self.woken.lock().unwrap_or_else(|p| p.into_inner());
        *woken = true;
        self.signal.store(true, Ordering::Release);
        drop(woken);
        self.cv.notify_all();
    }
}

/// How long a blocking wait yields its CPU in a loop before it sleeps. A store's answer
/// comes back on the runtime's thread, and on the 2-core development VM a thread hand-off
/// took up to 66.7 µs a round trip across CPUs against 2.9 µs on one (`examples/
/// wake_latency.rs`), more than a whole Redis round trip.
const SPIN: Duration = Duration::from_micros(100);

impl Default for Parker {
    fn default() -> Self {
        Self::new()
    }
}

impl Parker {
    pub fn new() -> Self {
        Parker(Arc::new(ParkerInner {
            woken: Mutex::new(false),
            cv: Condvar::new(),
            signal: AtomicBool::new(false),
        }))
    }

    pub fn waker(&self) -> Waker {
        Waker::from(self.0.clone())
    }

    /// Runs `f` with this thread's parker and its waker (see [`Parker::current`]).
    pub fn with_current<R>(f: impl FnOnce(&Parker, &Waker) -> R) -> R {
        let current = Parker::current();
        f(current.parker(), current.waker())
    }

    /// This thread's parker and its waker, made once per thread and lent until the guard
    /// drops: a blocking wait then costs no allocation and no reference count. A wake left
    /// over from an earlier wait only makes the first `park_until` return early, which
    /// callers that look again after each wake allow. A wait while the guard is out (a
    /// loader that waits for another key) gets a parker of its own.
    pub fn current() -> CurrentParker {
        let generation = crate::load::flight::fork_generation();
        let mine = CURRENT_PARKER
            .try_with(|c| c.take())
            .ok()
            .flatten()
            // Made before a fork: another thread of the parent may have held its lock.
            .filter(|(g, ..)| *g == generation)
            .unwrap_or_else(|| {
                let p = Parker::new();
                let w = p.waker();
                (generation, p, w)
            });
        CurrentParker(Some(mine))
    }

    /// Waits until woken or `deadline`; returns whether it was woken. A wake that came
    /// before the call is not lost.
    pub fn park_until(&self, deadline: Option<Instant>) -> bool {
        if !self.0.signal.load(Ordering::Acquire) {
            let start = Instant::now();
            let until = deadline.map_or(start + SPIN, |d| d.min(start + SPIN));
            while !self.0.signal.load(Ordering::Acquire) && Instant::now() < until {
                std::thread::yield_now();
            }
        }
        let mut woken = self.0.woken.lock().unwrap_or_else(|p| p.into_inner());
        while !*woken {
            match deadline {
                None => woken = self.0.cv.wait(woken).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    woken = self
                        .0
                        .cv
                        .wait_timeout(woken, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        *woken = false;
        self.0.signal.store(false, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_wake_is_lost_whether_it_comes_during_the_spin_or_the_sleep() {
        // Two threads hand a turn back and forth 2,000 times through two parkers; every
        // other turn the waker first sleeps past the spin, so both paths are taken. A lost
        // wake fails the turn after 10 s instead of hanging.
        let (a, b) = (Parker::new(), Parker::new());
        let (wa, wb) = (a.waker(), b.waker());
        let other = std::thread::spawn(move || {
            for i in 0..1000u32 {
                assert!(b.park_until(Some(Instant::now() + Duration::from_secs(10))));
                if i % 2 == 1 {
                    std::thread::sleep(SPIN * 2);
                }
                wa.wake_by_ref();
            }
        });
        for _ in 0..1000u32 {
            wb.wake_by_ref();
            assert!(a.park_until(Some(Instant::now() + Duration::from_secs(10))));
        }
        other.join().unwrap();
    }

    #[test]
    fn a_deadline_inside_the_spin_is_kept() {
        let p = Parker::new();
        let deadline = Instant::now() + SPIN / 4;
        assert!(!p.park_until(Some(deadline)));
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn a_result_from_another_thread_wakes_the_waiter() {
        let (p, done) = pending::<u32>(|| 0);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            done.complete(7);
        });
        assert_eq!(p.wait(), 7);
    }

    #[test]
    fn an_abandoned_completer_gives_its_drop_result() {
        let (p, done) = pending::<u32>(|| 99);
        drop(done);
        assert_eq!(p.wait(), 99);
    }

    #[test]
    fn a_mapped_reply_runs_after_its_source() {
        let (p, done) = pending::<u32>(|| 0);
        let r = Reply::Pending(p).map(|n| n * 2);
        done.complete(21);
        assert_eq!(r.wait(), 42);
    }

    #[test]
    fn a_parker_keeps_an_early_wake() {
        let p = Parker::new();
        p.waker().wake();
        assert!(p.park_until(Some(Instant::now() + Duration::from_secs(5))));
        assert!(!p.park_until(Some(Instant::now() + Duration::from_millis(10))));
    }
}
