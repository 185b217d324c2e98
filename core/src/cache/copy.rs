//! Copy semantics, the `copy` option ([`crate::Config::copy`]): the in-process tier keeps
//! its own copy of every value, made through the wire format a store uses (the host's
//! `export`, [`codec::encode`], [`codec::decode`], the host's `import`: the very path of a
//! store write and a store read), and every read hands its caller a new copy. A value
//! changed after `set`, or one a `get` returned, never changes the cache, as with Django's
//! and cachelib's pickling in-memory caches, and as a store behaves anyway. Off by default:
//! values are kept by reference and a hit returns the very object.
//!
//! The rule lives here; a binding only converts values (its [`Host`]) and passes every value
//! it hands to its caller through [`Cache::hand_out`].

use super::Cache;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::value::codec;

impl<V: Clone + 'static> Cache<V> {
    /// Whether this cache keeps copies (the `copy` option).
    #[inline]
    pub fn copies(&self) -> bool {
        self.inner.settings.copy
    }

    /// The value a read gives its caller: the value itself by default; with copy semantics
    /// a new copy, decoded from the value's wire format, so that what the caller does with
    /// it stays its own. A value outside the wire format is one the cache never kept (a
    /// loader's result, returned to the callers of its load only), and is handed out as
    /// it is.
    #[inline]
    pub fn hand_out(&self, value: V, host: &mut dyn Host<V>) -> Result<V> {
        if !self.inner.settings.copy {
            return Ok(value);
        }
        match host.export(&value) {
            Ok(shared) => decoded(&codec::encode(&shared), host),
            Err(_) => Ok(value),
        }
    }

    /// With copy semantics (the caller checks [`Cache::copies`] first, keeping this off the
    /// write path of a cache without them), the cache's own copy of a value about to be
    /// written: decoded from `encoded` (the bytes already made for the store) or from a new
    /// encoding. A value the wire format cannot hold is a `wrong_type` error naming what
    /// was wrong; the caller has changed nothing yet.
    #[cold]
    pub(crate) fn own_copy(
        &self,
        value: &V,
        encoded: Option<&[u8]>,
        host: &mut dyn Host<V>,
    ) -> Result<V> {
        let fresh;
        let bytes = match encoded {
            Some(b) => b,
            None => {
                fresh = codec::encode(&host.export(value).map_err(explained)?);
                &fresh
            }
        };
        decoded(bytes, host)
    }
}

fn decoded<V>(bytes: &[u8], host: &mut dyn Host<V>) -> Result<V> {
    let shared = codec::decode(bytes).map_err(|e| {
        Error::InvalidArgument(format!(
            "a copied value did not decode ({e}); nothing was stored"
        ))
    })?;
    host.import(shared)
}

/// The host's error for a value outside the wire format, saying why the format matters
/// without a store.
fn explained(e: Error) -> Error {
    const SHARED: &str = "cannot be shared through a store";
    match e {
        Error::WrongType(m) if m.contains(SHARED) => Error::WrongType(m.replacen(
            SHARED,
            "cannot be kept by a cache with the copy option (it keeps every value in the wire \
             format a store uses)",
            1,
        )),
        Error::WrongType(m) => Error::WrongType(format!(
            "{m} (this cache has the copy option: it keeps every value in the wire format)"
        )),
        other => other,
    }
}
