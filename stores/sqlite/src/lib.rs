//! `sqlite:///PATH`: flightcache's store for every process on one machine, kept across
//! restarts. It implements the core's [`Store`] trait (bytes in, bytes out) on one SQLite
//! file in WAL mode; every rule of the cache stays in the core.
//!
//! - Entries are the core's envelopes, indexed by their deadlines (read from the envelope's
//!   fixed header), so writers reclaim expired rows in small batches and `keys` lists only
//!   fresh ones.
//! - A lease is a row; while it is held, its holder also holds an open-file-description lock
//!   on one byte of `PATH.locks` (Linux `F_OFD_SETLK`), which the kernel releases when the
//!   process dies: another process takes a dead holder's lease at once instead of waiting
//!   out `lease_ms`.
//! - Every write appends to a change log; each store object polls `PRAGMA data_version`
//!   (which moves when another connection commits) at most every `l1_staleness / 2` and
//!   hands the keys other processes changed to the cache, and to the waiters of this
//!   process.
//! - Blocking SQLite calls run on the store runtime's blocking threads, never on a host
//!   thread.

mod locks;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use flightcache::settings::StoreSettings;
use flightcache::store::url::StoreUrl;
use flightcache::store::{
    BoxFuture, InvalidationSink, LeaseState, Store, StoreError, StoreErrorKind, StoreResult,
};
use flightcache::value::envelope::Header;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::locks::LockFile;

/// Makes `sqlite://` URLs open this store (the bindings call it once).
pub fn register() {
    flightcache::register_store("sqlite", open);
}

fn open(settings: &StoreSettings) -> flightcache::Result<Arc<dyn Store>> {
    let StoreUrl::Sqlite { path } = &settings.url else {
        unreachable!("the sqlite opener gets sqlite URLs");
    };
    SqliteStore::open(path, settings)
        .map(|s| Arc::new(s) as Arc<dyn Store>)
        .map_err(|e| {
            flightcache::Error::InvalidArgument(format!(
                "store sqlite://{}: {}",
                path.display(),
                e.message
            ))
        })
}

/// Rows of expired entries each write reclaims at most.
const RECLAIM_BATCH: i64 = 32;
/// Writes between two trims of the change log.
const TRIM_EVERY: u64 = 256;
/// Change-log rows kept (others' pollers read past them within milliseconds).
const CHANGES_KEPT: i64 = 10_000;

type Waiters = Mutex<HashMap<String, Vec<tokio::sync::oneshot::Sender<()>>>>;

struct Shared {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Idle read connections, with the file generation they were opened on.
    readers: Mutex<Vec<(u64, Connection)>>,
    /// Bumped when the file was deleted or replaced and connections were opened anew.
    generation: std::sync::atomic::AtomicU64,
    /// The files the connections are open on (see `file_id`).
    file_id: Mutex<Option<(u64, u64, u64)>>,
    origin: i64,
    locks: LockFile,
    /// Lease locks this process holds, by (key, token).
    held: Mutex<HashMap<(String, u64), locks::Held>>,
    waiters: Waiters,
    writes: std::sync::atomic::AtomicU64,
    max_entries: Option<u64>,
    max_bytes: Option<u64>,
    poll: Duration,
    /// The cache's clock (epoch ms): deadlines are compared with it, so that a test's
    /// `ManualClock` decides what has expired, here too.
    clock: flightcache::Clock,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.clock.epoch_ms()
    }
}

pub struct SqliteStore {
    shared: Arc<Shared>,
}

fn err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    let kind = match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => StoreErrorKind::Timeout,
        Some(DiskFull | ReadOnly | PermissionDenied | TooBig | ConstraintViolation) => {
            StoreErrorKind::Refused
        }
        Some(DatabaseCorrupt | NotADatabase) => StoreErrorKind::Unusable,
        _ => StoreErrorKind::Unavailable,
    };
    let what = match e.sqlite_error_code() {
        Some(DiskFull) => "the disk is full: ".to_string(),
        Some(ReadOnly) => "the database is read-only: ".to_string(),
        _ => String::new(),
    };
    StoreError::new(kind, format!("{what}{e}"))
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// SQLite integers are signed: "never" (u64::MAX) is kept as i64::MAX.
fn ms_sql(ms: u64) -> i64 {
    ms.min(i64::MAX as u64) as i64
}

impl SqliteStore {
    pub fn open(path: &Path, settings: &StoreSettings) -> StoreResult<SqliteStore> {
        let writer = schema::open(path, true)?;
        let mut readers = Vec::new();
        for _ in 0..2 {
            readers.push((0, schema::open(path, false)?));
        }
        let locks = LockFile::open(&locks::path_for(path))
            .map_err(|e| StoreError::new(StoreErrorKind::Refused, e.to_string()))?;
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(readers),
                generation: Default::default(),
                file_id: Mutex::new(file_id(path)),
                origin: (rand_u64() >> 1) as i64,
                locks,
                held: Mutex::new(HashMap::new()),
                waiters: Mutex::new(HashMap::new()),
                writes: Default::default(),
                max_entries: settings.max_entries,
                max_bytes: settings.max_bytes,
                poll: Duration::from_millis((settings.l1_staleness_ms / 2).clamp(5, 1000)),
                clock: settings.clock.clone(),
            }),
        })
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let s = self.shared.clone();
        // Reads run in the store task itself: a read of a WAL database takes no lock and
        // waits for nobody (a few microseconds), so a second hand-off to a blocking thread
        // would cost more than it saves. Writes, which may wait for the write lock, do hand
        // off (see `write`).
        inline(move || {
            let gen = s.generation.load(std::sync::atomic::Ordering::SeqCst);
            let conn = s.readers.lock().pop().filter(|(g, _)| *g == gen);
            let conn = match conn {
                Some((_, c)) => c,
                None => schema::open(&s.path, false).map_err(|e| {
                    rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(
                        e.message,
                    )))
                })?,
            };
            let r = f(&conn);
            s.readers.lock().push((gen, conn));
            r
        })
    }

    /// One short `BEGIN IMMEDIATE` transaction; `key` (if any) is announced as changed.
    fn write<T: Send + 'static>(
        &self,
        key: Option<String>,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &Shared) -> rusqlite::Result<(T, bool)>
            + Send
            + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let s = self.shared.clone();
        blocking(move || {
            let r = write_once(&s, &key, f);
            if let Err(e) = &r {
                // SQLite tells a writer when its file was deleted or moved (it answers
                // "read-only"): follow the file at the path at once, for the next call.
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) {
                    s.follow_the_file();
                }
            }
            r
        })
    }
}

fn write_once<T>(
    s: &Shared,
    key: &Option<String>,
    f: impl FnOnce(&rusqlite::Transaction<'_>, &Shared) -> rusqlite::Result<(T, bool)>,
) -> rusqlite::Result<T> {
    {
        {
            let mut conn = s.writer.lock();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = ms_sql(s.now_ms());
            let (out, changed) = f(&tx, s)?;
            if changed {
                if let Some(k) = &key {
                    tx.prepare_cached(
                        "INSERT INTO fc_changes (key, origin, prefix) VALUES (?1, ?2, 0)",
                    )?
                    .execute(params![k, s.origin])?;
                }
            }
            // Writers reclaim expired rows, a few at a time, and keep the file in bounds.
            tx.prepare_cached(
                "DELETE FROM fc_entries WHERE key IN \
                 (SELECT key FROM fc_entries WHERE stale_until <= ?1 LIMIT ?2)",
            )?
            .execute(params![now, RECLAIM_BATCH])?;
            enforce_bounds(&tx, s)?;
            let n = s.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n % TRIM_EVERY == 0 {
                tx.execute(
                    "DELETE FROM fc_changes WHERE seq <= (SELECT max(seq) FROM fc_changes) - ?1",
                    params![CHANGES_KEPT],
                )?;
            }
            tx.commit()?;
            drop(conn);
            if changed {
                if let Some(k) = key {
                    s.wake(k);
                }
            }
            Ok(out)
        }
    }
}

/// The (device, inode) of the database file and of its shared-memory index (`-shm`): when
/// either is deleted or replaced, this store's connections no longer share the file with
/// the other processes.
fn file_id(path: &Path) -> Option<(u64, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let db = std::fs::metadata(path).ok()?;
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    let shm = std::fs::metadata(PathBuf::from(shm)).ok()?;
    Some((db.dev(), db.ino(), shm.ino()))
}

impl Shared {
    /// When the file was deleted or replaced under this store, its writes would go to a
    /// file nobody else sees: open the file at the path anew (making it if it is gone).
    fn follow_the_file(&self) {
        let now = file_id(&self.path);
        if now.is_some() && now == *self.file_id.lock() {
            return;
        }
        let writer = match schema::open(&self.path, true) {
            Ok(w) => w,
            Err(e) => {
                if std::env::var_os("FLIGHTCACHE_DEBUG").is_some() {
                    eprintln!("flightcache: reopening {}: {e}", self.path.display());
                }
                return; // not possible now; the next poll tries again
            }
        };
        *self.writer.lock() = writer;
        self.readers.lock().clear();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *self.file_id.lock() = file_id(&self.path);
        eprintln!(
            "flightcache: the store file {} was deleted or replaced; opened it anew",
            self.path.display()
        );
    }
}

fn enforce_bounds(tx: &rusqlite::Transaction<'_>, s: &Shared) -> rusqlite::Result<()> {
    if s.max_entries.is_none() && s.max_bytes.is_none() {
        return Ok(());
    }
    let (entries, bytes): (i64, i64) = tx
        .prepare_cached("SELECT entries, bytes FROM fc_totals")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let over_entries = s.max_entries.map_or(0, |m| (entries - m as i64).max(0));
    if over_entries > 0 {
        tx.prepare_cached(
            "DELETE FROM fc_entries WHERE key IN \
             (SELECT key FROM fc_entries ORDER BY written LIMIT ?1)",
        )?
        .execute(params![over_entries])?;
    }
    if let Some(m) = s.max_bytes {
        let mut bytes = bytes;
        // Oldest first, a batch at a time, until the file's entries fit.
        while bytes > m as i64 {
            let n = tx
                .prepare_cached(
                    "DELETE FROM fc_entries WHERE key IN \
                     (SELECT key FROM fc_entries ORDER BY written LIMIT 16)",
                )?
                .execute([])?;
            if n == 0 {
                break;
            }
            bytes = tx
                .prepare_cached("SELECT bytes FROM fc_totals")?
                .query_row([], |r| r.get(0))?;
        }
    }
    Ok(())
}

fn inline<T: Send + 'static>(
    f: impl FnOnce() -> rusqlite::Result<T> + Send + 'static,
) -> BoxFuture<'static, StoreResult<T>> {
    Box::pin(async move { f().map_err(err) })
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> rusqlite::Result<T> + Send + 'static,
) -> BoxFuture<'static, StoreResult<T>> {
    Box::pin(async move {
        match tokio::task::spawn_blocking(f).await {
            Ok(r) => r.map_err(err),
            Err(e) => Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!("the SQLite call did not finish: {e}"),
            )),
        }
    })
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((std::process::id(), wall_ms()))
}

impl Shared {
    /// Wakes this process's waiters for `key`.
    fn wake(&self, key: &str) {
        if let Some(ws) = self.waiters.lock().remove(key) {
            for w in ws {
                let _ = w.send(());
            }
        }
    }

    fn wake_all(&self) {
        let all: Vec<_> = self.waiters.lock().drain().collect();
        for (_, ws) in all {
            for w in ws {
                let _ = w.send(());
            }
        }
    }
}

/// Upserts an entry from its envelope.
fn put(
    tx: &rusqlite::Transaction<'_>,
    s: &Shared,
    key: &str,
    envelope: &[u8],
) -> rusqlite::Result<()> {
    let h = Header::read(envelope).unwrap_or(Header {
        kind: 0,
        created: 0,
        fresh_until: 0,
        stale_until: 0,
    });
    tx.prepare_cached(
        "INSERT INTO fc_entries (key, value, kind, fresh_until, stale_until, size, written) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, kind = excluded.kind, \
         fresh_until = excluded.fresh_until, stale_until = excluded.stale_until, \
         size = excluded.size, written = excluded.written",
    )?
    .execute(params![
        key,
        envelope,
        h.kind,
        ms_sql(h.fresh_until),
        ms_sql(h.stale_until),
        (key.len() + envelope.len()) as i64,
        ms_sql(s.now_ms()),
    ])?;
    Ok(())
}

fn lease_row(tx: &rusqlite::Transaction<'_>, key: &str) -> rusqlite::Result<Option<(i64, i64)>> {
    tx.prepare_cached("SELECT token, until FROM fc_leases WHERE key = ?1")?
        .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

fn drop_lease(tx: &rusqlite::Transaction<'_>, key: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM fc_leases WHERE key = ?1")?
        .execute(params![key])?;
    Ok(())
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite://{}", self.shared.path.display())
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>> {
        let key = key.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT value FROM fc_entries WHERE key = ?1")?
                .query_row(params![key], |r| r.get(0))
                .optional()
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        envelope: Vec<u8>,
        _reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let k = key.to_string();
        self.write(Some(k.clone()), move |tx, s| {
            put(tx, s, &k, &envelope)?;
            drop_lease(tx, &k)?;
            Ok(((), true))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<u64>>> {
        let k = key.to_string();
        self.write(Some(k.clone()), move |tx, _| {
            let fresh_until: Option<i64> = tx
                .prepare_cached("SELECT fresh_until FROM fc_entries WHERE key = ?1 AND kind = 0")?
                .query_row(params![k], |r| r.get(0))
                .optional()?;
            let n = tx
                .prepare_cached("DELETE FROM fc_entries WHERE key = ?1")?
                .execute(params![k])?;
            drop_lease(tx, &k)?;
            let had = fresh_until.map(|f| {
                if f == i64::MAX {
                    u64::MAX
                } else {
                    f.max(0) as u64
                }
            });
            Ok((had, n > 0))
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
        _reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let k = key.to_string();
        self.write(Some(k.clone()), move |tx, s| {
            let current: Option<Vec<u8>> = tx
                .prepare_cached("SELECT value FROM fc_entries WHERE key = ?1")?
                .query_row(params![k], |r| r.get(0))
                .optional()?;
            if current != expected {
                return Ok((false, false));
            }
            put(tx, s, &k, &new)?;
            drop_lease(tx, &k)?;
            Ok((true, true))
        })
    }

    fn lease<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl_ms: u64,
    ) -> BoxFuture<'a, StoreResult<LeaseState>> {
        let k = key.to_string();
        self.write(None, move |tx, s| {
            let now = wall_ms();
            if let Some((holder, until)) = lease_row(tx, &k)? {
                let until = until.max(0) as u64;
                // A holder whose process died released its lock: its lease is void at once.
                if holder != token as i64 && until > now && s.locks.is_held(&k) {
                    return Ok((
                        LeaseState::Held {
                            remaining_ms: until - now,
                        },
                        false,
                    ));
                }
            }
            tx.prepare_cached(
                "INSERT INTO fc_leases (key, token, until) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key) DO UPDATE SET token = excluded.token, until = excluded.until",
            )?
            .execute(params![k, token as i64, ms_sql(now + ttl_ms)])?;
            if let Some(h) = s.locks.hold(&k) {
                s.held.lock().insert((k.clone(), token), h);
            }
            Ok((LeaseState::Acquired, false))
        })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl_ms: u64,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let k = key.to_string();
        self.write(None, move |tx, _| {
            let n = tx
                .prepare_cached("UPDATE fc_leases SET until = ?3 WHERE key = ?1 AND token = ?2")?
                .execute(params![k, token as i64, ms_sql(wall_ms() + ttl_ms)])?;
            Ok((n == 1, false))
        })
    }

    fn fill<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        envelope: Vec<u8>,
        _reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let k = key.to_string();
        self.write(Some(k.clone()), move |tx, s| {
            let ours = matches!(lease_row(tx, &k)?, Some((t, _)) if t == token as i64);
            s.held.lock().remove(&(k.clone(), token));
            if !ours {
                return Ok((false, false));
            }
            put(tx, s, &k, &envelope)?;
            drop_lease(tx, &k)?;
            Ok((true, true))
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        failure: Option<(Vec<u8>, u64)>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let k = key.to_string();
        self.write(Some(k.clone()), move |tx, s| {
            let ours = matches!(lease_row(tx, &k)?, Some((t, _)) if t == token as i64);
            s.held.lock().remove(&(k.clone(), token));
            if !ours {
                return Ok(((), false));
            }
            drop_lease(tx, &k)?;
            if let Some((record, _)) = failure {
                put(tx, s, &k, &record)?;
            }
            Ok(((), true))
        })
    }

    fn watch(&self, key: &str, timeout: Duration) -> BoxFuture<'static, bool> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.shared
            .waiters
            .lock()
            .entry(key.to_string())
            .or_default()
            .push(tx);
        Box::pin(async move { matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(()))) })
    }

    fn keys<'a>(
        &'a self,
        prefix: &'a str,
        epoch_now: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        let p = prefix.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT key FROM fc_entries WHERE key >= ?1 AND kind = 0 AND fresh_until > ?2 \
                 ORDER BY key",
            )?;
            let mut out = Vec::new();
            let mut rows = stmt.query(params![p, ms_sql(epoch_now)])?;
            while let Some(r) = rows.next()? {
                let k: String = r.get(0)?;
                if !k.starts_with(&p) {
                    break;
                }
                out.push(k);
            }
            Ok(out)
        })
    }

    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StoreResult<u64>> {
        let p = prefix.to_string();
        let s = self.shared.clone();
        blocking(move || {
            let mut conn = s.writer.lock();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let keys: Vec<String> = {
                let mut stmt =
                    tx.prepare_cached("SELECT key FROM fc_entries WHERE key >= ?1 ORDER BY key")?;
                let mut rows = stmt.query(params![p])?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let k: String = r.get(0)?;
                    if !k.starts_with(&p) {
                        break;
                    }
                    out.push(k);
                }
                out
            };
            for k in &keys {
                tx.prepare_cached("DELETE FROM fc_entries WHERE key = ?1")?
                    .execute(params![k])?;
            }
            // Loads in flight under the prefix must not write their results afterwards.
            let leased: Vec<String> = {
                let mut stmt =
                    tx.prepare_cached("SELECT key FROM fc_leases WHERE key >= ?1 ORDER BY key")?;
                let mut rows = stmt.query(params![p])?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let k: String = r.get(0)?;
                    if !k.starts_with(&p) {
                        break;
                    }
                    out.push(k);
                }
                out
            };
            for k in &leased {
                drop_lease(&tx, k)?;
            }
            tx.prepare_cached("INSERT INTO fc_changes (key, origin, prefix) VALUES (?1, ?2, 1)")?
                .execute(params![p, s.origin])?;
            tx.commit()?;
            drop(conn);
            s.wake_all();
            Ok(keys.len() as u64)
        })
    }

    fn ping(&self) -> BoxFuture<'_, StoreResult<()>> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn subscribe(&self, sink: Arc<dyn InvalidationSink>) {
        let weak = Arc::downgrade(&self.shared);
        let start = self
            .shared
            .writer
            .lock()
            .query_row("SELECT coalesce(max(seq), 0) FROM fc_changes", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0);
        let poll = self.shared.poll;
        let path = self.shared.path.clone();
        let _ = std::thread::Builder::new()
            .name("flightcache-sqlite-changes".into())
            .spawn(move || poll_changes(weak, sink, path, start, poll));
    }
}

/// Hands other processes' changes to the cache and this process's waiters, until the
/// store is dropped. Its own connection sees `data_version` move when another commits.
fn poll_changes(
    store: Weak<Shared>,
    sink: Arc<dyn InvalidationSink>,
    path: PathBuf,
    mut last: i64,
    poll: Duration,
) {
    // Opened in the loop: the file may be gone by the time this thread starts.
    let mut conn: Option<Connection> = None;
    let mut version: i64 = -1;
    let mut gen = 0;
    loop {
        std::thread::sleep(poll);
        let Some(s) = store.upgrade() else {
            return;
        };
        s.follow_the_file();
        let now_gen = s.generation.load(std::sync::atomic::Ordering::SeqCst);
        if now_gen != gen {
            // A new file: every copy may be out of date, and its change log starts over.
            let Ok(c) = schema::open(&path, false) else {
                continue;
            };
            last = c
                .query_row("SELECT coalesce(max(seq), 0) FROM fc_changes", [], |r| {
                    r.get(0)
                })
                .unwrap_or(0);
            conn = Some(c);
            gen = now_gen;
            version = -1;
            sink.changed_all();
            s.wake_all();
            continue;
        }
        if conn.is_none() {
            conn = schema::open(&path, false).ok();
        }
        let Some(conn) = conn.as_ref() else {
            continue;
        };
        let v: i64 = match conn.query_row("PRAGMA data_version", [], |r| r.get(0)) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if v == version {
            continue;
        }
        version = v;
        let Ok(mut stmt) = conn.prepare_cached(
            "SELECT seq, key, origin, prefix FROM fc_changes WHERE seq > ?1 ORDER BY seq",
        ) else {
            continue;
        };
        let rows: Vec<(i64, String, i64, i64)> = match stmt.query_map(params![last], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        }) {
            Ok(it) => it.filter_map(Result::ok).collect(),
            Err(_) => continue,
        };
        let first = rows.first().map(|r| r.0);
        if first.is_some_and(|f| f > last + 1) && last > 0 {
            // The log was trimmed past what this process saw: anything may have changed.
            sink.changed_all();
            s.wake_all();
        }
        for (seq, key, origin, prefix) in rows {
            last = last.max(seq);
            if origin == s.origin {
                continue; // this store's own write
            }
            if prefix == 1 {
                sink.changed_all();
                s.wake_all();
            } else {
                sink.changed(&key);
                s.wake(&key);
            }
        }
    }
}
