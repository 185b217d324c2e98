//! The two bounds (entries and bytes) folded into quick_cache's single weight, and the
//! per-entry limits that decide what is stored at all.
//!
//! quick_cache keeps one weight capacity, split evenly across its shards. With
//! `C = max_entries * max_bytes` and an entry weighing `max(max_bytes, bytes * max_entries)`,
//! a total weight of at most `C` implies both `count <= max_entries` and
//! `sum(bytes) <= max_bytes`, with integer arithmetic and no rounding.

use crate::error::{Error, Result};

/// The limits a cache is built with, already validated.
#[derive(Clone, Debug)]
pub(crate) struct Bounds {
    pub max_key_bytes: Option<u64>,
    pub max_value_bytes: Option<u64>,
    /// Weight of an entry that is small in bytes.
    per_entry: u64,
    /// Weight of one byte, after scaling when `max_entries * max_bytes` would overflow.
    per_byte: u64,
    /// Bytes are counted in units of `2^unit_shift` bytes when scaling was needed (rounded
    /// up): a power of two, so that weighing an entry takes a shift, not a division.
    unit_shift: u32,
    pub shards: usize,
    pub capacity: u64,
    /// quick_cache's share of a shard for recently admitted entries; it refuses an entry
    /// heavier than that share, so it is raised when the limits allow such entries.
    pub hot_allocation: f64,
    /// The heaviest entry a shard admits (quick_cache's `weight_target_hot`).
    admit_limit: u64,
}

/// Which limit an entry is too large for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TooLarge {
    Key,
    Value,
    Entry,
}

const MAX_SHARDS: usize = 64;
const DEFAULT_HOT_ALLOCATION: f64 = 0.97;

impl Bounds {
    pub fn new(
        max_entries: u64,
        max_bytes: Option<u64>,
        max_key_bytes: Option<u64>,
        max_value_bytes: Option<u64>,
        shards: Option<usize>,
    ) -> Result<Self> {
        if max_entries == 0 {
            return Err(Error::invalid("max_entries must be at least 1, got 0"));
        }
        if max_entries > u32::MAX as u64 {
            return Err(Error::invalid(format!(
                "max_entries must be at most {}, got {max_entries}",
                u32::MAX
            )));
        }
        if max_bytes == Some(0) {
            return Err(Error::invalid("max_bytes must be at least 1, got 0"));
        }
        // Shards let threads work in parallel, but each holds an equal share of the bounds:
        // keep at least 64 entries in each, and keep every entry the limits allow storable.
        let mut shards = match shards {
            Some(n) => n.clamp(1, MAX_SHARDS).next_power_of_two().min(MAX_SHARDS),
            None => {
                let parallelism = std::thread::available_parallelism().map_or(4, |n| n.get());
                (parallelism * 4).next_power_of_two().min(MAX_SHARDS)
            }
        };
        while shards > 1 && max_entries / (shards as u64) < 64 {
            shards /= 2;
        }
        if let Some(mb) = max_bytes {
            let largest_entry = match (max_key_bytes, max_value_bytes) {
                (Some(k), Some(v)) => k.saturating_add(v),
                // An entry may be as large as max_bytes itself: only one shard can hold it.
                _ => mb,
            };
            while shards > 1 && mb / (shards as u64) < largest_entry {
                shards /= 2;
            }
        }
        let (per_entry, per_byte, unit_shift, capacity) = match max_bytes {
            None => (1, 0, 0, max_entries),
            Some(mb) => {
                let mut unit = 1u64;
                while (mb / unit)
                    .checked_mul(max_entries)
                    .is_none_or(|c| c > u64::MAX / 4)
                {
                    unit *= 2;
                }
                let units = mb / unit;
                (
                    units,
                    max_entries,
                    unit.trailing_zeros(),
                    units * max_entries,
                )
            }
        };
        let shards_u = shards as u64;
        // quick_cache gives each shard ceil(capacity / shards); round down so the shards
        // together never hold more than the bounds allow.
        let capacity = capacity / shards_u * shards_u;
        let shard_capacity = capacity / shards_u;
        let mut bounds = Bounds {
            max_key_bytes,
            max_value_bytes,
            per_entry,
            per_byte,
            unit_shift,
            shards,
            capacity,
            hot_allocation: DEFAULT_HOT_ALLOCATION,
            admit_limit: 0,
        };
        let largest = match (max_bytes, max_key_bytes, max_value_bytes) {
            (None, _, _) => bounds.per_entry,
            (Some(_), Some(k), Some(v)) => bounds.weight(k.saturating_add(v)),
            (Some(mb), _, _) => bounds.weight(mb),
        };
        if (shard_capacity as f64 * DEFAULT_HOT_ALLOCATION) < largest as f64 {
            bounds.hot_allocation = 1.0;
        }
        // The same formula quick_cache uses for its shard's hot target.
        bounds.admit_limit = ((shard_capacity as f64 * bounds.hot_allocation) as u64)
            .clamp(shard_capacity.min(1), shard_capacity);
        Ok(bounds)
    }

    #[inline]
    pub fn weight(&self, entry_bytes: u64) -> u64 {
        if self.per_byte == 0 {
            return self.per_entry;
        }
        let s = self.unit_shift;
        let units = (entry_bytes >> s) + u64::from(entry_bytes & ((1u64 << s) - 1) != 0);
        self.per_entry.max(units.saturating_mul(self.per_byte))
    }

    /// Whether an entry of this key and value size may be stored.
    pub fn check(&self, key_bytes: u64, value_bytes: u64) -> std::result::Result<(), TooLarge> {
        if self.max_key_bytes.is_some_and(|m| key_bytes > m) {
            return Err(TooLarge::Key);
        }
        if self.max_value_bytes.is_some_and(|m| value_bytes > m) {
            return Err(TooLarge::Value);
        }
        if self.weight(key_bytes.saturating_add(value_bytes)) > self.admit_limit {
            return Err(TooLarge::Entry);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bounds_follow_from_the_weight() {
        let b = Bounds::new(100, Some(1000), None, None, None).unwrap();
        assert_eq!(b.shards, 1);
        // 100 small entries fill it exactly; a 101st does not fit.
        assert_eq!(b.weight(1) * 100, b.capacity);
        // 1000 bytes in 2 entries fill it too.
        assert_eq!(b.weight(500) * 2, b.capacity);
    }

    #[test]
    fn an_entry_as_large_as_max_bytes_is_storable() {
        let b = Bounds::new(1_000_000, Some(1 << 20), None, None, None).unwrap();
        assert_eq!(b.shards, 1);
        assert!(b.check(0, 1 << 20).is_ok());
        assert_eq!(b.check(1, 1 << 20), Err(TooLarge::Entry));
    }

    #[test]
    fn per_entry_limits_allow_more_shards() {
        let b = Bounds::new(1_000_000, Some(1 << 30), Some(256), Some(1 << 20), None).unwrap();
        assert!(b.shards > 1 || std::thread::available_parallelism().unwrap().get() == 1);
        assert!(b.check(256, 1 << 20).is_ok());
        assert_eq!(b.check(257, 1), Err(TooLarge::Key));
        assert_eq!(b.check(1, (1 << 20) + 1), Err(TooLarge::Value));
    }

    #[test]
    fn one_shard_when_asked() {
        let b = Bounds::new(1_000_000, None, None, None, Some(1)).unwrap();
        assert_eq!(b.shards, 1);
        assert_eq!(b.capacity, 1_000_000, "one shard holds the whole bound");
    }

    #[test]
    fn small_caches_use_one_shard() {
        assert_eq!(Bounds::new(3, None, None, None, None).unwrap().shards, 1);
    }

    #[test]
    fn huge_bounds_do_not_overflow() {
        let b = Bounds::new(u32::MAX as u64, Some(u64::MAX), None, None, None).unwrap();
        assert!(b.capacity > 0);
        assert!(b.weight(u64::MAX) >= b.weight(1));
    }

    #[test]
    fn zero_bounds_are_invalid() {
        assert!(
            matches!(Bounds::new(0, None, None, None, None), Err(Error::InvalidArgument(m)) if m.contains("max_entries"))
        );
        assert!(
            matches!(Bounds::new(1, Some(0), None, None, None), Err(Error::InvalidArgument(m)) if m.contains("max_bytes"))
        );
    }
}
