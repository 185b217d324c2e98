//! `flightcache.ManualClock`: a clock for tests.

use pyo3::prelude::*;

use crate::convert::millis;
use crate::errors::IntoPy;

/// A clock that moves only when told to, for tests: `Cache(clock=ManualClock())`.
#[pyclass(frozen, module = "flightcache")]
pub struct ManualClock {
    pub clock: flightcache::ManualClock,
}

#[pymethods]
impl ManualClock {
    #[new]
    fn new() -> Self {
        ManualClock {
            clock: flightcache::ManualClock::new(),
        }
    }

    /// Moves the clock forward by `ms` milliseconds (a number or a `datetime.timedelta`).
    fn advance(&self, ms: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = ms.py();
        let ms = flightcache::parse_ttl("ms", millis("ms", ms)?).py_err(py)?;
        self.clock.advance(ms);
        Ok(())
    }

    /// Milliseconds since the clock was made.
    #[getter]
    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn __repr__(&self) -> String {
        format!("ManualClock(now={})", self.clock.now_ms())
    }
}
