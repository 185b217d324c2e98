//! What a cache is built with: [`Config`] as the host gives it (numbers as they come), read
//! once into `Settings` (validated, typed), so that no call re-reads an option.

use std::time::Duration;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::load::policy::{Policy, PolicyOptions};
use crate::memory::expiry::{parse_ttl, DEFAULT_TTL_MS};
use crate::store::url::StoreUrl;

/// How a cache is built. Every field has the SPEC's default.
#[derive(Clone, Debug)]
pub struct Config {
    /// At most this many entries in the in-process tier (default 10 000).
    pub max_entries: u64,
    /// At most this many bytes of keys plus values in the in-process tier.
    pub max_bytes: Option<u64>,
    /// A key longer than this (UTF-8 bytes) is not stored.
    pub max_key_bytes: Option<u64>,
    /// A value larger than this is not stored.
    pub max_value_bytes: Option<u64>,
    /// Default TTL in milliseconds (7 days).
    pub ttl: f64,
    /// Every TTL is capped to this many milliseconds.
    pub max_ttl: Option<f64>,
    /// Callers waiting for another caller's load give up after this many milliseconds.
    pub load_timeout: Option<f64>,
    pub clock: Clock,
    /// The shared store's URL (`None` or `"memory"`: the in-process tier alone).
    pub store: Option<String>,
    /// Longest wait for one store command, ms (default 100).
    pub store_timeout: Option<f64>,
    /// How long a loader's lease lasts without renewal, ms (default 5 000): a dead leader's
    /// load is taken over within this.
    pub lease: Option<f64>,
    /// Longest time a change made by another process may go unseen, ms (default 100).
    pub l1_staleness: Option<f64>,
    /// Bounds of a SQLite store's file.
    pub store_max_entries: Option<u64>,
    pub store_max_bytes: Option<u64>,
    /// How many independently locked parts the in-process tier has (`None`: by the number
    /// of CPUs). Each part holds an equal share of the bounds, so with more than one a
    /// cache may evict before it holds `max_entries` (when keys hash unevenly); one part
    /// makes the bounds exact. A cache made by `Cache::new_serialized` (the Python and Node
    /// packages: their callers do not run in parallel anyway) has one part and no lock.
    pub shards: Option<usize>,
    /// The resilience policies every load of this cache follows (each call may override).
    pub policy: PolicyOptions,
    /// Copy semantics: the in-process tier keeps its own copy of every value, made through
    /// the wire format a store uses, and each read hands out a new copy, so that changing
    /// a value after `set`, or one a `get` returned, never changes the cache. A value the
    /// format cannot hold is refused by `set` (and a loaded one is returned, not kept).
    /// Default false: values are kept by reference (a hit returns the very object).
    pub copy: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_entries: 10_000,
            max_bytes: None,
            max_key_bytes: None,
            max_value_bytes: None,
            ttl: DEFAULT_TTL_MS as f64,
            max_ttl: None,
            load_timeout: None,
            clock: Clock::default(),
            store: None,
            store_timeout: None,
            lease: None,
            l1_staleness: None,
            store_max_entries: None,
            store_max_bytes: None,
            shards: None,
            policy: PolicyOptions::default(),
            copy: false,
        }
    }
}

pub const DEFAULT_STORE_TIMEOUT_MS: u64 = 100;
pub const DEFAULT_LEASE_MS: u64 = 5_000;
pub const DEFAULT_L1_STALENESS_MS: u64 = 100;

/// The options of a store, validated.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub url: StoreUrl,
    /// The cache's clock: a store reclaims expired entries by the cache's time (a
    /// `ManualClock` in tests), never by its own.
    pub clock: Clock,
    pub timeout: Duration,
    pub lease_ms: u64,
    pub l1_staleness_ms: u64,
    pub max_entries: Option<u64>,
    pub max_bytes: Option<u64>,
}

/// A [`Config`], validated.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub max_entries: u64,
    pub max_bytes: Option<u64>,
    pub max_key_bytes: Option<u64>,
    pub max_value_bytes: Option<u64>,
    pub ttl: u64,
    pub max_ttl: Option<u64>,
    pub load_timeout: Option<Duration>,
    pub clock: Clock,
    pub store: Option<StoreSettings>,
    pub shards: Option<usize>,
    pub policy: Policy,
    pub copy: bool,
}

fn ms(name: &str, v: Option<f64>, default: u64) -> Result<u64> {
    v.map_or(Ok(default), |m| parse_ttl(name, m))
}

fn positive(name: &str, v: u64) -> Result<u64> {
    if v == 0 {
        return Err(Error::invalid(format!("{name} must be at least 1, got 0")));
    }
    Ok(v)
}

impl Settings {
    pub fn new(c: &Config) -> Result<Settings> {
        let url = StoreUrl::parse(c.store.as_deref())?;
        let store = match url {
            StoreUrl::InProcess => None,
            url => Some(StoreSettings {
                url,
                clock: c.clock.clone(),
                timeout: Duration::from_millis(positive(
                    "store_timeout",
                    ms("store_timeout", c.store_timeout, DEFAULT_STORE_TIMEOUT_MS)?,
                )?),
                lease_ms: positive("lease", ms("lease", c.lease, DEFAULT_LEASE_MS)?)?,
                l1_staleness_ms: ms("l1_staleness", c.l1_staleness, DEFAULT_L1_STALENESS_MS)?,
                max_entries: c
                    .store_max_entries
                    .map(|n| positive("store_max_entries", n))
                    .transpose()?,
                max_bytes: c
                    .store_max_bytes
                    .map(|n| positive("store_max_bytes", n))
                    .transpose()?,
            }),
        };
        Ok(Settings {
            max_entries: c.max_entries,
            max_bytes: c.max_bytes,
            max_key_bytes: c.max_key_bytes,
            max_value_bytes: c.max_value_bytes,
            ttl: parse_ttl("ttl", c.ttl)?,
            max_ttl: c.max_ttl.map(|m| parse_ttl("max_ttl", m)).transpose()?,
            load_timeout: c
                .load_timeout
                .map(|m| parse_ttl("load_timeout", m))
                .transpose()?
                .map(Duration::from_millis),
            clock: c.clock.clone(),
            store,
            shards: c.shards,
            policy: Policy::default().with(&c.policy)?,
            copy: c.copy,
        })
    }
}
