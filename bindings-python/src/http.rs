//! The core's HTTP and token rules (`flightcache::http`) for `flightcache.http` and
//! `flightcache._token`: conversions only, every decision is the core's.

use flightcache::http::{key, policy, token};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::{wrong_type, IntoPy};

type Pairs = Vec<(String, String)>;

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}

/// Header pairs from any iterable of `(name, value)` string pairs.
/// Header pairs from a list of `(name, value)` string pairs (tuples, or lists as a stored
/// response has them).
fn pairs(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Pairs> {
    let bad = |item: &Bound<'_, PyAny>| {
        wrong_type(
            v.py(),
            format!(
                "{what} must be a list of (name, value) string pairs, found {}",
                type_name(item)
            ),
        )
    };
    let mut out = Vec::new();
    for item in v.try_iter().map_err(|_| bad(v))? {
        let item = item?;
        let pair = item.extract::<(String, String)>().or_else(|_| {
            match item.extract::<Vec<String>>() {
                Ok(l) if l.len() == 2 && !item.is_instance_of::<PyString>() => {
                    let mut l = l.into_iter();
                    Ok((l.next().unwrap_or_default(), l.next().unwrap_or_default()))
                }
                _ => Err(bad(&item)),
            }
        })?;
        out.push(pair);
    }
    Ok(out)
}

fn names(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if v.is_instance_of::<PyString>() {
        return Err(wrong_type(
            v.py(),
            format!("{what} must be a list of names, not a single str"),
        ));
    }
    v.extract::<Vec<String>>().map_err(|_| {
        wrong_type(
            v.py(),
            format!("{what} must be a list of str, not {}", type_name(v)),
        )
    })
}

/// An optional number option: `None` is the default; a bool or a non-number is a TypeError.
fn number(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<f64>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if v.is_instance_of::<PyBool>()
        || !(v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>())
    {
        return Err(wrong_type(
            v.py(),
            format!("{what} must be a number, not {}", type_name(v)),
        ));
    }
    v.extract::<f64>().map(Some)
}

/// The options of one HTTP helper, checked once by the core.
#[pyclass(frozen, module = "flightcache", name = "_HttpPolicy")]
pub struct HttpPolicy(policy::Options);

#[pymethods]
impl HttpPolicy {
    /// `(origin, path, key, max_age_ms or None)` where the request's response is kept, or
    /// the reason (str) it bypasses the cache.
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        url: &str,
        headers: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let headers = pairs(headers, "headers")?;
        Ok(
            match policy::request(&self.0, method, url, &headers).py_err(py)? {
                policy::Request::Bypass { reason } => reason.into_pyobject(py)?.into_any(),
                policy::Request::Cache { key, max_age } => (key.origin, key.path, key.key, max_age)
                    .into_pyobject(py)?
                    .into_any(),
            },
        )
    }

    /// `(ttl_ms, vary, stored_headers, reason)`: ttl 0 means not stored; `vary` is None or
    /// the sorted names of the request headers the response varies on.
    fn response<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        status: u16,
        headers: &Bound<'py, PyAny>,
        body_len: u64,
        now_ms: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let headers = pairs(headers, "headers")?;
        let d = policy::response(&self.0, method, status, &headers, body_len, now_ms);
        let vary = match d.vary {
            key::Vary::Headers(names) => Some(names),
            key::Vary::All | key::Vary::Nothing => None,
        };
        (d.ttl, vary, policy::stored_headers(&headers), d.reason).into_pyobject(py)
    }

    #[getter]
    fn max_value_bytes(&self) -> u64 {
        self.0.max_value_bytes
    }
}

#[pyfunction]
#[pyo3(signature = (ttl=None, max_ttl=None, respect_cache_control=None, max_key_bytes=None, max_value_bytes=None, key_params=None))]
fn _http_policy(
    py: Python<'_>,
    ttl: Option<&Bound<'_, PyAny>>,
    max_ttl: Option<&Bound<'_, PyAny>>,
    respect_cache_control: Option<&Bound<'_, PyAny>>,
    max_key_bytes: Option<&Bound<'_, PyAny>>,
    max_value_bytes: Option<&Bound<'_, PyAny>>,
    key_params: Option<&Bound<'_, PyAny>>,
) -> PyResult<HttpPolicy> {
    let respect = match respect_cache_control.filter(|v| !v.is_none()) {
        None => None,
        Some(v) if v.is_instance_of::<PyBool>() => Some(v.extract::<bool>()?),
        Some(v) => {
            return Err(wrong_type(
                py,
                format!("respect_cache_control must be a bool, not {}", type_name(v)),
            ))
        }
    };
    let key_params = key_params
        .filter(|v| !v.is_none())
        .map(|v| names(v, "key_params"))
        .transpose()?;
    policy::Options::new(
        policy::Naming::Snake,
        number(ttl, "ttl")?,
        number(max_ttl, "max_ttl")?,
        respect,
        number(max_key_bytes, "max_key_bytes")?,
        number(max_value_bytes, "max_value_bytes")?,
        key_params,
    )
    .map(HttpPolicy)
    .py_err(py)
}

/// The key of the variant a request selects, for a response varying on `names`.
#[pyfunction]
fn _http_variant(base: &str, names: Vec<String>, headers: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(key::variant_key(base, &names, &pairs(headers, "headers")?))
}

/// The request's values of the headers `names`, as a stored response records them.
#[pyfunction]
fn _http_varied<'py>(
    py: Python<'py>,
    names: Vec<String>,
    headers: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let v = key::varied_values(&names, &pairs(headers, "headers")?);
    PyList::new(py, v.into_iter().map(|(n, v)| [Some(n), v]))
}

/// Whether a request may take a response recorded with `recorded` (its varied values).
#[pyfunction]
fn _http_vary_matches(recorded: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<bool> {
    let bad = || {
        wrong_type(
            recorded.py(),
            format!(
                "a stored response's vary must be a list of [name, value or None], not {}",
                type_name(recorded)
            ),
        )
    };
    let mut pairs_: Vec<(String, Option<String>)> = Vec::new();
    for item in recorded.try_iter().map_err(|_| bad())? {
        let item = item?;
        let pair: (String, Option<String>) =
            item.extract()
                .or_else(|_| match item.extract::<Vec<Option<String>>>() {
                    Ok(l) if l.len() == 2 => {
                        let mut l = l.into_iter();
                        Ok((l.next().flatten().unwrap_or_default(), l.next().flatten()))
                    }
                    _ => Err(bad()),
                })?;
        pairs_.push(pair);
    }
    Ok(key::vary_matches(&pairs_, &pairs(headers, "headers")?))
}

#[pyfunction]
fn _http_conditional(stored: &Bound<'_, PyAny>) -> PyResult<Pairs> {
    Ok(policy::conditional_headers(&pairs(stored, "headers")?))
}

#[pyfunction]
fn _http_refreshed(stored: &Bound<'_, PyAny>, not_modified: &Bound<'_, PyAny>) -> PyResult<Pairs> {
    Ok(policy::refreshed_headers(
        &pairs(stored, "headers")?,
        &pairs(not_modified, "headers")?,
    ))
}

#[pyfunction]
#[pyo3(signature = (status=None))]
fn _http_serve_stored_on(status: Option<u16>) -> bool {
    policy::serve_stored_on(status)
}

#[pyfunction]
fn _http_bearer(headers: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    Ok(policy::bearer_token(&pairs(headers, "headers")?))
}

/// `(origin, path or None)`: the namespaces to clear for `url`.
#[pyfunction]
fn _http_endpoint(py: Python<'_>, url: &str) -> PyResult<(String, Option<String>)> {
    key::endpoint(url).py_err(py)
}

/// `(token, keep_ms, lifetime_ms)` of what a token fetcher returned: a dict (an OAuth
/// token response), or a str (the token itself, a JWT).
#[pyfunction]
#[pyo3(signature = (value, now_ms, skew=None))]
fn _token_grant(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    now_ms: i64,
    skew: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, u64, u64)> {
    let skew = token::skew(number(skew, "skew")?).py_err(py)?;
    let text: String = if let Ok(s) = value.cast::<PyString>() {
        s.to_str()?.to_owned()
    } else if value.is_instance_of::<PyDict>() {
        // The core reads JSON; `default=str` keeps a datetime expires_at readable as RFC 3339.
        let json = py.import("json")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("default", py.get_type::<PyString>())?;
        json.call_method("dumps", (value,), Some(&kwargs))?
            .extract()?
    } else {
        return Err(wrong_type(
            py,
            format!(
                "the token fetcher must return a token response (dict) or a token (str), not {}",
                type_name(value)
            ),
        ));
    };
    let g = token::grant(&text, now_ms, skew).py_err(py)?;
    Ok((g.token, g.keep, g.lifetime))
}

/// Checks a token skew (ms) by the core's rule; returns it in ms.
#[pyfunction]
fn _token_skew(py: Python<'_>, skew: &Bound<'_, PyAny>) -> PyResult<u64> {
    token::skew(number(Some(skew), "skew")?).py_err(py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<HttpPolicy>()?;
    m.add_function(wrap_pyfunction!(_http_policy, m)?)?;
    m.add_function(wrap_pyfunction!(_http_variant, m)?)?;
    m.add_function(wrap_pyfunction!(_http_varied, m)?)?;
    m.add_function(wrap_pyfunction!(_http_vary_matches, m)?)?;
    m.add_function(wrap_pyfunction!(_http_conditional, m)?)?;
    m.add_function(wrap_pyfunction!(_http_refreshed, m)?)?;
    m.add_function(wrap_pyfunction!(_http_serve_stored_on, m)?)?;
    m.add_function(wrap_pyfunction!(_http_bearer, m)?)?;
    m.add_function(wrap_pyfunction!(_http_endpoint, m)?)?;
    m.add_function(wrap_pyfunction!(_token_grant, m)?)?;
    m.add_function(wrap_pyfunction!(_token_skew, m)?)?;
    Ok(())
}

/// Calls `flightcache._token.<name>(cache, *args, **kwargs)`: `Cache.token` and
/// `Cache.atoken` are written in Python, as `memoize` is.
pub fn call_token_helper<'py>(
    cache: &Bound<'py, PyAny>,
    name: &str,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = cache.py();
    let f = py.import("flightcache._token")?.getattr(name)?;
    let mut all = vec![cache.clone()];
    all.extend(args.iter());
    f.call(PyTuple::new(py, all)?, kwargs)
}
