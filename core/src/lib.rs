//! flightcache: a bounded TTL cache with single-flight loading, made for integration
//! handlers that cache tokens and API responses. This crate holds every rule of the cache;
//! the Python and Node packages only convert values and map errors.
//!
//! - [`Cache`]: the cache (`get`, `set`, `del`, `begin_load`/`get_or_load`, `incr`, ...).
//! - [`Config`]: bounds (`max_entries`, `max_bytes`, per-entry limits), TTLs, load timeout,
//!   clock.
//! - [`Error`]: the one error type; [`Error::kind`] names it across languages.
//!
//! ```
//! use flightcache::{Cache, Config, LoadOptions};
//! let cache: Cache<String> = Cache::new(Config::default()).unwrap();
//! let token = cache
//!     .get_or_load("token", &LoadOptions { ttl: Some(60_000.0), ..Default::default() }, || {
//!         Ok("secret".to_string())
//!     })
//!     .unwrap();
//! assert_eq!(token, "secret");
//! assert_eq!(cache.get("token").as_deref(), Some("secret"));
//! ```

pub mod args;
mod bounds;
mod cache;
mod clock;
mod entry;
mod error;
mod expiry;
mod flight;
pub mod http;
pub mod memo;
mod stats;

pub use cache::{Cache, Config, LoadGuard, LoadOptions, Lookup};
pub use clock::{Clock, ManualClock};
pub use entry::{Counter, EntrySize, SCALAR_SIZE};
pub use error::{Error, LoaderError, Result};
pub use expiry::{parse_ttl, DEFAULT_TTL_MS, NEVER};
pub use flight::{FlightId, Waiter};
pub use stats::Stats;
