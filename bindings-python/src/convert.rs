//! Python arguments to what the core takes: keys, milliseconds, memoize arguments.
//! Only conversions live here; every rule about the values is the core's.

use flightcache::{ErrorKind, FlightId, LoadOptions, PolicyOptions, Ttl, Value};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString, PyTuple, PyType};

use crate::errors::{to_py, wrong_type};
use crate::value::{to_value, type_name};

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

/// The resilience policies given as keyword arguments (of the constructor, or of a
/// call): milliseconds (or `timedelta`s), and `refresh_ahead` a fraction of the TTL. The
/// core checks the values; a name it does not know is a TypeError naming it.
/// A call's resilience options, given as keyword arguments (None: the cache's).
pub fn policy_args(
    stale_ttl: Option<&Bound<'_, PyAny>>,
    stale_if_error: Option<&Bound<'_, PyAny>>,
    soft_timeout: Option<&Bound<'_, PyAny>>,
    hard_timeout: Option<&Bound<'_, PyAny>>,
    refresh_ahead: Option<&Bound<'_, PyAny>>,
    fail_safe_backoff: Option<&Bound<'_, PyAny>>,
) -> PyResult<PolicyOptions> {
    if stale_ttl.is_none()
        && stale_if_error.is_none()
        && soft_timeout.is_none()
        && hard_timeout.is_none()
        && refresh_ahead.is_none()
        && fail_safe_backoff.is_none()
    {
        return Ok(PolicyOptions::default());
    }
    let refresh_ahead = match refresh_ahead.filter(|v| !v.is_none()) {
        None => None,
        Some(v) if v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>() => {
            Some(v.extract::<f64>()?)
        }
        Some(v) => {
            return Err(crate::errors::wrong_type(
                v.py(),
                format!(
                    "refresh_ahead must be a fraction of the TTL (a number), not {}",
                    crate::value::type_name(v)
                ),
            ))
        }
    };
    Ok(PolicyOptions {
        stale_ttl: opt_millis("stale_ttl", stale_ttl)?,
        stale_if_error: opt_millis("stale_if_error", stale_if_error)?,
        soft_timeout: opt_millis("soft_timeout", soft_timeout)?,
        hard_timeout: opt_millis("hard_timeout", hard_timeout)?,
        refresh_ahead,
        fail_safe_backoff: opt_millis("fail_safe_backoff", fail_safe_backoff)?,
    })
}

pub fn policy_options(
    what: &str,
    kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
) -> PyResult<PolicyOptions> {
    let Some(kw) = kwargs else {
        return Ok(PolicyOptions::default());
    };
    const NAMES: [&str; 6] = PolicyOptions::NAMES;
    for k in kw.keys() {
        let name: String = k.extract()?;
        if !NAMES.contains(&name.as_str()) {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{what} got an unexpected keyword argument '{name}'"
            )));
        }
    }
    let [a, b, c, d, e, f] = NAMES.map(|n| kw.get_item(n).ok().flatten());
    policy_args(
        a.as_ref(),
        b.as_ref(),
        c.as_ref(),
        d.as_ref(),
        e.as_ref(),
        f.as_ref(),
    )
}

/// A call's `ttl`: the core's [`Ttl`], and the function when it is one of the value.
pub struct TtlArg<'a, 'py> {
    pub ttl: Ttl,
    pub function: Option<&'a Bound<'py, PyAny>>,
}

impl<'a, 'py> TtlArg<'a, 'py> {
    pub fn parse(obj: Option<&'a Bound<'py, PyAny>>) -> PyResult<Self> {
        let plain = |ttl| TtlArg {
            ttl,
            function: None,
        };
        match obj {
            None => Ok(plain(Ttl::Default)),
            Some(o) if o.is_none() => Ok(plain(Ttl::Default)),
            Some(o) if o.is_instance_of::<PyFloat>() || o.is_instance_of::<PyInt>() => {
                millis("ttl", o).map(|ms| plain(Ttl::Ms(ms)))
            }
            Some(o) if o.is_callable() && !o.is_instance(timedelta(o.py())?)? => Ok(TtlArg {
                ttl: Ttl::FromValue,
                function: Some(o),
            }),
            Some(o) => millis("ttl", o).map(|ms| plain(Ttl::Ms(ms))),
        }
    }

    /// The core's options for a `get` or `aget` that may load.
    pub fn load_options(
        &self,
        max_age: Option<&Bound<'_, PyAny>>,
        within: &'a [FlightId],
        policy: PolicyOptions,
    ) -> PyResult<LoadOptions<'a>> {
        Ok(LoadOptions {
            ttl: self.ttl,
            max_age: opt_millis("max_age", max_age)?,
            within,
            policy,
            ..Default::default()
        })
    }
}

/// A memoized call's argument in the core's shared form.
pub fn arg(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_value(obj).map_err(|e| {
        let py = obj.py();
        match e.kind() {
            ErrorKind::WrongType => wrong_type(
                py,
                format!(
                    "memoize: cannot make a key from a {} argument; pass key= (a function or \
                     dotted paths)",
                    type_name(obj)
                ),
            ),
            _ => to_py(py, e),
        }
    })
}

/// All of a call's arguments: the positional ones, then a map of the keyword ones if any.
pub fn call_args(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<Value>> {
    let mut out: Vec<Value> = args.iter().map(|x| arg(&x)).collect::<PyResult<_>>()?;
    if let Some(kw) = kwargs {
        if !kw.is_empty() {
            out.push(arg(kw.as_any())?);
        }
    }
    Ok(out)
}
