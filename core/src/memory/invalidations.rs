//! Changes made by other processes, on their way to this process's in-process copies.
//!
//! A store's subscription thread delivers them; it never touches a cached value (which may
//! be a host value). It bumps the key's generation at once, so that a fill from an older
//! store read cannot put the old value back, queues the key, and pokes the expiry schedule
//! so that the next call on a host thread removes the queued copies before it answers.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use parking_lot::Mutex;

const SLOTS: usize = 4096;

pub(crate) struct Invalidations {
    /// Per hashed key: bumped by every change. Two keys may share a slot; that only makes
    /// a fill skip the in-process tier now and then, never serve an old value.
    slots: Box<[AtomicU64]>,
    /// Bumped when every copy must go.
    all_epoch: AtomicU64,
    queue: Mutex<Vec<Box<str>>>,
    all: AtomicBool,
    hasher: quick_cache::DefaultHashBuilder,
}

impl Default for Invalidations {
    fn default() -> Self {
        Invalidations {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            all_epoch: AtomicU64::new(0),
            queue: Mutex::new(Vec::new()),
            all: AtomicBool::new(false),
            hasher: Default::default(),
        }
    }
}

impl Invalidations {
    fn slot(&self, full: &str) -> &AtomicU64 {
        &self.slots[self.hasher.hash_one(full) as usize % SLOTS]
    }

    /// The key's generation: read it before a store read, compare it before the fill.
    pub fn generation(&self, full: &str) -> u64 {
        self.slot(full)
            .load(SeqCst)
            .wrapping_add(self.all_epoch.load(SeqCst) << 32)
    }

    /// A write of this process: fills that read the store before it must not land.
    pub fn bump(&self, full: &str) {
        self.slot(full).fetch_add(1, SeqCst);
    }

    /// Another process changed `full`.
    pub fn changed(&self, full: &str) {
        self.bump(full);
        self.queue.lock().push(full.into());
    }

    /// Another process may have changed anything.
    pub fn changed_all(&self) {
        self.all_epoch.fetch_add(1, SeqCst);
        self.all.store(true, SeqCst);
    }

    /// What to remove from the in-process tier: (everything?, these keys).
    pub fn take(&self) -> (bool, Vec<Box<str>>) {
        let all = self.all.swap(false, SeqCst);
        let keys = std::mem::take(&mut *self.queue.lock());
        (all, keys)
    }
}
