//! The layer between the cache and its store that keeps the SPEC's promise: a handler never
//! fails because of its store. Every store call gets the per-command timeout; failures are
//! counted (`store_errors`), logged once per change of state, and after a few in a row a
//! circuit breaker skips the store for a while, so that a dead store does not add its
//! timeout to every call (FusionCache's accessors do the same around each plugin).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::memory::expiry::Expiry;
use crate::memory::invalidations::Invalidations;
use crate::pending::Pending;
use crate::settings::StoreSettings;
use crate::stats::Counters;
use crate::store::url::StoreUrl;
use crate::store::{
    runtime, BoxFuture, InvalidationSink, Store, StoreError, StoreErrorKind, StoreResult,
    KEY_PREFIX,
};

/// Opens a store for its settings (a store crate registers one per URL scheme).
pub type Opener = fn(&StoreSettings) -> Result<Arc<dyn Store>>;

static OPENERS: Mutex<Vec<(&'static str, Opener)>> = Mutex::new(Vec::new());

/// Makes a store kind available to every cache of this process: `scheme` is the URL's
/// (`"sqlite"`, `"redis"`). The bindings register the stores they are built with.
pub fn register_store(scheme: &'static str, opener: Opener) {
    let mut o = OPENERS.lock().unwrap_or_else(|p| p.into_inner());
    o.retain(|(s, _)| *s != scheme);
    o.push((scheme, opener));
}

fn scheme(url: &StoreUrl) -> &'static str {
    match url {
        StoreUrl::InProcess => "",
        StoreUrl::Memory { .. } => "memory",
        StoreUrl::Sqlite { .. } => "sqlite",
        StoreUrl::Redis { tls: false, .. } => "redis",
        StoreUrl::Redis { tls: true, .. } => "rediss",
    }
}

fn opener(url: &StoreUrl) -> Option<Opener> {
    let want = scheme(url);
    if want == "memory" {
        return Some(crate::store::memory::open);
    }
    let o = OPENERS.lock().unwrap_or_else(|p| p.into_inner());
    o.iter()
        .find(|(s, _)| *s == want || (want == "rediss" && *s == "redis"))
        .map(|(_, f)| *f)
}

/// Failures in a row that open the breaker, and how long it stays open.
const BREAKER_THRESHOLD: u32 = 3;
const BREAKER_OPEN: Duration = Duration::from_secs(2);

struct Breaker {
    origin: Instant,
    failures: AtomicU32,
    open_until_ms: AtomicU64,
    down: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl Breaker {
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn allows(&self) -> bool {
        self.now_ms() >= self.open_until_ms.load(SeqCst)
    }

    fn success(&self, store: &str) {
        self.failures.store(0, SeqCst);
        if self.down.swap(false, SeqCst) {
            eprintln!("flightcache: store {store} answers again; using it");
        }
    }

    fn failure(&self, store: &str, e: &StoreError) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        let n = self.failures.fetch_add(1, SeqCst) + 1;
        if n >= BREAKER_THRESHOLD {
            self.open_until_ms
                .store(self.now_ms() + BREAKER_OPEN.as_millis() as u64, SeqCst);
        }
        if !self.down.swap(true, SeqCst) {
            eprintln!(
                "flightcache: store {store} failed ({e}); serving from memory and loaders \
                 until it answers"
            );
        }
    }
}

/// A cache's store, behind the timeout and the breaker.
pub(crate) struct Tier {
    store: Arc<dyn Store>,
    describe: Arc<str>,
    pub settings: StoreSettings,
    breaker: Arc<Breaker>,
    counters: Arc<Counters>,
}

impl Tier {
    pub fn open(
        settings: StoreSettings,
        counters: Arc<Counters>,
        invalidations: Arc<Invalidations>,
        expiry: Arc<Expiry>,
    ) -> Result<Tier> {
        let open = opener(&settings.url).ok_or_else(|| {
            Error::invalid(format!(
                "store {}: the {} store is not part of this build of flightcache",
                settings.url.redacted(),
                scheme(&settings.url)
            ))
        })?;
        let store = open(&settings)?;
        store.subscribe(Arc::new(Sink {
            invalidations,
            expiry,
        }));
        Ok(Tier {
            describe: store.describe().into(),
            store,
            settings,
            breaker: Arc::new(Breaker {
                origin: Instant::now(),
                failures: AtomicU32::new(0),
                open_until_ms: AtomicU64::new(0),
                down: AtomicBool::new(false),
                last_error: Mutex::new(None),
            }),
            counters,
        })
    }

    /// The store key of a cache key (namespaced key, not yet prefixed).
    pub fn key(full: &str) -> String {
        let mut k = String::with_capacity(KEY_PREFIX.len() + full.len());
        k.push_str(KEY_PREFIX);
        k.push_str(full);
        k
    }

    /// Whether the breaker lets calls through now.
    pub fn available(&self) -> bool {
        self.breaker.allows()
    }

    pub fn last_error(&self) -> Option<String> {
        self.breaker
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn lease_ms(&self) -> u64 {
        self.settings.lease_ms
    }

    /// Runs one store command with the timeout and the breaker. A failure comes back as an
    /// error for the caller to fall back on, and is counted.
    pub fn call<T, F>(&self, f: F) -> Pending<StoreResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn Store>) -> BoxFuture<'static, StoreResult<T>> + Send + 'static,
    {
        self.run(f, Some(self.settings.timeout))
    }

    fn run<T, F>(&self, f: F, timeout: Option<Duration>) -> Pending<StoreResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn Store>) -> BoxFuture<'static, StoreResult<T>> + Send + 'static,
    {
        if !self.breaker.allows() {
            self.counters.store_error();
            return Pending::ready(Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "skipped: the store failed repeatedly (circuit open)",
            )));
        }
        let store = self.store.clone();
        let breaker = self.breaker.clone();
        let counters = self.counters.clone();
        let describe = self.describe.clone();
        runtime::spawn(
            async move {
                let call = f(store);
                let r = match timeout {
                    Some(t) => match tokio::time::timeout(t, call).await {
                        Ok(r) => r,
                        Err(_) => Err(StoreError::new(
                            StoreErrorKind::Timeout,
                            format!("no answer within {} ms", t.as_millis()),
                        )),
                    },
                    None => call.await,
                };
                match &r {
                    Ok(_) => breaker.success(&describe),
                    Err(e) => {
                        counters.store_error();
                        breaker.failure(&describe, e);
                    }
                }
                r
            },
            || {
                Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    "the store runtime stopped",
                ))
            },
        )
    }

    /// Waits for a change of `key` announced by another process, at most `timeout`; true
    /// when one came.
    pub fn watch(&self, key: &str, timeout: Duration) -> Pending<bool> {
        let fut = self.store.watch(key, timeout);
        runtime::spawn(fut, || false)
    }

    /// A command whose result nobody waits for (a lease release).
    pub fn detach<F>(&self, f: F)
    where
        F: FnOnce(Arc<dyn Store>) -> BoxFuture<'static, StoreResult<()>> + Send + 'static,
    {
        drop(self.call(f));
    }

    /// A task that runs until it decides to stop (the lease renewal), with no timeout of
    /// its own: each command it sends is bounded with [`Tier::timeout`].
    pub fn background<F>(&self, f: F)
    where
        F: FnOnce(Arc<dyn Store>) -> BoxFuture<'static, StoreResult<()>> + Send + 'static,
    {
        drop(self.run(f, None));
    }

    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }
}

/// Changes from other processes: bump the key's generation now, remove the copy on the
/// next host call (see `memory::invalidations`).
struct Sink {
    invalidations: Arc<Invalidations>,
    expiry: Arc<Expiry>,
}

impl InvalidationSink for Sink {
    fn changed(&self, key: &str) {
        if let Some(full) = key.strip_prefix(KEY_PREFIX) {
            self.invalidations.changed(full);
            self.expiry.poke();
            self.invalidations.tell_mirror();
        }
    }

    fn changed_all(&self) {
        self.invalidations.changed_all();
        self.expiry.poke();
        self.invalidations.tell_mirror();
    }

    fn listening(&self, up: bool) {
        self.invalidations.listening(up);
    }
}
