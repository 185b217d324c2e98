//! The one place where the core's errors become Python exceptions.
//!
//! The classes live in `flightcache/exceptions.py`; each core error kind maps to one of them.
//! A loader's own exception is carried through the core inside a `LoaderError` and comes back
//! out here unchanged: every caller of a flight raises the very same exception object.

use flightcache::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

struct Classes {
    invalid_argument: Py<PyType>,
    wrong_type: Py<PyType>,
    timeout: Py<PyType>,
    reentrant: Py<PyType>,
    loader_error: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> &Classes {
    CLASSES.get_or_init(py, || {
        let m = py
            .import("flightcache.exceptions")
            .expect("flightcache.exceptions is importable");
        let get = |name: &str| -> Py<PyType> {
            m.getattr(name)
                .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from))
                .unwrap_or_else(|e| panic!("flightcache.exceptions.{name}: {e}"))
                .unbind()
        };
        Classes {
            invalid_argument: get("InvalidArgumentError"),
            wrong_type: get("WrongTypeError"),
            timeout: get("LoadTimeoutError"),
            reentrant: get("ReentrantLoadError"),
            loader_error: get("LoaderError"),
        }
    })
}

fn make(py: Python<'_>, class: &Py<PyType>, message: String) -> PyErr {
    match class.bind(py).call1((message,)) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// The Python exception for a core error.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    if let Error::Loader(le) = &e {
        if let Some(original) = le.downcast_ref::<PyErr>() {
            return original.clone_ref(py);
        }
    }
    let c = classes(py);
    let class = match e.kind() {
        "invalid_argument" => &c.invalid_argument,
        "wrong_type" => &c.wrong_type,
        "timeout" => &c.timeout,
        "reentrant" => &c.reentrant,
        _ => &c.loader_error,
    };
    make(py, class, e.to_string())
}

/// A `TypeError` (also a `FlightcacheError`) raised by the binding's own conversions.
pub fn wrong_type(py: Python<'_>, message: String) -> PyErr {
    make(py, &classes(py).wrong_type, message)
}

/// A `ValueError` (also a `FlightcacheError`) raised by the binding's own conversions.
pub fn invalid(py: Python<'_>, message: String) -> PyErr {
    make(py, &classes(py).invalid_argument, message)
}

/// `Result<T, Error>` to `PyResult<T>`.
pub trait IntoPy<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    #[inline]
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
