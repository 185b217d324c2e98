//! Driving the core's operations ([`flightcache::Op`]) from Python: on the calling thread
//! for the synchronous API (parked with the interpreter released), and step by step from an
//! asyncio task for the `a*` API (`_Op`, driven by `flightcache/_aio.py`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use flightcache::{Answer, Error, LoaderError, Op, Parker, Step};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyList};

use crate::errors::{to_py, wrong_type, IntoPy};
use crate::host::PyHost;
use crate::value::{type_name, PyVal};
use crate::wake::LoopWaker;

/// How often a thread parked in the core checks for signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Whether `await v` would work: `await` finds `__await__` on the type (its `am_await`
/// slot), and so does this. `hasattr(v, "__await__")` answered the same, but for most
/// values it raised and cleared an AttributeError, about 4,000 instructions on every load.
pub fn is_awaitable(v: &Bound<'_, PyAny>) -> bool {
    let ty = v.get_type();
    // SAFETY: `ty` holds a reference to a live type object; since Python 3.10 (this
    // module's minimum, abi3-py310) `PyType_GetSlot` reads any type's slots, static or not.
    unsafe { !pyo3::ffi::PyType_GetSlot(ty.as_type_ptr(), pyo3::ffi::Py_am_await).is_null() }
}

/// A loader's outcome as the core takes it. An awaitable from a synchronous `get` is a
/// mistake (it would be stored unawaited): it is closed and the load fails with a
/// TypeError.
pub fn loader_result(
    py: Python<'_>,
    r: PyResult<Bound<'_, PyAny>>,
    sync: bool,
) -> Result<PyVal, LoaderError> {
    match r {
        Ok(v) if sync && is_awaitable(&v) => {
            let _ = v.call_method0("close");
            Err(loader_error(
                py,
                wrong_type(
                    py,
                    "get_value returned an awaitable: use `await cache.aget(...)` in asyncio code"
                        .into(),
                ),
            ))
        }
        Ok(v) => Ok(PyVal::new(v.unbind())),
        Err(e) => Err(loader_error(py, e)),
    }
}

/// A Python exception as a loader error, named by its class for other processes.
pub fn loader_error(py: Python<'_>, e: PyErr) -> LoaderError {
    let name = type_name(e.value(py).as_any());
    LoaderError::new(e).named(name)
}

/// An answer as a Python object (`default` for nothing).
pub fn answer_to_py(py: Python<'_>, a: Answer<PyVal>, default: Option<&Py<PyAny>>) -> Py<PyAny> {
    match a {
        Answer::Value(v) => v.into_py(),
        Answer::Absent => default.map_or_else(|| py.None(), |d| d.clone_ref(py)),
        Answer::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Answer::Int(n) => n
            .into_pyobject(py)
            .map(|o| o.into_any().unbind())
            .unwrap_or_else(|_| py.None()),
        Answer::Ms(None) => py.None(),
        Answer::Ms(Some(ms)) => ms
            .into_pyobject(py)
            .map(|o| o.into_any().unbind())
            .unwrap_or_else(|_| py.None()),
        Answer::Keys(k) => PyList::new(py, k)
            .map(|l| l.into_any().unbind())
            .unwrap_or_else(|_| py.None()),
        Answer::Done => py.None(),
    }
}

/// Drives `op` to its answer on this thread: runs `get_value` when the core says so, and
/// parks with the interpreter released when it must wait.
///
/// It takes the operation by reference: an operation is about 150 bytes, and each move of
/// one into a call is a copy on every miss.
pub fn drive_blocking(
    py: Python<'_>,
    op: &mut Op<PyVal>,
    host: &mut PyHost<'_, '_>,
    get_value: Option<&Bound<'_, PyAny>>,
    blocks_this_thread: Option<&Bound<'_, PyAny>>,
) -> PyResult<Answer<PyVal>> {
    drive(py, op, host, get_value, blocks_this_thread)
}

/// [`drive_blocking`], with how the answer was served (`get_entry`).
pub fn drive_blocking_entry(
    py: Python<'_>,
    mut op: Op<PyVal>,
    host: &mut PyHost<'_, '_>,
    get_value: Option<&Bound<'_, PyAny>>,
    blocks_this_thread: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Answer<PyVal>, flightcache::EntryInfo)> {
    let a = drive(py, &mut op, host, get_value, blocks_this_thread)?;
    Ok((a, op.entry_info()))
}

fn drive(
    py: Python<'_>,
    op: &mut Op<PyVal>,
    host: &mut PyHost<'_, '_>,
    get_value: Option<&Bound<'_, PyAny>>,
    blocks_this_thread: Option<&Bound<'_, PyAny>>,
) -> PyResult<Answer<PyVal>> {
    if let Some(a) = op.answered_now() {
        return a.py_err(py);
    }
    let mut checked_own_loop = false;
    Parker::with_current(|parker, waker| loop {
        match op.step(host, waker) {
            Step::Done(r) => return r.py_err(py),
            Step::RunLoader => {
                let f = get_value.ok_or_else(|| {
                    PyRuntimeError::new_err("flightcache: internal error: a load without a loader")
                })?;
                let r = op.run_loader(|| f.call0());
                op.loaded(loader_result(py, r, true));
            }
            Step::Spawn(other) => {
                let bg = PyOp::new(
                    *other,
                    host.size_of.map(|f| f.clone().unbind()),
                    host.ttl_of.map(|f| f.clone().unbind()),
                    None,
                );
                let loader = crate::cache::or_none(py, get_value);
                py.import(pyo3::intern!(py, "flightcache._background"))?
                    .call_method1(pyo3::intern!(py, "in_thread"), (bg, loader))?;
            }
            Step::Park(until) => {
                if !checked_own_loop {
                    checked_own_loop = true;
                    if let (Some(f), Some(check)) = (op.joined_flight(), blocks_this_thread) {
                        if check.call1((f,))?.is_truthy()? {
                            // Waiting here would block the event loop that has to finish the
                            // load.
                            return Err(to_py(
                                py,
                                Error::Reentrant {
                                    key: op.key().to_string(),
                                },
                            ));
                        }
                    }
                }
                park(py, parker, until)?;
            }
        }
    })
}

/// Waits until woken or `until`, detached, checking for signals now and then.
fn park(py: Python<'_>, parker: &Parker, until: Option<Instant>) -> PyResult<()> {
    loop {
        let slice = Instant::now() + SIGNAL_CHECK;
        let d = until.map_or(slice, |u| u.min(slice));
        let woken = py.detach(|| parker.park_until(Some(d)));
        if woken || until.is_some_and(|u| Instant::now() >= u) {
            return Ok(());
        }
        py.check_signals()?;
    }
}

static NEXT_OP: AtomicU64 = AtomicU64::new(1);

/// An operation an asyncio task drives (see `_aio.drive`).
#[pyclass(frozen, module = "flightcache._native", name = "_Op")]
pub struct PyOp {
    op: Mutex<Option<Op<PyVal>>>,
    id: u64,
    size_of: Option<Py<PyAny>>,
    ttl_of: Option<Py<PyAny>>,
    default: Option<Py<PyAny>>,
    /// The answer is a `CacheEntry` (`aget_entry`).
    entry: bool,
}

/// What `_Op.step` tells the task.
const DONE: u8 = 0;
const FAILED: u8 = 1;
const RUN_LOADER: u8 = 2;
const PARK: u8 = 3;
const SPAWN: u8 = 4;

impl PyOp {
    pub fn new(
        op: Op<PyVal>,
        size_of: Option<Py<PyAny>>,
        ttl_of: Option<Py<PyAny>>,
        default: Option<Py<PyAny>>,
    ) -> Self {
        PyOp {
            op: Mutex::new(Some(op)),
            id: NEXT_OP.fetch_add(1, Ordering::Relaxed),
            size_of,
            ttl_of,
            default,
            entry: false,
        }
    }

    /// Answers with a `CacheEntry` (`aget_entry`).
    pub fn answering_entries(mut self) -> Self {
        self.entry = true;
        self
    }

    /// Takes the operation out while Python code may run (no lock is held across it).
    fn take(&self) -> PyResult<Op<PyVal>> {
        self.op
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this operation has finished or is in use"))
    }

    fn put(&self, op: Op<PyVal>) {
        *self.op.lock().unwrap_or_else(|p| p.into_inner()) = Some(op);
    }
}

#[pymethods]
impl PyOp {
    /// `(kind, payload)`: 0 done (the answer), 1 failed (the exception), 2 run the loader,
    /// 3 park (seconds until a timeout to apply, or None), 4 drive this other `_Op` in
    /// the background.
    fn step(&self, py: Python<'_>, waker: &LoopWaker) -> PyResult<(u8, Py<PyAny>)> {
        let mut op = self.take()?;
        let size_of = self.size_of.as_ref().map(|f| f.bind(py));
        let ttl_of = self.ttl_of.as_ref().map(|f| f.bind(py));
        let mut host = PyHost {
            py,
            size_of,
            ttl_of,
        };
        let step = op.step(&mut host, &waker.waker(self.id));
        Ok(match step {
            Step::Done(Ok(a)) if self.entry => {
                let v = answer_to_py(py, a, self.default.as_ref());
                let e = crate::entry::CacheEntry::new(v, op.entry_info());
                (DONE, Py::new(py, e)?.into_any())
            }
            Step::Done(Ok(a)) => (DONE, answer_to_py(py, a, self.default.as_ref())),
            Step::Done(Err(e)) => (FAILED, to_py(py, e).into_value(py).into_any()),
            Step::RunLoader => {
                self.put(op);
                (RUN_LOADER, py.None())
            }
            Step::Park(until) => {
                self.put(op);
                let secs = until.map(|u| u.saturating_duration_since(Instant::now()).as_secs_f64());
                (PARK, secs.into_pyobject(py)?.into_any().unbind())
            }
            Step::Spawn(other) => {
                self.put(op);
                let bg = PyOp::new(
                    *other,
                    self.size_of.as_ref().map(|f| f.clone_ref(py)),
                    self.ttl_of.as_ref().map(|f| f.clone_ref(py)),
                    None,
                );
                (SPAWN, Py::new(py, bg)?.into_any())
            }
        })
    }

    /// Drives the operation to its end on this thread (a background thread's target),
    /// with the interpreter released while it waits.
    fn drive_blocking(&self, py: Python<'_>, get_value: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut op = self.take()?;
        let size_of = self.size_of.as_ref().map(|f| f.bind(py));
        let ttl_of = self.ttl_of.as_ref().map(|f| f.bind(py));
        let mut host = PyHost {
            py,
            size_of,
            ttl_of,
        };
        let loader = (!get_value.is_none()).then_some(get_value);
        drive_blocking(py, &mut op, &mut host, loader, None).map(|_| ())
    }

    /// Calls a synchronous loader marked, on this thread, as this operation's loader.
    fn run_loader(&self, f: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let op = self.take()?;
        let r = op.run_loader(|| f.call0());
        self.put(op);
        r.map(Bound::unbind)
    }

    fn loaded(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut op = self.take()?;
        op.loaded(Ok(PyVal::new(value.clone().unbind())));
        self.put(op);
        Ok(())
    }

    fn failed(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut op = self.take()?;
        op.loaded(Err(loader_error(py, PyErr::from_value(exc.clone()))));
        self.put(op);
        Ok(())
    }

    /// Abandons the operation (its task was cancelled): a load it leads is taken over by
    /// one of its waiters.
    fn close(&self) {
        let op = self.op.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(op);
    }

    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// The flight this operation leads, if it leads one.
    #[getter]
    fn flight_id(&self) -> Option<u64> {
        self.op
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(Op::flight_id)
    }

    #[getter]
    fn done(&self) -> bool {
        self.op.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}
