//! The crate's one error type. Each binding maps it once, by [`Error::kind`].

use std::fmt;
use std::sync::Arc;

/// What a loader failed with, shared unchanged by every caller of its flight.
///
/// Bindings put their host's exception in here (a Python exception, a reference to a JS
/// error) and take it back out with [`LoaderError::downcast_ref`].
#[derive(Clone)]
pub struct LoaderError(Arc<dyn std::error::Error + Send + Sync>);

impl LoaderError {
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        LoaderError(Arc::from(error.into()))
    }

    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
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

/// Everything that can go wrong in a cache call.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value of the right type but outside what is allowed (a negative TTL, a zero bound).
    #[error("{0}")]
    InvalidArgument(String),
    /// A value of the wrong type (a key that is not a string, `incr` on a non-integer).
    #[error("{0}")]
    WrongType(String),
    /// A caller waited longer than the load timeout for another caller's load.
    #[error("timed out after {ms} ms waiting for the load of key {key:?}")]
    Timeout { key: String, ms: u64 },
    /// A loader asked the cache for the key it is loading.
    #[error("the loader of key {key:?} asked for its own key; this would wait forever")]
    Reentrant { key: String },
    /// The loader failed; every caller of the flight gets this same error.
    #[error("{0}")]
    Loader(LoaderError),
    /// The loader panicked, or was dropped before it produced a result.
    #[error("the loader of key {key:?} did not finish: {message}")]
    LoaderAborted { key: String, message: String },
}

impl Error {
    /// A language-neutral name for the error, used by the conformance scenarios and by
    /// the bindings to pick their exception class or error code.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "invalid_argument",
            Error::WrongType(_) => "wrong_type",
            Error::Timeout { .. } => "timeout",
            Error::Reentrant { .. } => "reentrant",
            Error::Loader(_) | Error::LoaderAborted { .. } => "loader_error",
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
