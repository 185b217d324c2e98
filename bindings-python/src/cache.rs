//! `flightcache.Cache`: the core's cache with Python values. Each method converts its
//! arguments, asks the core, and drives the operation the core returns (see `op`); no rule
//! of the cache lives here.

use std::sync::Arc;

use flightcache::{Clock, Config, FlightId, Lookup, Op, Written};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::clock::ManualClock;
use crate::convert::{self, millis, opt_millis, TtlArg};
use crate::entry::CacheEntry;
use crate::errors::{invalid, wrong_type, IntoPy};
use crate::host::PyHost;
use crate::op::{answer_to_py, drive_blocking, drive_blocking_entry, is_awaitable, PyOp};
use crate::ready::Ready;
use crate::stats::Stats;
use crate::value::{type_name, PyVal};

impl Cache {
    /// A `get` without a loader, `ttl` or `max_age`: the hit path.
    #[inline]
    fn read_plain(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        default: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match self.inner.read(convert::key(key)?) {
            Lookup::Hit(v) => self.hit(py, v),
            Lookup::Absent => Ok(or_none(py, default)),
            Lookup::Pending(ref mut op) => {
                let d = or_none(py, default);
                let a = drive_blocking(py, op, &mut self.host(py), None, None)?;
                Ok(answer_to_py(py, a, Some(&d)))
            }
        }
    }
}

/// `Cache.get` as CPython calls it. A call with the key alone (the hit path) skips the
/// parsing of `get`'s eleven parameters; any other call goes, with the very same arguments,
/// to the wrapper pyo3 generated for `get`, so its behaviour and errors are pyo3's.
///
/// This leans on two hidden items of pyo3 0.30 (the `__pymethod_get__` wrapper its macro
/// generates, and `get_trampoline_function!`, which attaches the thread and turns panics
/// and errors into Python exceptions as for any pyo3 method): a pyo3 upgrade that changes
/// them fails to compile here rather than misbehaving.
unsafe fn get_fastcall<'py>(
    py: Python<'py>,
    slf: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargs: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> PyResult<*mut pyo3::ffi::PyObject> {
    if nargs == 1 && kwnames.is_null() {
        // SAFETY: CPython calls a METH_FASTCALL method with a borrowed, non-null `self`
        // and `nargs` borrowed, non-null arguments at `args`.
        let (this, key) = unsafe {
            (
                Bound::ref_from_ptr(py, &slf),
                Bound::ref_from_ptr(py, &*args),
            )
        };
        if let Ok(cache) = this.cast::<Cache>() {
            return cache.get().read_plain(py, key, None).map(Py::into_ptr);
        }
    }
    // `get(key, get_value)` or `get(key, get_value=f)`, no other option: the loader's hit
    // path, without the parsing of the nine other parameters.
    // SAFETY: a non-null `kwnames` is the borrowed tuple of keyword names CPython passes.
    let names = (!kwnames.is_null()).then(|| unsafe { Bound::ref_from_ptr(py, &kwnames) });
    let names = names.and_then(|n| n.cast::<PyTuple>().ok());
    let named = names.map_or(0, |n| n.len() as pyo3::ffi::Py_ssize_t);
    if nargs >= 1 && nargs + named == 2 {
        let loader_arg = names.is_none_or(|n| {
            n.get_item(0).is_ok_and(|name| {
                name.is(pyo3::intern!(py, "get_value")) || name.eq("get_value").unwrap_or(false)
            })
        });
        if loader_arg {
            // SAFETY: CPython passes `nargs` positional then `named` keyword values at `args`:
            // two borrowed, non-null objects here.
            let (this, key, get_value) = unsafe {
                (
                    Bound::ref_from_ptr(py, &slf),
                    Bound::ref_from_ptr(py, &*args),
                    Bound::ref_from_ptr(py, &*args.add(1)),
                )
            };
            if let Ok(cache) = this.cast::<Cache>() {
                return cache
                    .get()
                    .get_with_loader(py, key, get_value)
                    .map(Py::into_ptr);
            }
        }
    }
    // SAFETY: the arguments are the ones CPython gave this METH_FASTCALL | METH_KEYWORDS
    // method, which is what the generated wrapper expects.
    unsafe { Cache::__pymethod_get__(py, slf, args, nargs, kwnames) }
}

/// Replaces the `get` pyo3 made on the class by [`get_fastcall`], with the same name,
/// signature (`__text_signature__`) and documentation.
pub fn install_fast_get(py: Python<'_>) -> PyResult<()> {
    let ty = py.get_type::<Cache>();
    let generated = ty.getattr("get")?;
    let sig: String = generated.getattr("__text_signature__")?.extract()?;
    let doc: String = generated.getattr("__doc__")?.extract().unwrap_or_default();
    let doc = std::ffi::CString::new(format!("get{sig}\n--\n\n{doc}"))
        .map_err(|e| invalid(py, e.to_string()))?;
    // The method table entry lives as long as the class: for the life of the process.
    let def = Box::leak(Box::new(pyo3::ffi::PyMethodDef {
        ml_name: c"get".as_ptr(),
        ml_meth: pyo3::ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: pyo3::get_trampoline_function!(
                fastcall_cfunction_with_keywords,
                get_fastcall
            ),
        },
        ml_flags: pyo3::ffi::METH_FASTCALL | pyo3::ffi::METH_KEYWORDS,
        ml_doc: doc.into_raw(),
    }));
    // SAFETY: `ty` is a live type object and `def` is a valid method table entry that is
    // never freed; PyDescr_NewMethod returns a new reference or NULL with an exception set.
    let descr = unsafe {
        Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))?
    };
    ty.setattr("get", descr)
}

/// What every namespace view of one cache shares.
struct Shared {
    size_of: Option<Py<PyAny>>,
}

#[pyclass(frozen, module = "flightcache", weakref, subclass)]
pub struct Cache {
    inner: flightcache::Cache<PyVal>,
    shared: Arc<Shared>,
    name: Option<String>,
}

/// Every cache of the process, for the sweeper thread (`flightcache/_sweeper.py`).
static LIVE: std::sync::Mutex<Vec<flightcache::WeakCache<PyVal>>> =
    std::sync::Mutex::new(Vec::new());

struct Aio {
    drive: Py<PyAny>,
    blocks_this_thread: Py<PyAny>,
    loading: Py<PyAny>,
    memoize: Py<PyAny>,
}

static AIO: PyOnceLock<Aio> = PyOnceLock::new();

/// The object given, or Python's `None` when none was.
pub(crate) fn or_none(py: Python<'_>, default: Option<&Bound<'_, PyAny>>) -> Py<PyAny> {
    default.map_or_else(|| py.None(), |d| d.clone().unbind())
}

fn aio(py: Python<'_>) -> &Aio {
    AIO.get_or_init(py, || {
        let m = py
            .import("flightcache._aio")
            .expect("flightcache._aio is importable");
        let memo = py
            .import("flightcache._memo")
            .expect("flightcache._memo is importable");
        Aio {
            drive: m.getattr("drive").expect("_aio.drive").unbind(),
            blocks_this_thread: m
                .getattr("blocks_this_thread")
                .expect("_aio.blocks_this_thread")
                .unbind(),
            // The bound `get` of the context variable: looked up once, not per call.
            loading: m
                .getattr("LOADING")
                .and_then(|v| v.getattr("get"))
                .expect("_aio.LOADING.get")
                .unbind(),
            memoize: memo.getattr("memoize").expect("_memo.memoize").unbind(),
        }
    })
}

/// The flights the current asyncio task (context) is loading.
fn within(py: Python<'_>) -> PyResult<Vec<FlightId>> {
    let ids = aio(py).loading.bind(py).call0()?;
    // Outside any loader (nearly always) the tuple is empty: nothing to convert.
    if ids.len().unwrap_or(1) == 0 {
        return Ok(Vec::new());
    }
    ids.extract()
}

fn bound_arg(py: Python<'_>, name: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if v.is_instance_of::<PyBool>()
        || !(v.is_instance_of::<PyInt>() || v.is_instance_of::<pyo3::types::PyFloat>())
    {
        return Err(wrong_type(
            py,
            format!("{name} must be a whole number, got {}", type_name(v)),
        ));
    }
    // The core's rule for whole numbers, the same words as in Node.
    let n = v.extract::<f64>().unwrap_or(f64::INFINITY);
    flightcache::args::count(name, n).map(Some).py_err(py)
}

fn ready(py: Python<'_>, v: Py<PyAny>) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, Ready::new(v))?.into_any())
}

/// A coroutine made for a load another caller runs, or that a hit made needless: close it
/// so that Python does not warn that it was never awaited.
fn close_unused(get_value: &Bound<'_, PyAny>) {
    if !get_value.is_callable() && get_value.hasattr("close").unwrap_or(false) {
        let _ = get_value.call_method0("close");
    }
}

impl Cache {
    fn view(&self, inner: flightcache::Cache<PyVal>, name: String) -> Self {
        Cache {
            inner,
            shared: self.shared.clone(),
            name: Some(name),
        }
    }

    fn host<'a, 'py>(&'a self, py: Python<'py>) -> PyHost<'a, 'py>
    where
        'py: 'a,
    {
        PyHost::new(py, self.shared.size_of.as_ref().map(|f| f.bind(py)))
    }

    /// A hit's value for its caller: a copy of its own with the `copy` option (the core's
    /// rule, `hand_out`), else the very object.
    #[inline]
    fn hit(&self, py: Python<'_>, v: PyVal) -> PyResult<Py<PyAny>> {
        if !self.inner.copies() {
            return Ok(v.into_py());
        }
        let mut host = self.host(py);
        self.inner
            .hand_out(v, &mut host)
            .map(PyVal::into_py)
            .py_err(py)
    }

    /// Runs an operation that needs no loader to its answer, on this thread.
    fn run(&self, py: Python<'_>, mut op: Op<PyVal>) -> PyResult<Py<PyAny>> {
        let mut host = self.host(py);
        let a = drive_blocking(py, &mut op, &mut host, None, None)?;
        Ok(answer_to_py(py, a, None))
    }

    /// The same, as an awaitable for asyncio code: ready at once without a store.
    fn arun(&self, py: Python<'_>, op: Op<PyVal>) -> PyResult<Py<PyAny>> {
        if !self.inner.has_store() {
            return ready(py, self.run(py, op)?);
        }
        let op = Py::new(
            py,
            PyOp::new(
                op,
                self.shared.size_of.as_ref().map(|f| f.clone_ref(py)),
                None,
                None,
            ),
        )?;
        Ok(aio(py).drive.bind(py).call1((op, py.None()))?.unbind())
    }

    fn set_op(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Written<PyVal>> {
        let k = convert::key(key)?;
        let ttl = TtlArg::parse(ttl)?;
        let mut host = self.host(py);
        host.ttl_of = ttl.function;
        self.inner
            .set_with(k, PyVal::new(value.clone().unbind()), ttl.ttl, &mut host)
            .py_err(py)
    }

    fn add_op(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Op<PyVal>> {
        let k = convert::key(key)?;
        let ttl = TtlArg::parse(ttl)?;
        let mut host = self.host(py);
        host.ttl_of = ttl.function;
        self.inner
            .add_with(k, PyVal::new(value.clone().unbind()), ttl.ttl, &mut host)
            .py_err(py)
    }

    fn lookup(
        &self,
        py: Python<'_>,
        key: &str,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Lookup<PyVal>> {
        if let Some(t) = ttl {
            // Checked even without a loader: a bad ttl is an error wherever it is given.
            TtlArg::parse(Some(t))?;
        }
        let max_age = opt_millis("max_age", max_age)?;
        self.inner.lookup(key, max_age).py_err(py)
    }

    #[allow(clippy::too_many_arguments)]
    fn get_blocking(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
        policy: flightcache::PolicyOptions,
        entry: bool,
    ) -> PyResult<Py<PyAny>> {
        let k = convert::key(key)?;
        let default_value = || or_none(py, default);
        let f = get_value.filter(|f| !f.is_none());
        if let Some(f) = f.filter(|f| !f.is_callable()) {
            return Err(wrong_type(
                py,
                format!(
                    "get_value must be callable, not {} (in asyncio code, aget also takes an awaitable)",
                    type_name(f)
                ),
            ));
        }
        if !entry && f.is_none() {
            let mut found = if ttl.is_none() && max_age.is_none() {
                self.inner.read(k) // the hit path
            } else {
                self.lookup(py, k, ttl, max_age)?
            };
            return match found {
                Lookup::Hit(v) => self.hit(py, v),
                Lookup::Absent => Ok(default_value()),
                Lookup::Pending(ref mut op) => {
                    let a = drive_blocking(py, op, &mut self.host(py), None, None)?;
                    Ok(answer_to_py(py, a, Some(&default_value())))
                }
            };
        }
        let ttl = TtlArg::parse(ttl)?;
        // The flights this task loads (a context variable) matter only when the call waits or
        // loads: looked up after the core has answered a hit.
        let opts = ttl.load_options(max_age, &[], policy)?;
        if entry {
            let check = aio(py).blocks_this_thread.bind(py);
            let mut op = self.inner.load_entry(k, &opts, f.is_some()).py_err(py)?;
            op.set_within(&within(py)?);
            let mut host = self.host(py);
            host.ttl_of = ttl.function;
            let (a, info) = drive_blocking_entry(py, op, &mut host, f, f.map(|_| check))?;
            let v = answer_to_py(py, a, Some(&default_value()));
            return Ok(Py::new(py, CacheEntry::new(v, info))?.into_any());
        }
        let found = self.inner.load(k, &opts).py_err(py)?;
        self.loaded(py, found, f, ttl.function, default)
    }

    /// `get(key, get_value)` with no other option: nothing to parse before the lookup.
    fn get_with_loader(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if !get_value.is_callable() {
            // `None` (no loader) or the wrong type: the whole call's rules.
            let policy = flightcache::PolicyOptions::default();
            return self.get_blocking(py, key, Some(get_value), None, None, None, policy, false);
        }
        // Matched as it comes: handing the whole lookup (an operation's size) to `loaded`,
        // or re-wrapping the result to convert its error, copied it on every hit.
        match self
            .inner
            .load(convert::key(key)?, &flightcache::LoadOptions::NONE)
        {
            Ok(Lookup::Hit(v)) => self.hit(py, v),
            Ok(found) => self.loaded(py, found, Some(get_value), None, None),
            Err(e) => Err(e).py_err(py),
        }
    }

    /// The answer of a load: a hit at once, else the operation driven on this thread.
    fn loaded(
        &self,
        py: Python<'_>,
        mut found: Lookup<PyVal>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl_of: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match found {
            Lookup::Hit(v) => self.hit(py, v),
            Lookup::Absent => Ok(or_none(py, default)),
            // Driven where it lies (see `drive_blocking`).
            Lookup::Pending(ref mut op) => {
                op.set_within(&within(py)?);
                let mut host = self.host(py);
                host.ttl_of = ttl_of;
                let check = aio(py).blocks_this_thread.bind(py);
                let a = drive_blocking(py, op, &mut host, get_value, Some(check))?;
                Ok(answer_to_py(py, a, None))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn get_async(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
        policy: flightcache::PolicyOptions,
        entry: bool,
    ) -> PyResult<Py<PyAny>> {
        let k = convert::key(key)?;
        let default_obj = default.map(|d| d.clone().unbind());
        let size_of = || self.shared.size_of.as_ref().map(|f| f.clone_ref(py));
        let gv = get_value.filter(|f| !f.is_none());
        if let Some(gv) = gv.filter(|gv| !gv.is_callable() && !is_awaitable(gv)) {
            return Err(wrong_type(
                py,
                format!(
                    "get_value must be a callable or an awaitable, not {}",
                    type_name(gv)
                ),
            ));
        }
        let loader = || or_none(py, gv);
        if !entry && gv.is_none() {
            return match self.lookup(py, k, ttl, max_age)? {
                Lookup::Hit(v) => ready(py, self.hit(py, v)?),
                Lookup::Absent => ready(py, default_obj.unwrap_or_else(|| py.None())),
                Lookup::Pending(op) => {
                    let op = Py::new(py, PyOp::new(op, size_of(), None, default_obj))?;
                    Ok(aio(py).drive.bind(py).call1((op, py.None()))?.unbind())
                }
            };
        }
        let ttl = TtlArg::parse(ttl)?;
        let opts = ttl.load_options(max_age, &[], policy)?;
        let ttl_of = || ttl.function.map(|f| f.clone().unbind());
        if entry {
            let mut op = self.inner.load_entry(k, &opts, gv.is_some()).py_err(py)?;
            op.set_within(&within(py)?);
            let op = PyOp::new(op, size_of(), ttl_of(), default_obj).answering_entries();
            let op = Py::new(py, op)?;
            return Ok(aio(py).drive.bind(py).call1((op, loader()))?.unbind());
        }
        // Matched as it comes (see `get_with_loader`).
        match self.inner.load(k, &opts) {
            Ok(Lookup::Hit(v)) => {
                if let Some(gv) = gv {
                    close_unused(gv);
                }
                ready(py, self.hit(py, v)?)
            }
            Ok(Lookup::Absent) => ready(py, default_obj.unwrap_or_else(|| py.None())),
            Ok(Lookup::Pending(mut op)) => {
                op.set_within(&within(py)?);
                let op = Py::new(py, PyOp::new(op, size_of(), ttl_of(), default_obj))?;
                Ok(aio(py).drive.bind(py).call1((op, loader()))?.unbind())
            }
            Err(e) => Err(e).py_err(py),
        }
    }
}

#[pymethods]
impl Cache {
    #[new]
    #[pyo3(signature = (
        max_entries=None, *, max_bytes=None, max_key_bytes=None, max_value_bytes=None,
        ttl=None, max_ttl=None, load_timeout=None, clock=None, size_of=None, store=None,
        store_timeout=None, lease=None, l1_staleness=None, store_max_entries=None,
        store_max_bytes=None, copy=None, **policy
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
        store: Option<&Bound<'_, PyAny>>,
        store_timeout: Option<&Bound<'_, PyAny>>,
        lease: Option<&Bound<'_, PyAny>>,
        l1_staleness: Option<&Bound<'_, PyAny>>,
        store_max_entries: Option<&Bound<'_, PyAny>>,
        store_max_bytes: Option<&Bound<'_, PyAny>>,
        copy: Option<&Bound<'_, PyAny>>,
        policy: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let defaults = Config::default();
        let copy = match copy.filter(|c| !c.is_none()) {
            None => false,
            Some(c) => match c.cast::<PyBool>() {
                Ok(b) => b.is_true(),
                Err(_) => {
                    return Err(wrong_type(
                        py,
                        format!("copy must be a bool, not {}", type_name(c)),
                    ))
                }
            },
        };
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
        let store = match store.filter(|s| !s.is_none()) {
            None => None,
            Some(s) => match s.cast::<PyString>() {
                Ok(s) => Some(s.to_str()?.to_owned()),
                Err(_) => {
                    return Err(wrong_type(
                        py,
                        format!("store must be a URL (str), not {}", type_name(s)),
                    ))
                }
            },
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
            store,
            store_timeout: opt_millis("store_timeout", store_timeout)?,
            lease: opt_millis("lease", lease)?,
            l1_staleness: opt_millis("l1_staleness", l1_staleness)?,
            store_max_entries: bound_arg(py, "store_max_entries", store_max_entries)?,
            store_max_bytes: bound_arg(py, "store_max_bytes", store_max_bytes)?,
            policy: convert::policy_options("Cache()", policy)?,
            // One part makes the bounds exact (a serialized cache has one anyway; so does
            // the locked one of a free-threaded interpreter).
            shards: Some(1),
            copy,
        };
        crate::stores::register();
        // The GIL runs one call at a time: the in-process tier needs no lock of its own
        // unless the interpreter runs without it (free-threaded).
        let serialized = gil_enabled(py)?;
        // Opening a store may do I/O (a file, a connection): not with the interpreter held.
        let inner = py
            .detach(|| {
                if serialized {
                    // SAFETY: every call on this cache is made holding the GIL (pyo3 methods
                    // run attached, the sweeper thread calls in attached), which orders the
                    // calls; the core lets the GIL go only while it does not use the map
                    // (to run a loader or drop a value).
                    unsafe { flightcache::Cache::new_serialized(config) }
                } else {
                    flightcache::Cache::new(config)
                }
            })
            .py_err(py)?;
        {
            let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
            live.retain(|w| !w.is_dead());
            live.push(inner.downgrade());
        }
        py.import("flightcache._sweeper")?.call_method0("start")?;
        Ok(Cache {
            inner,
            shared: Arc::new(Shared { size_of }),
            name: None,
        })
    }

    /// The value of `key`, or `default` when absent; with `get_value`, loads it when absent
    /// (one load per key however many threads, and with a store processes, ask). The
    /// resilience options (`stale_ttl`, `stale_if_error`, `soft_timeout`, `hard_timeout`,
    /// `refresh_ahead`, `fail_safe_backoff`) override the cache's for this call.
    #[pyo3(signature = (
        key, get_value=None, ttl=None, *, max_age=None, default=None, stale_ttl=None,
        stale_if_error=None, soft_timeout=None, hard_timeout=None, refresh_ahead=None,
        fail_safe_backoff=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn get(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
        stale_ttl: Option<&Bound<'_, PyAny>>,
        stale_if_error: Option<&Bound<'_, PyAny>>,
        soft_timeout: Option<&Bound<'_, PyAny>>,
        hard_timeout: Option<&Bound<'_, PyAny>>,
        refresh_ahead: Option<&Bound<'_, PyAny>>,
        fail_safe_backoff: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if get_value.is_none() && ttl.is_none() && max_age.is_none() {
            // The hit path: no loader, so no policy to convert (they matter only to loads).
            return self.read_plain(py, key, default);
        }
        let policy = convert::policy_args(
            stale_ttl,
            stale_if_error,
            soft_timeout,
            hard_timeout,
            refresh_ahead,
            fail_safe_backoff,
        )?;
        self.get_blocking(py, key, get_value, ttl, max_age, default, policy, false)
    }

    /// `get`, answering a `CacheEntry`: the value with how it was served (hit, stale,
    /// loaded...), its age and remaining TTL.
    #[pyo3(signature = (
        key, get_value=None, ttl=None, *, max_age=None, default=None, stale_ttl=None,
        stale_if_error=None, soft_timeout=None, hard_timeout=None, refresh_ahead=None,
        fail_safe_backoff=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn get_entry(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
        stale_ttl: Option<&Bound<'_, PyAny>>,
        stale_if_error: Option<&Bound<'_, PyAny>>,
        soft_timeout: Option<&Bound<'_, PyAny>>,
        hard_timeout: Option<&Bound<'_, PyAny>>,
        refresh_ahead: Option<&Bound<'_, PyAny>>,
        fail_safe_backoff: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let policy = convert::policy_args(
            stale_ttl,
            stale_if_error,
            soft_timeout,
            hard_timeout,
            refresh_ahead,
            fail_safe_backoff,
        )?;
        self.get_blocking(py, key, get_value, ttl, max_age, default, policy, true)
    }

    /// `get` for asyncio: returns an awaitable. `get_value` may be a callable, an async
    /// callable, or an awaitable (coroutine, Task, Future). Sync and async callers of one
    /// key share one load.
    #[pyo3(signature = (
        key, get_value=None, ttl=None, *, max_age=None, default=None, stale_ttl=None,
        stale_if_error=None, soft_timeout=None, hard_timeout=None, refresh_ahead=None,
        fail_safe_backoff=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn aget(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
        stale_ttl: Option<&Bound<'_, PyAny>>,
        stale_if_error: Option<&Bound<'_, PyAny>>,
        soft_timeout: Option<&Bound<'_, PyAny>>,
        hard_timeout: Option<&Bound<'_, PyAny>>,
        refresh_ahead: Option<&Bound<'_, PyAny>>,
        fail_safe_backoff: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let policy = convert::policy_args(
            stale_ttl,
            stale_if_error,
            soft_timeout,
            hard_timeout,
            refresh_ahead,
            fail_safe_backoff,
        )?;
        self.get_async(py, key, get_value, ttl, max_age, default, policy, false)
    }

    /// `get_entry` for asyncio.
    #[pyo3(signature = (
        key, get_value=None, ttl=None, *, max_age=None, default=None, stale_ttl=None,
        stale_if_error=None, soft_timeout=None, hard_timeout=None, refresh_ahead=None,
        fail_safe_backoff=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn aget_entry(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        get_value: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
        max_age: Option<&Bound<'_, PyAny>>,
        default: Option<&Bound<'_, PyAny>>,
        stale_ttl: Option<&Bound<'_, PyAny>>,
        stale_if_error: Option<&Bound<'_, PyAny>>,
        soft_timeout: Option<&Bound<'_, PyAny>>,
        hard_timeout: Option<&Bound<'_, PyAny>>,
        refresh_ahead: Option<&Bound<'_, PyAny>>,
        fail_safe_backoff: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let policy = convert::policy_args(
            stale_ttl,
            stale_if_error,
            soft_timeout,
            hard_timeout,
            refresh_ahead,
            fail_safe_backoff,
        )?;
        self.get_async(py, key, get_value, ttl, max_age, default, policy, true)
    }

    /// Stores `value` under `key`. Returns False when nothing was stored (`ttl` 0, an entry
    /// over a size limit, or a store that did not take it: this process still has it).
    #[pyo3(signature = (key, value, ttl=None))]
    fn set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match self.set_op(py, key, value, ttl)? {
            Written::Done(stored) => Ok(stored),
            Written::Pending(op) => self.run(py, op)?.bind(py).extract(),
        }
    }

    #[pyo3(signature = (key, value, ttl=None))]
    fn aset(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match self.set_op(py, key, value, ttl)? {
            Written::Done(stored) => {
                ready(py, PyBool::new(py, stored).to_owned().into_any().unbind())
            }
            Written::Pending(op) => self.arun(py, op),
        }
    }

    /// Stores `value` under `key` only if the key has no live value, atomically (in the
    /// store too). Returns whether it was stored.
    #[pyo3(signature = (key, value, ttl=None))]
    fn add(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let op = self.add_op(py, key, value, ttl)?;
        self.run(py, op)?.bind(py).extract()
    }

    #[pyo3(signature = (key, value, ttl=None))]
    fn aadd(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let op = self.add_op(py, key, value, ttl)?;
        self.arun(py, op)
    }

    /// Removes `key`. Returns whether it had a live value.
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let op = self.inner.del(convert::key(key)?);
        self.run(py, op)?.bind(py).extract()
    }

    fn adelete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let op = self.inner.del(convert::key(key)?);
        self.arun(py, op)
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let k = convert::key(key)?;
        let found = match self.inner.read(k) {
            Lookup::Hit(v) => Some(self.hit(py, v)?),
            Lookup::Absent => None,
            Lookup::Pending(ref mut op) => drive_blocking(py, op, &mut self.host(py), None, None)?
                .into_option()
                .py_err(py)?
                .map(PyVal::into_py),
        };
        found.ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.set(py, key, value, None).map(|_| ())
    }

    fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.delete(py, key)? {
            Ok(())
        } else {
            Err(PyKeyError::new_err(key.clone().unbind()))
        }
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.exists(py, key)
    }

    /// Entries in this process's tier.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let keys = self.keys(py)?;
        Ok(keys.bind(py).try_iter()?.into_any().unbind())
    }

    /// Whether `key` has a live value (counts neither a hit nor a miss).
    fn exists(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let op = self.inner.has(convert::key(key)?);
        self.run(py, op)?.bind(py).extract()
    }

    fn aexists(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let op = self.inner.has(convert::key(key)?);
        self.arun(py, op)
    }

    /// Sets a new TTL (ms or timedelta) on a live key; 0 removes it. Returns whether it was live.
    fn expire(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        ttl: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let k = convert::key(key)?;
        let op = self.inner.expire(k, millis("ttl", ttl)?).py_err(py)?;
        self.run(py, op)?.bind(py).extract()
    }

    fn aexpire(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        ttl: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let k = convert::key(key)?;
        let op = self.inner.expire(k, millis("ttl", ttl)?).py_err(py)?;
        self.arun(py, op)
    }

    /// Milliseconds until `key` expires (`math.inf` if never), or None when absent.
    fn remaining_ttl(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let op = self.inner.remaining_ttl(convert::key(key)?);
        self.run(py, op)
    }

    fn aremaining_ttl(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let op = self.inner.remaining_ttl(convert::key(key)?);
        self.arun(py, op)
    }

    /// Adds `by` to the integer at `key` atomically (a missing key starts at 0; with
    /// `must_exist`, a missing key raises `KeyNotFoundError` and nothing is written).
    #[pyo3(signature = (key, by=None, *, must_exist=false))]
    fn incr(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        by: Option<&Bound<'_, PyAny>>,
        must_exist: bool,
    ) -> PyResult<i64> {
        let op = self.incr_op(py, key, by, must_exist)?;
        self.run(py, op)?.bind(py).extract()
    }

    #[pyo3(signature = (key, by=None, *, must_exist=false))]
    fn aincr(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        by: Option<&Bound<'_, PyAny>>,
        must_exist: bool,
    ) -> PyResult<Py<PyAny>> {
        let op = self.incr_op(py, key, by, must_exist)?;
        self.arun(py, op)
    }

    /// The live keys (of this namespace, without its prefix).
    fn keys(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.run(py, self.inner.keys())
    }

    fn akeys(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.arun(py, self.inner.keys())
    }

    /// Removes every key (of this namespace only, for a namespace).
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, self.inner.clear()).map(|_| ())
    }

    fn aclear(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.arun(py, self.inner.clear())
    }

    /// True when the cache and its store answer.
    fn ping(&self, py: Python<'_>) -> PyResult<bool> {
        self.run(py, self.inner.ping())?.bind(py).extract()
    }

    fn aping(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.arun(py, self.inner.ping())
    }

    /// Removes every expired entry of this process's tier now; returns how many.
    fn purge_expired(&self) -> usize {
        self.inner.purge_expired()
    }

    /// The last error the store gave (None: none, or no store).
    #[getter]
    fn store_error(&self) -> Option<String> {
        self.inner.store_error()
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
    #[pyo3(signature = (ttl=None, key=None, **policy))]
    fn memoize(
        slf: &Bound<'_, Self>,
        ttl: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        policy: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        // Checked now, so that a bad option fails at decoration time.
        let options = convert::policy_options("memoize", policy)?;
        slf.get().inner.check_policy(&options).py_err(py)?;
        if let Some(t) = ttl {
            // Checked now by the core's TTL rules, so a bad ttl fails at decoration time.
            if let Some(ms) = TtlArg::parse(Some(t))?.ttl.fixed() {
                flightcache::parse_ttl("ttl", ms).py_err(py)?;
            }
        }
        Ok(aio(py)
            .memoize
            .bind(py)
            .call1((slf, ttl, key, policy))?
            .unbind())
    }

    /// The access token `name`: `fetch_token` runs once per lifetime (see flightcache._token).
    #[pyo3(signature = (*args, **kwargs), text_signature = "($self, name, fetch_token, *, skew=30000, refresh_ahead=0.8)")]
    fn token<'py>(
        slf: &Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::http::call_token_helper(slf.as_any(), "token", args, kwargs)
    }

    /// `cache.token` for asyncio: `fetch_token` may be an async function.
    #[pyo3(signature = (*args, **kwargs), text_signature = "($self, name, fetch_token, *, skew=30000, refresh_ahead=0.8)")]
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

    /// The garbage collector walks the stored values, so that a value that refers back to
    /// its cache is collected. Only the cache itself reports them (its namespace views share
    /// its entries: reporting them twice would be wrong).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if self.name.is_none() {
            if let Some(f) = &self.shared.size_of {
                visit.call(f)?;
            }
            let mut result = Ok(());
            self.inner.for_each_value(|v| {
                if result.is_ok() {
                    result = visit.call(&v.0);
                }
            });
            result?;
        }
        Ok(())
    }

    /// Breaks a cycle through stored values: this process's copies go (a store keeps
    /// its entries).
    fn __clear__(&self) {
        if self.name.is_none() {
            self.inner.clear_local();
        }
    }
}

impl Cache {
    fn incr_op(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        by: Option<&Bound<'_, PyAny>>,
        must_exist: bool,
    ) -> PyResult<Op<PyVal>> {
        let k = convert::key(key)?;
        let by = match by {
            None => 1,
            Some(by) => {
                if by.is_instance_of::<PyBool>() || !by.is_instance_of::<PyInt>() {
                    return Err(wrong_type(
                        py,
                        format!("by must be an int, not {}", type_name(by)),
                    ));
                }
                by.extract::<i64>()
                    .map_err(|_| invalid(py, format!("by must fit in 64 bits, got {by}")))?
            }
        };
        self.inner
            .incr_with(k, by, must_exist, &mut self.host(py))
            .py_err(py)
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
    let first = first.map(convert::arg).transpose()?;
    flightcache::memo::path_key(name, first.as_ref(), &paths).py_err(py)
}

/// Whether the interpreter has a GIL (`sys._is_gil_enabled`, Python 3.13+; always before).
fn gil_enabled(py: Python<'_>) -> PyResult<bool> {
    let sys = py.import("sys")?;
    match sys.getattr("_is_gil_enabled") {
        Ok(f) => f.call0()?.is_truthy(),
        Err(_) => Ok(true),
    }
}

/// Reclaims what has expired in every live cache (called by the sweeper thread, which holds
/// the interpreter: dropped values are dropped on a Python thread).
#[pyfunction]
pub fn _purge_all() -> usize {
    let caches: Vec<_> = {
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|w| !w.is_dead());
        live.iter().filter_map(|w| w.upgrade()).collect()
    };
    caches.iter().map(|c| c.purge_expired()).sum()
}

/// Forgets the flights of the parent after a `fork()` (registered with
/// `os.register_at_fork` by the package).
#[pyfunction]
pub fn _after_fork_in_child() {
    flightcache::after_fork_in_child();
}
