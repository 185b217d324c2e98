//! Opening the file: created with mode 0600, checked to be a flightcache database of this
//! format (or empty), then set up: `busy_timeout` first, WAL, and the schema made inside
//! `BEGIN IMMEDIATE` (several processes starting at once must not race to make it).

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use flightcache::store::{StoreError, StoreErrorKind, StoreResult};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// The format of the file's tables; a file of a newer format is left alone.
pub const FORMAT: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fc_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fc_entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    kind INTEGER NOT NULL,
    fresh_until INTEGER NOT NULL,
    stale_until INTEGER NOT NULL,
    size INTEGER NOT NULL,
    written INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fc_entries_stale ON fc_entries (stale_until);
CREATE INDEX IF NOT EXISTS fc_entries_written ON fc_entries (written);
CREATE TABLE IF NOT EXISTS fc_leases (key TEXT PRIMARY KEY, token INTEGER NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fc_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    origin INTEGER NOT NULL,
    prefix INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fc_totals (entries INTEGER NOT NULL, bytes INTEGER NOT NULL);
INSERT INTO fc_totals SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM fc_totals);
CREATE TRIGGER IF NOT EXISTS fc_entries_ins AFTER INSERT ON fc_entries BEGIN
    UPDATE fc_totals SET entries = entries + 1, bytes = bytes + new.size;
END;
CREATE TRIGGER IF NOT EXISTS fc_entries_del AFTER DELETE ON fc_entries BEGIN
    UPDATE fc_totals SET entries = entries - 1, bytes = bytes - old.size;
END;
CREATE TRIGGER IF NOT EXISTS fc_entries_upd AFTER UPDATE OF size ON fc_entries BEGIN
    UPDATE fc_totals SET bytes = bytes - old.size + new.size;
END;
";

fn unusable(msg: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Unusable, msg)
}

fn sql(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    match e.sqlite_error_code() {
        Some(NotADatabase) => unusable("the file is not a SQLite database"),
        Some(DatabaseCorrupt) => unusable(format!("the database is damaged ({e})")),
        Some(ReadOnly) => StoreError::new(
            StoreErrorKind::Refused,
            "the file is read-only (flightcache writes to it)",
        ),
        Some(DiskFull) => StoreError::new(StoreErrorKind::Refused, "the disk is full"),
        Some(CannotOpen | PermissionDenied) => StoreError::new(
            StoreErrorKind::Refused,
            format!("cannot open the file ({e})"),
        ),
        _ => StoreError::new(StoreErrorKind::Unavailable, e.to_string()),
    }
}

/// A connection to the file at `path`; `setup` makes the file and its schema (the first
/// connection of a store), the others only open it.
pub fn open(path: &Path, setup: bool) -> StoreResult<Connection> {
    if setup {
        if let Some(dir) = path.parent() {
            if !dir.is_dir() {
                return Err(StoreError::new(
                    StoreErrorKind::Refused,
                    format!("the folder {} does not exist", dir.display()),
                ));
            }
        }
        // Made by us, with mode 0600, before SQLite opens it (its -wal and -shm files take
        // the same mode).
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    "the file is not writable"
                } else {
                    "cannot create the file"
                };
                StoreError::new(StoreErrorKind::Refused, format!("{kind} ({e})"))
            })?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    // Before anything else: several processes open the file at once.
    conn.busy_timeout(Duration::from_secs(2)).map_err(sql)?;
    if setup {
        check_and_create(&conn)?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn check_and_create(conn: &Connection) -> StoreResult<()> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(unusable(format!(
            "the file cannot use write-ahead logging (journal mode {mode}); is it on a network \
             filesystem? SQLite's own documentation warns against them"
        )));
    }
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .map_err(sql)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(sql)?;
        rows.filter_map(Result::ok).collect()
    };
    if !tables.is_empty() && !tables.iter().any(|t| t == "fc_meta") {
        return Err(unusable(format!(
            "the file is a SQLite database but not a flightcache one (it has the tables {}); \
             flightcache leaves it alone",
            tables.join(", ")
        )));
    }
    if tables.iter().any(|t| t == "fc_meta") {
        let format: Option<i64> = conn
            .query_row("SELECT value FROM fc_meta WHERE name = 'format'", [], |r| {
                r.get(0)
            })
            .ok();
        match format {
            Some(f) if f > FORMAT => {
                return Err(unusable(format!(
                    "the file was written by a newer flightcache (format {f}; this one reads \
                     {FORMAT}); flightcache leaves it alone"
                )))
            }
            Some(_) => {}
            None => return Err(unusable("the file's flightcache format is missing")),
        }
    }
    let mut conn2 = second_connection(conn)?;
    let tx = conn2
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    tx.execute_batch(SCHEMA).map_err(sql)?;
    tx.execute(
        "INSERT OR IGNORE INTO fc_meta (name, value) VALUES ('format', ?1)",
        [FORMAT],
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(())
}

/// A second connection to the same file for the schema transaction (a transaction needs
/// `&mut Connection`; the caller keeps its own).
fn second_connection(conn: &Connection) -> StoreResult<Connection> {
    let path = conn
        .path()
        .ok_or_else(|| unusable("the database has no file path"))?
        .to_string();
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    c.busy_timeout(Duration::from_secs(2)).map_err(sql)?;
    Ok(c)
}
