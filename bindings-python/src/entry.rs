//! `get_entry`'s answer: the value with how it was served (the "Cached" badge).

use flightcache::EntryInfo;
use pyo3::prelude::*;

/// A value and how it was served: `status` one of "hit", "stale", "miss", "loaded",
/// "joined", "refreshing"; `source` one of "memory", "store", "loader"; `age_ms` and
/// `remaining_ttl` in milliseconds (None without a value; `remaining_ttl` is 0 for a stale
/// value and infinity for one that never expires).
#[pyclass(frozen, module = "flightcache._native", name = "CacheEntry")]
pub struct CacheEntry {
    #[pyo3(get)]
    value: Py<PyAny>,
    #[pyo3(get)]
    status: &'static str,
    #[pyo3(get)]
    source: &'static str,
    #[pyo3(get)]
    age_ms: Option<f64>,
    #[pyo3(get)]
    remaining_ttl: Option<f64>,
}

impl CacheEntry {
    pub fn new(value: Py<PyAny>, info: EntryInfo) -> Self {
        CacheEntry {
            value,
            status: info.status.name(),
            source: info.source.name(),
            age_ms: info.age_ms,
            remaining_ttl: info.remaining_ttl,
        }
    }
}

#[pymethods]
impl CacheEntry {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "CacheEntry(value={}, status={:?}, source={:?}, age_ms={:?}, remaining_ttl={:?})",
            self.value.bind(py).repr()?,
            self.status,
            self.source,
            self.age_ms,
            self.remaining_ttl
        ))
    }
}
