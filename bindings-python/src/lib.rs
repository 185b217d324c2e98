//! The Python binding of flightcache: `flightcache._native`, re-exported by the package.
//!
//! This crate converts values, handles the interpreter lock and maps errors; every rule of
//! the cache is the core's (`flightcache`).

use pyo3::prelude::*;

mod cache;
mod convert;
mod errors;
mod handles;
mod http;
mod value;

/// The module declares that it needs the GIL: it is built for the stable ABI (abi3), which
/// free-threaded Python does not load, and it stores values as bare references whose
/// reference counts the GIL protects (see `value`).
#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<cache::Cache>()?;
    m.add_class::<handles::ManualClock>()?;
    m.add_class::<handles::Stats>()?;
    m.add_class::<handles::Ready>()?;
    m.add_class::<handles::Lead>()?;
    m.add_class::<handles::WaiterHandle>()?;
    m.add_function(wrap_pyfunction!(cache::_call_key, m)?)?;
    m.add_function(wrap_pyfunction!(cache::_path_key, m)?)?;
    http::register(m)?;
    m.add("SCALAR_SIZE", flightcache::SCALAR_SIZE)?;
    m.add("DEFAULT_TTL_MS", flightcache::DEFAULT_TTL_MS)?;
    Ok(())
}
