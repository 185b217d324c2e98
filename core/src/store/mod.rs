//! Shared stores behind the in-process tier: the one trait every store implements (bytes
//! in, bytes out, async), the in-memory store the tests use, the runtime their I/O runs
//! on, and the layer that keeps a store from ever failing a handler (`tier`).
//!
//! A store sees only bytes and keys: envelopes ([`crate::value::envelope`]) written by the
//! core, under keys that start with [`KEY_PREFIX`]. It never sees a host value, and its
//! futures run on the store runtime's threads, which are not host threads.

pub mod memory;
pub(crate) mod runtime;
pub(crate) mod tier;
pub mod url;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use crate::value::envelope::KEY_PREFIX;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store call failed. None of these ever reaches a handler as an error: the cache
/// counts it (`store_errors`) and answers from the in-process tier or the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The store cannot be reached, or broke the connection.
    Unavailable,
    /// The store did not answer within `store_timeout_ms`.
    Timeout,
    /// The store answered with an error (full disk, read-only, out of memory, wrong
    /// password).
    Refused,
    /// The store holds something this version cannot use (a damaged or foreign file).
    Unusable,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Timeout => "timed out",
            StoreErrorKind::Refused => "refused",
            StoreErrorKind::Unusable => "unusable",
        };
        write!(f, "store {kind}: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

/// What taking a key's lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// This caller holds the lease: it loads.
    Acquired,
    /// Another process holds it, for at most this much longer.
    Held { remaining_ms: u64 },
}

/// Where a store delivers what other processes changed.
pub trait InvalidationSink: Send + Sync {
    /// `key` was written or removed by another process (or its load ended).
    fn changed(&self, key: &str);
    /// Changes may have been missed (a store cleared, a file replaced): forget every copy.
    fn changed_all(&self);
    /// The store's announcements stopped (`false`: a subscription dropped; changes may go
    /// unseen) or came back (`true`). While they are stopped, every copy in this process is
    /// checked against the store before it is served, and served as it is only when the
    /// store cannot answer.
    fn listening(&self, up: bool) {
        let _ = up;
    }
}

/// Runs `f` inside the store runtime's context (a store client that spawns its own tasks
/// when it is made).
pub fn in_runtime<T>(f: impl FnOnce() -> T) -> T {
    let handle = runtime::handle();
    let _entered = handle.enter();
    f()
}

/// Runs a task of a store on the store runtime (a subscription's reader, for example).
pub fn spawn_background<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime::handle().spawn(fut);
}

/// A shared store: bytes in, bytes out, each call a future run on the store runtime.
///
/// Writes made through one store object are announced to every other store object on the
/// same store (other processes), never echoed back to their writer. Every write of a value
/// voids the key's lease, so a load whose lease was voided cannot `fill` over it (the
/// memcache lease rule).
pub trait Store: Send + Sync + 'static {
    /// The store's URL without secrets, for messages.
    fn describe(&self) -> String;

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>>;

    /// Writes `envelope`; the store may reclaim it after `reclaim_at` (epoch ms).
    fn set<'a>(
        &'a self,
        key: &'a str,
        envelope: Vec<u8>,
        reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Removes the key; returns the `fresh_until` (epoch ms) of the value it held, if it held
    /// one (the cache decides, on its own clock, whether it was live).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<u64>>>;

    /// Writes `new` only if the key holds exactly `expected` (`None`: nothing); returns
    /// whether it wrote.
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
        reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Takes the key's lease for `ttl_ms` unless another holder has it.
    fn lease<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl_ms: u64,
    ) -> BoxFuture<'a, StoreResult<LeaseState>>;

    /// Extends a lease this token holds; false when it is no longer held.
    fn renew<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl_ms: u64,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Writes the loaded `envelope` and releases the lease, only if `token` still holds it;
    /// returns whether it wrote. Announces the change either way the lease ends.
    fn fill<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        envelope: Vec<u8>,
        reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Releases the lease `token` holds without a value. With `failure`, writes that record
    /// (kept until its reclaim time) for the waiters of every process.
    fn release<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        failure: Option<(Vec<u8>, u64)>,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// A future that completes at the next change of `key` announced after this call (true),
    /// or after `timeout` (false). Registered when called, so that a change between this call
    /// and a read that follows it is not missed.
    fn watch(&self, key: &str, timeout: Duration) -> BoxFuture<'static, bool>;

    /// The keys under `prefix` that hold a fresh entry at `epoch_now`.
    fn keys<'a>(
        &'a self,
        prefix: &'a str,
        epoch_now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<String>>>;

    /// Removes every key under `prefix`; returns how many.
    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StoreResult<u64>>;

    fn ping(&self) -> BoxFuture<'_, StoreResult<()>>;

    /// Starts delivering other processes' changes to `sink`.
    fn subscribe(&self, sink: Arc<dyn InvalidationSink>);
}
