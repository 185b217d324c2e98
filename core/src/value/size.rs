//! How many bytes a value counts for against `max_bytes` and `max_value_bytes`: one rule
//! for every language.
//!
//! - A string counts its UTF-8 bytes; binary data its length; a number, a boolean or null
//!   [`SCALAR_SIZE`]. These are exact and no user function is asked.
//! - Anything else counts what the user's `size_of` / `sizeOf` says (a whole number >= 0),
//!   or, without one, the estimate: a list [`LIST_OVERHEAD`] plus, per item,
//!   [`SLOT_SIZE`] and the item's size; a map [`MAP_OVERHEAD`] plus, per entry,
//!   [`SLOT_SIZE`], the key's UTF-8 bytes and the value's size; anything else (a class
//!   instance without fields, a function) [`OPAQUE_SIZE`]. Only the first [`SAMPLE`]
//!   items of a container are walked, and the total scaled up to its length; the walk
//!   stops at [`MAX_DEPTH`] levels and [`MAX_NODES`] values, counting the rest as
//!   scalars, so that measuring never costs more than a bounded amount.
//!
//! A binding describes its host's values with [`Walk`]; this module does the counting.

use crate::args;
use crate::error::Result;

use super::Value;

pub const SCALAR_SIZE: u64 = 8;
pub const SLOT_SIZE: u64 = 8;
pub const LIST_OVERHEAD: u64 = 16;
pub const MAP_OVERHEAD: u64 = 32;
pub const OPAQUE_SIZE: u64 = 64;
pub const SAMPLE: usize = 64;
pub const MAX_DEPTH: u32 = 32;
pub const MAX_NODES: u32 = 1024;

/// What a host value looks like to the size rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A string of this many UTF-8 bytes.
    Str(u64),
    /// Binary data of this many bytes.
    Bytes(u64),
    /// A number, a boolean, null.
    Scalar,
    /// A sequence of this many items.
    List(usize),
    /// A mapping of this many entries.
    Map(usize),
    /// Anything else.
    Opaque,
}

impl Shape {
    /// The size when it is known without walking or asking the user.
    pub fn exact(self) -> Option<u64> {
        match self {
            Shape::Str(n) | Shape::Bytes(n) => Some(n),
            Shape::Scalar => Some(SCALAR_SIZE),
            _ => None,
        }
    }
}

/// A binding's view of its host values, for [`measure`].
pub trait Walk {
    type Node;
    fn shape(&mut self, node: &Self::Node) -> Result<Shape>;
    /// The first `limit` items of a list (key size 0) or entries of a map (the key's UTF-8
    /// bytes and the value).
    fn items(&mut self, node: &Self::Node, limit: usize) -> Result<Vec<(u64, Self::Node)>>;
}

/// A user's `size_of` function, called with a value.
pub type UserSize<'a, N> = &'a mut dyn FnMut(&N) -> Result<f64>;

/// The size of `node`: exact for strings, binary data and scalars; else `user(node)` when
/// the cache has a `size_of` function (its answer checked here), else the estimate.
pub fn measure<W: Walk>(
    w: &mut W,
    node: &W::Node,
    user: Option<UserSize<'_, W::Node>>,
) -> Result<u64> {
    let shape = w.shape(node)?;
    if let Some(n) = shape.exact() {
        return Ok(n);
    }
    match user {
        Some(f) => user_size(f(node)?),
        None => estimate_shape(w, node, shape, 0, &mut 0),
    }
}

/// A user `size_of` answer: a whole number >= 0, or an error naming what came back.
pub fn user_size(n: f64) -> Result<u64> {
    args::count("the size returned by size_of", n)
}

/// The estimate alone (no user function).
pub fn estimate<W: Walk>(w: &mut W, node: &W::Node) -> Result<u64> {
    let shape = w.shape(node)?;
    estimate_shape(w, node, shape, 0, &mut 0)
}

fn estimate_shape<W: Walk>(
    w: &mut W,
    node: &W::Node,
    shape: Shape,
    depth: u32,
    nodes: &mut u32,
) -> Result<u64> {
    *nodes += 1;
    if let Some(n) = shape.exact() {
        return Ok(n);
    }
    let (overhead, len) = match shape {
        Shape::List(n) => (LIST_OVERHEAD, n),
        Shape::Map(n) => (MAP_OVERHEAD, n),
        _ => return Ok(OPAQUE_SIZE),
    };
    if depth >= MAX_DEPTH || *nodes >= MAX_NODES {
        return Ok(SCALAR_SIZE);
    }
    if len == 0 {
        return Ok(overhead);
    }
    let items = w.items(node, SAMPLE.min(len))?;
    let walked = items.len().max(1);
    let mut sum = 0u64;
    for (key_bytes, child) in &items {
        let s = if *nodes >= MAX_NODES {
            SCALAR_SIZE
        } else {
            let sh = w.shape(child)?;
            estimate_shape(w, child, sh, depth + 1, nodes)?
        };
        sum = sum.saturating_add(SLOT_SIZE + key_bytes + s);
    }
    let scaled = (sum as u128 * len as u128).div_ceil(walked as u128);
    Ok(overhead.saturating_add(scaled.min(u64::MAX as u128) as u64))
}

/// The size rule over the shared [`Value`] model (values that came from a store, and the
/// Rust conformance runner).
pub struct ValueWalk;

impl<'a> Walk for &'a ValueWalk {
    type Node = &'a Value;
    fn shape(&mut self, v: &&'a Value) -> Result<Shape> {
        Ok(shape_of(v))
    }
    fn items(&mut self, v: &&'a Value, limit: usize) -> Result<Vec<(u64, &'a Value)>> {
        Ok(match v {
            Value::List(xs) => xs.iter().take(limit).map(|x| (0, x)).collect(),
            Value::Map(ps) => ps
                .iter()
                .take(limit)
                .map(|(k, x)| (k.len() as u64, x))
                .collect(),
            _ => Vec::new(),
        })
    }
}

pub fn shape_of(v: &Value) -> Shape {
    match v {
        Value::Str(s) => Shape::Str(s.len() as u64),
        Value::Bytes(b) => Shape::Bytes(b.len() as u64),
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => Shape::Scalar,
        Value::List(xs) => Shape::List(xs.len()),
        Value::Map(ps) => Shape::Map(ps.len()),
    }
}

/// The estimated size of a shared value.
pub fn of_value(v: &Value) -> u64 {
    let mut w = &ValueWalk;
    estimate(&mut w, &v).unwrap_or(OPAQUE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_shapes_and_the_estimate() {
        assert_eq!(of_value(&Value::Str("ünï".into())), 5);
        assert_eq!(of_value(&Value::Int(1)), SCALAR_SIZE);
        assert_eq!(of_value(&Value::List(vec![])), LIST_OVERHEAD);
        // [1, "ab"]: 16 + (8 + 8) + (8 + 2)
        assert_eq!(
            of_value(&Value::List(vec![Value::Int(1), Value::Str("ab".into())])),
            42
        );
        // {"ké": null}: 32 + 8 + 3 + 8
        assert_eq!(of_value(&Value::Map(vec![("ké".into(), Value::Null)])), 51);
    }

    #[test]
    fn long_containers_are_sampled_and_scaled() {
        let long = Value::List((0..6400).map(Value::Int).collect());
        assert_eq!(of_value(&long), LIST_OVERHEAD + 6400 * 16);
    }

    #[test]
    fn deep_values_stop_at_the_depth_limit() {
        let mut v = Value::Null;
        for _ in 0..1000 {
            v = Value::List(vec![v]);
        }
        let n = of_value(&v);
        assert_eq!(
            n,
            MAX_DEPTH as u64 * (LIST_OVERHEAD + SLOT_SIZE) + SCALAR_SIZE
        );
        // Dropping a deeply nested value recursively would overflow the stack: flatten it.
        while let Value::List(mut xs) = v {
            v = xs.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn user_sizes_must_be_whole_numbers() {
        assert_eq!(user_size(12.0).unwrap(), 12);
        assert_eq!(user_size(1.5).unwrap_err().kind(), "wrong_type");
        assert_eq!(user_size(f64::NAN).unwrap_err().kind(), "wrong_type");
        assert_eq!(user_size(-1.0).unwrap_err().kind(), "invalid_argument");
    }
}
