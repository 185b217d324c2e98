//! `memory://NAME`: a store in this process's memory, shared by every cache opened with the
//! same name. Two caches on one name behave like two processes on one shared store (their
//! own in-process tiers, one store between them), which lets every rule of the shared
//! stores be tested without a server. It follows the [`Store`] contract exactly: leases,
//! fills that check their token, announcements to the other caches, watches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::pending::{pending, Completer};
use crate::settings::StoreSettings;
use crate::store::url::StoreUrl;
use crate::store::{
    BoxFuture, InvalidationSink, LeaseState, Store, StoreError, StoreErrorKind, StoreResult,
};
use crate::value::envelope::{Body, Envelope};

#[derive(Default)]
struct Shared {
    entries: HashMap<String, Vec<u8>>,
    leases: HashMap<String, (u64, Instant)>,
    watchers: HashMap<String, Vec<Completer<()>>>,
    subscribers: Vec<(u64, Arc<dyn InvalidationSink>)>,
    /// A fault every call fails with, for tests of a store that is down.
    fault: Option<StoreErrorKind>,
    /// Announcements are lost (as when a Redis subscription drops), for tests.
    deaf: bool,
    /// How long a read's answer takes to come back after the read, for tests of races.
    read_delay: Option<Duration>,
}

static NAMED: Mutex<Vec<(String, Weak<Mutex<Shared>>)>> = Mutex::new(Vec::new());
static ORIGINS: AtomicU64 = AtomicU64::new(1);

fn shared(name: &str) -> Arc<Mutex<Shared>> {
    let mut named = NAMED.lock().unwrap_or_else(|p| p.into_inner());
    named.retain(|(_, w)| w.strong_count() > 0);
    if let Some(s) = named
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, w)| w.upgrade())
    {
        return s;
    }
    let s = Arc::new(Mutex::new(Shared::default()));
    named.push((name.to_string(), Arc::downgrade(&s)));
    s
}

/// Makes every call to the store `name` fail (`Some`) or work again (`None`), for tests.
pub fn set_fault(name: &str, fault: Option<StoreErrorKind>) {
    shared(name).lock().unwrap_or_else(|p| p.into_inner()).fault = fault;
}

/// Delays every read's answer of the store `name` (the value is read at once), for tests
/// of what happens between a read and its answer.
pub fn set_read_delay(name: &str, delay: Option<Duration>) {
    shared(name)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .read_delay = delay;
}

/// Makes the announcements of the store `name` lost (`true`), as a dropped subscription
/// would, or delivered again (`false`); every cache on it is told, as a store tells its
/// caches when its subscription drops and comes back. For tests.
pub fn set_deaf(name: &str, deaf: bool) {
    let shared = shared(name);
    let sinks: Vec<_> = {
        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
        s.deaf = deaf;
        s.subscribers.iter().map(|(_, k)| k.clone()).collect()
    };
    for sink in sinks {
        sink.listening(!deaf);
    }
}

pub(crate) fn open(settings: &StoreSettings) -> Result<Arc<dyn Store>> {
    let StoreUrl::Memory { name } = &settings.url else {
        unreachable!("the memory opener gets memory URLs");
    };
    Ok(Arc::new(MemoryStore {
        name: name.clone(),
        shared: shared(name),
        origin: ORIGINS.fetch_add(1, Ordering::Relaxed),
    }))
}

/// A store object on `memory://NAME`, as a cache would open it (tests use it to act as
/// another process).
pub fn named(name: &str) -> MemoryStore {
    MemoryStore {
        name: name.to_string(),
        shared: shared(name),
        origin: ORIGINS.fetch_add(1, Ordering::Relaxed),
    }
}

pub struct MemoryStore {
    name: String,
    shared: Arc<Mutex<Shared>>,
    origin: u64,
}

impl Drop for MemoryStore {
    fn drop(&mut self) {
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let me = self.origin;
        s.subscribers.retain(|(o, _)| *o != me);
    }
}

type Guard<'a> = std::sync::MutexGuard<'a, Shared>;

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Guard<'_>) -> T) -> StoreResult<T> {
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kind) = s.fault {
            return Err(StoreError::new(kind, "a fault set by the test"));
        }
        Ok(f(&mut s))
    }

    /// Wakes the key's watchers and tells the other caches (not this one).
    fn announce(&self, s: &mut Guard<'_>, key: &str) {
        if let Some(ws) = s.watchers.remove(key) {
            for w in ws {
                w.complete(());
            }
        }
        if s.deaf {
            return;
        }
        for (o, sink) in &s.subscribers {
            if *o != self.origin {
                sink.changed(key);
            }
        }
    }

    fn lease_holder(s: &Guard<'_>, key: &str) -> Option<(u64, Instant)> {
        s.leases
            .get(key)
            .copied()
            .filter(|(_, t)| *t > Instant::now())
    }
}

fn ready<'a, T: Send + 'a>(r: StoreResult<T>) -> BoxFuture<'a, StoreResult<T>> {
    Box::pin(async move { r })
}

impl Store for MemoryStore {
    fn describe(&self) -> String {
        format!("memory://{}", self.name)
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>> {
        let read = self.with(|s| (s.entries.get(key).cloned(), s.read_delay));
        Box::pin(async move {
            let (found, delay) = read?;
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            Ok(found)
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        envelope: Vec<u8>,
        _reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        ready(self.with(|s| {
            s.entries.insert(key.to_string(), envelope);
            s.leases.remove(key);
            self.announce(s, key);
        }))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<u64>>> {
        ready(self.with(|s| {
            let had = s.entries.remove(key);
            s.leases.remove(key);
            self.announce(s, key);
            had.and_then(|b| crate::value::envelope::Header::read(&b))
                .filter(|h| h.is_value())
                .map(|h| h.fresh_until)
        }))
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
        _reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        ready(self.with(|s| {
            if s.entries.get(key) != expected.as_ref() {
                return false;
            }
            s.entries.insert(key.to_string(), new);
            s.leases.remove(key);
            self.announce(s, key);
            true
        }))
    }

    fn lease<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl_ms: u64,
    ) -> BoxFuture<'a, StoreResult<LeaseState>> {
        ready(self.with(|s| match Self::lease_holder(s, key) {
            Some((t, until)) if t != token => LeaseState::Held {
                remaining_ms: until.saturating_duration_since(Instant::now()).as_millis() as u64,
            },
            _ => {
                let until = Instant::now() + Duration::from_millis(ttl_ms);
                s.leases.insert(key.to_string(), (token, until));
                LeaseState::Acquired
            }
        }))
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl_ms: u64,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        ready(self.with(|s| match Self::lease_holder(s, key) {
            Some((t, _)) if t == token => {
                let until = Instant::now() + Duration::from_millis(ttl_ms);
                s.leases.insert(key.to_string(), (token, until));
                true
            }
            _ => false,
        }))
    }

    fn fill<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        envelope: Vec<u8>,
        _reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        ready(self.with(|s| {
            let ours = matches!(Self::lease_holder(s, key), Some((t, _)) if t == token);
            if ours {
                s.leases.remove(key);
                s.entries.insert(key.to_string(), envelope);
                self.announce(s, key);
            }
            ours
        }))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        failure: Option<(Vec<u8>, u64)>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        ready(self.with(|s| {
            if matches!(Self::lease_holder(s, key), Some((t, _)) if t == token) {
                s.leases.remove(key);
                if let Some((record, _)) = failure {
                    s.entries.insert(key.to_string(), record);
                }
                self.announce(s, key);
            }
        }))
    }

    fn watch(&self, key: &str, timeout: Duration) -> BoxFuture<'static, bool> {
        let (p, done) = pending(|| ());
        self.shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .watchers
            .entry(key.to_string())
            .or_default()
            .push(done);
        Box::pin(async move { tokio::time::timeout(timeout, p).await.is_ok() })
    }

    fn keys<'a>(
        &'a self,
        prefix: &'a str,
        epoch_now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        ready(self.with(|s| {
            s.entries
                .iter()
                .filter(|(k, v)| {
                    k.starts_with(prefix)
                        && matches!(Envelope::decode(v), Ok(e)
                            if matches!(e.body, Body::Value(_)) && e.is_fresh(epoch_now))
                })
                .map(|(k, _)| k.clone())
                .collect()
        }))
    }

    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StoreResult<u64>> {
        ready(self.with(|s| {
            let keys: Vec<String> = s
                .entries
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect();
            for k in &keys {
                s.entries.remove(k);
                self.announce(s, k);
            }
            // Loads in flight under the prefix must not write their results afterwards.
            let leased: Vec<String> = s
                .leases
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect();
            for k in &leased {
                s.leases.remove(k);
                self.announce(s, k);
            }
            keys.len() as u64
        }))
    }

    fn ping(&self) -> BoxFuture<'_, StoreResult<()>> {
        ready(self.with(|_| ()))
    }

    fn subscribe(&self, sink: Arc<dyn InvalidationSink>) {
        let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        s.subscribers.push((self.origin, sink.clone()));
        let deaf = s.deaf;
        drop(s);
        if deaf {
            sink.listening(false);
        }
    }
}
