//! The options of one call that may load.

use crate::load::flight::FlightId;
use crate::load::policy::PolicyOptions;

/// A call's `ttl`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Ttl {
    /// The cache's default TTL.
    #[default]
    Default,
    /// Milliseconds (validated by the core: negative or NaN is an error, infinity never
    /// expires).
    Ms(f64),
    /// A function of the value: the host's `ttl_of` gives the milliseconds once the value is
    /// known (an access token's lifetime comes with it).
    FromValue,
}

impl Ttl {
    pub fn fixed(self) -> Option<f64> {
        match self {
            Ttl::Ms(ms) => Some(ms),
            _ => None,
        }
    }
}

impl From<Option<f64>> for Ttl {
    fn from(ms: Option<f64>) -> Self {
        ms.map_or(Ttl::Default, Ttl::Ms)
    }
}

impl From<f64> for Ttl {
    fn from(ms: f64) -> Self {
        Ttl::Ms(ms)
    }
}

/// Options of one `get` that may load.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions<'a> {
    /// TTL of the loaded value.
    pub ttl: Ttl,
    /// A stored value older than this (ms) counts as absent; 0 forces a new load.
    pub max_age: Option<f64>,
    /// How long to wait for another caller's load (ms); the cache's `load_timeout` when
    /// `None`.
    pub timeout: Option<f64>,
    /// Flights whose loader this call runs inside (kept by bindings for async loaders,
    /// where the thread does not tell).
    pub within: &'a [FlightId],
    /// This call's resilience policies, over the cache's.
    pub policy: PolicyOptions,
}

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        LoadOptions::NONE
    }
}

impl LoadOptions<'static> {
    /// No option: the cache's defaults. A constant, so that a hit passes a reference to it
    /// instead of building the options on each call.
    pub const NONE: LoadOptions<'static> = LoadOptions {
        ttl: Ttl::Default,
        max_age: None,
        timeout: None,
        within: &[],
        policy: PolicyOptions::NONE,
    };

    /// Options with a TTL in milliseconds and nothing else.
    pub fn ttl(ms: f64) -> Self {
        LoadOptions {
            ttl: Ttl::Ms(ms),
            ..Default::default()
        }
    }
}
