//! The crate's one error type and its exhaustive kinds. Each binding maps [`ErrorKind`] with
//! one `match` and no wildcard arm, so a new kind does not build until every binding says
//! what it becomes.

use std::fmt;
use std::sync::Arc;

/// What a loader failed with, shared unchanged by every caller of its flight.
///
/// Bindings put their host's exception in here (a Python exception, a reference to a JS
/// error) and take it back out with [`LoaderError::downcast_ref`]. A failure that came from
/// another process through a shared store carries the error's type name and message only
/// ([`LoaderError::remote`]).
#[derive(Clone)]
pub struct LoaderError(Arc<dyn std::error::Error + Send + Sync>, Option<Arc<str>>);

impl LoaderError {
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        LoaderError(Arc::from(error.into()), None)
    }

    /// Names the error's type in the host's words (`ValueError`, `TypeError`): what other
    /// processes are told when this failure is shared through a store.
    pub fn named(mut self, type_name: impl Into<Arc<str>>) -> Self {
        self.1 = Some(type_name.into());
        self
    }

    /// The host's name for the error's type, when the binding gave one.
    pub fn type_name(&self) -> Option<&str> {
        self.1.as_deref()
    }

    /// A failure reported by a loader in another process: its type name and message.
    pub fn remote(type_name: impl Into<String>, message: impl Into<String>) -> Self {
        LoaderError::new(RemoteFailure {
            type_name: type_name.into(),
            message: message.into(),
        })
    }

    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }

    /// The failure of another process's loader, when this is one.
    pub fn as_remote(&self) -> Option<&RemoteFailure> {
        self.downcast_ref::<RemoteFailure>()
    }

    /// True when both errors are the very same loader failure (one flight).
    pub fn same_as(&self, other: &LoaderError) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for LoaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for LoaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// A loader failure that reached this process through a shared store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFailure {
    pub type_name: String,
    pub message: String,
}

impl fmt::Display for RemoteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the loader failed in another process: {}: {}",
            self.type_name, self.message
        )
    }
}

impl std::error::Error for RemoteFailure {}

/// What kind of error a call ended with: the language-neutral name of each error, which
/// the bindings turn into their exception classes and error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A value of the right type but outside what is allowed (a negative TTL, a zero bound).
    InvalidArgument,
    /// A value of the wrong type (a key that is not a string, `incr` on a non-integer, a
    /// value that cannot be shared through a store).
    WrongType,
    /// A caller waited longer than its timeout for a load.
    Timeout,
    /// A loader asked the cache for the key it is loading.
    Reentrant,
    /// The loader raised or rejected; its own error travels unchanged.
    LoaderFailed,
    /// The loader panicked, or its load was dropped before it produced a result.
    LoaderAborted,
    /// A call that requires a live value found none (`incr` with `must_exist`).
    NotFound,
}

/// Whether trying the same call again may succeed (OpenDAL's `ErrorStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStatus {
    /// The same call fails the same way until its input changes.
    Permanent,
    /// The same call may succeed later.
    Temporary,
}

impl ErrorKind {
    /// Every kind, for tables and tests that must cover them all.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::InvalidArgument,
        ErrorKind::WrongType,
        ErrorKind::Timeout,
        ErrorKind::Reentrant,
        ErrorKind::LoaderFailed,
        ErrorKind::LoaderAborted,
        ErrorKind::NotFound,
    ];

    /// The name used by the conformance scenarios and the Python `kind` attribute.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reentrant => "reentrant",
            ErrorKind::LoaderFailed | ErrorKind::LoaderAborted => "loader_error",
            ErrorKind::NotFound => "not_found",
        }
    }

    /// The stable `code` of the JS error, written here once for the Node package.
    pub fn js_code(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "ERR_FLIGHTCACHE_INVALID_ARGUMENT",
            ErrorKind::WrongType => "ERR_FLIGHTCACHE_WRONG_TYPE",
            ErrorKind::Timeout => "ERR_FLIGHTCACHE_TIMEOUT",
            ErrorKind::Reentrant => "ERR_FLIGHTCACHE_REENTRANT",
            ErrorKind::LoaderFailed => "ERR_FLIGHTCACHE_LOADER_FAILED",
            ErrorKind::LoaderAborted => "ERR_FLIGHTCACHE_LOADER_ABORTED",
            ErrorKind::NotFound => "ERR_FLIGHTCACHE_NOT_FOUND",
        }
    }

    pub fn status(self) -> ErrorStatus {
        match self {
            ErrorKind::InvalidArgument
            | ErrorKind::WrongType
            | ErrorKind::Reentrant
            | ErrorKind::NotFound => ErrorStatus::Permanent,
            ErrorKind::Timeout | ErrorKind::LoaderFailed | ErrorKind::LoaderAborted => {
                ErrorStatus::Temporary
            }
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Kinds compare with their scenario names (`e.kind() == "timeout"`), which keeps tests
/// written against the scenarios' vocabulary readable.
impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// Everything that can go wrong in a cache call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    WrongType(String),
    #[error("timed out after {ms} ms waiting for the load of key {key:?}")]
    Timeout { key: String, ms: u64 },
    #[error("the loader of key {key:?} asked for its own key; this would wait forever")]
    Reentrant { key: String },
    #[error("{0}")]
    Loader(LoaderError),
    #[error("the loader of key {key:?} did not finish: {message}")]
    LoaderAborted { key: String, message: String },
    #[error("{op}: key {key:?} has no live value")]
    NotFound { op: &'static str, key: String },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::WrongType(_) => ErrorKind::WrongType,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Reentrant { .. } => ErrorKind::Reentrant,
            Error::Loader(_) => ErrorKind::LoaderFailed,
            Error::LoaderAborted { .. } => ErrorKind::LoaderAborted,
            Error::NotFound { .. } => ErrorKind::NotFound,
        }
    }

    pub fn status(&self) -> ErrorStatus {
        self.kind().status()
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    pub(crate) fn wrong_type(msg: impl Into<String>) -> Self {
        Error::WrongType(msg.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_name_a_code_and_a_status() {
        let mut codes: Vec<_> = ErrorKind::ALL.iter().map(|k| k.js_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len(), "codes are distinct");
        assert_eq!(ErrorKind::Timeout.status(), ErrorStatus::Temporary);
        assert_eq!(ErrorKind::WrongType.status(), ErrorStatus::Permanent);
        assert!(ErrorKind::Reentrant == "reentrant");
    }

    #[test]
    fn a_remote_failure_names_its_type_and_message() {
        let e = Error::Loader(LoaderError::remote("ValueError", "boom"));
        assert_eq!(e.kind(), ErrorKind::LoaderFailed);
        let r = match &e {
            Error::Loader(l) => l.as_remote().unwrap().clone(),
            _ => unreachable!(),
        };
        assert_eq!(r.type_name, "ValueError");
        assert!(e.to_string().contains("ValueError: boom"), "{e}");
    }
}
