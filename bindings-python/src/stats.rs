//! `flightcache.Stats`: a snapshot of the core's counters.

use pyo3::prelude::*;
use pyo3::types::PyDict;

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
    pub store_hits: u64,
    pub store_misses: u64,
    pub store_errors: u64,
    pub remote_loads_joined: u64,
    pub stale_hits: u64,
    pub refreshes: u64,
    pub refresh_errors: u64,
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
            store_hits: s.store_hits,
            store_misses: s.store_misses,
            store_errors: s.store_errors,
            remote_loads_joined: s.remote_loads_joined,
            stale_hits: s.stale_hits,
            refreshes: s.refreshes,
            refresh_errors: s.refresh_errors,
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

    fn __getitem__(&self, name: &str) -> PyResult<u64> {
        self.fields()
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name.to_string()))
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
    fn fields(&self) -> [(&'static str, u64); 16] {
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
            ("store_hits", self.store_hits),
            ("store_misses", self.store_misses),
            ("store_errors", self.store_errors),
            ("remote_loads_joined", self.remote_loads_joined),
            ("stale_hits", self.stale_hits),
            ("refreshes", self.refreshes),
            ("refresh_errors", self.refresh_errors),
        ]
    }
}
