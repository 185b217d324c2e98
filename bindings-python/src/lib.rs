//! The Python binding of flightcache: `flightcache._native`, re-exported by the package.
//!
//! This crate runs Python loaders, converts values, parks and wakes Python threads and
//! event loops, and maps errors; every rule of the cache is the core's (`flightcache`).
//! Its files mirror the Node binding's: `cache` (the class), `op` (driving the core's
//! operations), `host` (measuring and converting values for the core), `value`, `wake`,
//! `errors`, `convert`, `clock`, `stats`, `stores`.

use pyo3::prelude::*;

mod cache;
mod clock;
mod convert;
mod entry;
mod errors;
mod host;
mod http;
mod op;
mod ready;
mod stats;
mod stores;
mod value;
mod wake;

/// The module declares that it needs the GIL: it is built for the stable ABI (abi3), which
/// free-threaded Python does not load, and it stores values as bare references whose
/// reference counts the GIL protects (see `value`).
#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<cache::Cache>()?;
    cache::install_fast_get(m.py())?;
    m.add_class::<clock::ManualClock>()?;
    m.add_class::<stats::Stats>()?;
    m.add_class::<ready::Ready>()?;
    m.add_class::<op::PyOp>()?;
    m.add_class::<entry::CacheEntry>()?;
    m.add_class::<wake::LoopWaker>()?;
    m.add_function(wrap_pyfunction!(cache::_call_key, m)?)?;
    m.add_function(wrap_pyfunction!(cache::_path_key, m)?)?;
    m.add_function(wrap_pyfunction!(cache::_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(cache::_purge_all, m)?)?;
    http::register(m)?;
    m.add("SCALAR_SIZE", flightcache::SCALAR_SIZE)?;
    m.add("DEFAULT_TTL_MS", flightcache::DEFAULT_TTL_MS)?;
    m.add("SWEEP_POLL_MS", flightcache::SWEEP_POLL_MS)?;
    Ok(())
}
