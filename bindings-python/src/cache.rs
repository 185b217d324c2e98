//! `flightcache.Cache`: the core's cache with Python values.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use flightcache::{Clock, Config, FlightId, Lookup, Waiter};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::convert::{self, millis, opt_millis, Ttl};
use crate::errors::{invalid, wrong_type, IntoPy};
use crate::handles::{self, Lead, ManualClock, Ready, Stats, WaiterHandle};
use crate::value::{measure, type_name, PyVal};

/// What every namespace view of one cache shares.
struct Shared {
    size_of: Option<Py<PyAny>>,
}

#[pyclass(frozen, module = "flightcache", weakref)]
pub struct Cache {
    inner: flightcache::Cache<PyVal>,
    shared: Arc<Shared>,
    name: Option<String>,
}

struct Aio {
    lead: Py<PyAny>,
    wait: Py<PyAny>,
    blocks_this_thread: Py<PyAny>,
    loading: Py<PyAny>,
    memoize: Py<PyAny>,
}

static AIO: PyOnceLock<Aio> = PyOnceLock::new();

fn aio(py: Python<'_>) -> &Aio {
    AIO.get_or_init(py, || {
        let m = py
            .import("flightcache._aio")
            .expect("flightcache._aio is importable");
        let memo = py
            .import("flightcache._memo")
            .expect("flightcache._memo is importable");
        Aio {
            lead: m.getattr("lead").expect("_aio.lead").unbind(),
            wait: m.getattr("wait").expect("_aio.wait").unbind(),
            blocks_this_thread: m
                .getattr("blocks_this_thread")
                .expect("_aio.blocks_this_thread")
                .unbind(),
            loading: m.getattr("LOADING").expect("_aio.LOADING").unbind(),
            memoize: memo.getattr("memoize").expect("_memo.memoize").unbind(),
        }
    })
}

/// The flights the current asyncio task (context) is loading.
fn within(py: Python<'_>) -> PyResult<Vec<FlightId>> {
    let ids = aio(py).loading.bind(py).call_method0("get")?;
    ids.extract()
}

fn bound_arg(py: Python<'_>, name: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(wrong_type(
            py,
            format!("{name} must be an int, not {}", type_name(v)),
        ));
    }
    v.extract::<u64>()
        .map(Some)
        .map_err(|_| invalid(py, format!("{name} must be an int >= 1, got {v}")))
}

/// Blocks, detached from the interpreter, until another caller's load ends. The outcome is
/// handed over by the thread that completes the load (which is attached), so this thread
/// never clones a value while detached. Checks for signals (Ctrl-C) every 100 ms.
fn wait_blocking(py: Python<'_>, w: Waiter<PyVal>) -> PyResult<PyVal> {
    type Slot = (Mutex<Option<flightcache::Result<PyVal>>>, Condvar);
    let deadline = w.timeout().map(|t| Instant::now() + t);
    let timeout_error = w.timeout_error();
    let slot: Arc<Slot> = Arc::new((Mutex::new(None), Condvar::new()));
    let s2 = slot.clone();
    w.on_complete(move |outcome| {
        *s2.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        s2.1.notify_all();
    });
    loop {
        let got = {
            let slot = &slot;
            py.detach(move || {
                let mut g = slot.0.lock().unwrap_or_else(|p| p.into_inner());
                let until = Instant::now() + Duration::from_millis(100);
                let until = deadline.map_or(until, |d| d.min(until));
                while g.is_none() {
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    g = slot
                        .1
                        .wait_timeout(g, until - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                g.take()
            })
        };
        match got {
            Some(r) => return r.py_err(py),
            None => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(crate::errors::to_py(py, timeout_error));
                }
                py.check_signals()?;
            }
        }
    }
}

/// An awaitable made for a load that another caller runs, or that a hit made needless:
/// close a coroutine so that Python does not warn that it was never awaited.
fn close_unused(get_value: &Bound<'_, PyAny>) {
    if !get_value.is_callable() && get_value.hasattr("close").unwrap_or(false) {
        let _ = get_value.call_method0("close");
    }
}

fn is_awaitable(v: &Bound<'_, PyAny>) -> bool {
    v.hasattr(pyo3::intern!(v.py(), "__await__"))
        .unwrap_or(false)
}

impl Cache {
    fn view(&self, inner: flightcache::Cache<PyVal>, name: String) -> Self {
        Cache {
            inner,
            shared: self.shared.clone(),
            name: Some(name),
        }
    }

    #[inline]
    fn plain_get(
        &self,
        py: Python<'_>,
        key: &str,
        max_age: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<PyVal>> {
        match max_age {
            None => Ok(self.inner.get(key)),
            Some(m) if m.is_none() => Ok(self.inner.get(key)),
            Some(m) => self
                .inner
                .get_fresh(key, Some(millis("max_age", m)?))
                .py_err(py),
        }
    }

    fn set_value(
        &self,
        py: Python<'_>,
        key: &str,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let ttl = Ttl::parse(ttl)?;
        let ttl = ttl.for_value(value)?;
        let size = measure(py, value, self.shared.size_of.as_ref())?;
        self.inner
            .set_sized(key, PyVal::new(value.clone().unbind()), size, ttl)
            .py_err(py)
    }

    /// `get` with a loader, for threads: one loader per key; the others wait detached.
    fn load_sync(
        &self,
        py: Python<'_>,
        key: &str,
        get_value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let ttl = Ttl::parse(ttl)?;
        if !get_value.is_callable() {
            return Err(wrong_type(
                py,
                format!(
                    "get_value must be callable, not {} (in asyncio code, aget also takes an awaitable)",
                    type_name(get_value)
                ),
            ));
        }
        let opts = ttl.load_options(max_age)?;
        match self.inner.begin_load(key, &opts).py_err(py)? {
            Lookup::Hit(v) => Ok(v.into_py(py)),
            Lookup::Wait(w) => {
                w.check_within(&within(py)?).py_err(py)?;
                let own_loop = aio(py)
                    .blocks_this_thread
                    .bind(py)
                    .call1((w.flight_id(),))?
                    .is_truthy()?;
                if own_loop {
                    // Waiting here would block the event loop that has to finish the load.
                    return Err(crate::errors::to_py(
                        py,
                        flightcache::Error::Reentrant {
                            key: key.to_string(),
                        },
                    ));
                }
                wait_blocking(py, w).map(|v| v.into_py(py))
            }
            Lookup::Lead(guard) => {
                let r = guard.run(|| get_value.call0());
                match r {
                    Ok(v) if is_awaitable(&v) => {
                        let _ = v.call_method0("close");
                        let e = wrong_type(
                            py,
                            "get_value returned an awaitable: use `await cache.aget(...)` in asyncio code"
                                .into(),
                        );
                        Err(handles::fail(py, guard, e))
                    }
                    Ok(v) => handles::complete(py, guard, &v, &ttl, self.shared.size_of.as_ref()),
                    Err(e) => Err(handles::fail(py, guard, e)),
                }
            }
        }
    }
}

#[pymethods]
impl Cache {
    #[new]
    #[pyo3(signature = (
        max_entries=None, *, max_bytes=None, max_key_bytes=None, max_value_bytes=None,
        ttl=None, max_ttl=None, load_timeout=None, clock=None, size_of=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        max_entries: Option<&Bound<'_, PyAny>>,
        max_bytes: Option<&Bound<'_, PyAny>>,
        max_key_bytes: Option<&Bound<'_, PyAny>>,
        max_value_bytes: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_ttl: Option<&Bound<'_, PyAny>>,
        load_timeout: Option<&Bound<'_, PyAny>>,
        clock: Option<&Bound<'_, PyAny>>,
        size_of: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let defaults = Config::default();
        let clock = match clock.filter(|c| !c.is_none()) {
            None => Clock::default(),
            Some(c) => match c.cast::<ManualClock>() {
                Ok(m) => Clock::Manual(m.get().clock.clone()),
                Err(_) => {
                    return Err(wrong_type(
                        py,
                        format!(
                            "clock must be a flightcache.ManualClock, not {}",
                            type_name(c)
                        ),
                    ))
                }
            },
        };
        let size_of = match size_of.filter(|f| !f.is_none()) {
            Some(f) if !f.is_callable() => {
                return Err(wrong_type(
                    py,
                    format!("size_of must be callable, not {}", type_name(f)),
                ))
            }
            other => other.map(|f| f.clone().unbind()),
        };
        let config = Config {
            max_entries: bound_arg(py, "max_entries", max_entries)?.unwrap_or(defaults.max_entries),
            max_bytes: bound_arg(py, "max_bytes", max_bytes)?,
            max_key_bytes: bound_arg(py, "max_key_bytes", max_key_bytes)?,
            max_value_bytes: bound_arg(py, "max_value_bytes", max_value_bytes)?,
            ttl: opt_millis("ttl", ttl)?.unwrap_or(defaults.ttl),
            max_ttl: opt_millis("max_ttl", max_ttl)?,
            load_timeout: opt_millis("load_timeout", load_timeout)?,
            clock,
        };
        Ok(Cache {
            inner: flightcache::Cache::new(config).py_err(py)?,
            shared: Arc::new(Shared { size_of }),
            name: None,
        })
    }

    /// The value of `key`, or `default` when absent; with `get_value`, loads it when absent
    /// (one load per key however many threads ask).
    #[pyo3(signature = (key, get_value=None, ttl=None, *, max_age=None, default=None))]
    fn get(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let k = convert::key(key)?;
        match get_value {
            Some(f) if !f.is_none() => self.load_sync(py, k, f, ttl, max_age),
            _ => {
                if let Some(t) = ttl {
                    Ttl::parse(Some(t))?;
                }
                match self.plain_get(py, k, max_age)? {
                    Some(v) => Ok(v.into_py(py)),
                    None => Ok(default.map_or_else(|| py.None(), |d| d.clone().unbind())),
                }
            }
        }
    }

    /// `get` for asyncio: returns an awaitable. `get_value` may be a callable, an async
    /// callable, or an awaitable (coroutine, Task, Future). Sync and async callers of one
    /// key share one load.
    #[pyo3(signature = (key, get_value=None, ttl=None, *, max_age=None, default=None))]
    fn aget(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let k = convert::key(key)?;
        let ready =
            |v: Py<PyAny>| -> PyResult<Py<PyAny>> { Ok(Py::new(py, Ready::new(v))?.into_any()) };
        let Some(gv) = get_value.filter(|f| !f.is_none()) else {
            if let Some(t) = ttl {
                Ttl::parse(Some(t))?;
            }
            return match self.plain_get(py, k, max_age)? {
                Some(v) => ready(v.into_py(py)),
                None => ready(default.map_or_else(|| py.None(), |d| d.clone().unbind())),
            };
        };
        let ttl = Ttl::parse(ttl)?;
        if !gv.is_callable() && !is_awaitable(gv) {
            return Err(wrong_type(
                py,
                format!(
                    "get_value must be a callable or an awaitable, not {}",
                    type_name(gv)
                ),
            ));
        }
        let opts = ttl.load_options(max_age)?;
        match self.inner.begin_load(k, &opts).py_err(py)? {
            Lookup::Hit(v) => {
                close_unused(gv);
                ready(v.into_py(py))
            }
            Lookup::Wait(w) => {
                w.check_within(&within(py)?).py_err(py)?;
                close_unused(gv);
                let h = Py::new(py, WaiterHandle::new(w))?;
                Ok(aio(py).wait.bind(py).call1((h,))?.unbind())
            }
            Lookup::Lead(guard) => {
                let lead = Py::new(
                    py,
                    Lead::new(
                        guard,
                        &ttl,
                        self.shared.size_of.as_ref().map(|f| f.clone_ref(py)),
                    ),
                )?;
                Ok(aio(py).lead.bind(py).call1((lead, gv))?.unbind())
            }
        }
    }

    /// Stores `value` under `key`. Returns False when nothing was stored (`ttl` 0, or an
    /// entry over a size limit).
    #[pyo3(signature = (key, value, ttl=None))]
    fn set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let k = convert::key(key)?;
        self.set_value(py, k, value, ttl)
    }

    #[pyo3(signature = (key, value, ttl=None))]
    fn aset(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Ready>> {
        let stored = self.set(py, key, value, ttl)?;
        Py::new(
            py,
            Ready::new(
                pyo3::types::PyBool::new(py, stored)
                    .to_owned()
                    .into_any()
                    .unbind(),
            ),
        )
    }

    /// Removes `key`. Returns whether it had a live value.
    fn delete(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.del(convert::key(key)?))
    }

    fn adelete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<Ready>> {
        let removed = self.delete(key)?;
        Py::new(
            py,
            Ready::new(
                pyo3::types::PyBool::new(py, removed)
                    .to_owned()
                    .into_any()
                    .unbind(),
            ),
        )
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match self.inner.get(convert::key(key)?) {
            Some(v) => Ok(v.into_py(py)),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let k = convert::key(key)?;
        self.set_value(py, k, value, None).map(|_| ())
    }

    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.inner.del(convert::key(key)?) {
            Ok(())
        } else {
            Err(PyKeyError::new_err(key.clone().unbind()))
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.has(convert::key(key)?))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let keys = pyo3::types::PyList::new(py, self.inner.keys())?;
        Ok(keys.try_iter()?.into_any().unbind())
    }

    /// Whether `key` has a live value (counts neither a hit nor a miss).
    fn exists(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.has(convert::key(key)?))
    }

    /// Sets a new TTL (ms or timedelta) on a live key; 0 removes it. Returns whether it was live.
    fn expire(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        ttl: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let k = convert::key(key)?;
        let ms = millis("ttl", ttl)?;
        self.inner.expire(k, ms).py_err(py)
    }

    /// Milliseconds until `key` expires (`math.inf` if never), or None when absent.
    fn remaining_ttl(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
        Ok(self.inner.remaining_ttl(convert::key(key)?))
    }

    /// Adds `by` to the integer at `key` atomically (a missing key starts at 0).
    #[pyo3(signature = (key, by=None))]
    fn incr(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        by: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i64> {
        let k = convert::key(key)?;
        let Some(by) = by else {
            return self.inner.incr(k, 1).py_err(py);
        };
        if by.is_instance_of::<PyBool>() || !by.is_instance_of::<PyInt>() {
            return Err(wrong_type(
                py,
                format!("by must be an int, not {}", type_name(by)),
            ));
        }
        let by: i64 = by
            .extract()
            .map_err(|_| invalid(py, format!("by must fit in 64 bits, got {by}")))?;
        self.inner.incr(k, by).py_err(py)
    }

    /// The live keys (of this namespace, without its prefix).
    fn keys(&self) -> Vec<String> {
        self.inner.keys()
    }

    /// Removes every key (of this namespace only, for a namespace).
    fn clear(&self) {
        self.inner.clear()
    }

    /// True when the cache answers.
    fn ping(&self) -> bool {
        self.inner.ping()
    }

    /// Removes every expired entry now; returns how many.
    fn purge_expired(&self) -> usize {
        self.inner.purge_expired()
    }

    /// A view whose keys are stored under the prefix `name:`.
    fn namespace(&self, py: Python<'_>, name: &str) -> PyResult<Cache> {
        let inner = self.inner.namespace(name).py_err(py)?;
        let full = match &self.name {
            Some(n) => format!("{n}:{name}"),
            None => name.to_string(),
        };
        Ok(self.view(inner, full))
    }

    fn stats(&self) -> Stats {
        self.inner.stats().into()
    }

    /// Decorator: caches a function's results by its arguments (sync or async).
    #[pyo3(signature = (ttl=None, key=None))]
    fn memoize(
        slf: &Bound<'_, Self>,
        ttl: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if let Some(t) = ttl {
            // Checked now by the core's TTL rules, so a bad ttl fails at decoration time.
            if let Ttl::Ms(ms) = Ttl::parse(Some(t))? {
                flightcache::parse_ttl("ttl", ms).py_err(py)?;
            }
        }
        Ok(aio(py).memoize.bind(py).call1((slf, ttl, key))?.unbind())
    }

    /// The access token `name`: `fetch_token` runs once per lifetime (see flightcache._token).
    #[pyo3(signature = (*args, **kwargs), text_signature = "($self, name, fetch_token, *, skew=30000)")]
    fn token<'py>(
        slf: &Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::http::call_token_helper(slf.as_any(), "token", args, kwargs)
    }

    /// `cache.token` for asyncio: `fetch_token` may be an async function.
    #[pyo3(signature = (*args, **kwargs), text_signature = "($self, name, fetch_token, *, skew=30000)")]
    fn atoken<'py>(
        slf: &Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::http::call_token_helper(slf.as_any(), "atoken", args, kwargs)
    }

    fn __repr__(&self) -> String {
        match &self.name {
            Some(n) => format!(
                "<flightcache.Cache namespace={n:?} entries={}>",
                self.inner.len()
            ),
            None => format!("<flightcache.Cache entries={}>", self.inner.len()),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(f) = &self.shared.size_of {
            visit.call(f)?;
        }
        Ok(())
    }
}

/// The key of a memoized call: `name` and the core's canonical encoding of the arguments.
#[pyfunction]
#[pyo3(signature = (name, args, kwargs=None))]
pub fn _call_key(
    name: &str,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    let args = convert::call_args(args, kwargs)?;
    Ok(flightcache::memo::call_key(name, &args))
}

/// The key of a memoized call from dotted paths into its first argument.
#[pyfunction]
pub fn _path_key(
    py: Python<'_>,
    name: &str,
    first: Option<&Bound<'_, PyAny>>,
    paths: Vec<String>,
) -> PyResult<String> {
    let first = first.map(|f| convert::arg(f, 0)).transpose()?;
    flightcache::memo::path_key(name, first.as_ref(), &paths).py_err(py)
}
