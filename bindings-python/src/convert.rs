//! Python arguments to what the core takes: keys, milliseconds, memoize arguments.
//! Only conversions live here; every rule about the values is the core's.

use flightcache::memo::Arg;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use crate::errors::wrong_type;
use crate::value::type_name;

/// A key: a `str`. Anything else is a `TypeError` that names the type.
#[inline]
pub fn key<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
    match obj.cast::<PyString>() {
        Ok(s) => s.to_str(),
        Err(_) => Err(wrong_type(
            obj.py(),
            format!("a key must be a str, not {}", type_name(obj)),
        )),
    }
}

static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn timedelta(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    TIMEDELTA.import(py, "datetime", "timedelta")
}

/// A number of milliseconds (`int`, `float`) or a `datetime.timedelta`, as the core's `f64`.
/// Only the type is checked here: the core says which values are allowed.
pub fn millis(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<f64> {
    let py = obj.py();
    if obj.is_instance_of::<PyFloat>() {
        return obj.extract::<f64>();
    }
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return Ok(obj.extract::<f64>().unwrap_or(if obj.gt(0)? {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }));
    }
    if obj.is_instance(timedelta(py)?)? {
        let secs: f64 = obj.call_method0("total_seconds")?.extract()?;
        return Ok(secs * 1000.0);
    }
    Err(wrong_type(
        py,
        format!(
            "{name} must be a number of milliseconds or a datetime.timedelta, not {}",
            type_name(obj)
        ),
    ))
}

pub fn opt_millis(name: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    match obj {
        Some(o) if !o.is_none() => millis(name, o).map(Some),
        _ => Ok(None),
    }
}

/// A call's `ttl`: the cache's default, milliseconds, or a function of the value.
pub enum Ttl<'a, 'py> {
    Default,
    Ms(f64),
    Of(&'a Bound<'py, PyAny>),
}

impl<'a, 'py> Ttl<'a, 'py> {
    pub fn parse(obj: Option<&'a Bound<'py, PyAny>>) -> PyResult<Self> {
        match obj {
            None => Ok(Ttl::Default),
            Some(o) if o.is_none() => Ok(Ttl::Default),
            Some(o) if o.is_instance_of::<PyFloat>() || o.is_instance_of::<PyInt>() => {
                millis("ttl", o).map(Ttl::Ms)
            }
            Some(o) if o.is_callable() && !o.is_instance(timedelta(o.py())?)? => Ok(Ttl::Of(o)),
            Some(o) => millis("ttl", o).map(Ttl::Ms),
        }
    }

    /// The fixed TTL to hand the core up front (a function's TTL is known only later).
    pub fn fixed(&self) -> Option<f64> {
        match self {
            Ttl::Ms(ms) => Some(*ms),
            _ => None,
        }
    }

    /// The core's options for a `get` or `aget` that may load.
    pub fn load_options(
        &self,
        max_age: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<flightcache::LoadOptions<'static>> {
        Ok(flightcache::LoadOptions {
            ttl: self.fixed(),
            max_age: opt_millis("max_age", max_age)?,
            ..Default::default()
        })
    }

    /// The TTL for `value`: the function's answer, or the fixed TTL.
    pub fn for_value(&self, value: &Bound<'py, PyAny>) -> PyResult<Option<f64>> {
        match self {
            Ttl::Of(f) => {
                let r = f.call1((value,))?;
                if r.is_none() {
                    Ok(None)
                } else {
                    millis("the ttl function's result", &r).map(Some)
                }
            }
            other => Ok(other.fixed()),
        }
    }
}

/// A memoized call's argument in the core's shared form.
pub fn arg(obj: &Bound<'_, PyAny>, depth: u32) -> PyResult<Arg> {
    let py = obj.py();
    if depth > 64 {
        return Err(crate::errors::invalid(
            py,
            "memoize: an argument nests deeper than 64 levels".into(),
        ));
    }
    if obj.is_none() {
        return Ok(Arg::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Arg::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().map(Arg::Int).map_err(|_| {
            wrong_type(
                py,
                format!(
                    "memoize: the int {obj} does not fit in 64 bits; pass key= to name the call"
                ),
            )
        });
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Arg::Float(obj.extract()?));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Arg::Str(s.to_str()?.to_owned()));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| arg(&x, depth + 1))
            .collect::<PyResult<_>>()
            .map(Arg::List);
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|x| arg(&x, depth + 1))
            .collect::<PyResult<_>>()
            .map(Arg::List);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return map(d, depth).map(Arg::Map);
    }
    Err(wrong_type(
        py,
        format!(
            "memoize: cannot make a key from a {} argument; pass key= (a function or dotted paths)",
            type_name(obj)
        ),
    ))
}

fn map(d: &Bound<'_, PyDict>, depth: u32) -> PyResult<Vec<(String, Arg)>> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let Ok(ks) = k.cast::<PyString>() else {
            return Err(wrong_type(
                d.py(),
                format!(
                    "memoize: dict keys in arguments must be str, not {}",
                    type_name(&k)
                ),
            ));
        };
        out.push((ks.to_str()?.to_owned(), arg(&v, depth + 1)?));
    }
    Ok(out)
}

/// All of a call's arguments: the positional ones, then a map of the keyword ones if any.
pub fn call_args(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<Arg>> {
    let mut out: Vec<Arg> = args.iter().map(|x| arg(&x, 0)).collect::<PyResult<_>>()?;
    if let Some(kw) = kwargs {
        if !kw.is_empty() {
            out.push(Arg::Map(map(kw, 0)?));
        }
    }
    Ok(out)
}
