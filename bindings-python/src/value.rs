//! Python values: how the cache holds them, and how they cross into the core's shared value
//! model and back.
//!
//! A stored value is a bare `Py<PyAny>`: one pointer, and a hit is one reference-count
//! increment. Its `Clone` (pyo3's `py-clone`) checks that the thread is attached to the
//! interpreter and panics otherwise, so the host-thread rule is checked, not assumed; the
//! core clones values only inside calls made by attached threads.

use flightcache::value::{integer_out_of_range, invalid_string, unshareable, Value};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};

#[derive(Clone)]
pub struct PyVal(pub Py<PyAny>);

impl PyVal {
    #[inline]
    pub fn new(obj: Py<PyAny>) -> Self {
        PyVal(obj)
    }
    #[inline]
    pub fn into_py(self) -> Py<PyAny> {
        self.0
    }
}

pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}

const MAX_DEPTH: u32 = 128;

/// A Python value in the shared model: what a store can hold. Anything else is an error
/// naming its type (a set, a class instance), and so is an int beyond 64 bits.
pub fn to_value(v: &Bound<'_, PyAny>) -> flightcache::Result<Value> {
    to_value_at(v, 0)
}

fn to_value_at(v: &Bound<'_, PyAny>, depth: u32) -> flightcache::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(flightcache::Error::InvalidArgument(format!(
            "a value nests deeper than {MAX_DEPTH} levels"
        )));
    }
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        return v
            .extract::<i64>()
            .map(Value::Int)
            .map_err(|_| integer_out_of_range(&v.to_string()));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return s
            .to_str()
            .map(|s| Value::Str(s.to_owned()))
            .map_err(|_| invalid_string("a str"));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = v.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if v.is_instance_of::<PyMemoryView>() {
        let b: Vec<u8> = v
            .call_method0("tobytes")
            .and_then(|b| b.extract())
            .map_err(|_| unshareable("memoryview"))?;
        return Ok(Value::Bytes(b));
    }
    if let Ok(l) = v.cast::<PyList>() {
        return l
            .iter()
            .map(|x| to_value_at(&x, depth + 1))
            .collect::<flightcache::Result<_>>()
            .map(Value::List);
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| to_value_at(&x, depth + 1))
            .collect::<flightcache::Result<_>>()
            .map(Value::List);
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut pairs = Vec::with_capacity(d.len());
        for (k, x) in d.iter() {
            let Ok(ks) = k.cast::<PyString>() else {
                return Err(unshareable(&format!("dict with {} keys", type_name(&k))));
            };
            let ks = ks.to_str().map_err(|_| invalid_string("a dict key"))?;
            pairs.push((ks.to_owned(), to_value_at(&x, depth + 1)?));
        }
        return Ok(Value::Map(pairs));
    }
    Err(unshareable(&type_name(v)))
}

/// A shared value as a Python object: maps become dicts, lists lists, binary `bytes`.
pub fn from_value(py: Python<'_>, v: Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Value::Int(n) => n.into_pyobject(py)?.into_any().unbind(),
        Value::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
        Value::Str(s) => PyString::new(py, &s).into_any().unbind(),
        Value::Bytes(b) => PyBytes::new(py, &b).into_any().unbind(),
        Value::List(xs) => {
            let items = xs
                .into_iter()
                .map(|x| from_value(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any().unbind()
        }
        Value::Map(ps) => {
            let d = PyDict::new(py);
            for (k, x) in ps {
                d.set_item(k, from_value(py, x)?)?;
            }
            d.into_any().unbind()
        }
    })
}

/// The core's error for a Python exception raised by the user's own code on the way (a
/// `size_of` or `ttl` function): it travels as a loader error, and comes back out as the
/// very same exception.
pub fn user_error(e: PyErr) -> flightcache::Error {
    flightcache::Error::Loader(flightcache::LoaderError::new(e))
}

/// A Python argument the core validates as a number (`size_of`'s answer): an int or a float.
pub fn number(v: &Bound<'_, PyAny>, what: &str) -> flightcache::Result<f64> {
    if v.is_instance_of::<PyBool>()
        || !(v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>())
    {
        return Err(flightcache::Error::WrongType(format!(
            "{what} must be a number, not {}",
            type_name(v)
        )));
    }
    Ok(v.extract::<f64>().unwrap_or(f64::INFINITY))
}
