//! Where a request's response is kept.
//!
//! A response lives in the namespace of its origin (`https://api.example.com`), inside it
//! the namespace of its path (`/v1/items`), under a key made of the method and the chosen
//! query parameters, sorted (`GET ?page=2&q=x`). Clearing one endpoint is clearing one of
//! those namespaces. The URL is canonicalised first (scheme and host in lower case, the
//! default port dropped, percent-encoding normalised, `+` in a query read as a space), so
//! that every client, in either language, writing the same URL gets the same key.
//!
//! When a response `Vary`s on request headers, the request's values of those headers are
//! appended ([`variant_key`]), and the base key holds a marker naming them.

use super::{header, Headers};
use crate::error::{Error, Result};

/// The three parts of a request's place in the cache: namespace names (never empty, never
/// containing `:`) and the key inside the path's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub origin: String,
    pub path: String,
    pub key: String,
}

impl RequestKey {
    /// The bytes the key takes as the cache stores it under both namespaces.
    pub fn stored_len(&self) -> usize {
        self.origin.len() + 1 + self.path.len() + 1 + self.key.len()
    }
}

struct Url<'a> {
    scheme: &'a str,
    host: String,
    port: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

fn parse_url(url: &str) -> Result<Url<'_>> {
    let bad = |why: &str| Error::invalid(format!("url {url:?} {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("is not absolute (it needs http:// or https://)"))?;
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        "http"
    } else if scheme.eq_ignore_ascii_case("https") {
        "https"
    } else {
        return Err(bad("has a scheme other than http or https"));
    };
    let rest = rest.split('#').next().unwrap_or("");
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    // Credentials in a URL never become part of a key.
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
        let (h, after) = r
            .split_once(']')
            .ok_or_else(|| bad("has an unclosed [ in its host"))?;
        let port = after.strip_prefix(':');
        (format!("[{}]", h.to_ascii_lowercase()), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (hostport.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("has no host"));
    }
    let port = match port {
        Some("") | None => None,
        Some(p) if p.bytes().all(|c| c.is_ascii_digit()) => {
            let default = if scheme == "http" { "80" } else { "443" };
            (p.trim_start_matches('0') != default).then_some(p)
        }
        Some(_) => return Err(bad("has a port that is not a number")),
    };
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    Ok(Url {
        scheme,
        host,
        port,
        path,
        query,
    })
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn keep_in_path(c: u8) -> bool {
    // ':' is escaped: a namespace name may not contain it.
    unreserved(c) || b"!$&'()*+,;=@/".contains(&c)
}

fn keep_in_query(c: u8) -> bool {
    // '&', '=', '+' and '|' are escaped: they separate the parts of a key.
    unreserved(c) || b"!$'()*,;:@/?".contains(&c)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Decodes percent escapes (and `+` as a space in a query), then escapes every byte `keep`
/// does not allow, in upper-case hex: one spelling per URL.
fn canon(s: &str, plus_is_space: bool, keep: fn(u8) -> bool) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let mut c = b[i];
        if c == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                push_byte(&mut out, h * 16 + l, keep);
                i += 3;
                continue;
            }
        }
        if c == b'+' && plus_is_space {
            c = b' ';
        }
        push_byte(&mut out, c, keep);
        i += 1;
    }
    out
}

fn push_byte(out: &mut String, c: u8, keep: fn(u8) -> bool) {
    if keep(c) {
        out.push(c as char);
    } else {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        out.push('%');
        out.push(HEX[(c >> 4) as usize] as char);
        out.push(HEX[(c & 15) as usize] as char);
    }
}

fn origin_name(u: &Url<'_>) -> String {
    let mut o = format!("{}%3A//{}", u.scheme, u.host.replace(':', "%3A"));
    if let Some(p) = u.port {
        o.push_str("%3A");
        o.push_str(p.trim_start_matches('0'));
    }
    o
}

fn path_name(u: &Url<'_>) -> String {
    if u.path.is_empty() {
        "/".to_string()
    } else {
        canon(u.path, false, keep_in_path)
    }
}

fn method_name(method: &str) -> Result<String> {
    let ok = !method.is_empty()
        && method
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c));
    if !ok {
        return Err(Error::invalid(format!(
            "method {method:?} is not an HTTP method"
        )));
    }
    Ok(method.to_ascii_uppercase())
}

/// The place of a request's response. `key_params` names the query parameters that are
/// part of the key (`None`: all of them); they are sorted by name, repeated ones keeping
/// their order.
pub fn request_key(method: &str, url: &str, key_params: Option<&[String]>) -> Result<RequestKey> {
    let u = parse_url(url)?;
    let mut key = method_name(method)?;
    let chosen: Option<Vec<String>> =
        key_params.map(|ps| ps.iter().map(|p| canon(p, true, keep_in_query)).collect());
    let mut params: Vec<(String, Option<String>)> = Vec::new();
    for piece in u.query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (n, v) = match piece.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (piece, None),
        };
        let n = canon(n, true, keep_in_query);
        if chosen.as_ref().is_some_and(|c| !c.contains(&n)) {
            continue;
        }
        params.push((n, v.map(|v| canon(v, true, keep_in_query))));
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (n, v)) in params.iter().enumerate() {
        key.push_str(if i == 0 { " ?" } else { "&" });
        key.push_str(n);
        if let Some(v) = v {
            key.push('=');
            key.push_str(v);
        }
    }
    Ok(RequestKey {
        origin: origin_name(&u),
        path: path_name(&u),
        key,
    })
}

/// The namespaces to clear for `url`: its origin's, and its path's when the URL has one
/// (`https://api.example.com` clears the whole origin, `https://api.example.com/v1/items`
/// that endpoint only).
pub fn endpoint(url: &str) -> Result<(String, Option<String>)> {
    let u = parse_url(url)?;
    let path = (!u.path.is_empty() && u.path != "/").then(|| path_name(&u));
    Ok((origin_name(&u), path))
}

/// What a response's `Vary` says about the requests it may answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vary {
    /// Any request for the URL (no `Vary`).
    All,
    /// Requests with the same values of these headers (lower case, sorted).
    Headers(Vec<String>),
    /// `Vary: *`: no other request; never stored.
    Nothing,
}

pub fn vary(response_headers: &Headers) -> Vary {
    let Some(v) = header(response_headers, "vary") else {
        return Vary::All;
    };
    let mut names: Vec<String> = v
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.iter().any(|n| n == "*") {
        return Vary::Nothing;
    }
    names.sort();
    names.dedup();
    if names.is_empty() {
        Vary::All
    } else {
        Vary::Headers(names)
    }
}

/// The request's values of the headers `names` (absent ones as `None`), with runs of
/// whitespace folded, as a stored response records them.
pub fn varied_values(names: &[String], request_headers: &Headers) -> Vec<(String, Option<String>)> {
    names
        .iter()
        .map(|n| {
            let n = n.to_ascii_lowercase();
            let v = header(request_headers, &n)
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "));
            (n, v)
        })
        .collect()
}

/// Whether a request may be answered by a response recorded with `recorded` (its
/// [`varied_values`]).
pub fn vary_matches(recorded: &[(String, Option<String>)], request_headers: &Headers) -> bool {
    let names: Vec<String> = recorded.iter().map(|(n, _)| n.clone()).collect();
    varied_values(&names, request_headers) == recorded
}

/// The key of the variant of `base` a request selects, for a response varying on `names`.
pub fn variant_key(base: &str, names: &[String], request_headers: &Headers) -> String {
    let mut names: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let mut k = base.to_string();
    for (n, v) in varied_values(&names, request_headers) {
        k.push('|');
        k.push_str(&canon(&n, false, keep_in_query));
        if let Some(v) = v {
            k.push('=');
            k.push_str(&canon(&v, false, keep_in_query));
        }
    }
    k
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

    fn k(method: &str, url: &str) -> RequestKey {
        request_key(method, url, None).unwrap()
    }

    #[test]
    fn origin_path_and_sorted_query() {
        let r = k(
            "get",
            "HTTPS://API.Example.com:443/v1/items?b=2&a=1&a=0#frag",
        );
        assert_eq!(r.origin, "https%3A//api.example.com");
        assert_eq!(r.path, "/v1/items");
        assert_eq!(r.key, "GET ?a=1&a=0&b=2");
        assert_eq!(
            r.stored_len(),
            r.origin.len() + r.path.len() + r.key.len() + 2
        );
        assert_eq!(
            k("HEAD", "http://127.0.0.1:8080").origin,
            "http%3A//127.0.0.1%3A8080"
        );
        assert_eq!(k("HEAD", "http://127.0.0.1:8080").path, "/");
        assert_eq!(k("HEAD", "http://127.0.0.1:8080").key, "HEAD");
        assert_eq!(k("GET", "http://[::1]:80/x").origin, "http%3A//[%3A%3A1]");
        assert_eq!(k("GET", "http://user:pw@host/x").origin, "http%3A//host");
    }

    #[test]
    fn one_spelling_per_url() {
        // Python's httpx and Node's URL write spaces and escapes differently.
        let a = k("GET", "http://h/a%7eb/c:d?q=a+b&r=%2f&s=%41");
        let b = k("GET", "http://h/a~b/c%3Ad?s=A&q=a%20b&r=/");
        assert_eq!(a, b);
        assert_eq!(a.path, "/a~b/c%3Ad");
        assert_eq!(a.key, "GET ?q=a%20b&r=/&s=A");
        // Separators inside values stay escaped, so no two queries share a key.
        assert_ne!(
            k("GET", "http://h/?a=1%262").key,
            k("GET", "http://h/?a=1&2").key
        );
        assert_eq!(k("GET", "http://h/?a=%7C").key, "GET ?a=%7C");
        assert_ne!(k("GET", "http://h/?a").key, k("GET", "http://h/?a=").key);
    }

    #[test]
    fn chosen_parameters_only() {
        let chosen = vec!["page".to_string(), "q".to_string()];
        let r = request_key("GET", "http://h/s?utm=x&q=1&page=2&ts=9", Some(&chosen)).unwrap();
        assert_eq!(r.key, "GET ?page=2&q=1");
        let none: Vec<String> = vec![];
        assert_eq!(
            request_key("GET", "http://h/s?q=1", Some(&none))
                .unwrap()
                .key,
            "GET"
        );
    }

    #[test]
    fn bad_urls_and_methods_say_what_is_wrong() {
        for (url, why) in [
            ("/relative", "not absolute"),
            ("ftp://h/x", "scheme"),
            ("http:///x", "no host"),
            ("http://h:x/", "port"),
        ] {
            let e = request_key("GET", url, None).unwrap_err();
            assert_eq!(e.kind(), "invalid_argument");
            assert!(e.to_string().contains(why), "{e}");
            assert!(e.to_string().contains(url), "{e}");
        }
        let e = request_key("GE T", "http://h/", None).unwrap_err();
        assert!(e.to_string().contains("method"), "{e}");
    }

    #[test]
    fn endpoints_to_clear() {
        assert_eq!(
            endpoint("http://h:81").unwrap(),
            ("http%3A//h%3A81".into(), None)
        );
        assert_eq!(
            endpoint("http://h/v1/items?x=1").unwrap(),
            ("http%3A//h".into(), Some("/v1/items".into()))
        );
    }

    #[test]
    fn vary_selects_variants() {
        assert_eq!(vary(&h(&[])), Vary::All);
        assert_eq!(vary(&h(&[("Vary", "*")])), Vary::Nothing);
        assert_eq!(
            vary(&h(&[
                ("vary", "Accept-Language, accept"),
                ("Vary", "accept")
            ])),
            Vary::Headers(vec!["accept".into(), "accept-language".into()])
        );
        let names = vec!["accept".to_string(), "x-absent".to_string()];
        let json = h(&[("Accept", "application/json")]);
        let text = h(&[("accept", "text/plain")]);
        assert_eq!(
            variant_key("GET", &names, &json),
            "GET|accept=application/json|x-absent"
        );
        assert_ne!(
            variant_key("GET", &names, &json),
            variant_key("GET", &names, &text)
        );
        let recorded = varied_values(&names, &json);
        assert_eq!(
            recorded,
            vec![
                ("accept".into(), Some("application/json".into())),
                ("x-absent".into(), None)
            ]
        );
        assert!(vary_matches(
            &recorded,
            &h(&[("ACCEPT", " application/json ")])
        ));
        assert!(!vary_matches(&recorded, &text));
        assert!(!vary_matches(
            &recorded,
            &h(&[("accept", "application/json"), ("x-absent", "1")])
        ));
    }
}
