//! Small classes the Python side of the package drives: a ready awaitable, a load in
//! progress (`_Lead`), a wait for another caller's load (`_Waiter`), the manual clock and
//! the stats snapshot.

use std::sync::Mutex;

use flightcache::{LoadGuard, LoaderError, Waiter};
use pyo3::exceptions::{PyRuntimeError, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{millis, Ttl};
use crate::errors::{to_py, IntoPy};
use crate::value::{measure, PyVal};

/// An awaitable whose result is already known (`aget` on a hit, `aset`, `adelete`).
#[pyclass(frozen, module = "flightcache._native", name = "_Ready", freelist = 64)]
pub struct Ready {
    value: Py<PyAny>,
}

impl Ready {
    pub fn new(value: Py<PyAny>) -> Self {
        Ready { value }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Err(PyStopIteration::new_err((self.value.clone_ref(py),)))
    }
    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let _ = value; // the result is already known
        self.__next__(py)
    }
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &self,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = tb;
        let exc = match val {
            Some(v) if !v.is_none() => v.clone(),
            _ => typ.clone(),
        };
        Err(PyErr::from_value(exc))
    }
    fn close(&self) {}
}

/// The right to load one key, held by the Python code that runs an async loader.
#[pyclass(frozen, module = "flightcache._native", name = "_Lead")]
pub struct Lead {
    guard: Mutex<Option<LoadGuard<PyVal>>>,
    flight_id: u64,
    ttl_of: Option<Py<PyAny>>,
    ttl: Option<f64>,
    size_of: Option<Py<PyAny>>,
}

impl Lead {
    pub fn new(guard: LoadGuard<PyVal>, ttl: &Ttl<'_, '_>, size_of: Option<Py<PyAny>>) -> Self {
        Lead {
            flight_id: guard.flight_id(),
            guard: Mutex::new(Some(guard)),
            ttl_of: match ttl {
                Ttl::Of(f) => Some((*f).clone().unbind()),
                _ => None,
            },
            ttl: ttl.fixed(),
            size_of,
        }
    }

    fn take(&self) -> PyResult<LoadGuard<PyVal>> {
        self.guard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this load has already finished"))
    }
}

/// Completes a load with `value`: measures it, asks the TTL function, stores it. Any error on
/// the way (from `size_of`, the TTL function, or the core's TTL rules) fails the flight, so
/// every waiter gets it too.
pub fn complete(
    py: Python<'_>,
    guard: LoadGuard<PyVal>,
    value: &Bound<'_, PyAny>,
    ttl: &Ttl<'_, '_>,
    size_of: Option<&Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let size = match measure(py, value, size_of) {
        Ok(n) => n,
        Err(e) => return Err(fail(py, guard, e)),
    };
    let ttl = match ttl {
        Ttl::Of(_) => match ttl.for_value(value) {
            Ok(t) => t,
            Err(e) => return Err(fail(py, guard, e)),
        },
        _ => None,
    };
    guard
        .complete_with_ttl(PyVal::new(value.clone().unbind()), size, ttl)
        .py_err(py)
        .map(|v| v.into_py(py))
}

/// Fails a load with a Python exception: every caller of the flight raises this same object.
pub fn fail(py: Python<'_>, guard: LoadGuard<PyVal>, e: PyErr) -> PyErr {
    let _ = guard.fail(LoaderError::new(e.clone_ref(py)));
    e
}

#[pymethods]
impl Lead {
    #[getter]
    fn flight_id(&self) -> u64 {
        self.flight_id
    }

    /// Calls `f()` marked, on this thread, as this flight's loader.
    fn run(&self, f: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        // Take the guard out while the loader runs: no lock is held across Python code.
        let g = self.take()?;
        let r = g.run(|| f.call0());
        *self.guard.lock().unwrap_or_else(|p| p.into_inner()) = Some(g);
        r.map(Bound::unbind)
    }

    fn complete(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let guard = self.take()?;
        let ttl = match &self.ttl_of {
            Some(f) => Ttl::Of(f.bind(py)),
            None => self.ttl.map_or(Ttl::Default, Ttl::Ms),
        };
        complete(py, guard, value, &ttl, self.size_of.as_ref())
    }

    fn fail(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        let guard = self.take()?;
        let _ = fail(py, guard, PyErr::from_value(exc.clone()));
        Ok(())
    }

    fn abort(&self, message: String) -> PyResult<()> {
        let guard = self.take()?;
        let _ = guard.abort(message);
        Ok(())
    }

    #[getter]
    fn done(&self) -> bool {
        self.guard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }
}

/// A wait for another caller's load, for asyncio code.
#[pyclass(frozen, module = "flightcache._native", name = "_Waiter")]
pub struct WaiterHandle {
    waiter: Mutex<Option<Waiter<PyVal>>>,
    flight_id: u64,
    timeout: Option<f64>,
    timeout_error: flightcache::Error,
}

impl WaiterHandle {
    pub fn new(w: Waiter<PyVal>) -> Self {
        WaiterHandle {
            flight_id: w.flight_id(),
            timeout: w.timeout().map(|t| t.as_secs_f64()),
            timeout_error: w.timeout_error(),
            waiter: Mutex::new(Some(w)),
        }
    }
}

#[pymethods]
impl WaiterHandle {
    #[getter]
    fn flight_id(&self) -> u64 {
        self.flight_id
    }

    /// The load timeout in seconds, or None.
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.timeout
    }

    fn timeout_error(&self, py: Python<'_>) -> Py<PyAny> {
        to_py(py, self.timeout_error.clone())
            .into_value(py)
            .into_any()
    }

    /// Calls `callback(ok, value_or_exception)` once the load ends: now if it has ended,
    /// else on the thread that ends it.
    fn on_complete(&self, callback: Py<PyAny>) -> PyResult<()> {
        let w = self
            .waiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("on_complete was already called"))?;
        w.on_complete(move |outcome| {
            Python::attach(|py| {
                let (ok, payload) = match outcome {
                    Ok(v) => (true, v.into_py(py)),
                    Err(e) => (false, to_py(py, e).into_value(py).into_any()),
                };
                if let Err(e) = callback.bind(py).call1((ok, payload)) {
                    e.write_unraisable(py, Some(callback.bind(py)));
                }
            })
        });
        Ok(())
    }
}

/// A clock that moves only when told to, for tests: `Cache(clock=ManualClock())`.
#[pyclass(frozen, module = "flightcache")]
pub struct ManualClock {
    pub clock: flightcache::ManualClock,
}

#[pymethods]
impl ManualClock {
    #[new]
    fn new() -> Self {
        ManualClock {
            clock: flightcache::ManualClock::new(),
        }
    }

    /// Moves the clock forward by `ms` milliseconds (a number or a `datetime.timedelta`).
    fn advance(&self, ms: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = ms.py();
        let ms = flightcache::parse_ttl("ms", millis("ms", ms)?).py_err(py)?;
        self.clock.advance(ms);
        Ok(())
    }

    /// Milliseconds since the clock was made.
    #[getter]
    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn __repr__(&self) -> String {
        format!("ManualClock(now={})", self.clock.now_ms())
    }
}

/// What the cache has done since it was made (shared by all its namespaces).
#[pyclass(frozen, module = "flightcache", get_all, eq)]
#[derive(PartialEq, Eq)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub loads: u64,
    pub load_errors: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub rejected: u64,
    pub entries: u64,
    pub bytes: u64,
}

impl From<flightcache::Stats> for Stats {
    fn from(s: flightcache::Stats) -> Self {
        Stats {
            hits: s.hits,
            misses: s.misses,
            loads: s.loads,
            load_errors: s.load_errors,
            evictions: s.evictions,
            expirations: s.expirations,
            rejected: s.rejected,
            entries: s.entries,
            bytes: s.bytes,
        }
    }
}

#[pymethods]
impl Stats {
    /// The counters as a dict.
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.fields() {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __getitem__(&self, py: Python<'_>, name: &str) -> PyResult<u64> {
        self.fields()
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name.to_string()))
            .inspect(|_| {
                let _ = py;
            })
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self
            .fields()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("Stats({})", parts.join(", "))
    }
}

impl Stats {
    fn fields(&self) -> [(&'static str, u64); 9] {
        [
            ("hits", self.hits),
            ("misses", self.misses),
            ("loads", self.loads),
            ("load_errors", self.load_errors),
            ("evictions", self.evictions),
            ("expirations", self.expirations),
            ("rejected", self.rejected),
            ("entries", self.entries),
            ("bytes", self.bytes),
        ]
    }
}
