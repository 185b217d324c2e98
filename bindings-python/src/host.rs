//! The core's [`Host`] for Python: measuring values (the core's size rule over Python
//! objects), the `ttl` function of a value, and conversions to the shared model. Built for
//! one call, on the calling thread, which is attached to the interpreter.

use flightcache::value::size::{self, Shape, Walk};
use flightcache::value::Value;
use flightcache::Host;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyMemoryView, PySet,
    PyString, PyTuple,
};

use crate::convert::millis;
use crate::value::{from_value, number, to_value, user_error, PyVal};

pub struct PyHost<'a, 'py> {
    pub py: Python<'py>,
    /// The cache's `size_of` function.
    pub size_of: Option<&'a Bound<'py, PyAny>>,
    /// The call's `ttl`, when it is a function of the value.
    pub ttl_of: Option<&'a Bound<'py, PyAny>>,
}

impl<'a, 'py> PyHost<'a, 'py> {
    pub fn new(py: Python<'py>, size_of: Option<&'a Bound<'py, PyAny>>) -> Self {
        PyHost {
            py,
            size_of,
            ttl_of: None,
        }
    }
}

/// The size rule's view of Python objects.
struct PyWalk<'py>(std::marker::PhantomData<Python<'py>>);

fn utf8_len(s: &Bound<'_, PyString>) -> u64 {
    // A str with a lone surrogate has no UTF-8 form: count its code points.
    s.to_str()
        .map(|t| t.len() as u64)
        .unwrap_or_else(|_| s.len().unwrap_or(0) as u64)
}

impl<'py> Walk for PyWalk<'py> {
    type Node = Bound<'py, PyAny>;

    fn shape(&mut self, v: &Bound<'py, PyAny>) -> flightcache::Result<Shape> {
        Ok(if let Ok(s) = v.cast::<PyString>() {
            Shape::Str(utf8_len(s))
        } else if let Ok(b) = v.cast::<PyBytes>() {
            Shape::Bytes(b.as_bytes().len() as u64)
        } else if v.is_none()
            || v.is_instance_of::<PyInt>()
            || v.is_instance_of::<PyFloat>()
            || v.is_instance_of::<PyBool>()
        {
            Shape::Scalar
        } else if let Ok(b) = v.cast::<PyByteArray>() {
            Shape::Bytes(b.len() as u64)
        } else if v.is_instance_of::<PyMemoryView>() {
            Shape::Bytes(
                v.getattr("nbytes")
                    .and_then(|n| n.extract::<u64>())
                    .unwrap_or(0),
            )
        } else if let Ok(l) = v.cast::<PyList>() {
            Shape::List(l.len())
        } else if let Ok(t) = v.cast::<PyTuple>() {
            Shape::List(t.len())
        } else if let Ok(s) = v.cast::<PySet>() {
            Shape::List(s.len())
        } else if let Ok(s) = v.cast::<PyFrozenSet>() {
            Shape::List(s.len())
        } else if let Ok(d) = v.cast::<PyDict>() {
            Shape::Map(d.len())
        } else if let Ok(d) = v
            .getattr("__dict__")
            .and_then(|d| Ok(d.cast_into::<PyDict>()?))
        {
            // A class instance counts its fields.
            Shape::Map(d.len())
        } else {
            Shape::Opaque
        })
    }

    fn items(
        &mut self,
        v: &Bound<'py, PyAny>,
        limit: usize,
    ) -> flightcache::Result<Vec<(u64, Bound<'py, PyAny>)>> {
        let seq = |it: &mut dyn Iterator<Item = Bound<'py, PyAny>>| {
            it.take(limit).map(|x| (0, x)).collect::<Vec<_>>()
        };
        let map = |d: &Bound<'py, PyDict>| {
            d.iter()
                .take(limit)
                .map(|(k, x)| {
                    let kb = match k.cast::<PyString>() {
                        Ok(s) => utf8_len(s),
                        Err(_) => size::SCALAR_SIZE,
                    };
                    (kb, x)
                })
                .collect::<Vec<_>>()
        };
        Ok(if let Ok(l) = v.cast::<PyList>() {
            seq(&mut l.iter())
        } else if let Ok(t) = v.cast::<PyTuple>() {
            seq(&mut t.iter())
        } else if let Ok(s) = v.cast::<PySet>() {
            seq(&mut s.iter())
        } else if let Ok(s) = v.cast::<PyFrozenSet>() {
            seq(&mut s.iter())
        } else if let Ok(d) = v.cast::<PyDict>() {
            map(d)
        } else if let Ok(d) = v
            .getattr("__dict__")
            .and_then(|d| Ok(d.cast_into::<PyDict>()?))
        {
            map(&d)
        } else {
            Vec::new()
        })
    }
}

/// The bytes a Python value counts for (the core's rule, with the cache's `size_of`).
pub fn measure(
    v: &Bound<'_, PyAny>,
    size_of: Option<&Bound<'_, PyAny>>,
) -> flightcache::Result<u64> {
    let mut w = PyWalk(std::marker::PhantomData);
    match size_of {
        None => size::measure(&mut w, v, None),
        Some(f) => {
            let mut ask = |x: &Bound<'_, PyAny>| -> flightcache::Result<f64> {
                let r = f.call1((x,)).map_err(user_error)?;
                number(&r, "the size returned by size_of")
            };
            size::measure(&mut w, v, Some(&mut ask))
        }
    }
}

impl Host<PyVal> for PyHost<'_, '_> {
    fn size_of(&mut self, value: &PyVal) -> flightcache::Result<u64> {
        measure(value.0.bind(self.py), self.size_of)
    }

    fn ttl_of(&mut self, value: &PyVal) -> flightcache::Result<Option<f64>> {
        let Some(f) = self.ttl_of else {
            return Ok(None);
        };
        let r = f.call1((value.0.bind(self.py),)).map_err(user_error)?;
        if r.is_none() {
            return Ok(None);
        }
        millis("the ttl function's result", &r)
            .map(Some)
            .map_err(user_error)
    }

    fn export(&mut self, value: &PyVal) -> flightcache::Result<Value> {
        to_value(value.0.bind(self.py))
    }

    fn import(&mut self, value: Value) -> flightcache::Result<PyVal> {
        from_value(self.py, value)
            .map(PyVal::new)
            .map_err(user_error)
    }

    fn as_integer(&mut self, value: &PyVal) -> Option<i64> {
        let v = value.0.bind(self.py);
        if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
            return None;
        }
        v.extract::<i64>().ok()
    }

    fn integer(&mut self, n: i64) -> flightcache::Result<PyVal> {
        let o = n.into_pyobject(self.py).expect("an int converts");
        Ok(PyVal::new(o.into_any().unbind()))
    }
}
