//! The tokio runtime store I/O runs on: made on first use (only caches with a store ever
//! start it), owned by the core, and safe across `fork()`: a child process gets a runtime
//! of its own, because the parent's threads do not exist in the child (the LanceDB
//! binding does the same).

use std::future::Future;
use std::sync::Mutex;

use tokio::runtime::{Builder, Handle, Runtime};

use crate::pending::{pending, Pending};

struct Owned {
    pid: u32,
    runtime: &'static Runtime,
}

static RUNTIME: Mutex<Option<Owned>> = Mutex::new(None);

/// The runtime of this process, made when first asked for.
pub(crate) fn handle() -> Handle {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(o) = slot.as_ref() {
        if o.pid == pid {
            return o.runtime.handle().clone();
        }
        // A fork's child: the old runtime's threads are gone. It is leaked, never dropped:
        // dropping it would wait for threads that will never answer.
    }
    // One worker: a store call's tasks (the request, the connection's driver) then hand
    // each other work on one thread, where two workers bounced it between CPUs, and a
    // wake-up on another CPU costs more than the round trip itself (README, "A blocking
    // wait"). SQLite's blocking calls run on tokio's blocking pool, not on the worker.
    let runtime = Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("flightcache-io")
        .enable_all()
        .build()
        .expect("flightcache: could not start the store runtime's threads");
    let runtime: &'static Runtime = Box::leak(Box::new(runtime));
    *slot = Some(Owned { pid, runtime });
    runtime.handle().clone()
}

/// Runs `fut` on the runtime; its result arrives in the returned [`Pending`]. If the task
/// is lost (the runtime is shutting down), the pending gets `on_drop()`.
pub(crate) fn spawn<T, F>(fut: F, on_drop: fn() -> T) -> Pending<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (p, done) = pending(on_drop);
    handle().spawn(async move {
        done.complete(fut.await);
    });
    p
}
