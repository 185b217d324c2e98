//! The values that cross between languages and processes: one model ([`Value`], JSON's data
//! model plus binary), its canonical encoding ([`codec`]), the envelope that carries it in a
//! shared store ([`envelope`]), and the rule that says how many bytes a host value counts
//! for ([`size`]).
//!
//! A binding converts its host's values to and from [`Value`] on a host thread; everything
//! past that point is bytes.

pub mod codec;
pub mod envelope;
pub mod size;

use crate::error::{Error, Result};

/// A value every language can read: what a shared store holds and what memoize keys are
/// made of.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// An integer of the signed 64-bit range. JS numbers that are whole and within
    /// ±(2^53 - 1) become integers ([`Value::from_f64`]), so 42 is 42 in every language.
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    /// An object or dict with string keys, in its own order.
    Map(Vec<(String, Value)>),
}

/// The largest integer a JS number holds exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

impl Value {
    /// A number from a host whose numbers are floats (JS): whole numbers within the safe
    /// range are integers, everything else stays a float.
    pub fn from_f64(n: f64) -> Value {
        if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 {
            // -0.0 is a float: it would come back as 0 otherwise.
            if n == 0.0 && n.is_sign_negative() {
                return Value::Float(n);
            }
            Value::Int(n as i64)
        } else {
            Value::Float(n)
        }
    }

    /// The name of the value's type in the SPEC's words, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }
}

/// The error for a host value outside the shared data model (a Python set, a JS `Map`).
pub fn unshareable(type_name: &str) -> Error {
    Error::wrong_type(format!(
        "a value of type {type_name} cannot be shared through a store: only strings, bytes, \
         integers, floats, booleans, null, and lists and maps (with string keys) of these can"
    ))
}

/// The error for an integer outside the signed 64-bit range.
pub fn integer_out_of_range(shown: &str) -> Error {
    Error::invalid(format!(
        "the integer {shown} does not fit in 64 bits (the shared data model's integers are \
         signed 64-bit)"
    ))
}

/// The error for a host string that is not valid Unicode (a JS string with a lone
/// surrogate): it could not come back unchanged.
pub fn invalid_string(what: &str) -> Error {
    Error::invalid(format!(
        "{what} contains a lone UTF-16 surrogate, which cannot be stored unchanged"
    ))
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Result of converting a host value: what crossed, or why it could not.
pub type Converted = Result<Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_js_numbers_are_integers() {
        assert_eq!(Value::from_f64(42.0), Value::Int(42));
        assert_eq!(Value::from_f64(-3.0), Value::Int(-3));
        assert_eq!(Value::from_f64(0.5), Value::Float(0.5));
        assert_eq!(
            Value::from_f64(9.007_199_254_740_992e15),
            Value::Float(9.007_199_254_740_992e15)
        );
        assert!(matches!(Value::from_f64(-0.0), Value::Float(f) if f.is_sign_negative()));
        assert!(matches!(Value::from_f64(f64::NAN), Value::Float(f) if f.is_nan()));
    }
}
