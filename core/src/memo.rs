//! Keys of memoized function calls (Python `@cache.memoize`, Node `cache.wrap`).
//!
//! A binding turns the call's arguments into [`Value`]s (the shared value model); the key is the function's name and
//! a canonical JSON encoding of them, with object keys sorted at every depth, so that the
//! same inputs give the same key in any key order and in either language.

use std::fmt::Write;

use crate::error::{Error, Result};
use crate::value::Value;

/// An argument of a memoized call: a value of the shared model.
pub type Arg = Value;

fn encode(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => write!(out, "{i}").unwrap(),
        // An integral float is written as the integer: JS has no separate int type.
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
            write!(out, "{}", *f as i64).unwrap()
        }
        Value::Float(f) if f.is_finite() => write!(out, "{f}").unwrap(),
        // Bare words, never quoted: no string can be written the same way.
        Value::Float(f) if f.is_nan() => out.push_str("NaN"),
        Value::Float(f) if *f > 0.0 => out.push_str("Infinity"),
        Value::Float(_) => out.push_str("-Infinity"),
        Value::Str(s) => encode_str(s, out),
        Value::Bytes(b) => {
            out.push_str("b'");
            for byte in b {
                write!(out, "{byte:02x}").unwrap();
            }
            out.push('\'');
        }
        Value::List(items) => {
            out.push('[');
            for (i, a) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode(a, out);
            }
            out.push(']');
        }
        Value::Map(pairs) => {
            let mut sorted: Vec<&(String, Value)> = pairs.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_str(k, out);
                out.push(':');
                encode(v, out);
            }
            out.push('}');
        }
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Map(pairs) => pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v),
        Value::List(items) => name.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

fn encode_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The canonical encoding of a call's arguments.
pub fn encode_args(args: &[Arg]) -> String {
    let mut out = String::from("[");
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        encode(a, &mut out);
    }
    out.push(']');
    out
}

/// The key of a call: `name` and the canonical encoding of all its arguments.
pub fn call_key(name: &str, args: &[Arg]) -> String {
    format!("{name}:{}", encode_args(args))
}

/// The key of a call from dotted paths into its first argument
/// (`["page.repository", "page.section.name"]`). A missing path is an error.
pub fn path_key(name: &str, first: Option<&Arg>, paths: &[String]) -> Result<String> {
    let mut picked = Vec::with_capacity(paths.len());
    for path in paths {
        let mut at = first.ok_or_else(|| {
            Error::invalid(format!(
                "memoize key path {path:?}: the call has no first argument"
            ))
        })?;
        for part in path.split('.') {
            at = field(at, part).ok_or_else(|| {
                Error::invalid(format!(
                    "memoize key path {path:?}: the first argument has nothing at {part:?}"
                ))
            })?;
        }
        picked.push(at.clone());
    }
    Ok(call_key(name, &picked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Arg)]) -> Arg {
        Arg::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn key_order_does_not_matter_at_any_depth() {
        let a = obj(&[
            ("b", Arg::Int(1)),
            ("a", obj(&[("y", Arg::Null), ("x", Arg::Bool(true))])),
        ]);
        let b = obj(&[
            ("a", obj(&[("x", Arg::Bool(true)), ("y", Arg::Null)])),
            ("b", Arg::Int(1)),
        ]);
        assert_eq!(call_key("f", std::slice::from_ref(&a)), call_key("f", &[b]));
        assert_eq!(
            call_key("f", &[a]),
            r#"f:[{"a":{"x":true,"y":null},"b":1}]"#
        );
    }

    #[test]
    fn integral_floats_match_ints() {
        assert_eq!(encode_args(&[Arg::Float(2.0)]), encode_args(&[Arg::Int(2)]));
        assert_eq!(encode_args(&[Arg::Float(2.5)]), "[2.5]");
        assert_eq!(encode_args(&[Arg::Str("a\"b".into())]), r#"["a\"b"]"#);
    }

    #[test]
    fn non_finite_numbers_and_bytes_never_collide_with_strings() {
        for (n, s) in [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            let num = encode_args(&[Arg::Float(n)]);
            for text in [s, "Infinity", "-Infinity", "NaN"] {
                assert_ne!(
                    num,
                    encode_args(&[Arg::Str(text.into())]),
                    "{n} vs {text:?}"
                );
            }
        }
        assert_eq!(encode_args(&[Arg::Float(f64::NAN)]), "[NaN]");
        assert_eq!(encode_args(&[Arg::Bytes(b"ab".to_vec())]), "[b'6162']");
        assert_ne!(
            encode_args(&[Arg::Bytes(b"ab".to_vec())]),
            encode_args(&[Arg::Str("b'6162'".into())])
        );
    }

    #[test]
    fn dotted_paths() {
        let page = obj(&[(
            "page",
            obj(&[
                ("repository", Arg::Str("r".into())),
                ("section", obj(&[("name", Arg::Str("s".into()))])),
            ]),
        )]);
        let paths = vec![
            "page.repository".to_string(),
            "page.section.name".to_string(),
        ];
        assert_eq!(
            path_key("f", Some(&page), &paths).unwrap(),
            r#"f:["r","s"]"#
        );
        let e = path_key("f", Some(&page), &["page.missing".to_string()]).unwrap_err();
        assert_eq!(e.kind(), "invalid_argument");
        assert!(e.to_string().contains("page.missing"), "{e}");
        assert!(path_key("f", None, &paths).is_err());
    }
}
