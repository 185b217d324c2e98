//! flightcache: a bounded TTL cache with single-flight loading, made for integration
//! handlers that cache tokens and API responses, in one process or, with a shared store,
//! across processes and machines. This crate holds every rule of the cache; the Python and
//! Node packages run their loaders, convert values, park and wake their threads or event
//! loops, and map errors.
//!
//! # Layout
//!
//! - [`cache`]: the facade, [`Cache`]: every operation, over the tiers below.
//! - `memory` (private): the in-process tier: quick_cache, deadlines,
//!   bounds, the expiry sweep, invalidations from other processes.
//! - [`load`]: the load protocol as a state machine ([`Op`]) every language drives, and
//!   the flights (single-flight in this process).
//! - [`store`]: the [`Store`] trait every shared store implements (bytes in, bytes out),
//!   the in-memory store tests use, the store runtime, and the layer that adds timeouts and
//!   a circuit breaker ([`register_store`] makes a store crate's kind available).
//! - [`value`]: the values that cross languages and processes ([`Value`]), their
//!   canonical encoding, the envelope a store holds, and the size rule.
//! - [`host`]: what the core asks of a language ([`Host`]), and the rule below.
//! - [`settings`], [`clock`], [`error`], [`stats`], [`memo`], [`args`], [`pending`].
//!
//! # The host-thread rule
//!
//! **Only host threads touch host values; any other thread carries bytes.** A Python
//! object or a JS reference is cloned, measured, converted and dropped only on a thread of
//! its host (the caller's thread, inside [`Op::step`] and the other calls). Store I/O runs
//! on the store runtime's threads with keys and encoded bytes, and wakes hosts through
//! [`std::task::Waker`]s, which carry no host value. The types enforce it: store tasks
//! must be `Send + 'static` and are built from bytes; a host value is reached only through
//! a `&mut dyn Host<V>` lent for one call on the host's thread.
//!
//! ```
//! use flightcache::{Cache, Config, LoadOptions};
//! let cache: Cache<String> = Cache::new(Config::default()).unwrap();
//! let token = cache
//!     .get_or_load("token", &LoadOptions::ttl(60_000.0), || Ok("secret".to_string()))
//!     .unwrap();
//! assert_eq!(token, "secret");
//! assert_eq!(cache.get("token").as_deref(), Some("secret"));
//! ```

pub mod args;
pub mod cache;
pub mod clock;
pub mod error;
pub mod host;
pub mod http;
pub mod load;
pub mod memo;
mod memory;
pub mod pending;
pub mod settings;
pub mod stats;
pub mod store;
pub mod value;

pub use cache::{Cache, Lookup, WeakCache, Written};
pub use clock::{Clock, ManualClock};
pub use error::{Error, ErrorKind, ErrorStatus, LoaderError, RemoteFailure, Result};
pub use host::{Cacheable, Host, Plain};
pub use load::driver::{Answer, EntryInfo, Op, Served, Source, Status, Step};
pub use load::flight::{after_fork_in_child, run_as_leader, FlightId};
pub use load::options::{LoadOptions, Ttl};
pub use load::policy::PolicyOptions;
pub use memory::expiry::{parse_ttl, DEFAULT_TTL_MS, NEVER, SWEEP_POLL_MS};
pub use memory::mirror::MirrorBlock;
pub use pending::{Parker, Pending};
pub use settings::Config;
pub use stats::Stats;
pub use store::tier::register_store;
pub use store::{Store, StoreError, StoreErrorKind};
pub use value::size::SCALAR_SIZE;
pub use value::Value;
