//! Changes made by other processes, on their way to this process's in-process copies.
//!
//! A store's subscription thread delivers them; it never touches a cached value (which may
//! be a host value). It bumps the key's generation at once, so that a fill from an older
//! store read cannot put the old value back, queues the key, and pokes the expiry schedule
//! so that the next call on a host thread removes the queued copies before it answers.
//!
//! Announcements can be lost (a Redis subscription that drops). While they may be, no copy
//! is trusted on its own: each records the listening epoch it was read in, and a copy is
//! answered without a store read only when that epoch is the current one and announcements
//! are arriving. A copy read before or during a gap is checked once against the store.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Acquire, Ordering::SeqCst};
use std::sync::Arc;

use parking_lot::Mutex;

use super::mirror::Mirror;

const SLOTS: usize = 4096;

pub(crate) struct Invalidations {
    /// Per hashed key: bumped by every change. Two keys may share a slot; that only makes
    /// a fill skip the in-process tier now and then, never serve an old value. Empty for a
    /// cache without a store: nothing is read from a store, so no fill can bring an old
    /// value back, and a write need not pay for a hash and an atomic add.
    slots: Box<[AtomicU64]>,
    /// Bumped when every copy must go.
    all_epoch: AtomicU64,
    queue: Mutex<Vec<Box<str>>>,
    all: AtomicBool,
    /// Bumped when announcements stop and when they resume: even while they arrive (or
    /// for a store that cannot lose them), odd while they may be lost.
    listen: AtomicU32,
    hasher: quick_cache::DefaultHashBuilder,
    /// The host's copies: told at once, from the store's thread, that changes wait (see
    /// `mirror`).
    mirror: Option<Arc<Mirror>>,
}

/// A key's generation and the listening epoch, read before a store read: the fill that
/// follows lands only if the generation is unchanged, and is trusted only in that epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub generation: u64,
    pub epoch: u32,
}

impl Invalidations {
    /// `shared`: a store is configured (see `slots`).
    pub fn new(shared: bool, mirror: Option<Arc<Mirror>>) -> Self {
        let slots = if shared { SLOTS } else { 0 };
        Invalidations {
            slots: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            all_epoch: AtomicU64::new(0),
            queue: Mutex::new(Vec::new()),
            all: AtomicBool::new(false),
            listen: AtomicU32::new(0),
            hasher: Default::default(),
            mirror,
        }
    }

    #[inline]
    fn slot(&self, full: &str) -> Option<&AtomicU64> {
        if self.slots.is_empty() {
            return None;
        }
        Some(&self.slots[self.hasher.hash_one(full) as usize % SLOTS])
    }

    /// The key's generation: read it before a store read, compare it before the fill.
    #[inline]
    pub fn generation(&self, full: &str) -> u64 {
        self.slot(full)
            .map_or(0, |s| s.load(SeqCst))
            .wrapping_add(self.all_epoch.load(SeqCst) << 32)
    }

    /// What a fill must check: the key's generation and the listening epoch, now.
    #[inline]
    pub fn seen(&self, full: &str) -> Seen {
        Seen {
            generation: self.generation(full),
            epoch: self.epoch(),
        }
    }

    /// The listening epoch a copy made now records.
    #[inline]
    pub fn epoch(&self) -> u32 {
        self.listen.load(Acquire)
    }

    /// Whether a copy recorded in `epoch` may be answered without asking the store.
    #[inline]
    pub fn trusted(&self, epoch: u32) -> bool {
        let now = self.listen.load(Acquire);
        now == epoch && now & 1 == 0
    }

    /// Announcements stopped (`false`) or resumed (`true`): every copy made before is
    /// checked against the store on its next read.
    pub fn listening(&self, up: bool) {
        let mut e = self.listen.load(SeqCst);
        while (e & 1 == 0) != up {
            match self
                .listen
                .compare_exchange(e, e.wrapping_add(1), SeqCst, SeqCst)
            {
                Ok(_) => return,
                Err(now) => e = now,
            }
        }
    }

    /// A write of this process: fills that read the store before it must not land.
    #[inline]
    pub fn bump(&self, full: &str) {
        if let Some(s) = self.slot(full) {
            s.fetch_add(1, SeqCst);
        }
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

    /// Tells the host's copies that changes wait for its next call. Call it after
    /// [`Invalidations::changed`] (or `changed_all`) and the expiry's poke: a host that sees
    /// it and calls the core then finds the removal queued and due.
    pub fn tell_mirror(&self) {
        if let Some(m) = &self.mirror {
            m.announce();
        }
    }

    /// What to remove from the in-process tier: (everything?, these keys).
    pub fn take(&self) -> (bool, Vec<Box<str>>) {
        if let Some(m) = &self.mirror {
            m.taking();
        }
        let all = self.all.swap(false, SeqCst);
        let keys = std::mem::take(&mut *self.queue.lock());
        (all, keys)
    }
}
