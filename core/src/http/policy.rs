//! Which responses are stored and for how long, what a request asks of the cache, and
//! re-validation.
//!
//! - Only 2xx responses (not 206) to GET and HEAD are stored.
//! - `Cache-Control: no-store` or `private` on the response: never stored (the cache may
//!   be shared by processes and machines). `Vary: *`: never stored.
//! - The TTL is the helper's `ttl` (default 600 000 ms). With `respect_cache_control`, the
//!   response's `s-maxage`, `max-age` (less its `Age`) or `Expires` (against its `Date`)
//!   give it instead, and its `no-cache` keeps it out. `max_ttl` (default 3 600 000 ms)
//!   caps every TTL.
//! - The key (as stored, with both namespaces) and the entry (body plus stored headers)
//!   obey `max_key_bytes` / `max_value_bytes` (default 10 240 each).
//! - A request's `Cache-Control: no-store` or `Range` bypasses the cache; its `no-cache`,
//!   `max-age=0` (or `Pragma: no-cache`) re-validates; `max-age=N` accepts only an entry at
//!   most N seconds old.
//! - Re-validation is conditional when the stored response has an `ETag` or a
//!   `Last-Modified`; a `304` refreshes the stored headers and the entry's TTL.

use super::date::parse_http_date;
use super::key::{request_key, RequestKey, Vary};
use super::{header, Headers};
use crate::args;
use crate::error::{Error, Result};
use crate::memory::expiry::parse_ttl;

pub const DEFAULT_TTL_MS: u64 = 600_000;
pub const DEFAULT_MAX_TTL_MS: u64 = 3_600_000;
pub const DEFAULT_MAX_KEY_BYTES: u64 = 10_240;
pub const DEFAULT_MAX_VALUE_BYTES: u64 = 10_240;

/// The helpers' options, checked once when a helper is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub ttl: u64,
    pub max_ttl: u64,
    pub respect_cache_control: bool,
    pub max_key_bytes: u64,
    pub max_value_bytes: u64,
    /// The query parameters that are part of the key; `None`: all.
    pub key_params: Option<Vec<String>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ttl: DEFAULT_TTL_MS,
            max_ttl: DEFAULT_MAX_TTL_MS,
            respect_cache_control: false,
            max_key_bytes: DEFAULT_MAX_KEY_BYTES,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            key_params: None,
        }
    }
}

/// The option names of one host language, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    Snake,
    Camel,
}

impl Naming {
    fn name(self, snake: &'static str) -> String {
        match self {
            Naming::Snake => snake.to_string(),
            Naming::Camel => {
                let mut out = String::new();
                let mut up = false;
                for c in snake.chars() {
                    if c == '_' {
                        up = true;
                    } else if up {
                        out.push(c.to_ascii_uppercase());
                        up = false;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }
}

impl Options {
    /// Options from what a host was given (`None`: the default). Numbers are milliseconds
    /// or bytes; a TTL over `max_ttl` is an error rather than silently shortened.
    pub fn new(
        naming: Naming,
        ttl: Option<f64>,
        max_ttl: Option<f64>,
        respect_cache_control: Option<bool>,
        max_key_bytes: Option<f64>,
        max_value_bytes: Option<f64>,
        key_params: Option<Vec<String>>,
    ) -> Result<Options> {
        let d = Options::default();
        let ms = |v: Option<f64>, n: &'static str, default: u64| -> Result<u64> {
            v.map_or(Ok(default), |v| parse_ttl(&naming.name(n), v))
        };
        let bytes = |v: Option<f64>, n: &'static str, default: u64| -> Result<u64> {
            v.map_or(Ok(default), |v| args::count(&naming.name(n), v))
        };
        let o = Options {
            ttl: ms(ttl, "ttl", d.ttl)?,
            max_ttl: ms(max_ttl, "max_ttl", d.max_ttl)?,
            respect_cache_control: respect_cache_control.unwrap_or(false),
            max_key_bytes: bytes(max_key_bytes, "max_key_bytes", d.max_key_bytes)?,
            max_value_bytes: bytes(max_value_bytes, "max_value_bytes", d.max_value_bytes)?,
            key_params,
        };
        if o.ttl > o.max_ttl {
            return Err(Error::invalid(format!(
                "{} ({} ms) is over {} ({} ms)",
                naming.name("ttl"),
                o.ttl,
                naming.name("max_ttl"),
                o.max_ttl
            )));
        }
        Ok(o)
    }
}

/// A `Cache-Control` header's directives (names in lower case, values unquoted).
fn directives(headers: &Headers) -> Vec<(String, Option<String>)> {
    let Some(cc) = header(headers, "cache-control") else {
        return Vec::new();
    };
    cc.split(',')
        .filter_map(|d| {
            let d = d.trim();
            if d.is_empty() {
                return None;
            }
            Some(match d.split_once('=') {
                Some((n, v)) => (
                    n.trim().to_ascii_lowercase(),
                    Some(v.trim().trim_matches('"').to_string()),
                ),
                None => (d.to_ascii_lowercase(), None),
            })
        })
        .collect()
}

fn has(ds: &[(String, Option<String>)], name: &str) -> bool {
    ds.iter().any(|(n, _)| n == name)
}

/// A delta-seconds directive in ms (`max-age=60` -> 60 000); a malformed one is absent.
fn seconds(ds: &[(String, Option<String>)], name: &str) -> Option<u64> {
    ds.iter().find(|(n, _)| n == name).and_then(|(_, v)| {
        let v = v.as_deref()?;
        v.bytes().all(|c| c.is_ascii_digit()).then(|| {
            v.parse::<u64>()
                .unwrap_or(u64::MAX / 1000)
                .saturating_mul(1000)
        })
    })
}

fn cacheable_method(method: &str) -> bool {
    method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")
}

/// What the cache does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Sent upstream untouched, its response not stored.
    Bypass { reason: &'static str },
    /// Answered from `key` when an entry is there (no older than `max_age` ms when that is
    /// given; `Some(0)` re-validates), else loaded into it.
    Cache {
        key: RequestKey,
        max_age: Option<u64>,
    },
}

pub fn request(opts: &Options, method: &str, url: &str, headers: &Headers) -> Result<Request> {
    let key = request_key(method, url, opts.key_params.as_deref())?;
    if !cacheable_method(method) {
        return Ok(Request::Bypass { reason: "method" });
    }
    let ds = directives(headers);
    if has(&ds, "no-store") {
        return Ok(Request::Bypass { reason: "no-store" });
    }
    if header(headers, "range").is_some() {
        return Ok(Request::Bypass { reason: "range" });
    }
    if key.stored_len() as u64 > opts.max_key_bytes {
        return Ok(Request::Bypass {
            reason: "key too large",
        });
    }
    let pragma_no_cache = header(headers, "cache-control").is_none()
        && header(headers, "pragma").is_some_and(|p| p.to_ascii_lowercase().contains("no-cache"));
    let max_age = if has(&ds, "no-cache") || pragma_no_cache {
        Some(0)
    } else {
        seconds(&ds, "max-age")
    };
    Ok(Request::Cache { key, max_age })
}

/// Whether a response is stored, for how long, and what it varies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// 0: not stored.
    pub ttl: u64,
    /// Why (`"stored"`, or the rule that kept it out).
    pub reason: &'static str,
    pub vary: Vary,
}

/// The headers a stored response keeps: names in lower case, without the hop-by-hop ones
/// and those describing the transfer rather than the content (the stored body is the
/// decoded one, so `Content-Encoding` and `Content-Length` would lie), nor `X-Cache`.
pub fn stored_headers(headers: &Headers) -> Vec<(String, String)> {
    let connection: Vec<String> = header(headers, "connection")
        .map(|c| {
            c.split(',')
                .map(|n| n.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| {
            !matches!(
                n.as_str(),
                "connection"
                    | "keep-alive"
                    | "proxy-connection"
                    | "transfer-encoding"
                    | "te"
                    | "trailer"
                    | "upgrade"
                    | "content-encoding"
                    | "content-length"
                    | "x-cache"
            ) && !connection.contains(n)
        })
        .collect()
}

/// The bytes a stored response counts against `max_value_bytes`: its body and its stored
/// headers' names and values.
pub fn entry_bytes(headers: &Headers, body_len: u64) -> u64 {
    stored_headers(headers)
        .iter()
        .map(|(n, v)| (n.len() + v.len()) as u64)
        .sum::<u64>()
        + body_len
}

/// How long a response stays fresh by its own headers, when they say.
fn freshness(ds: &[(String, Option<String>)], headers: &Headers, now_ms: i64) -> Option<u64> {
    let age = header(headers, "age")
        .and_then(|a| a.parse::<u64>().ok())
        .map_or(0, |a| a.saturating_mul(1000));
    if let Some(ms) = seconds(ds, "s-maxage").or_else(|| seconds(ds, "max-age")) {
        return Some(ms.saturating_sub(age));
    }
    let expires = header(headers, "expires")?;
    // An invalid Expires (such as "0") means already expired.
    let Some(at) = parse_http_date(&expires) else {
        return Some(0);
    };
    let base = header(headers, "date")
        .and_then(|d| parse_http_date(&d))
        .unwrap_or(now_ms);
    Some((at - base).max(0) as u64)
}

/// Whether and for how long to store a response. `now_ms` (wall clock, epoch ms) is used
/// only for an `Expires` without a `Date`.
pub fn response(
    opts: &Options,
    method: &str,
    status: u16,
    headers: &Headers,
    body_len: u64,
    now_ms: i64,
) -> Decision {
    let vary = super::key::vary(headers);
    let no = |reason| Decision {
        ttl: 0,
        reason,
        vary: vary.clone(),
    };
    if !cacheable_method(method) {
        return no("method");
    }
    if !(200..300).contains(&status) || status == 206 {
        return no("status");
    }
    let ds = directives(headers);
    if has(&ds, "no-store") {
        return no("no-store");
    }
    if has(&ds, "private") {
        return no("private");
    }
    if vary == Vary::Nothing {
        return no("vary *");
    }
    if entry_bytes(headers, body_len) > opts.max_value_bytes {
        return no("entry too large");
    }
    let ttl = if opts.respect_cache_control {
        if has(&ds, "no-cache") {
            return no("no-cache");
        }
        freshness(&ds, headers, now_ms).unwrap_or(opts.ttl)
    } else {
        opts.ttl
    };
    let ttl = ttl.min(opts.max_ttl);
    if ttl == 0 {
        return no("expired");
    }
    Decision {
        ttl,
        reason: "stored",
        vary,
    }
}

/// The headers that make re-validation of a stored response a conditional request.
pub fn conditional_headers(stored: &Headers) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(etag) = header(stored, "etag") {
        out.push(("if-none-match".to_string(), etag));
    }
    if let Some(lm) = header(stored, "last-modified") {
        out.push(("if-modified-since".to_string(), lm));
    }
    out
}

/// A stored response's headers after a `304`: the 304's headers replace those of the same
/// name (RFC 9111 §4.3.4), the others stay.
pub fn refreshed_headers(stored: &Headers, not_modified: &Headers) -> Vec<(String, String)> {
    let new = stored_headers(not_modified);
    let mut out: Vec<(String, String)> = stored
        .iter()
        .filter(|(n, _)| !new.iter().any(|(m, _)| m.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    out.extend(new);
    out
}

/// Whether a failed re-validation (this status, or no answer at all) serves the stored
/// response instead (`X-Cache: STALE`): the upstream failing is no reason to fail a caller
/// whose entry is still within its TTL.
pub fn serve_stored_on(status: Option<u16>) -> bool {
    status.is_none_or(|s| s >= 500)
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(headers: &Headers) -> Option<String> {
    let v = header(headers, "authorization")?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn o() -> Options {
        Options::default()
    }

    fn respecting() -> Options {
        Options {
            respect_cache_control: true,
            ..o()
        }
    }

    fn ttl(opts: &Options, status: u16, hs: &[(&str, &str)]) -> (u64, &'static str) {
        let d = response(opts, "GET", status, &h(hs), 10, 0);
        (d.ttl, d.reason)
    }

    #[test]
    fn options_defaults_names_and_bounds() {
        let d = Options::new(Naming::Snake, None, None, None, None, None, None).unwrap();
        assert_eq!(d, o());
        assert_eq!(
            (d.ttl, d.max_ttl, d.max_key_bytes, d.max_value_bytes),
            (600_000, 3_600_000, 10_240, 10_240)
        );
        let e = Options::new(Naming::Camel, None, None, None, None, Some(-1.0), None).unwrap_err();
        assert!(e.to_string().contains("maxValueBytes"), "{e}");
        let e =
            Options::new(Naming::Snake, Some(f64::NAN), None, None, None, None, None).unwrap_err();
        assert!(e.to_string().starts_with("ttl "), "{e}");
        let e = Options::new(
            Naming::Camel,
            Some(7_200_000.0),
            None,
            None,
            None,
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ttl (7200000 ms) is over maxTtl (3600000 ms)"
        );
        assert!(Options::new(
            Naming::Snake,
            Some(7_200_000.0),
            Some(7_200_000.0),
            None,
            None,
            None,
            None
        )
        .is_ok());
        let e = Options::new(Naming::Snake, None, None, None, Some(1.5), None, None).unwrap_err();
        assert_eq!(e.kind(), "wrong_type");
        assert!(e.to_string().contains("max_key_bytes"), "{e}");
    }

    #[test]
    fn only_2xx_get_and_head_are_stored() {
        assert_eq!(ttl(&o(), 200, &[]), (600_000, "stored"));
        assert_eq!(ttl(&o(), 204, &[]).1, "stored");
        assert_eq!(response(&o(), "HEAD", 200, &[], 0, 0).ttl, 600_000);
        for s in [100, 206, 301, 304, 404, 401, 500, 503] {
            assert_eq!(ttl(&o(), s, &[]), (0, "status"), "{s}");
        }
        for m in ["POST", "PUT", "DELETE", "PATCH"] {
            assert_eq!(response(&o(), m, 200, &[], 0, 0).reason, "method");
        }
    }

    #[test]
    fn no_store_private_and_vary_star_are_never_stored() {
        for opts in [o(), respecting()] {
            assert_eq!(
                ttl(&opts, 200, &[("Cache-Control", "max-age=60, no-store")]).1,
                "no-store"
            );
            assert_eq!(
                ttl(&opts, 200, &[("cache-control", "private, max-age=60")]).1,
                "private"
            );
            assert_eq!(
                ttl(&opts, 200, &[("cache-control", "private=\"set-cookie\"")]).1,
                "private"
            );
            assert_eq!(ttl(&opts, 200, &[("Vary", "accept, *")]).1, "vary *");
        }
    }

    #[test]
    fn cache_control_and_expires_only_when_respected() {
        let cc = [("Cache-Control", "public, max-age=60")];
        assert_eq!(ttl(&o(), 200, &cc).0, 600_000);
        assert_eq!(ttl(&respecting(), 200, &cc).0, 60_000);
        assert_eq!(
            ttl(
                &respecting(),
                200,
                &[("cache-control", "max-age=60, s-maxage=30")]
            )
            .0,
            30_000
        );
        assert_eq!(
            ttl(
                &respecting(),
                200,
                &[("cache-control", "max-age=60"), ("Age", "45")]
            )
            .0,
            15_000
        );
        assert_eq!(
            ttl(&respecting(), 200, &[("cache-control", "max-age=0")]),
            (0, "expired")
        );
        assert_eq!(
            ttl(&respecting(), 200, &[("cache-control", "no-cache")]),
            (0, "no-cache")
        );
        assert_eq!(ttl(&o(), 200, &[("cache-control", "no-cache")]).0, 600_000);
        // max_ttl caps what the response asks for.
        assert_eq!(
            ttl(&respecting(), 200, &[("cache-control", "max-age=86400")]).0,
            3_600_000
        );
        // Expires against Date, else against now.
        let dated = [
            ("Date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("Expires", "Sun, 06 Nov 1994 08:50:37 GMT"),
        ];
        assert_eq!(ttl(&respecting(), 200, &dated).0, 60_000);
        let now = parse_http_date("Sun, 06 Nov 1994 08:49:07 GMT").unwrap();
        let d = response(&respecting(), "GET", 200, &h(&[dated[1]]), 0, now);
        assert_eq!(d.ttl, 90_000);
        assert_eq!(ttl(&respecting(), 200, &[("Expires", "0")]), (0, "expired"));
        assert_eq!(ttl(&o(), 200, &[("Expires", "0")]).0, 600_000);
        // max-age wins over Expires; no freshness information: the helper's ttl.
        assert_eq!(
            ttl(
                &respecting(),
                200,
                &[("Expires", "0"), ("cache-control", "max-age=5")]
            )
            .0,
            5_000
        );
        assert_eq!(
            ttl(&respecting(), 200, &[("cache-control", "public")]).0,
            600_000
        );
    }

    #[test]
    fn entry_size_limit() {
        let opts = Options {
            max_value_bytes: 100,
            ..o()
        };
        let hs = h(&[
            ("Content-Type", "text/plain"),
            ("Content-Length", "9999"),
            ("Connection", "close"),
        ]);
        // "content-type" + "text/plain" = 22 bytes; the transfer headers are not kept.
        assert_eq!(entry_bytes(&hs, 78), 100);
        assert_eq!(response(&opts, "GET", 200, &hs, 78, 0).reason, "stored");
        assert_eq!(
            response(&opts, "GET", 200, &hs, 79, 0).reason,
            "entry too large"
        );
    }

    #[test]
    fn requests_bypass_revalidate_or_bound_the_age() {
        let url = "http://h/x";
        let plan = |m: &str, hs: &[(&str, &str)]| request(&o(), m, url, &h(hs)).unwrap();
        let max_age = |hs: &[(&str, &str)]| match plan("GET", hs) {
            Request::Cache { max_age, .. } => max_age,
            other => panic!("{other:?}"),
        };
        assert_eq!(max_age(&[]), None);
        assert_eq!(max_age(&[("Cache-Control", "max-age=0")]), Some(0));
        assert_eq!(max_age(&[("Cache-Control", "no-cache")]), Some(0));
        assert_eq!(max_age(&[("Pragma", "no-cache")]), Some(0));
        assert_eq!(
            max_age(&[("Pragma", "no-cache"), ("Cache-Control", "max-age=5")]),
            Some(5000)
        );
        assert_eq!(plan("POST", &[]), Request::Bypass { reason: "method" });
        assert_eq!(
            plan("GET", &[("cache-control", "no-store")]),
            Request::Bypass { reason: "no-store" }
        );
        assert_eq!(
            plan("GET", &[("Range", "bytes=0-1")]),
            Request::Bypass { reason: "range" }
        );
        let long = format!("http://h/x?q={}", "a".repeat(10_240));
        assert_eq!(
            request(&o(), "GET", &long, &[]).unwrap(),
            Request::Bypass {
                reason: "key too large"
            }
        );
        // At the limit exactly, the key is kept.
        let fits = Options {
            max_key_bytes: 17,
            ..o()
        };
        let Request::Cache { key, .. } = request(&fits, "GET", "http://h/x", &[]).unwrap() else {
            panic!()
        };
        assert_eq!(key.stored_len(), 17); // "http%3A//h" ":" "/x" ":" "GET"
        let tight = Options {
            max_key_bytes: 16,
            ..o()
        };
        assert_eq!(
            request(&tight, "GET", "http://h/x", &[]).unwrap(),
            Request::Bypass {
                reason: "key too large"
            }
        );
        assert!(request(&o(), "GET", "not a url", &[]).is_err());
    }

    #[test]
    fn revalidation_headers_and_304_refresh() {
        let stored = stored_headers(&h(&[
            ("ETag", "\"v1\""),
            ("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("Content-Type", "application/json"),
            ("Cache-Control", "max-age=10"),
            ("X-Cache", "MISS"),
        ]));
        assert_eq!(
            conditional_headers(&stored),
            h(&[
                ("if-none-match", "\"v1\""),
                ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")
            ])
        );
        assert!(conditional_headers(&h(&[("content-type", "x")])).is_empty());
        let after = refreshed_headers(
            &stored,
            &h(&[("Cache-Control", "max-age=20"), ("Content-Length", "0")]),
        );
        assert!(after.contains(&("cache-control".into(), "max-age=20".into())));
        assert!(after.contains(&("content-type".into(), "application/json".into())));
        assert!(!after
            .iter()
            .any(|(n, _)| n == "content-length" || n == "x-cache"));
        assert_eq!(
            after.iter().filter(|(n, _)| n == "cache-control").count(),
            1
        );
        assert!(serve_stored_on(None) && serve_stored_on(Some(503)));
        assert!(!serve_stored_on(Some(404)) && !serve_stored_on(Some(401)));
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(
            bearer_token(&h(&[("Authorization", "Bearer abc.def")])).as_deref(),
            Some("abc.def")
        );
        assert_eq!(
            bearer_token(&h(&[("authorization", "bearer  x ")])).as_deref(),
            Some("x")
        );
        assert_eq!(bearer_token(&h(&[("Authorization", "Basic Zm9v")])), None);
        assert_eq!(bearer_token(&h(&[])), None);
    }
}
