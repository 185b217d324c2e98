//! How a Python value is stored: by reference, and how its size is counted.
//!
//! The default representation is a bare `Py<PyAny>`: a stored value costs one pointer, and
//! a hit is one reference-count increment. Cloning it needs the interpreter, and this binding
//! guarantees that the core clones a value only while the calling thread is attached:
//! every call into the core is made while attached, and waiting threads, which detach, never
//! read the flight's outcome themselves (they take it from a slot that the completing,
//! attached, thread fills; see `cache::wait_blocking`). The feature `arc-values` stores an
//! `Arc<Py<PyAny>>` instead, which may be cloned anywhere, for a measured comparison.

use flightcache::{Counter, EntrySize, SCALAR_SIZE};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString,
    PyTuple,
};

#[cfg(not(feature = "arc-values"))]
pub struct PyVal(Py<PyAny>);

#[cfg(not(feature = "arc-values"))]
impl Clone for PyVal {
    #[inline]
    fn clone(&self) -> Self {
        // SAFETY: see the module docs: the core clones a value only inside a call this
        // binding makes while attached to the interpreter.
        let py = unsafe { Python::assume_attached() };
        PyVal(self.0.clone_ref(py))
    }
}

#[cfg(not(feature = "arc-values"))]
impl PyVal {
    #[inline]
    pub fn new(obj: Py<PyAny>) -> Self {
        PyVal(obj)
    }
    #[inline]
    pub fn into_py(self, _py: Python<'_>) -> Py<PyAny> {
        self.0
    }
    #[inline]
    pub fn obj(&self) -> &Py<PyAny> {
        &self.0
    }
}

#[cfg(feature = "arc-values")]
#[derive(Clone)]
pub struct PyVal(std::sync::Arc<Py<PyAny>>);

#[cfg(feature = "arc-values")]
impl PyVal {
    #[inline]
    pub fn new(obj: Py<PyAny>) -> Self {
        PyVal(std::sync::Arc::new(obj))
    }
    #[inline]
    pub fn into_py(self, py: Python<'_>) -> Py<PyAny> {
        self.0.clone_ref(py)
    }
    #[inline]
    pub fn obj(&self) -> &Py<PyAny> {
        &self.0
    }
}

impl EntrySize for PyVal {
    fn entry_size(&self) -> u64 {
        // Only `incr` asks (for the integers it writes), inside a call made while attached.
        let py = unsafe { Python::assume_attached() };
        estimate(self.obj().bind(py), 0, &mut 0)
    }
}

impl Counter for PyVal {
    fn as_counter(&self) -> Option<i64> {
        // `incr` runs inside a call made while attached.
        let py = unsafe { Python::assume_attached() };
        let v = self.obj().bind(py);
        if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
            return None;
        }
        v.extract::<i64>().ok()
    }

    fn from_counter(n: i64) -> Self {
        let py = unsafe { Python::assume_attached() };
        PyVal::new(n.into_pyobject(py).expect("an int").into_any().unbind())
    }
}

/// The size the cache counts for `value`: exact for `str` (UTF-8 bytes) and bytes-likes,
/// `SCALAR_SIZE` for numbers, booleans and None, else `size_of(value)` or an estimate.
#[inline]
pub fn measure(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    size_of: Option<&Py<PyAny>>,
) -> PyResult<u64> {
    if let Some(n) = exact_size(value) {
        return Ok(n);
    }
    if let Some(f) = size_of {
        let r = f.bind(py).call1((value,))?;
        if r.is_instance_of::<PyBool>() || !r.is_instance_of::<PyInt>() {
            return Err(crate::errors::wrong_type(
                py,
                format!("size_of must return an int, not {}", type_name(&r)),
            ));
        }
        return r.extract::<u64>().map_err(|_| {
            crate::errors::invalid(py, format!("size_of must return an int >= 0, got {r}"))
        });
    }
    Ok(estimate(value, 0, &mut 0))
}

#[inline]
fn exact_size(v: &Bound<'_, PyAny>) -> Option<u64> {
    if let Ok(s) = v.cast::<PyString>() {
        return Some(utf8_len(s));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Some(b.len().ok()? as u64);
    }
    if v.is_none() || v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
        return Some(SCALAR_SIZE);
    }
    if let Ok(b) = v.cast::<PyByteArray>() {
        return Some(b.len() as u64);
    }
    if is_memoryview(v) {
        return v.getattr("nbytes").ok()?.extract::<u64>().ok();
    }
    None
}

fn is_memoryview(v: &Bound<'_, PyAny>) -> bool {
    unsafe { ffi::PyMemoryView_Check(v.as_ptr()) != 0 }
}

#[inline]
pub fn utf8_len(s: &Bound<'_, PyString>) -> u64 {
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a str; on failure (a lone surrogate) fall back to the code point count.
    let p = unsafe { ffi::PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if p.is_null() {
        unsafe { ffi::PyErr_Clear() };
        return s.len().unwrap_or(0) as u64;
    }
    size as u64
}

pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}

const MAX_DEPTH: u32 = 6;
const MAX_NODES: u32 = 10_000;
const PTR: u64 = 8;

/// A quick estimate of what a value holds, in bytes: containers are walked (to a depth and
/// a number of items), anything else counts what `sys.getsizeof` would say for it.
fn estimate(v: &Bound<'_, PyAny>, depth: u32, nodes: &mut u32) -> u64 {
    *nodes += 1;
    if let Some(n) = exact_size(v) {
        return n;
    }
    if depth >= MAX_DEPTH || *nodes >= MAX_NODES {
        return shallow(v);
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return t.iter().map(|x| PTR + estimate(&x, depth + 1, nodes)).sum();
    }
    if let Ok(l) = v.cast::<PyList>() {
        return l.iter().map(|x| PTR + estimate(&x, depth + 1, nodes)).sum();
    }
    if let Ok(d) = v.cast::<PyDict>() {
        return d
            .iter()
            .map(|(k, x)| 2 * PTR + estimate(&k, depth + 1, nodes) + estimate(&x, depth + 1, nodes))
            .sum();
    }
    if let Ok(st) = v.cast::<PySet>() {
        return st
            .iter()
            .map(|x| PTR + estimate(&x, depth + 1, nodes))
            .sum();
    }
    if let Ok(st) = v.cast::<PyFrozenSet>() {
        return st
            .iter()
            .map(|x| PTR + estimate(&x, depth + 1, nodes))
            .sum();
    }
    let mut n = shallow(v);
    if let Ok(d) = v.getattr("__dict__") {
        n += estimate(&d, depth + 1, nodes);
    }
    n
}

fn shallow(v: &Bound<'_, PyAny>) -> u64 {
    v.call_method0("__sizeof__")
        .and_then(|n| n.extract::<u64>())
        .unwrap_or(64)
}
