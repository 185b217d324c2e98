//! The `store` option: which store a cache uses, read from its URL once, at construction.
//! A URL the cache cannot use is an error that names the scheme or the part at fault.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// A store URL, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `None`, `""` or `"memory"`: no shared store, the in-process tier alone.
    InProcess,
    /// `memory://NAME`: a store in this process's memory shared by every cache opened with
    /// the same name. It stands in for a real store in tests (two caches on one name behave
    /// like two processes on one store).
    Memory { name: String },
    /// `sqlite:///ABSOLUTE/PATH`.
    Sqlite { path: PathBuf },
    /// `redis://` or `rediss://` (TLS), with optional `user:password@`, host, port, `/db`.
    Redis {
        tls: bool,
        host: String,
        port: u16,
        db: i64,
        username: Option<String>,
        password: Option<String>,
        /// `?ca=/ABSOLUTE/PATH.pem`: a CA certificate to trust for `rediss://` besides the
        /// public roots (a server with a private certificate).
        ca: Option<PathBuf>,
    },
}

impl StoreUrl {
    pub fn parse(url: Option<&str>) -> Result<StoreUrl> {
        let Some(url) = url.map(str::trim) else {
            return Ok(StoreUrl::InProcess);
        };
        if url.is_empty() || url == "memory" {
            return Ok(StoreUrl::InProcess);
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(Error::invalid(format!(
                "store {url:?} is not a URL: use \"sqlite:///ABSOLUTE/PATH\", \
                 \"redis://HOST:PORT/DB\", \"rediss://…\", or \"memory\""
            )));
        };
        match scheme {
            "memory" => {
                if rest.is_empty() {
                    return Err(Error::invalid(
                        "store \"memory://\" needs a name (memory://NAME), or use \"memory\"",
                    ));
                }
                Ok(StoreUrl::Memory {
                    name: rest.to_string(),
                })
            }
            "sqlite" => {
                // sqlite:///abs/path: the path is what follows "sqlite://", and it must be
                // absolute, so a relative path never depends on the working directory.
                if !rest.starts_with('/') {
                    return Err(Error::invalid(format!(
                        "store {url:?}: the sqlite path must be absolute \
                         (sqlite:///ABSOLUTE/PATH, three slashes)"
                    )));
                }
                let path = rest.split(['?', '#']).next().unwrap_or(rest);
                if path.ends_with('/') {
                    return Err(Error::invalid(format!(
                        "store {url:?}: the sqlite path names a folder, not a file"
                    )));
                }
                Ok(StoreUrl::Sqlite {
                    path: PathBuf::from(percent_decode(path, url)?),
                })
            }
            "redis" | "rediss" => parse_redis(scheme == "rediss", rest, url),
            other => Err(Error::invalid(format!(
                "store {url:?}: unknown scheme {other:?} (known: sqlite, redis, rediss, memory)"
            ))),
        }
    }

    /// The URL without its password, for messages and `describe`.
    pub fn redacted(&self) -> String {
        match self {
            StoreUrl::InProcess => "memory".into(),
            StoreUrl::Memory { name } => format!("memory://{name}"),
            StoreUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            StoreUrl::Redis {
                tls,
                host,
                port,
                db,
                username,
                password,
                ..
            } => {
                let auth = match (username, password) {
                    (Some(u), Some(_)) => format!("{u}:***@"),
                    (None, Some(_)) => ":***@".into(),
                    (Some(u), None) => format!("{u}@"),
                    (None, None) => String::new(),
                };
                let scheme = if *tls { "rediss" } else { "redis" };
                format!("{scheme}://{auth}{host}:{port}/{db}")
            }
        }
    }
}

fn parse_redis(tls: bool, rest: &str, url: &str) -> Result<StoreUrl> {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let query = path
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q));
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut ca = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("ca", v)) if v.starts_with('/') => {
                ca = Some(PathBuf::from(percent_decode(v, url)?))
            }
            Some(("ca", v)) => {
                return Err(Error::invalid(format!(
                    "store {}: ca={v:?} must be an absolute path to a PEM file",
                    redact(url)
                )))
            }
            _ => {
                return Err(Error::invalid(format!(
                    "store {}: unknown option {pair:?} (known: ca=/PATH.pem)",
                    redact(url)
                )))
            }
        }
    }
    if ca.is_some() && !tls {
        return Err(Error::invalid(format!(
            "store {}: ca= is for rediss:// (TLS) URLs",
            redact(url)
        )));
    }
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(ui) => match ui.split_once(':') {
            Some((u, p)) => (
                (!u.is_empty())
                    .then(|| percent_decode(u, url))
                    .transpose()?,
                Some(percent_decode(p, url)?),
            ),
            None => (Some(percent_decode(ui, url)?), None),
        },
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let Some((h, tail)) = h.split_once(']') else {
            return Err(Error::invalid(format!(
                "store {}: the host is an unclosed IPv6 bracket",
                redact(url)
            )));
        };
        (h.to_string(), tail.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(Error::invalid(format!(
            "store {}: the URL has no host",
            redact(url)
        )));
    }
    let port = match port {
        None | Some("") => 6379,
        Some(p) => p.parse::<u16>().map_err(|_| {
            Error::invalid(format!(
                "store {}: the port {p:?} is not a number from 0 to 65535",
                redact(url)
            ))
        })?,
    };
    let db = if path.is_empty() {
        0
    } else {
        path.parse::<i64>()
            .ok()
            .filter(|d| *d >= 0)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "store {}: the database {path:?} is not a number >= 0",
                    redact(url)
                ))
            })?
    };
    Ok(StoreUrl::Redis {
        tls,
        host,
        port,
        db,
        username,
        password,
        ca,
    })
}

/// `url` with the password of its user info replaced, for error messages.
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some(at) = rest.find('@') {
            let (ui, tail) = rest.split_at(at);
            if let Some((u, _)) = ui.split_once(':') {
                return format!("{scheme}://{u}:***{tail}");
            }
        }
    }
    url.to_string()
}

fn percent_decode(s: &str, url: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => {
                    return Err(Error::invalid(format!(
                        "store {}: a '%' not followed by two hex digits",
                        redact(url)
                    )))
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| {
        Error::invalid(format!(
            "store {}: percent-escapes that are not UTF-8",
            redact(url)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_process_spellings() {
        for u in [None, Some(""), Some("memory"), Some("  memory ")] {
            assert_eq!(StoreUrl::parse(u).unwrap(), StoreUrl::InProcess, "{u:?}");
        }
    }

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            StoreUrl::parse(Some("sqlite:///var/tmp/h%20x.db")).unwrap(),
            StoreUrl::Sqlite {
                path: "/var/tmp/h x.db".into()
            }
        );
        let e = StoreUrl::parse(Some("sqlite://rel.db")).unwrap_err();
        assert!(e.to_string().contains("absolute"), "{e}");
        assert_eq!(e.kind(), "invalid_argument");
    }

    #[test]
    fn redis_urls() {
        let u = StoreUrl::parse(Some("rediss://app:s%3Acret@cache.local:6380/2")).unwrap();
        assert_eq!(
            u,
            StoreUrl::Redis {
                tls: true,
                host: "cache.local".into(),
                port: 6380,
                db: 2,
                username: Some("app".into()),
                password: Some("s:cret".into()),
                ca: None,
            }
        );
        assert_eq!(u.redacted(), "rediss://app:***@cache.local:6380/2");
        let u = StoreUrl::parse(Some("rediss://h/0?ca=/etc/ca.pem")).unwrap();
        assert!(
            matches!(&u, StoreUrl::Redis { ca: Some(p), .. } if p == std::path::Path::new("/etc/ca.pem"))
        );
        assert!(StoreUrl::parse(Some("redis://h/0?ca=/etc/ca.pem")).is_err());
        assert!(StoreUrl::parse(Some("rediss://h/0?cert=x")).is_err());
        let u = StoreUrl::parse(Some("redis://:pw@127.0.0.1")).unwrap();
        assert!(matches!(
            u,
            StoreUrl::Redis {
                port: 6379,
                db: 0,
                username: None,
                ..
            }
        ));
        for (bad, part) in [
            ("redis://h:99999/0", "port"),
            ("redis://h:6379/x", "database"),
            ("redis:///0", "host"),
            ("http://h", "scheme"),
            ("/var/tmp/x.db", "not a URL"),
        ] {
            let e = StoreUrl::parse(Some(bad)).unwrap_err().to_string();
            assert!(e.contains(part), "{bad}: {e}");
        }
        let e = StoreUrl::parse(Some("redis://u:secret@h:x/0"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
    }
}
