//! `redis://` and `rediss://`: flightcache's store for many machines, on Redis (or Valkey,
//! which speaks the same protocol). It implements the core's [`Store`] trait (bytes in,
//! bytes out); every rule of the cache stays in the core.
//!
//! - One multiplexed connection (redis-rs's `ConnectionManager`) that reconnects by
//!   itself; TLS with rustls for `rediss://` (the public roots, plus `?ca=/PATH.pem`);
//!   AUTH and the database from the URL. Each command's time is bounded by the core.
//! - A key's value is `fc:v1:{KEY}` and its lease `fc:v1:{KEY}:lease`: one hash tag, so a
//!   Redis Cluster keeps them in one slot. Every write that must check the lease (a fill, a
//!   release, a compare-and-set) is one Lua script (Redis 7.0 has no `SET … IFEQ`), and
//!   every write voids the key's lease, so a late load cannot write over a newer `set`.
//! - Changes are announced on one channel (`fc:v1:changes`: origin and key); each store
//!   object ignores its own. The subscription is a second connection, redialled with
//!   backoff when it drops; while it is down, the cache checks its copies against Redis
//!   (the core's `listening(false)`).
//! - Expiry is Redis's own (`PX`, from the envelope's reclaim time); freshness is decided
//!   by the core on its clock.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use flightcache::settings::StoreSettings;
use flightcache::store::url::StoreUrl;
use flightcache::store::{
    BoxFuture, InvalidationSink, LeaseState, Store, StoreError, StoreErrorKind, StoreResult,
    KEY_PREFIX,
};
use flightcache::value::envelope::Header;
use flightcache::Clock;
use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Client, ConnectionInfo, IntoConnectionInfo, RedisError, Script};

/// Makes `redis://` and `rediss://` URLs open this store (the bindings call it once).
pub fn register() {
    flightcache::register_store("redis", open);
}

const CHANNEL: &str = "fc:v1:changes";

fn open(settings: &StoreSettings) -> flightcache::Result<Arc<dyn Store>> {
    if settings.max_entries.is_some() || settings.max_bytes.is_some() {
        // Silently ignoring a bound would surprise: say where Redis's bound lives.
        return Err(flightcache::Error::InvalidArgument(format!(
            "store {}: store_max_entries / store_max_bytes bound a SQLite file; a Redis store \
             is bounded by the server's own maxmemory and eviction policy",
            settings.url.redacted()
        )));
    }
    RedisStore::open(settings)
        .map(|s| Arc::new(s) as Arc<dyn Store>)
        .map_err(|e| {
            flightcache::Error::InvalidArgument(format!(
                "store {}: {}",
                settings.url.redacted(),
                e.message
            ))
        })
}

fn err(e: RedisError) -> StoreError {
    let kind = if e.is_timeout() {
        StoreErrorKind::Timeout
    } else if e.is_connection_dropped() || e.is_connection_refusal() || e.is_io_error() {
        StoreErrorKind::Unavailable
    } else {
        StoreErrorKind::Refused
    };
    let text = e.to_string();
    let hint = if text.contains("WRONGPASS") || text.contains("NOAUTH") || text.contains("AUTH") {
        "authentication failed (check the user and password in the URL): "
    } else {
        ""
    };
    StoreError::new(kind, format!("{hint}{text}"))
}

struct Scripts {
    set: Script,
    delete: Script,
    cas: Script,
    lease: Script,
    renew: Script,
    fill: Script,
    release: Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            // KEYS: value, lease. ARGV: envelope, px (0: no expiry), channel, message.
            set: Script::new(
                r"
                if tonumber(ARGV[2]) > 0 then
                    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
                else
                    redis.call('SET', KEYS[1], ARGV[1])
                end
                redis.call('DEL', KEYS[2])
                redis.call('PUBLISH', ARGV[3], ARGV[4])
                return 1",
            ),
            // KEYS: value, lease. ARGV: channel, message. Returns the old value.
            delete: Script::new(
                r"
                local old = redis.call('GET', KEYS[1])
                redis.call('DEL', KEYS[1], KEYS[2])
                redis.call('PUBLISH', ARGV[1], ARGV[2])
                return old",
            ),
            // KEYS: value, lease. ARGV: has_expected, expected, new, px, channel, message.
            cas: Script::new(
                r"
                local cur = redis.call('GET', KEYS[1])
                if ARGV[1] == '0' then
                    if cur then return 0 end
                elseif cur ~= ARGV[2] then
                    return 0
                end
                if tonumber(ARGV[4]) > 0 then
                    redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
                else
                    redis.call('SET', KEYS[1], ARGV[3])
                end
                redis.call('DEL', KEYS[2])
                redis.call('PUBLISH', ARGV[5], ARGV[6])
                return 1",
            ),
            // KEYS: lease. ARGV: token, ttl. Returns -1 when taken, else the holder's PTTL.
            lease: Script::new(
                r"
                local cur = redis.call('GET', KEYS[1])
                if (not cur) or cur == ARGV[1] then
                    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
                    return -1
                end
                return redis.call('PTTL', KEYS[1])",
            ),
            // KEYS: lease. ARGV: token, ttl.
            renew: Script::new(
                r"
                if redis.call('GET', KEYS[1]) == ARGV[1] then
                    redis.call('PEXPIRE', KEYS[1], ARGV[2])
                    return 1
                end
                return 0",
            ),
            // KEYS: value, lease. ARGV: token, envelope, px, channel, message.
            fill: Script::new(
                r"
                if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
                if tonumber(ARGV[3]) > 0 then
                    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
                else
                    redis.call('SET', KEYS[1], ARGV[2])
                end
                redis.call('DEL', KEYS[2])
                redis.call('PUBLISH', ARGV[4], ARGV[5])
                return 1",
            ),
            // KEYS: value, lease. ARGV: token, has_failure, record, px, channel, message.
            release: Script::new(
                r"
                if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
                redis.call('DEL', KEYS[2])
                if ARGV[2] == '1' then
                    redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
                end
                redis.call('PUBLISH', ARGV[5], ARGV[6])
                return 1",
            ),
        }
    }
}

type Waiters = Mutex<HashMap<String, Vec<tokio::sync::oneshot::Sender<()>>>>;

struct Shared {
    describe: String,
    client: Client,
    conn: ConnectionManager,
    scripts: Scripts,
    origin: String,
    clock: Clock,
    waiters: Waiters,
    /// How often the subscription is checked (half of `l1_staleness_ms`).
    beat: Duration,
    timeout: Duration,
}

pub struct RedisStore {
    shared: Arc<Shared>,
}

fn install_crypto() {
    // rustls needs a process-wide provider; another library may have installed one first.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn connection_info(url: &StoreUrl) -> StoreResult<ConnectionInfo> {
    let StoreUrl::Redis {
        tls,
        host,
        port,
        db,
        username,
        password,
        ..
    } = url
    else {
        unreachable!("the redis opener gets redis URLs");
    };
    // redis-rs reads the same URL scheme; it is rebuilt from the checked parts.
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let auth = match (username, password) {
        (Some(u), Some(p)) => format!("{}:{}@", enc(u), enc(p)),
        (None, Some(p)) => format!(":{}@", enc(p)),
        (Some(u), None) => format!("{}@", enc(u)),
        (None, None) => String::new(),
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let scheme = if *tls { "rediss" } else { "redis" };
    format!("{scheme}://{auth}{host}:{port}/{db}")
        .into_connection_info()
        .map_err(|e| StoreError::new(StoreErrorKind::Unusable, e.to_string()))
}

fn random_origin() -> String {
    use std::hash::{BuildHasher, RandomState};
    format!("{:016x}", RandomState::new().hash_one(std::process::id()))
}

impl RedisStore {
    pub fn open(settings: &StoreSettings) -> StoreResult<RedisStore> {
        install_crypto();
        let info = connection_info(&settings.url)?;
        let client = match &settings.url {
            StoreUrl::Redis { tls: true, ca, .. } => {
                let root_cert = match ca {
                    Some(path) => Some(std::fs::read(path).map_err(|e| {
                        StoreError::new(
                            StoreErrorKind::Unusable,
                            format!("cannot read the CA file {}: {e}", path.display()),
                        )
                    })?),
                    None => None,
                };
                Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert,
                    },
                )
            }
            _ => Client::open(info),
        }
        .map_err(|e| StoreError::new(StoreErrorKind::Unusable, e.to_string()))?;
        // Connects in the background: a Redis that is down at startup is a store that is
        // down (the handler keeps working), not an error.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(settings.timeout.max(Duration::from_millis(50))))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = flightcache::store::in_runtime(|| client.get_connection_manager_lazy(config))
            .map_err(|e| StoreError::new(StoreErrorKind::Unusable, e.to_string()))?;
        Ok(RedisStore {
            shared: Arc::new(Shared {
                describe: settings.url.redacted(),
                client,
                conn,
                scripts: Scripts::new(),
                origin: random_origin(),
                clock: settings.clock.clone(),
                waiters: Mutex::new(HashMap::new()),
                beat: Duration::from_millis((settings.l1_staleness_ms / 2).clamp(10, 5_000)),
                timeout: settings.timeout,
            }),
        })
    }
}

/// The Redis keys of a core store key (`fc:v1:` + the cache's key): the value and the lease,
/// under one hash tag.
fn value_key(key: &str) -> String {
    let full = key.strip_prefix(KEY_PREFIX).unwrap_or(key);
    format!("{KEY_PREFIX}{{{full}}}")
}

fn lease_key(key: &str) -> String {
    format!("{}:lease", value_key(key))
}

/// The core's key of a Redis value key, or `None` for anything else (a lease).
fn core_key(redis_key: &str) -> Option<String> {
    let inner = redis_key.strip_prefix(KEY_PREFIX)?.strip_prefix('{')?;
    let full = inner.strip_suffix('}')?;
    Some(format!("{KEY_PREFIX}{full}"))
}

/// A glob pattern matching `s` literally.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Shared {
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn message(&self, key: &str) -> String {
        format!("{}:{key}", self.origin)
    }

    /// Milliseconds until `reclaim_at` on the cache's clock, for `PX` (0: never).
    fn px(&self, reclaim_at: Option<u64>) -> u64 {
        match reclaim_at {
            None => 0,
            Some(at) => at.saturating_sub(self.clock.epoch_ms()).max(1),
        }
    }

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

impl Store for RedisStore {
    fn describe(&self) -> String {
        self.shared.describe.clone()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>> {
        let mut c = self.shared.conn();
        let k = value_key(key);
        Box::pin(async move { c.get::<_, Option<Vec<u8>>>(k).await.map_err(err) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        envelope: Vec<u8>,
        reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let s = &self.shared;
        let mut c = s.conn();
        let mut inv = s.scripts.set.prepare_invoke();
        inv.key(value_key(key))
            .key(lease_key(key))
            .arg(envelope)
            .arg(s.px(reclaim_at))
            .arg(CHANNEL)
            .arg(s.message(key));
        Box::pin(async move {
            inv.invoke_async::<i64>(&mut c)
                .await
                .map(|_| ())
                .map_err(err)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<u64>>> {
        let s = &self.shared;
        let mut c = s.conn();
        let mut inv = s.scripts.delete.prepare_invoke();
        inv.key(value_key(key))
            .key(lease_key(key))
            .arg(CHANNEL)
            .arg(s.message(key));
        Box::pin(async move {
            let old: Option<Vec<u8>> = inv.invoke_async(&mut c).await.map_err(err)?;
            Ok(old
                .as_deref()
                .and_then(Header::read)
                .filter(Header::is_value)
                .map(|h| h.fresh_until))
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
        reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let s = &self.shared;
        let mut c = s.conn();
        let mut inv = s.scripts.cas.prepare_invoke();
        inv.key(value_key(key))
            .key(lease_key(key))
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(new)
            .arg(s.px(reclaim_at))
            .arg(CHANNEL)
            .arg(s.message(key));
        Box::pin(async move {
            inv.invoke_async::<i64>(&mut c)
                .await
                .map(|n| n == 1)
                .map_err(err)
        })
    }

    fn lease<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl_ms: u64,
    ) -> BoxFuture<'a, StoreResult<LeaseState>> {
        let s = &self.shared;
        let mut c = s.conn();
        let mut inv = s.scripts.lease.prepare_invoke();
        inv.key(lease_key(key)).arg(token.to_string()).arg(ttl_ms);
        Box::pin(async move {
            let r: i64 = inv.invoke_async(&mut c).await.map_err(err)?;
            Ok(if r == -1 {
                LeaseState::Acquired
            } else {
                LeaseState::Held {
                    remaining_ms: r.max(0) as u64,
                }
            })
        })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl_ms: u64,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let s = &self.shared;
        let mut c = s.conn();
        let mut inv = s.scripts.renew.prepare_invoke();
        inv.key(lease_key(key)).arg(token.to_string()).arg(ttl_ms);
        Box::pin(async move {
            inv.invoke_async::<i64>(&mut c)
                .await
                .map(|n| n == 1)
                .map_err(err)
        })
    }

    fn fill<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        envelope: Vec<u8>,
        reclaim_at: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let s = &self.shared;
        let mut c = s.conn();
        let mut inv = s.scripts.fill.prepare_invoke();
        inv.key(value_key(key))
            .key(lease_key(key))
            .arg(token.to_string())
            .arg(envelope)
            .arg(s.px(reclaim_at))
            .arg(CHANNEL)
            .arg(s.message(key));
        Box::pin(async move {
            inv.invoke_async::<i64>(&mut c)
                .await
                .map(|n| n == 1)
                .map_err(err)
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        failure: Option<(Vec<u8>, u64)>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let s = &self.shared;
        let mut c = s.conn();
        let mut inv = s.scripts.release.prepare_invoke();
        let (has, record, px) = match failure {
            Some((r, until)) => ("1", r, s.px(Some(until))),
            None => ("0", Vec::new(), 0),
        };
        inv.key(value_key(key))
            .key(lease_key(key))
            .arg(token.to_string())
            .arg(has)
            .arg(record)
            .arg(px)
            .arg(CHANNEL)
            .arg(s.message(key));
        Box::pin(async move {
            inv.invoke_async::<i64>(&mut c)
                .await
                .map(|_| ())
                .map_err(err)
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
        let mut c = self.shared.conn();
        let pattern = format!("{}*", glob_escape(value_key(prefix).trim_end_matches('}')));
        let prefix = prefix.to_string();
        Box::pin(async move {
            let found = scan(&mut c, &pattern).await?;
            let keys: Vec<(String, String)> = found
                .into_iter()
                .filter_map(|rk| core_key(&rk).map(|k| (rk, k)))
                .filter(|(_, k)| k.starts_with(&prefix))
                .collect();
            let mut out = Vec::new();
            for chunk in keys.chunks(100) {
                let rks: Vec<&str> = chunk.iter().map(|(rk, _)| rk.as_str()).collect();
                let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                    .arg(&rks)
                    .query_async(&mut c)
                    .await
                    .map_err(err)?;
                for ((_, k), v) in chunk.iter().zip(values) {
                    let fresh = v
                        .as_deref()
                        .and_then(Header::read)
                        .is_some_and(|h| h.is_value() && h.fresh_until > epoch_now);
                    if fresh {
                        out.push(k.clone());
                    }
                }
            }
            Ok(out)
        })
    }

    fn clear<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StoreResult<u64>> {
        let mut c = self.shared.conn();
        let pattern = format!("{}*", glob_escape(value_key(prefix).trim_end_matches('}')));
        let prefix = prefix.to_string();
        let message = format!("{}:*{prefix}", self.shared.origin);
        Box::pin(async move {
            let found = scan(&mut c, &pattern).await?;
            // Only flightcache's keys of the namespace: values and their leases.
            let ours: Vec<String> = found
                .into_iter()
                .filter(|rk| {
                    let value = rk.strip_suffix(":lease").unwrap_or(rk);
                    core_key(value).is_some_and(|k| k.starts_with(&prefix))
                })
                .collect();
            let values = ours.iter().filter(|k| !k.ends_with(":lease")).count() as u64;
            for chunk in ours.chunks(500) {
                let _: i64 = redis::cmd("UNLINK")
                    .arg(chunk)
                    .query_async(&mut c)
                    .await
                    .map_err(err)?;
            }
            let _: i64 = c.publish(CHANNEL, message).await.map_err(err)?;
            Ok(values)
        })
    }

    fn ping(&self) -> BoxFuture<'_, StoreResult<()>> {
        let mut c = self.shared.conn();
        Box::pin(async move {
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .map(|_| ())
                .map_err(err)
        })
    }

    fn subscribe(&self, sink: Arc<dyn InvalidationSink>) {
        // Until the subscription is up, changes of other processes go unannounced.
        sink.listening(false);
        let weak = Arc::downgrade(&self.shared);
        let beat = self.shared.beat;
        let (first, answered) = std::sync::mpsc::sync_channel(1);
        flightcache::store::spawn_background(listen(weak, sink, beat, Some(first)));
        // A cache whose subscription is up from the start trusts its first copies. Waiting
        // for the first attempt costs a round trip, or at most the store timeout, once.
        let _ = answered.recv_timeout(self.shared.timeout);
    }
}

async fn scan(c: &mut ConnectionManager, pattern: &str) -> StoreResult<Vec<String>> {
    let mut cursor: u64 = 0;
    let mut out = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(c)
            .await
            .map_err(err)?;
        out.extend(batch);
        if next == 0 {
            return Ok(out);
        }
        cursor = next;
    }
}

/// Reads the change channel until the store is dropped, redialling with backoff when the
/// subscription drops; tells the cache when it stops and starts listening. A subscription
/// can also die silently (a peer that froze, a connection a middlebox forgot): a PING on it
/// every `beat` that is not answered within `beat` counts as a drop, so no copy is trusted
/// for longer than about two beats after announcements stop.
async fn listen(
    store: Weak<Shared>,
    sink: Arc<dyn InvalidationSink>,
    beat: Duration,
    mut first: Option<std::sync::mpsc::SyncSender<()>>,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(s) = store.upgrade() else {
            return;
        };
        let client = s.client.clone();
        drop(s);
        let pubsub = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(CHANNEL).await?;
            Ok::<_, RedisError>(ps)
        };
        let ps = match tokio::time::timeout(Duration::from_secs(2), pubsub).await {
            Ok(Ok(ps)) => ps,
            _ => {
                if let Some(f) = first.take() {
                    let _ = f.try_send(());
                }
                if store.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        sink.listening(true);
        if let Some(f) = first.take() {
            let _ = f.try_send(());
        }
        let (mut pinger, mut stream) = ps.split();
        let mut next_beat = tokio::time::Instant::now() + beat;
        loop {
            let msg = tokio::select! {
                m = stream.next() => m,
                _ = tokio::time::sleep_until(next_beat) => {
                    if store.strong_count() == 0 {
                        return;
                    }
                    let pong = tokio::time::timeout(beat, pinger.ping::<redis::Value>()).await;
                    if !matches!(pong, Ok(Ok(_))) {
                        break;
                    }
                    next_beat = tokio::time::Instant::now() + beat;
                    continue;
                }
            };
            let Some(msg) = msg else {
                break;
            };
            let Some(s) = store.upgrade() else {
                return;
            };
            let Ok(text) = msg.get_payload::<String>() else {
                continue;
            };
            let Some((origin, key)) = text.split_once(':') else {
                continue;
            };
            if key.starts_with('*') {
                if origin != s.origin {
                    sink.changed_all();
                }
                s.wake_all();
                continue;
            }
            if origin != s.origin {
                sink.changed(key);
            }
            s.wake(key);
        }
        // The subscription dropped: announcements may be lost until it is back.
        sink.listening(false);
        if let Some(s) = store.upgrade() {
            s.wake_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_a_hash_tag_and_map_back() {
        assert_eq!(value_key("fc:v1:ns:k"), "fc:v1:{ns:k}");
        assert_eq!(lease_key("fc:v1:ns:k"), "fc:v1:{ns:k}:lease");
        assert_eq!(core_key("fc:v1:{ns:k}").as_deref(), Some("fc:v1:ns:k"));
        assert_eq!(core_key("fc:v1:{a}b}").as_deref(), Some("fc:v1:a}b"));
        assert_eq!(core_key("fc:v1:{ns:k}:lease"), None);
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
