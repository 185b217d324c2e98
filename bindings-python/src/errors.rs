//! The one place where the core's errors become Python exceptions: one `match` over
//! [`ErrorKind`], with no wildcard arm, so a new kind does not build until it is mapped.
//!
//! The classes live in `flightcache/exceptions.py`. A loader's own exception is carried
//! through the core inside a `LoaderError` and comes back out unchanged: every caller of a
//! flight raises the very same exception object. A failure that came from a loader in
//! another process is a `flightcache.LoaderError` carrying its type name and message.

use flightcache::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

struct Classes {
    invalid_argument: Py<PyType>,
    wrong_type: Py<PyType>,
    timeout: Py<PyType>,
    reentrant: Py<PyType>,
    loader_error: Py<PyType>,
    not_found: Py<PyType>,
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
            not_found: get("KeyNotFoundError"),
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
    let c = classes(py);
    let class = match e.kind() {
        ErrorKind::InvalidArgument => &c.invalid_argument,
        ErrorKind::WrongType => &c.wrong_type,
        ErrorKind::Timeout => &c.timeout,
        ErrorKind::Reentrant => &c.reentrant,
        ErrorKind::LoaderFailed => {
            let Error::Loader(le) = &e else {
                unreachable!("LoaderFailed is Error::Loader")
            };
            if let Some(original) = le.downcast_ref::<PyErr>() {
                return original.clone_ref(py);
            }
            if let Some(remote) = le.as_remote() {
                let err = make(py, &c.loader_error, e.to_string());
                let v = err.value(py);
                let _ = v.setattr("type_name", &remote.type_name);
                let _ = v.setattr("remote_message", &remote.message);
                return err;
            }
            &c.loader_error
        }
        ErrorKind::LoaderAborted => &c.loader_error,
        ErrorKind::NotFound => &c.not_found,
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
