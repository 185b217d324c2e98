//! The Rust runner of the cross-language conformance scenarios (`tests/scenarios/*.json`,
//! format in `tests/README.md`). It drives the core the way a binding does (`Cache::load`
//! and the `Op` it returns, stepped on the caller's thread), with values that are JSON values, and prints one line per
//! scenario and a closing `N passed, N failed` line. Pass a substring to run only the
//! scenarios whose name contains it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flightcache::memo;
use flightcache::value::size::{self, Shape, Walk};
use flightcache::{
    Answer, Cache, Config, EntryInfo, Error, FlightId, Host, LoadOptions, LoaderError, Lookup,
    ManualClock, Op, Parker, PolicyOptions, Stats, Step, Ttl, Value as Shared,
};
use serde_json::{json, Map, Value};

/// How long one scenario may run before it counts as hung.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(20);
/// How long `start` waits for its callers to reach the cache.
const SETTLE_DEADLINE: Duration = Duration::from_secs(5);
/// How long a step marked `eventually` is retried until it holds (background work settles
/// on its own).
const EVENTUALLY_DEADLINE: Duration = Duration::from_secs(5);
/// The resilience options: cache options, and per-call options of get / get_entry / start.
const POLICY: [&str; 6] = flightcache::PolicyOptions::NAMES;

/// The resilience options named in a scenario's options or step.
fn policy_of(o: &Value) -> Result<PolicyOptions, String> {
    let get = |k: &str| o.get(k).map(number_arg).transpose();
    Ok(PolicyOptions {
        stale_ttl: get("stale_ttl")?,
        stale_if_error: get("stale_if_error")?,
        soft_timeout: get("soft_timeout")?,
        hard_timeout: get("hard_timeout")?,
        refresh_ahead: get("refresh_ahead")?,
        fail_safe_backoff: get("fail_safe_backoff")?,
    })
}

fn ms_json(ms: Option<f64>) -> Value {
    match ms {
        None => json!({"$absent": true}),
        Some(t) if t.is_infinite() => json!({"$inf": 1}),
        Some(t) => json!(t),
    }
}

/// `get_entry`'s answer in the scenarios' words.
fn entry_json(value: Value, info: EntryInfo) -> Value {
    json!({
        "value": value,
        "status": info.status.name(),
        "source": info.source.name(),
        "age_ms": ms_json(info.age_ms),
        "remaining_ttl": ms_json(info.remaining_ttl),
    })
}

// ------------------------------------------------------------------------------ values

/// A cached value: a JSON value behind an `Arc`, so that "every caller receives the same
/// object" can be checked with `Arc::ptr_eq`.
#[derive(Clone, Debug)]
struct Val(Arc<Value>);

impl Val {
    fn new(v: Value) -> Self {
        Val(Arc::new(v))
    }
}

type C = Cache<Val>;
type Outcome = Result<Val, Error>;

/// The runner's side of a call, as a binding's: the scenario's `size_of`, the `ttl`
/// function of the value, and conversions to the shared model.
#[derive(Clone, Default)]
struct RunnerHost {
    /// The cache's `size_of` option (a constant size for lists and objects).
    size_of: Option<f64>,
    /// `{"$ttl_of": "field"}`: the TTL is the value's field.
    ttl_of: Option<String>,
}

/// The size rule's view of a JSON value (`{"$bytes": text}` is binary data).
struct JsonWalk;

impl<'a> Walk for &'a JsonWalk {
    type Node = &'a Value;
    fn shape(&mut self, v: &&'a Value) -> flightcache::Result<Shape> {
        if let Some(Value::String(b)) = tag(v, "$bytes") {
            return Ok(Shape::Bytes(b.len() as u64));
        }
        Ok(match v {
            Value::String(s) => Shape::Str(s.len() as u64),
            Value::Null | Value::Bool(_) | Value::Number(_) => Shape::Scalar,
            Value::Array(a) => Shape::List(a.len()),
            Value::Object(o) => Shape::Map(o.len()),
        })
    }
    fn items(&mut self, v: &&'a Value, limit: usize) -> flightcache::Result<Vec<(u64, &'a Value)>> {
        Ok(match v {
            Value::Array(a) => a.iter().take(limit).map(|x| (0, x)).collect(),
            Value::Object(o) => o
                .iter()
                .take(limit)
                .map(|(k, x)| (k.len() as u64, x))
                .collect(),
            _ => Vec::new(),
        })
    }
}

fn to_shared(v: &Value) -> Shared {
    if let Some(Value::String(b)) = tag(v, "$bytes") {
        return Shared::Bytes(b.as_bytes().to_vec());
    }
    match v {
        Value::Null => Shared::Null,
        Value::Bool(b) => Shared::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || Shared::Float(n.as_f64().unwrap_or(f64::NAN)),
            Shared::Int,
        ),
        Value::String(s) => Shared::Str(s.clone()),
        Value::Array(a) => Shared::List(a.iter().map(to_shared).collect()),
        Value::Object(o) => Shared::Map(o.iter().map(|(k, x)| (k.clone(), to_shared(x))).collect()),
    }
}

fn from_shared(v: Shared) -> Value {
    match v {
        Shared::Null => Value::Null,
        Shared::Bool(b) => json!(b),
        Shared::Int(n) => json!(n),
        Shared::Float(f) => json!(f),
        Shared::Str(s) => json!(s),
        Shared::Bytes(b) => json!({"$bytes": String::from_utf8_lossy(&b)}),
        Shared::List(xs) => Value::Array(xs.into_iter().map(from_shared).collect()),
        Shared::Map(ps) => {
            Value::Object(ps.into_iter().map(|(k, x)| (k, from_shared(x))).collect())
        }
    }
}

impl Host<Val> for RunnerHost {
    fn size_of(&mut self, v: &Val) -> flightcache::Result<u64> {
        let mut w = &JsonWalk;
        let node: &Value = &v.0;
        match self.size_of {
            Some(n) => size::measure(&mut w, &node, Some(&mut |_: &&Value| Ok(n))),
            None => size::measure(&mut w, &node, None),
        }
    }
    fn ttl_of(&mut self, v: &Val) -> flightcache::Result<Option<f64>> {
        Ok(self
            .ttl_of
            .as_ref()
            .map(|f| v.0.get(f).and_then(Value::as_f64).unwrap_or(f64::NAN)))
    }
    fn export(&mut self, v: &Val) -> flightcache::Result<Shared> {
        Ok(to_shared(&v.0))
    }
    fn import(&mut self, v: Shared) -> flightcache::Result<Val> {
        Ok(Val::new(from_shared(v)))
    }
}

/// Equality of expected and actual JSON values; numbers compare by value (5 == 5.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn tag<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object().and_then(|o| o.get(name))
}

fn is_absent(v: &Value) -> bool {
    tag(v, "$absent").is_some()
}

/// A number argument: a JSON number, `{"$nan": true}`, `{"$inf": 1 | -1}`, or
/// `{"$timedelta_ms": n}` (a Python `timedelta`; plain milliseconds elsewhere).
fn number_arg(v: &Value) -> Result<f64, String> {
    if let Some(n) = v.as_f64() {
        return Ok(n);
    }
    if tag(v, "$nan").is_some() {
        return Ok(f64::NAN);
    }
    if let Some(s) = tag(v, "$inf") {
        return Ok(if s.as_f64().unwrap_or(1.0) < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if let Some(ms) = tag(v, "$timedelta_ms") {
        return ms.as_f64().ok_or_else(|| "bad $timedelta_ms".into());
    }
    Err(format!(
        "{v} cannot be passed in Rust (give the step \"langs\")"
    ))
}

/// Renders an outcome for messages, in the scenario's own terms.
fn show(o: &Result<Value, String>) -> String {
    match o {
        Ok(v) if is_absent(v) => "absent".into(),
        Ok(v) => v.to_string(),
        Err(k) => format!("error {k}"),
    }
}

fn kind_of(e: &Error) -> String {
    e.kind().to_string()
}

// ------------------------------------------------------------------------------ loaders

/// A loader that waits until the scenario resolves or rejects it (`resolve`, `reject`).
#[derive(Default)]
struct Deferred {
    state: Mutex<(Option<Result<Value, String>>, u64)>,
    done: Condvar,
    notify: tokio::sync::Notify,
}

impl Deferred {
    fn settle(&self, outcome: Result<Value, String>) {
        self.state.lock().unwrap().0 = Some(outcome);
        self.done.notify_all();
        self.notify.notify_waiters();
    }

    fn calls(&self) -> u64 {
        self.state.lock().unwrap().1
    }

    fn result(o: &Result<Value, String>) -> Result<Val, LoaderError> {
        match o {
            Ok(v) => Ok(Val::new(v.clone())),
            Err(m) => Err(LoaderError::new(m.clone())),
        }
    }

    fn call_blocking(&self) -> Result<Val, LoaderError> {
        let mut st = self.state.lock().unwrap();
        st.1 += 1;
        loop {
            if let Some(o) = &st.0 {
                return Self::result(o);
            }
            st = self.done.wait(st).unwrap();
        }
    }

    async fn call_async(&self) -> Result<Val, LoaderError> {
        self.state.lock().unwrap().1 += 1;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(o) = &self.state.lock().unwrap().0 {
                return Self::result(o);
            }
            notified.await;
        }
    }
}

/// What a loader does when it runs.
#[derive(Clone)]
enum Loader {
    Value(Value),
    Fail(String),
    /// Asks the cache for its own key first (the inner call's error kind goes to `inner`),
    /// then returns the value.
    Reenter(Value, Arc<Mutex<Option<String>>>),
    Deferred(Arc<Deferred>),
    /// A memoized function's body that returns how many times it has run.
    Count(Arc<AtomicU64>),
}

/// The options of one loading `get`.
#[derive(Clone, Default)]
struct LoadSpec {
    ttl: Option<f64>,
    max_age: Option<f64>,
    asynchronous: bool,
    host: RunnerHost,
    policy: PolicyOptions,
}

impl LoadSpec {
    fn options<'a>(&self, within: &'a [FlightId]) -> LoadOptions<'a> {
        LoadOptions {
            ttl: if self.host.ttl_of.is_some() {
                Ttl::FromValue
            } else {
                self.ttl.into()
            },
            max_age: self.max_age,
            within,
            policy: self.policy,
            ..Default::default()
        }
    }
}

/// What a call of the cache for the loader's own key gave, in the scenario's words.
fn reentered(cache: &C, key: &str, within: &[FlightId]) -> String {
    let opts = LoadOptions {
        within,
        ..Default::default()
    };
    match cache.load(key, &opts) {
        Err(e) => kind_of(&e),
        Ok(Lookup::Hit(_)) => "no error (a hit)".into(),
        Ok(Lookup::Absent) => "no error (absent)".into(),
        Ok(Lookup::Pending(mut op)) => {
            match op.step(&mut RunnerHost::default(), &Parker::new().waker()) {
                Step::Done(Err(e)) => kind_of(&e),
                Step::Done(Ok(_)) => "no error (an answer)".into(),
                Step::RunLoader => "no error (a second load)".into(),
                Step::Park(_) => "no error (it would wait forever)".into(),
                Step::Spawn(_) => "no error (a load in the background)".into(),
            }
        }
    }
}

fn run_sync_loader(cache: &C, key: &str, loader: &Loader) -> Result<Val, LoaderError> {
    match loader {
        Loader::Value(v) => Ok(Val::new(v.clone())),
        Loader::Fail(m) => Err(LoaderError::new(m.clone())),
        Loader::Reenter(v, inner) => {
            *inner.lock().unwrap() = Some(reentered(cache, key, &[]));
            Ok(Val::new(v.clone()))
        }
        Loader::Deferred(d) => d.call_blocking(),
        Loader::Count(n) => Ok(Val::new(json!(n.fetch_add(1, Ordering::SeqCst) + 1))),
    }
}

/// One caller of `get(key, loader)`, driving the core as a blocking binding does: step,
/// run the loader when told (marked as the flight's loader on this thread), park when
/// told.
fn load_blocking(cache: &C, key: &str, spec: &LoadSpec, loader: &Loader) -> Outcome {
    let op = match cache.load(key, &spec.options(&[]))? {
        // As a binding does: a hit is handed out by the core's rule (a copy with `copy`).
        Lookup::Hit(v) => return cache.hand_out(v, &mut spec.host.clone()),
        Lookup::Absent => unreachable!("a load always answers"),
        Lookup::Pending(op) => op,
    };
    drive_blocking(cache, key, spec, loader, op)?.into_value()
}

/// `get_entry`: the load (or lookup, without a loader) as an operation, driven on this
/// thread; the answer with how it was served.
fn entry_blocking(
    cache: &C,
    key: &str,
    spec: &LoadSpec,
    loader: Option<&Loader>,
) -> Result<Value, Error> {
    let op = cache.load_entry(key, &spec.options(&[]), loader.is_some())?;
    let none = Loader::Fail("get_entry without a loader ran a loader".into());
    let mut info = None;
    let a = drive_blocking_with(cache, key, spec, loader.unwrap_or(&none), op, &mut info)?;
    let value = match a {
        Answer::Value(v) => (*v.0).clone(),
        _ => json!({"$absent": true}),
    };
    Ok(entry_json(
        value,
        info.expect("a finished operation reports how it served"),
    ))
}

fn drive_blocking(
    cache: &C,
    key: &str,
    spec: &LoadSpec,
    loader: &Loader,
    op: Op<Val>,
) -> Result<Answer<Val>, Error> {
    drive_blocking_with(cache, key, spec, loader, op, &mut None)
}

/// Steps `op` to its answer as a blocking binding does: runs the loader when told (marked
/// as the flight's loader on this thread), parks when told, hands background work to a
/// thread of its own.
fn drive_blocking_with(
    cache: &C,
    key: &str,
    spec: &LoadSpec,
    loader: &Loader,
    mut op: Op<Val>,
    info: &mut Option<EntryInfo>,
) -> Result<Answer<Val>, Error> {
    let mut host = spec.host.clone();
    let parker = Parker::new();
    let waker = parker.waker();
    loop {
        match op.step(&mut host, &waker) {
            Step::Done(a) => {
                *info = Some(op.entry_info());
                return a;
            }
            Step::RunLoader => {
                let r = op.run_loader(|| run_sync_loader(cache, key, loader));
                op.loaded(r);
            }
            Step::Park(until) => {
                parker.park_until(until);
            }
            Step::Spawn(other) => in_background(cache, key, spec, loader, *other),
        }
    }
}

/// Drives an operation nobody waits for (a refresh, a load past a timeout) to its end on a
/// thread of its own, as a binding does on a thread or task of its host.
fn in_background(cache: &C, key: &str, spec: &LoadSpec, loader: &Loader, mut op: Op<Val>) {
    let (cache, key, mut host, loader) = (
        cache.clone(),
        key.to_string(),
        spec.host.clone(),
        loader.clone(),
    );
    std::thread::spawn(move || {
        let parker = Parker::new();
        let waker = parker.waker();
        loop {
            match op.step(&mut host, &waker) {
                Step::Done(_) => return,
                Step::RunLoader => {
                    let r = op.run_loader(|| run_sync_loader(&cache, &key, &loader));
                    op.loaded(r);
                }
                Step::Park(until) => {
                    parker.park_until(until);
                }
                Step::Spawn(other) => {
                    let spec = LoadSpec {
                        host: host.clone(),
                        ..Default::default()
                    };
                    in_background(&cache, &key, &spec, &loader, *other)
                }
            }
        }
    });
}

/// Returns `Pending` once, then `Ready`: the task sleeps until the waker `step` registered
/// is woken.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            std::task::Poll::Pending
        }
    }
}

/// One caller of `get(key, loader)` from async code, as an async binding drives the core:
/// the flights it leads are passed as `within` to the loader's own calls.
async fn load_async(cache: &C, key: &str, spec: &LoadSpec, loader: &Loader) -> Outcome {
    let mut host = spec.host.clone();
    let mut op: Op<Val> = match cache.load(key, &spec.options(&[]))? {
        Lookup::Hit(v) => return cache.hand_out(v, &mut host),
        Lookup::Absent => unreachable!("a load always answers"),
        Lookup::Pending(op) => op,
    };
    loop {
        let step =
            std::future::poll_fn(|cx| std::task::Poll::Ready(op.step(&mut host, cx.waker()))).await;
        match step {
            Step::Done(a) => return a?.into_value(),
            Step::RunLoader => {
                let id = op.flight_id().into_iter().collect::<Vec<_>>();
                let r = match loader {
                    Loader::Reenter(v, inner) => {
                        *inner.lock().unwrap() = Some(reentered(cache, key, &id));
                        Ok(Val::new(v.clone()))
                    }
                    Loader::Deferred(d) => d.call_async().await,
                    other => run_sync_loader(cache, key, other),
                };
                op.loaded(r);
            }
            Step::Park(until) => match until {
                None => YieldOnce(false).await,
                Some(t) => {
                    let _ = tokio::time::timeout_at(t.into(), YieldOnce(false)).await;
                }
            },
            Step::Spawn(other) => in_background(cache, key, spec, loader, *other),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

fn load(cache: &C, key: &str, spec: &LoadSpec, loader: &Loader) -> Outcome {
    if spec.asynchronous {
        runtime().block_on(load_async(cache, key, spec, loader))
    } else {
        load_blocking(cache, key, spec, loader)
    }
}

// ------------------------------------------------------------------------------ memoize

/// A memoized function, as a binding builds it from the core's key functions.
struct Memo {
    prefix: String,
    ttl: Option<f64>,
    paths: Option<Vec<String>>,
    body: Loader,
    asynchronous: bool,
    size_of: Option<f64>,
}

impl Memo {
    fn call(&self, cache: &C, args: &[Value]) -> Outcome {
        let args: Vec<Shared> = args.iter().map(to_shared).collect();
        let key = match &self.paths {
            None => memo::call_key(&self.prefix, &args),
            Some(p) => memo::path_key(&self.prefix, args.first(), p)?,
        };
        let spec = LoadSpec {
            ttl: self.ttl,
            asynchronous: self.asynchronous,
            host: RunnerHost {
                size_of: self.size_of,
                ttl_of: None,
            },
            ..Default::default()
        };
        load(cache, &key, &spec, &self.body)
    }
}

// ------------------------------------------------------------------------------ runner

struct Scenario {
    name: String,
    doc: Value,
}

struct Runner {
    clock: ManualClock,
    cache: C,
    deferred: HashMap<String, Arc<Deferred>>,
    groups: HashMap<String, Vec<JoinHandle<Outcome>>>,
    memos: HashMap<String, Arc<Memo>>,
    anonymous: u64,
    size_of: Option<f64>,
    /// Steps limited to other languages ("langs").
    not_here: usize,
}

fn opt_u64(o: &Map<String, Value>, k: &str) -> Option<u64> {
    o.get(k).and_then(Value::as_u64)
}

/// The store every cache of this run uses (`CONFORMANCE_STORE`: `memory`, `sqlite`), each
/// cache a store of its own (a new name or file).
fn store_url() -> Option<String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let kind = std::env::var("CONFORMANCE_STORE").ok()?;
    let n = N.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    Some(match kind.as_str() {
        "memory" => format!("memory://conformance-{pid}-{n}"),
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("flightcache-conformance-{pid}"));
            std::fs::create_dir_all(&dir).expect("a temporary folder");
            format!("sqlite://{}/{n}.db", dir.display())
        }
        // A running server's URL: each cache a database of its own is not possible (16), so
        // each gets a namespace-free store and the runner clears it first.
        url if url.starts_with("redis://") || url.starts_with("rediss://") => url.to_string(),
        other => panic!("CONFORMANCE_STORE={other:?}: use memory, sqlite or a redis:// URL"),
    })
}

fn config(options: &Value, clock: &ManualClock) -> Result<Config, String> {
    let o = options.as_object().cloned().unwrap_or_default();
    let known = [
        "max_entries",
        "max_bytes",
        "max_key_bytes",
        "max_value_bytes",
        "ttl",
        "max_ttl",
        "load_timeout",
        "copy",
    ];
    if let Some(k) = o
        .keys()
        .find(|k| !known.contains(&k.as_str()) && !POLICY.contains(&k.as_str()) && *k != "size_of")
    {
        return Err(format!("unknown option {k:?}"));
    }
    let mut c = Config {
        clock: clock.clone().into(),
        // As the bindings do: one part, so that the bounds are exact.
        shards: Some(1),
        store: store_url(),
        ..Config::default()
    };
    if let Some(v) = o.get("max_entries") {
        c.max_entries = v.as_u64().ok_or("max_entries must be a whole number")?;
    }
    c.max_bytes = opt_u64(&o, "max_bytes");
    c.max_key_bytes = opt_u64(&o, "max_key_bytes");
    c.max_value_bytes = opt_u64(&o, "max_value_bytes");
    if let Some(v) = o.get("ttl") {
        c.ttl = number_arg(v)?;
    }
    c.max_ttl = o.get("max_ttl").map(number_arg).transpose()?;
    c.load_timeout = o.get("load_timeout").map(number_arg).transpose()?;
    if let Some(v) = o.get("copy") {
        c.copy = v.as_bool().ok_or("copy must be a boolean")?;
    }
    c.policy = policy_of(options)?;
    Ok(c)
}

fn stats_json(s: &Stats) -> Value {
    json!({
        "hits": s.hits, "misses": s.misses, "loads": s.loads, "load_errors": s.load_errors,
        "evictions": s.evictions, "expirations": s.expirations, "rejected": s.rejected,
        "entries": s.entries, "bytes": s.bytes, "stale_hits": s.stale_hits,
        "refreshes": s.refreshes, "refresh_errors": s.refresh_errors,
    })
}

fn str_field<'a>(step: &'a Value, k: &str) -> Result<&'a str, String> {
    step.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the step needs a string {k:?}"))
}

/// Replaces `{i}` in every string of `v`.
fn substitute(v: &Value, i: u64) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("{i}", &i.to_string())),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, i)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, i)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Turns a step's key argument into a `&str`; anything else cannot be passed in Rust.
fn key_arg(step: &Value) -> Result<String, String> {
    match step.get("key") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "key {other} cannot be passed in Rust (give the step \"langs\")"
        )),
        None => Err("the step needs a \"key\"".into()),
    }
}

fn value_arg(step: &Value) -> Result<Value, String> {
    let v = step.get("value").ok_or("the step needs a \"value\"")?;
    if v.as_object()
        .is_some_and(|o| o.keys().any(|k| k.starts_with('$') && k != "$bytes"))
    {
        return Err(format!(
            "value {v} cannot be passed in Rust (give the step \"langs\")"
        ));
    }
    Ok(v.clone())
}

impl Runner {
    /// `system_clock` (`"clock": "system"`): the cache keeps the system clock (real time;
    /// `advance` moves nothing it reads).
    fn new(options: &Value, system_clock: bool) -> Result<Self, String> {
        let clock = ManualClock::new();
        let mut config = config(options, &clock)?;
        if system_clock {
            config.clock = Default::default();
        }
        let cache =
            C::new(config).map_err(|e| format!("the scenario's cache cannot be made: {e}"))?;
        Ok(Runner {
            clock,
            cache,
            deferred: HashMap::new(),
            groups: HashMap::new(),
            memos: HashMap::new(),
            anonymous: 0,
            size_of: options.get("size_of").and_then(Value::as_f64),
            not_here: 0,
        })
    }

    /// The cache or the namespace view a step names (`"ns": "a"` or `["a", "b"]`).
    fn target(&self, step: &Value) -> Result<C, Error> {
        let mut c = self.cache.clone();
        match step.get("ns") {
            None => {}
            Some(Value::String(n)) => c = c.namespace(n)?,
            Some(Value::Array(names)) => {
                for n in names {
                    c = c.namespace(n.as_str().unwrap_or_default())?;
                }
            }
            Some(_) => panic!("ns must be a string or a list of strings"),
        }
        Ok(c)
    }

    fn deferred(&mut self, name: &str) -> Arc<Deferred> {
        self.deferred.entry(name.to_string()).or_default().clone()
    }

    fn ttl_arg(step: &Value) -> Result<(Option<f64>, Option<String>), String> {
        match step.get("ttl") {
            None => Ok((None, None)),
            Some(v) => match tag(v, "$ttl_of") {
                Some(f) => Ok((None, f.as_str().map(str::to_string))),
                None => Ok((Some(number_arg(v)?), None)),
            },
        }
    }

    fn load_spec(&self, step: &Value) -> Result<LoadSpec, String> {
        let (ttl, ttl_of) = Self::ttl_arg(step)?;
        Ok(LoadSpec {
            ttl,
            max_age: step.get("max_age").map(number_arg).transpose()?,
            asynchronous: step.get("api").and_then(Value::as_str) == Some("async"),
            host: RunnerHost {
                size_of: self.size_of,
                ttl_of,
            },
            policy: policy_of(step)?,
        })
    }

    fn host(&self) -> RunnerHost {
        RunnerHost {
            size_of: self.size_of,
            ttl_of: None,
        }
    }

    fn loader(&mut self, spec: &Value) -> Result<Loader, String> {
        if let Some(name) = spec.as_str() {
            return Ok(Loader::Deferred(self.deferred(name)));
        }
        if tag(spec, "reenter").is_some() {
            let v = spec.get("value").cloned().unwrap_or(Value::Null);
            return Ok(Loader::Reenter(v, Arc::default()));
        }
        if let Some(v) = spec.get("value") {
            return Ok(Loader::Value(v.clone()));
        }
        if let Some(m) = spec.get("error") {
            return Ok(Loader::Fail(m.as_str().unwrap_or("loader failed").into()));
        }
        Err(format!("unknown loader {spec}"))
    }

    /// Waits until `n` more gets than `base` have reached the cache and the group's waiting
    /// loader has been called (for at most a second: a group may join a flight another
    /// loader leads), then a little longer for each caller to join or start its flight.
    fn settle(&self, base: u64, n: u64, loader: Option<&Loader>) -> Result<(), String> {
        let deadline = Instant::now() + SETTLE_DEADLINE;
        loop {
            let s = self.cache.stats();
            if s.hits + s.misses >= base + n {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "only {} of {n} callers reached the cache",
                    s.hits + s.misses - base
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(Loader::Deferred(d)) = loader {
            let deadline = Instant::now() + Duration::from_secs(1);
            while d.calls() == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        Ok(())
    }

    /// Runs one step; returns what it produced (a value, `$absent`, or an error kind).
    fn step(&mut self, step: &Value) -> Result<Result<Value, String>, String> {
        let op = str_field(step, "op")?;
        let absent = json!({"$absent": true});
        let out = |r: Result<Value, Error>| r.map_err(|e| kind_of(&e));
        let opt_val = |v: Option<Val>| v.map_or(absent.clone(), |v| (*v.0).clone());
        Ok(match op {
            "sleep" => {
                let ms = step
                    .get("ms")
                    .and_then(Value::as_u64)
                    .ok_or("sleep needs ms")?;
                std::thread::sleep(Duration::from_millis(ms));
                Ok(Value::Null)
            }
            "read_for" => {
                // `get`, again and again for `ms` without a pause: the last answer.
                let ms = step
                    .get("ms")
                    .and_then(Value::as_u64)
                    .ok_or("read_for needs ms")?;
                let get = json!({"op": "get", "key": step.get("key").cloned().unwrap_or_default()});
                let end = Instant::now() + Duration::from_millis(ms);
                loop {
                    let r = self.step(&get)?;
                    if r.is_err() || Instant::now() >= end {
                        break r;
                    }
                }
            }
            "get_entry" => {
                let key = key_arg(step)?;
                let c = match self.target(step) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(kind_of(&e))),
                };
                let loader = step.get("load").map(|l| self.loader(l)).transpose()?;
                let spec = self.load_spec(step)?;
                out(entry_blocking(&c, &key, &spec, loader.as_ref()))
            }
            "get" => {
                let key = key_arg(step)?;
                let c = match self.target(step) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(kind_of(&e))),
                };
                match step.get("load") {
                    None => {
                        let max_age = step.get("max_age").map(number_arg).transpose()?;
                        let mut host = self.host();
                        out(c.lookup(&key, max_age).and_then(|l| match l {
                            Lookup::Hit(v) => Ok(opt_val(Some(c.hand_out(v, &mut host)?))),
                            Lookup::Absent => Ok(opt_val(None)),
                            Lookup::Pending(op) => op.wait(&mut host)?.into_option().map(opt_val),
                        }))
                    }
                    Some(l) => {
                        let loader = self.loader(l)?;
                        let spec = self.load_spec(step)?;
                        let r = match load(&c, &key, &spec, &loader) {
                            Ok(v) => Ok((*v.0).clone()),
                            // A loader error must be the loader's own, unchanged.
                            Err(Error::Loader(e)) if matches!(&loader, Loader::Fail(m) if *m != e.to_string()) => {
                                Err(format!("loader_error (not the loader's own: {e})"))
                            }
                            Err(e) => Err(kind_of(&e)),
                        };
                        if let Loader::Reenter(_, inner) = &loader {
                            let got = inner.lock().unwrap().clone();
                            let want = step.get("inner_error").and_then(Value::as_str);
                            if got.as_deref() != want {
                                return Err(format!(
                                    "the loader's own call of its key gave {got:?}, expected {want:?}"
                                ));
                            }
                        }
                        r
                    }
                }
            }
            "set" => {
                let key = key_arg(step)?;
                let (ttl, ttl_of) = Self::ttl_arg(step)?;
                let v = Val::new(value_arg(step)?);
                let mut host = RunnerHost {
                    size_of: self.size_of,
                    ttl_of: ttl_of.clone(),
                };
                let ttl = if ttl_of.is_some() {
                    Ttl::FromValue
                } else {
                    ttl.into()
                };
                out(self
                    .target(step)
                    .and_then(|c| c.set_with(&key, v, ttl, &mut host))
                    .and_then(|w| w.wait(&mut host))
                    .map(Value::Bool))
            }
            "add" => {
                let key = key_arg(step)?;
                let (ttl, ttl_of) = Self::ttl_arg(step)?;
                let v = Val::new(value_arg(step)?);
                let mut host = RunnerHost {
                    size_of: self.size_of,
                    ttl_of: ttl_of.clone(),
                };
                let ttl = if ttl_of.is_some() {
                    Ttl::FromValue
                } else {
                    ttl.into()
                };
                out(self
                    .target(step)
                    .and_then(|c| c.add_with(&key, v, ttl, &mut host))
                    .and_then(|op| op.wait(&mut host))
                    .and_then(|a| a.into_bool())
                    .map(Value::Bool))
            }
            "del" => {
                let key = key_arg(step)?;
                let mut host = self.host();
                out(self
                    .target(step)
                    .and_then(|c| c.del(&key).wait(&mut host))
                    .and_then(|a| a.into_bool())
                    .map(Value::Bool))
            }
            "has" => {
                let key = key_arg(step)?;
                let mut host = self.host();
                out(self
                    .target(step)
                    .and_then(|c| c.has(&key).wait(&mut host))
                    .and_then(|a| a.into_bool())
                    .map(Value::Bool))
            }
            "expire" => {
                let key = key_arg(step)?;
                let ttl = number_arg(step.get("ttl").ok_or("expire needs a ttl")?)?;
                let mut host = self.host();
                out(self
                    .target(step)
                    .and_then(|c| c.expire(&key, ttl))
                    .and_then(|op| op.wait(&mut host))
                    .and_then(|a| a.into_bool())
                    .map(Value::Bool))
            }
            "remaining_ttl" => {
                let key = key_arg(step)?;
                let mut host = self.host();
                out(self
                    .target(step)
                    .and_then(|c| c.remaining_ttl(&key).wait(&mut host))
                    .and_then(|a| a.into_ms())
                    .map(|m| match m {
                        None => absent.clone(),
                        Some(t) if t.is_infinite() => json!({"$inf": 1}),
                        Some(t) => json!(t),
                    }))
            }
            "incr" => {
                let key = key_arg(step)?;
                let by = match step.get("by") {
                    None => 1,
                    Some(b) => b.as_i64().ok_or_else(|| {
                        format!("by {b} cannot be passed in Rust (give the step \"langs\")")
                    })?,
                };
                let must_exist = match step.get("must_exist") {
                    None => false,
                    Some(b) => b.as_bool().ok_or("must_exist must be a boolean")?,
                };
                let mut host = self.host();
                out(self
                    .target(step)
                    .and_then(|c| c.incr_with(&key, by, must_exist, &mut host))
                    .and_then(|op| op.wait(&mut host))
                    .and_then(|a| a.into_int())
                    .map(|n| json!(n)))
            }
            "keys" => {
                let mut host = self.host();
                out(self
                    .target(step)
                    .and_then(|c| c.keys().wait(&mut host))
                    .and_then(|a| a.into_keys())
                    .map(|mut k| {
                        k.sort();
                        json!(k)
                    }))
            }
            "clear" => {
                let mut host = self.host();
                out(self
                    .target(step)
                    .and_then(|c| c.clear().wait(&mut host))
                    .map(|_| Value::Null))
            }
            "len" => out(self.target(step).map(|c| json!(c.len()))),
            "stats" => Ok(stats_json(&self.cache.stats())),
            "ping" => {
                let mut host = self.host();
                out(self
                    .cache
                    .ping()
                    .wait(&mut host)
                    .and_then(|a| a.into_bool())
                    .map(Value::Bool))
            }
            "advance" => {
                let ms = step
                    .get("ms")
                    .and_then(Value::as_u64)
                    .ok_or("advance needs ms")?;
                self.clock.advance(ms);
                Ok(Value::Null)
            }
            "new" => {
                let clock = ManualClock::new();
                match config(step.get("options").unwrap_or(&Value::Null), &clock) {
                    Err(e) => return Err(e),
                    Ok(c) => out(C::new(c).map(|_| Value::Bool(true))),
                }
            }
            "start" => {
                let group = str_field(step, "group")?.to_string();
                let n = step.get("callers").and_then(Value::as_u64).unwrap_or(1);
                let base = {
                    let s = self.cache.stats();
                    s.hits + s.misses
                };
                let mut handles = Vec::new();
                let group_loader;
                if let Some(f) = step.get("call") {
                    let f = f.as_str().ok_or("call names a memoized function")?;
                    let m = self.memos.get(f).ok_or(format!("no memo {f}"))?.clone();
                    let args = step
                        .get("args")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    group_loader = m.body.clone();
                    for _ in 0..n {
                        let (m, args, cache) = (m.clone(), args.clone(), self.cache.clone());
                        handles.push(std::thread::spawn(move || m.call(&cache, &args)));
                    }
                } else {
                    let key = key_arg(step)?;
                    let loader = self.loader(step.get("load").ok_or("start needs a load")?)?;
                    let spec = self.load_spec(step)?;
                    let c = self.target(step).map_err(|e| e.to_string())?;
                    for _ in 0..n {
                        let (c, key, spec, loader) =
                            (c.clone(), key.clone(), spec.clone(), loader.clone());
                        handles.push(std::thread::spawn(move || load(&c, &key, &spec, &loader)));
                    }
                    group_loader = loader;
                }
                self.groups.entry(group).or_default().extend(handles);
                self.settle(base, n, Some(&group_loader))?;
                Ok(Value::Null)
            }
            "resolve" | "reject" => {
                let d = self.deferred(str_field(step, "loader")?);
                if op == "resolve" {
                    d.settle(Ok(step.get("value").cloned().unwrap_or(Value::Null)));
                } else {
                    let m = step
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("rejected");
                    d.settle(Err(m.to_string()));
                }
                Ok(Value::Null)
            }
            "calls" => {
                if let Some(l) = step.get("loader").and_then(Value::as_str) {
                    Ok(json!(self.deferred(l).calls()))
                } else {
                    let f = str_field(step, "fn")?;
                    match &self.memos.get(f).ok_or(format!("no memo {f}"))?.body {
                        Loader::Count(n) => Ok(json!(n.load(Ordering::SeqCst))),
                        Loader::Deferred(d) => Ok(json!(d.calls())),
                        _ => unreachable!(),
                    }
                }
            }
            "await" => {
                let group = str_field(step, "group")?;
                let handles = self
                    .groups
                    .remove(group)
                    .ok_or(format!("no group {group}"))?;
                let results: Vec<Outcome> = handles
                    .into_iter()
                    .map(|h| h.join().map_err(|_| "a caller panicked".to_string()))
                    .collect::<Result<_, _>>()?;
                return self.check_group(step, &results).map(|_| Ok(Value::Null));
            }
            "memo" => {
                let f = str_field(step, "fn")?.to_string();
                let prefix = if step.get("anonymous").and_then(Value::as_bool) == Some(true) {
                    self.anonymous += 1;
                    format!("<anonymous#{}>", self.anonymous)
                } else {
                    f.clone()
                };
                let body = match step.get("body") {
                    None => Loader::Count(Arc::default()),
                    Some(Value::String(s)) if s == "count" => Loader::Count(Arc::default()),
                    Some(Value::String(s)) => Loader::Deferred(self.deferred(s)),
                    Some(other) => return Err(format!("unknown memo body {other}")),
                };
                let memo = Memo {
                    prefix,
                    ttl: step.get("ttl").map(number_arg).transpose()?,
                    paths: step.get("key").map(|k| {
                        k.as_array()
                            .unwrap()
                            .iter()
                            .map(|p| p.as_str().unwrap().to_string())
                            .collect()
                    }),
                    body,
                    asynchronous: step.get("async").and_then(Value::as_bool) == Some(true),
                    size_of: self.size_of,
                };
                self.memos.insert(f, Arc::new(memo));
                Ok(Value::Null)
            }
            "call" => {
                let f = str_field(step, "fn")?;
                let m = self.memos.get(f).ok_or(format!("no memo {f}"))?.clone();
                let args = step
                    .get("args")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                out(m.call(&self.cache, &args).map(|v| (*v.0).clone()))
            }
            other => return Err(format!("unknown op {other:?}")),
        })
    }

    fn check_group(&self, step: &Value, results: &[Outcome]) -> Result<(), String> {
        if let Some(n) = step.get("callers").and_then(Value::as_u64) {
            if results.len() as u64 != n {
                return Err(format!("{} callers, expected {n}", results.len()));
            }
        }
        for (i, r) in results.iter().enumerate() {
            let got = r.as_ref().map(|v| (*v.0).clone()).map_err(kind_of);
            check(step, &got).map_err(|e| format!("caller {i}: {e}"))?;
        }
        if step.get("identical").and_then(Value::as_bool) == Some(false) {
            // Every caller received an object of its own (the `copy` option).
            for (i, a) in results.iter().enumerate() {
                for b in &results[i + 1..] {
                    if let (Ok(a), Ok(b)) = (a, b) {
                        if Arc::ptr_eq(&a.0, &b.0) {
                            return Err("two callers received the very same object".into());
                        }
                    }
                }
            }
        }
        if step.get("identical").and_then(Value::as_bool) == Some(true) {
            let first = &results[0];
            for r in &results[1..] {
                let same = match (first, r) {
                    (Ok(a), Ok(b)) => Arc::ptr_eq(&a.0, &b.0),
                    (Err(Error::Loader(a)), Err(Error::Loader(b))) => a.same_as(b),
                    _ => false,
                };
                if !same {
                    return Err("the callers did not all receive the identical result".into());
                }
            }
        }
        Ok(())
    }
}

/// Compares a step's outcome with its `expect`, `error` or `at_most`.
fn check(step: &Value, got: &Result<Value, String>) -> Result<(), String> {
    if let Some(kind) = step.get("error") {
        return match got {
            Err(k) if Some(k.as_str()) == kind.as_str() => Ok(()),
            _ => Err(format!("expected error {kind}, got {}", show(got))),
        };
    }
    let op = step.get("op").and_then(Value::as_str).unwrap_or("");
    for (bound, most) in [("at_most", true), ("at_least", false)] {
        let Some(limit) = step.get(bound) else {
            continue;
        };
        let v = got.as_ref().map_err(|k| format!("unexpected error {k}"))?;
        let fields: Vec<(String, &Value, &Value)> = match (limit, v) {
            (Value::Object(l), Value::Object(o)) => l
                .iter()
                .map(|(k, lim)| (k.clone(), lim, o.get(k).unwrap_or(&Value::Null)))
                .collect(),
            _ => vec![(op.to_string(), limit, v)],
        };
        for (name, lim, val) in fields {
            match (val.as_f64(), lim.as_f64()) {
                (Some(x), Some(l)) if (most && x <= l) || (!most && x >= l) => {}
                _ => {
                    let which = if most { "at most" } else { "at least" };
                    return Err(format!("{name} = {val}, expected {which} {lim}"));
                }
            }
        }
    }
    if let Some(expect) = step.get("expect") {
        let v = match got {
            Ok(v) => v,
            Err(k) => {
                return Err(format!(
                    "expected {}, got error {k}",
                    show(&Ok(expect.clone()))
                ))
            }
        };
        let ok = if op == "stats" || op == "get_entry" {
            let o = expect.as_object().ok_or("stats expects an object")?;
            o.iter().all(|(k, e)| v.get(k).is_some_and(|g| same(e, g)))
        } else if is_absent(expect) {
            is_absent(v)
        } else {
            same(expect, v)
        };
        if !ok {
            return Err(format!(
                "expected {}, got {}",
                show(&Ok(expect.clone())),
                show(got)
            ));
        }
    } else if step.get("at_most").is_none() && step.get("at_least").is_none() {
        if let Err(k) = got {
            return Err(format!("unexpected error {k}"));
        }
    }
    Ok(())
}

fn describe(step: &Value) -> String {
    let mut s = step.to_string();
    if s.len() > 160 {
        s.truncate(157);
        s.push_str("...");
    }
    s
}

/// Every field a step may have (tests/README.md), besides the resilience options (`POLICY`);
/// anything else is a typo.
const STEP_FIELDS: &[&str] = &[
    "op",
    "key",
    "value",
    "ttl",
    "by",
    "must_exist",
    "ns",
    "api",
    "load",
    "max_age",
    "ms",
    "options",
    "group",
    "callers",
    "loader",
    "message",
    "call",
    "fn",
    "args",
    "body",
    "anonymous",
    "async",
    "times",
    "steps",
    "langs",
    "expect",
    "error",
    "at_most",
    "at_least",
    "identical",
    "inner_error",
    "eventually",
];

fn run_steps(r: &mut Runner, steps: &[Value], path: &str) -> Result<(), String> {
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{path}{}", i + 1);
        let fields = step
            .as_object()
            .ok_or(format!("step {at} is not an object"))?;
        if let Some(k) = (fields.keys())
            .find(|k| !STEP_FIELDS.contains(&k.as_str()) && !POLICY.contains(&k.as_str()))
        {
            return Err(format!("step {at} has an unknown field {k:?}"));
        }
        if let Some(langs) = step.get("langs").and_then(Value::as_array) {
            if !langs.iter().any(|l| l == "rust") {
                r.not_here += 1;
                continue;
            }
        }
        if step.get("op").and_then(Value::as_str) == Some("repeat") {
            let times = step.get("times").and_then(Value::as_u64).unwrap_or(0);
            let body = step
                .get("steps")
                .and_then(Value::as_array)
                .ok_or("repeat needs steps")?;
            for n in 0..times {
                let body: Vec<Value> = body.iter().map(|s| substitute(s, n)).collect();
                run_steps(r, &body, &format!("{at}.{n}."))?;
            }
            continue;
        }
        let deadline = Instant::now() + EVENTUALLY_DEADLINE;
        loop {
            let got = r
                .step(step)
                .map_err(|e| format!("step {at} {}: {e}", describe(step)))?;
            // `await` checks each caller's result itself.
            if step.get("op").and_then(Value::as_str) == Some("await") {
                break;
            }
            match check(step, &got) {
                Ok(()) => break,
                // `eventually`: background work (a refresh) settles on its own.
                Err(_)
                    if step.get("eventually") == Some(&Value::Bool(true))
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(format!("step {at} {}: {e}", describe(step))),
            }
        }
    }
    Ok(())
}

fn run(sc: &Scenario) -> Result<usize, String> {
    let top = sc.doc.as_object().ok_or("a scenario is a JSON object")?;
    if let Some(k) = top.keys().find(|k| {
        ![
            "description",
            "options",
            "steps",
            "in_process_only",
            "clock",
        ]
        .contains(&k.as_str())
    }) {
        return Err(format!("unknown top-level field {k:?}"));
    }
    if let Ok(url) = std::env::var("CONFORMANCE_STORE") {
        if url.starts_with("redis") {
            // One server for every scenario: each starts with none of flightcache's keys.
            let c: C = Cache::new(Config {
                store: Some(url),
                ..Config::default()
            })
            .map_err(|e| e.to_string())?;
            c.clear()
                .wait(&mut RunnerHost::default())
                .map_err(|e| e.to_string())?;
        }
    }
    let options = sc.doc.get("options").cloned().unwrap_or(json!({}));
    let system_clock = sc.doc.get("clock").and_then(Value::as_str) == Some("system");
    let mut r = Runner::new(&options, system_clock)?;
    let steps = sc
        .doc
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("a scenario needs steps")?;
    run_steps(&mut r, steps, "")?;
    if let Some(g) = r.groups.keys().next() {
        return Err(format!("group {g:?} was started but never awaited"));
    }
    Ok(r.not_here)
}

/// `tests/scenarios`, or the folder in `CONFORMANCE_SCENARIOS` (see tests/mutants.py).
fn scenario_dir() -> PathBuf {
    match std::env::var_os("CONFORMANCE_SCENARIOS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios"),
    }
}

fn load_scenarios() -> Vec<Scenario> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/scenarios")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not valid JSON: {e}", p.display()));
            Scenario {
                name: p.file_stem().unwrap().to_string_lossy().into_owned(),
                doc,
            }
        })
        .collect()
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let scenarios: Vec<Scenario> = load_scenarios()
        .into_iter()
        .filter(|s| filter.is_empty() || filter.iter().any(|f| s.name.contains(f.as_str())))
        .collect();
    flightcache_sqlite::register();
    flightcache_redis::register();
    let store = std::env::var("CONFORMANCE_STORE").ok();
    println!(
        "running {} conformance scenarios{}",
        scenarios.len(),
        store
            .as_ref()
            .map_or(String::new(), |s| format!(" with a {s} store"))
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for sc in scenarios {
        if store.is_some() {
            if let Some(why) = sc.doc.get("in_process_only").and_then(Value::as_str) {
                skipped += 1;
                println!("test {} ... skipped with a store: {why}", sc.name);
                continue;
            }
        }
        let (tx, rx) = mpsc::channel();
        let name = sc.name.clone();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&sc)))
                .unwrap_or_else(|_| Err("the runner panicked".into()));
            let _ = tx.send(r);
        });
        match rx.recv_timeout(SCENARIO_DEADLINE) {
            Ok(Ok(0)) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Ok(Ok(n)) => {
                passed += 1;
                println!("test {name} ... ok ({n} step(s) for other languages only)");
            }
            Ok(Err(e)) => {
                failed += 1;
                println!("test {name} ... FAILED\n    {e}");
            }
            Err(_) => {
                failed += 1;
                println!(
                    "test {name} ... FAILED\n    still running after {SCENARIO_DEADLINE:?} (hung)"
                );
            }
        }
    }
    println!("conformance: {passed} passed, {failed} failed, {skipped} skipped");
    // Exit at once: a hung scenario's threads must not keep the process alive.
    std::process::exit(if failed == 0 && passed > 0 { 0 } else { 1 });
}
