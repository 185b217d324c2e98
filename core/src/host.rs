//! What the core asks of the language it runs in.
//!
//! **Only host threads touch host values; any other thread carries bytes.** A host value
//! (a Python object, a reference to a JS value) is cloned, measured, converted and dropped
//! only by a thread of its host: the thread that called into the cache (a Python thread
//! holding the interpreter, the JS thread). The store runtime's threads see keys and
//! encoded bytes only, and wake hosts with [`std::task::Waker`]s, which carry no host
//! value. The types keep it so: everything a store task holds is `Send + 'static` bytes,
//! and a [`Host`] is borrowed only for the length of a call made on a host thread.

use crate::error::Result;
use crate::value::size::{self, SCALAR_SIZE};
use crate::value::{unshareable, Value};

/// A binding's side of one call: what it can do with its own values, on its own thread.
pub trait Host<V> {
    /// The bytes `value` counts for, by the rule of [`crate::value::size`] (a binding walks
    /// its values with [`size::Walk`] and calls [`size::measure`]).
    fn size_of(&mut self, value: &V) -> Result<u64>;

    /// The TTL (ms) a call's `ttl` function gives `value`; only asked when the call's TTL
    /// comes from the value. `None`: the cache's default.
    fn ttl_of(&mut self, value: &V) -> Result<Option<f64>> {
        let _ = value;
        Ok(None)
    }

    /// Whether a loaded value is a value at all: JS `undefined` is "nothing", returned to
    /// the load's callers and never kept.
    fn keep(&mut self, value: &V) -> bool {
        let _ = value;
        true
    }

    /// The value in the shared model, to write into a store (an error naming the type when
    /// it is outside the model).
    fn export(&mut self, value: &V) -> Result<Value>;

    /// A value read from a store, as a host value.
    fn import(&mut self, value: Value) -> Result<V>;

    /// The integer `value` holds, for `incr` (`None`: not an integer).
    fn as_integer(&mut self, value: &V) -> Option<i64> {
        match self.export(value) {
            Ok(Value::Int(n)) => Some(n),
            _ => None,
        }
    }

    /// An integer as a host value, for `incr`.
    fn integer(&mut self, n: i64) -> Result<V> {
        self.import(Value::Int(n))
    }
}

/// Rust values the cache can hold directly.
pub trait Cacheable: Clone {
    /// The bytes this value counts for.
    fn size(&self) -> u64;

    /// The value in the shared model (needed with a store).
    fn to_shared(&self) -> Result<Value> {
        Err(unshareable(std::any::type_name::<Self>()))
    }

    /// A value read from a store.
    fn from_shared(value: Value) -> Result<Self> {
        Err(unshareable(&format!(
            "{} (from a stored {})",
            std::any::type_name::<Self>(),
            value.type_name()
        )))
    }
}

/// The [`Host`] of Rust callers: values that are [`Cacheable`].
#[derive(Default, Clone, Copy)]
pub struct Plain;

impl<V: Cacheable> Host<V> for Plain {
    fn size_of(&mut self, value: &V) -> Result<u64> {
        Ok(value.size())
    }
    fn export(&mut self, value: &V) -> Result<Value> {
        value.to_shared()
    }
    fn import(&mut self, value: Value) -> Result<V> {
        V::from_shared(value)
    }
}

fn wrong(value: &Value, want: &str) -> crate::error::Error {
    unshareable(&format!(
        "{want} (a stored {} was found)",
        value.type_name()
    ))
}

impl Cacheable for String {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn to_shared(&self) -> Result<Value> {
        Ok(Value::Str(self.clone()))
    }
    fn from_shared(value: Value) -> Result<Self> {
        match value {
            Value::Str(s) => Ok(s),
            other => Err(wrong(&other, "String")),
        }
    }
}

impl Cacheable for &'static str {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn to_shared(&self) -> Result<Value> {
        Ok(Value::Str(self.to_string()))
    }
}

impl Cacheable for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn to_shared(&self) -> Result<Value> {
        Ok(Value::Bytes(self.clone()))
    }
    fn from_shared(value: Value) -> Result<Self> {
        match value {
            Value::Bytes(b) => Ok(b),
            other => Err(wrong(&other, "Vec<u8>")),
        }
    }
}

impl Cacheable for i64 {
    fn size(&self) -> u64 {
        SCALAR_SIZE
    }
    fn to_shared(&self) -> Result<Value> {
        Ok(Value::Int(*self))
    }
    fn from_shared(value: Value) -> Result<Self> {
        match value {
            Value::Int(n) => Ok(n),
            other => Err(wrong(&other, "i64")),
        }
    }
}

impl Cacheable for f64 {
    fn size(&self) -> u64 {
        SCALAR_SIZE
    }
    fn to_shared(&self) -> Result<Value> {
        Ok(Value::Float(*self))
    }
    fn from_shared(value: Value) -> Result<Self> {
        match value {
            Value::Float(f) => Ok(f),
            Value::Int(n) => Ok(n as f64),
            other => Err(wrong(&other, "f64")),
        }
    }
}

impl Cacheable for bool {
    fn size(&self) -> u64 {
        SCALAR_SIZE
    }
    fn to_shared(&self) -> Result<Value> {
        Ok(Value::Bool(*self))
    }
    fn from_shared(value: Value) -> Result<Self> {
        match value {
            Value::Bool(b) => Ok(b),
            other => Err(wrong(&other, "bool")),
        }
    }
}

impl Cacheable for Value {
    fn size(&self) -> u64 {
        size::of_value(self)
    }
    fn to_shared(&self) -> Result<Value> {
        Ok(self.clone())
    }
    fn from_shared(value: Value) -> Result<Self> {
        Ok(value)
    }
}

impl<T: Cacheable> Cacheable for std::sync::Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn to_shared(&self) -> Result<Value> {
        (**self).to_shared()
    }
    fn from_shared(value: Value) -> Result<Self> {
        T::from_shared(value).map(std::sync::Arc::new)
    }
}

macro_rules! integer_cacheable {
    ($($t:ty),*) => {$(
        impl Cacheable for $t {
            fn size(&self) -> u64 {
                SCALAR_SIZE
            }
            fn to_shared(&self) -> Result<Value> {
                i64::try_from(*self)
                    .map(Value::Int)
                    .map_err(|_| crate::value::integer_out_of_range(&self.to_string()))
            }
            fn from_shared(value: Value) -> Result<Self> {
                match value {
                    Value::Int(n) => <$t>::try_from(n)
                        .map_err(|_| crate::value::integer_out_of_range(&n.to_string())),
                    other => Err(wrong(&other, stringify!($t))),
                }
            }
        }
    )*};
}
integer_cacheable!(u64, i32, u32);
