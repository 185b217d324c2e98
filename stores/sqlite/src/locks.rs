//! A lease holder's liveness, told by the kernel: while a process holds a key's lease, it
//! holds an open-file-description lock on one byte of the lock file (chosen by the key's
//! hash). The kernel releases the lock when the process dies, however it dies, so another
//! process can take a dead holder's lease at once.
//!
//! Two keys may share a byte. A holder that finds its byte taken by another key's holder
//! keeps its lease without the lock; then, and only then, a waiter cannot tell it died and
//! waits out the lease instead. Never the other way: a live holder is never taken over.

use std::collections::hash_map::DefaultHasher;
use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Bytes of the lock file keys hash to.
const SLOTS: u64 = 4096;

pub fn path_for(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".locks");
    PathBuf::from(p)
}

pub struct LockFile {
    path: PathBuf,
    /// For asking whether a byte is locked (by anyone).
    probe: File,
}

/// A lock held on one byte; released when dropped (its file is closed).
pub struct Held(#[allow(dead_code)] File);

fn slot(key: &str) -> i64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % SLOTS) as i64
}

fn flock(kind: i16, start: i64) -> libc::flock {
    // SAFETY: an all-zero flock is a valid value; the fields that matter are set below.
    let mut l: libc::flock = unsafe { std::mem::zeroed() };
    l.l_type = kind;
    l.l_whence = libc::SEEK_SET as i16;
    l.l_start = start;
    l.l_len = 1;
    l
}

impl LockFile {
    pub fn open(path: &Path) -> std::io::Result<LockFile> {
        let probe = open(path)?;
        Ok(LockFile {
            path: path.to_path_buf(),
            probe,
        })
    }

    /// Takes the lock of `key`'s byte, if nobody holds it.
    pub fn hold(&self, key: &str) -> Option<Held> {
        let f = open(&self.path).ok()?;
        let l = flock(libc::F_WRLCK as i16, slot(key));
        // SAFETY: `f` is an open file and `l` a valid flock for it.
        let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_OFD_SETLK, &l) };
        (r == 0).then_some(Held(f))
    }

    /// Whether some open file description (of any process) holds `key`'s byte.
    pub fn is_held(&self, key: &str) -> bool {
        let mut l = flock(libc::F_WRLCK as i16, slot(key));
        // SAFETY: `probe` is an open file and `l` a valid flock it may fill in.
        let r = unsafe { libc::fcntl(self.probe.as_raw_fd(), libc::F_OFD_GETLK, &mut l) };
        // When the question cannot be asked, say "held": a live holder is never taken over.
        r != 0 || l.l_type != libc::F_UNLCK as i16
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}
