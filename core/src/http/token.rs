//! How long an access token may be kept (`cache.token` in both languages).
//!
//! A token fetcher returns either an OAuth token response (RFC 6749 §5.1: `access_token`
//! and `expires_in` seconds; many APIs give `expires_at` instead, as epoch seconds or an
//! RFC 3339 time; GitHub names the token `token`) or the token itself as a JWT, whose `exp`
//! claim (epoch seconds) gives its lifetime. The JWT's payload is only decoded, never
//! verified: the token comes from the fetcher the caller trusts, and the cache only needs
//! to know when to stop using it. The token is kept for its lifetime less `skew`, so that
//! it is never sent when about to expire.
//!
//! Hosts hand over what the fetcher returned as text: a JSON object, or the token string.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A token and how long to keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub token: String,
    /// Milliseconds the token is valid from now (0 when already expired).
    pub lifetime: u64,
    /// Milliseconds to keep it: the lifetime less the skew (0: return it, keep nothing).
    pub keep: u64,
}

/// Reads `skew` (ms, default 30 000).
pub fn skew(ms: Option<f64>) -> Result<u64> {
    ms.map_or(Ok(30_000), |v| crate::memory::expiry::parse_ttl("skew", v))
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(msg.into())
}

/// The grant of what a token fetcher returned (`value`: a JSON object's text, or the token).
/// `now_ms` is the wall clock (epoch ms), for `expires_at` and `exp`.
pub fn grant(value: &str, now_ms: i64, skew_ms: u64) -> Result<Grant> {
    let v = value.trim();
    let (token, lifetime) = if v.starts_with('{') {
        let obj: Map<String, Value> = serde_json::from_str(v)
            .map_err(|e| invalid(format!("the token response is not a JSON object: {e}")))?;
        from_response(&obj, now_ms)?
    } else {
        if v.is_empty() {
            return Err(invalid("the token fetcher returned an empty string"));
        }
        let Some(exp) = jwt_expiry(v)? else {
            return Err(invalid(
                "the token fetcher returned a string that is not a JWT with an exp claim, so \
                 its lifetime is unknown: return the token response (access_token and \
                 expires_in) instead",
            ));
        };
        (v.to_string(), exp - now_ms)
    };
    let lifetime = lifetime.max(0) as u64;
    Ok(Grant {
        token,
        lifetime,
        keep: lifetime.saturating_sub(skew_ms),
    })
}

fn from_response(obj: &Map<String, Value>, now_ms: i64) -> Result<(String, i64)> {
    let token = match obj.get("access_token").or_else(|| obj.get("token")) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => {
            return Err(invalid("the token response's access_token is empty"))
        }
        Some(other) => {
            return Err(Error::WrongType(format!(
                "the token response's access_token must be a string, got {}",
                json_type(other)
            )))
        }
        None => {
            // Only the field names: the values may be secrets.
            let names: Vec<&str> = obj.keys().map(String::as_str).collect();
            return Err(invalid(format!(
                "the token response has no access_token (its fields: {})",
                names.join(", ")
            )));
        }
    };
    if let Some(v) = obj.get("expires_in").filter(|v| !v.is_null()) {
        let secs = number(v, "expires_in")?;
        if secs < 0.0 {
            return Err(invalid(format!(
                "the token response's expires_in must be >= 0, got {secs}"
            )));
        }
        return Ok((token, (secs * 1000.0) as i64));
    }
    if let Some(v) = obj.get("expires_at").filter(|v| !v.is_null()) {
        let at = match v {
            Value::String(s) if s.parse::<f64>().is_err() => super::date::parse_rfc3339(s)
                .ok_or_else(|| {
                    invalid(format!(
                        "the token response's expires_at {s:?} is neither a number of \
                         seconds nor an RFC 3339 time"
                    ))
                })?,
            _ => epoch_ms(number(v, "expires_at")?),
        };
        return Ok((token, at - now_ms));
    }
    match jwt_expiry(&token)? {
        Some(exp) => Ok((token, exp - now_ms)),
        None => Err(invalid(
            "the token response has no expires_in or expires_at, and its access_token is not \
             a JWT with an exp claim, so the token's lifetime is unknown",
        )),
    }
}

/// Epoch seconds as ms; a number too large to be seconds (after the year 5000) is already
/// in ms, as some APIs write it.
fn epoch_ms(n: f64) -> i64 {
    if n.abs() >= 1e11 {
        n as i64
    } else {
        (n * 1000.0) as i64
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn number(v: &Value, name: &str) -> Result<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        // Some servers send numbers as strings ("3600").
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    n.filter(|n| n.is_finite()).ok_or_else(|| {
        invalid(format!(
            "the token response's {name} must be a number of seconds, got {}",
            match v {
                Value::String(s) => format!("{s:?}"),
                other => json_type(other).to_string(),
            }
        ))
    })
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The `exp` of a JWT as epoch ms; `None` when `token` is not a JWT (three base64url
/// parts whose middle one is a JSON object). A JWT whose `exp` is not a number is an error.
pub fn jwt_expiry(token: &str) -> Result<Option<i64>> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Ok(None);
    }
    let Some(payload) = base64url(parts[1]) else {
        return Ok(None);
    };
    let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(&payload) else {
        return Ok(None);
    };
    match claims.get("exp") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {
            Ok(Some((n.as_f64().unwrap_or(0.0) * 1000.0) as i64))
        }
        Some(other) => Err(invalid(format!(
            "the JWT's exp claim must be a number of seconds, got {}",
            json_type(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn b64(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | b as u32) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            b64(br#"{"alg":"none"}"#),
            b64(claims.as_bytes())
        )
    }

    #[test]
    fn oauth_expires_in_less_the_skew() {
        let g = grant(
            r#"{"access_token":"abc","token_type":"Bearer","expires_in":3600}"#,
            NOW,
            30_000,
        )
        .unwrap();
        assert_eq!(
            g,
            Grant {
                token: "abc".into(),
                lifetime: 3_600_000,
                keep: 3_570_000
            }
        );
        let g = grant(r#"{"access_token":"abc","expires_in":"60"}"#, NOW, 30_000).unwrap();
        assert_eq!(g.keep, 30_000);
        // Shorter than the skew: returned, not kept.
        assert_eq!(
            grant(r#"{"access_token":"a","expires_in":10}"#, NOW, 30_000)
                .unwrap()
                .keep,
            0
        );
        assert_eq!(
            grant(r#"{"token":"ghs_x","expires_in":10}"#, NOW, 0)
                .unwrap()
                .token,
            "ghs_x"
        );
    }

    #[test]
    fn oauth_expires_at_seconds_ms_or_rfc3339() {
        let at = (NOW / 1000) + 600;
        let g = grant(
            &format!(r#"{{"access_token":"a","expires_at":{at}}}"#),
            NOW,
            30_000,
        )
        .unwrap();
        assert_eq!((g.lifetime, g.keep), (600_000, 570_000));
        let g = grant(
            &format!(r#"{{"access_token":"a","expires_at":{}}}"#, NOW + 600_000),
            NOW,
            0,
        )
        .unwrap();
        assert_eq!(g.lifetime, 600_000);
        let g = grant(
            r#"{"access_token":"a","expires_at":"2023-11-14T22:23:20Z"}"#,
            NOW,
            0,
        )
        .unwrap();
        assert_eq!(g.lifetime, 600_000, "NOW is 2023-11-14T22:13:20Z");
        let g = grant(
            r#"{"access_token":"a","expires_at":"2023-11-14T22:23:20Z"}"#,
            NOW - 600_000,
            0,
        )
        .unwrap();
        assert_eq!(g.lifetime, 1_200_000);
        // Already past: lifetime 0.
        assert_eq!(
            grant(r#"{"access_token":"a","expires_at":1}"#, NOW, 0)
                .unwrap()
                .lifetime,
            0
        );
    }

    #[test]
    fn jwt_exp_gives_the_lifetime() {
        let t = jwt(&format!(
            r#"{{"sub":"x","exp":{},"nested":{{"a":[1,2]}}}}"#,
            NOW / 1000 + 120
        ));
        let g = grant(&t, NOW, 30_000).unwrap();
        assert_eq!(
            (g.token.as_str(), g.lifetime, g.keep),
            (t.as_str(), 120_000, 90_000)
        );
        // A token response whose access_token is a JWT and has no expires_in.
        let g = grant(&format!(r#"{{"access_token":"{t}"}}"#), NOW, 0).unwrap();
        assert_eq!(g.lifetime, 120_000);
        // expires_in wins over the JWT.
        let g = grant(
            &format!(r#"{{"access_token":"{t}","expires_in":5}}"#),
            NOW,
            0,
        )
        .unwrap();
        assert_eq!(g.lifetime, 5_000);
        assert_eq!(jwt_expiry("a.b").unwrap(), None);
        assert_eq!(jwt_expiry(&jwt(r#"{"sub":"x"}"#)).unwrap(), None);
        assert!(jwt_expiry(&jwt(r#"{"exp":"soon"}"#)).is_err());
    }

    #[test]
    fn unknown_lifetimes_and_bad_responses_say_what_is_wrong() {
        let cases = [
            (
                r#"{"token_type":"Bearer","expires_in":60}"#,
                "no access_token (its fields: expires_in, token_type)",
            ),
            (r#"{"access_token":"opaque"}"#, "lifetime is unknown"),
            ("opaque-token", "not a JWT with an exp claim"),
            ("", "empty string"),
            (
                r#"{"access_token":"a","expires_in":-1}"#,
                "expires_in must be >= 0",
            ),
            (
                r#"{"access_token":"a","expires_in":"soon"}"#,
                r#"expires_in must be a number of seconds, got "soon""#,
            ),
            (
                r#"{"access_token":"a","expires_at":"tomorrow"}"#,
                "expires_at \"tomorrow\"",
            ),
            (r#"{"access_token":"a","expires_in":}"#, "not a JSON object"),
            (
                r#"{"access_token":"","expires_in":1}"#,
                "access_token is empty",
            ),
        ];
        for (input, msg) in cases {
            let e = grant(input, NOW, 0).unwrap_err();
            assert!(e.to_string().contains(msg), "{input}: {e}");
        }
        let e = grant(r#"{"access_token":5,"expires_in":1}"#, NOW, 0).unwrap_err();
        assert_eq!(e.kind(), "wrong_type");
        // The secret never appears in an error.
        let e = grant(r#"{"access_token":"s3cret"}"#, NOW, 0).unwrap_err();
        assert!(!e.to_string().contains("s3cret"));
    }

    #[test]
    fn skew_default_and_checks() {
        assert_eq!(skew(None).unwrap(), 30_000);
        assert_eq!(skew(Some(0.0)).unwrap(), 0);
        assert!(skew(Some(-1.0)).unwrap_err().to_string().contains("skew"));
    }
}
