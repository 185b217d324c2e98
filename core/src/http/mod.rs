//! The rules of HTTP response caching and access tokens, shared by the Python helpers
//! (`flightcache.http`, `cache.token`) and the Node ones (`flightcache/http`, `cache.token`).
//!
//! Everything here is a pure function over plain data (strings, header lists, lengths,
//! epoch milliseconds), so both languages decide the same way and build the same keys: a
//! Python process and a Node process sharing a store share responses.
//!
//! - [`key`]: where a request's response is kept: the namespace of its origin, the
//!   namespace of its path, and the key inside (method, chosen query parameters sorted, the
//!   request headers the response varies on).
//! - [`policy`]: what may be stored and for how long (2xx GET/HEAD only, `no-store`,
//!   `private`, `Cache-Control` / `Expires` when respected, the default and maximum TTL, the
//!   key and entry size limits), what a request asks for (`max-age`, `no-cache`,
//!   `no-store`), and re-validation (conditional headers, the headers a `304` refreshes).
//! - [`token`]: how long an access token may be kept (OAuth `expires_in` / `expires_at`, or
//!   a JWT's `exp`), less a skew.
//!
//! A stored response is a record in the shareable data model: `{"status": int,
//! "headers": [[name, value], ...], "body": bytes, "vary": [[name, value or null], ...]}`,
//! where `headers` are [`policy::stored_headers`] and `vary` the request's values of the
//! headers the response varies on ([`key::varied_values`]). When a response varies, the
//! entry at the request's base key is a marker `{"vary": [name, ...]}` naming those headers,
//! and the response itself is kept under [`key::variant_key`].

pub mod date;
pub mod key;
pub mod policy;
pub mod token;

/// Header pairs as a host gives them (any case; repeated names allowed).
pub type Headers = [(String, String)];

/// The value of header `name` (lower case): repeated headers joined with ", " as HTTP does.
pub fn header(headers: &Headers, name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            match &mut out {
                Some(o) => {
                    o.push_str(", ");
                    o.push_str(v.trim());
                }
                None => out = Some(v.trim().to_string()),
            }
        }
    }
    out
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

    #[test]
    fn header_lookup_ignores_case_and_joins_repeats() {
        let hs = h(&[("Accept", "a"), ("X", "1"), ("accept", " b ")]);
        assert_eq!(header(&hs, "accept").as_deref(), Some("a, b"));
        assert_eq!(header(&hs, "missing"), None);
    }
}
