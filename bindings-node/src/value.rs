//! What the cache stores for a JS value.
//!
//! Strings, numbers, booleans and null live in Rust (outside the V8 heap: a string's
//! identity is its value, and the garbage collector never walks them). Objects, functions,
//! symbols and bigints are held by a Node-API reference, so a hit returns the very same
//! object. A reference is deleted when its last holder drops it; every drop happens on the
//! JS thread, because only the JS thread calls into the cache.

use std::os::raw::c_char;
use std::ptr;
use std::sync::Arc;

use flightcache::{Counter, EntrySize, SCALAR_SIZE};
use napi::sys::{self, napi_env, napi_ref, napi_value, Status, ValueType};

use crate::raw::{self, check, JsResult, StrBuf};

/// A strong reference to a JS value. Node 20 cannot reference a primitive, so a symbol or
/// bigint (or a primitive thrown by a loader) is held inside a one-element array.
pub struct JsRef {
    env: napi_env,
    r: napi_ref,
    boxed: bool,
}

// SAFETY: a JsRef is created, read and deleted only on the JS thread that owns `env`: the
// cache it lives in is reachable only from that thread (each worker loads its own copy of
// the addon and makes its own caches).
unsafe impl Send for JsRef {}
unsafe impl Sync for JsRef {}

impl JsRef {
    pub unsafe fn new(env: napi_env, v: napi_value) -> JsResult<JsRef> {
        let t = raw::type_of(env, v);
        let boxed = !matches!(
            t,
            ValueType::napi_object | ValueType::napi_function | ValueType::napi_external
        );
        let target = if boxed {
            let arr = raw::array(env, 1)?;
            raw::set_element(env, arr, 0, v)?;
            arr
        } else {
            v
        };
        let mut r = ptr::null_mut();
        check(env, sys::napi_create_reference(env, target, 1, &mut r))?;
        Ok(JsRef { env, r, boxed })
    }

    #[inline]
    pub unsafe fn get(&self, env: napi_env) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        check(env, sys::napi_get_reference_value(env, self.r, &mut v))?;
        if self.boxed {
            let mut inner = ptr::null_mut();
            check(env, sys::napi_get_element(env, v, 0, &mut inner))?;
            return Ok(inner);
        }
        Ok(v)
    }
}

impl Drop for JsRef {
    fn drop(&mut self) {
        unsafe {
            sys::napi_delete_reference(self.env, self.r);
        }
    }
}

/// A stored value.
#[derive(Clone)]
pub enum Val {
    /// Only ever handed to the callers of a load whose loader returned `undefined`; never
    /// stored.
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    /// A string of ASCII characters (made back into a JS string without decoding).
    Ascii(Arc<str>),
    Utf8(Arc<str>),
    Ref(Arc<JsRef>),
}

impl EntrySize for Val {
    fn entry_size(&self) -> u64 {
        match self {
            Val::Ascii(s) | Val::Utf8(s) => s.len() as u64,
            Val::Undefined => 0,
            _ => SCALAR_SIZE,
        }
    }
}

/// Largest integer a JS number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

impl Counter for Val {
    fn as_counter(&self) -> Option<i64> {
        match self {
            Val::Num(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE => Some(*n as i64),
            _ => None,
        }
    }
    fn from_counter(n: i64) -> Self {
        Val::Num(n as f64)
    }
}

pub fn from_str(s: &str) -> Val {
    if s.is_ascii() {
        Val::Ascii(Arc::from(s))
    } else {
        Val::Utf8(Arc::from(s))
    }
}

/// The JS value of a stored value.
#[inline]
pub unsafe fn to_js(env: napi_env, v: &Val) -> JsResult<napi_value> {
    let mut out = ptr::null_mut();
    let st = match v {
        Val::Ascii(s) => sys::napi_create_string_latin1(
            env,
            s.as_ptr() as *const c_char,
            s.len() as isize,
            &mut out,
        ),
        Val::Utf8(s) => sys::napi_create_string_utf8(
            env,
            s.as_ptr() as *const c_char,
            s.len() as isize,
            &mut out,
        ),
        Val::Num(n) => sys::napi_create_double(env, *n, &mut out),
        Val::Bool(b) => sys::napi_get_boolean(env, *b, &mut out),
        Val::Null => sys::napi_get_null(env, &mut out),
        Val::Undefined => sys::napi_get_undefined(env, &mut out),
        Val::Ref(r) => return r.get(env),
    };
    check(env, st)?;
    Ok(out)
}

/// A JS value to store, and its size: exact for strings (UTF-8 bytes) and binary data,
/// `SCALAR_SIZE` for numbers, booleans and null; for other values `size` (measured by the
/// caller with the user's `sizeOf` or the estimate), else `SCALAR_SIZE`.
pub unsafe fn from_js(env: napi_env, v: napi_value, size: Option<u64>) -> JsResult<(Val, u64)> {
    let t = raw::type_of(env, v);
    Ok(match t {
        ValueType::napi_string => {
            let mut buf = StrBuf::new();
            let s = raw::read_str(env, v, &mut buf, "value")?;
            (from_str(s), s.len() as u64)
        }
        ValueType::napi_number => {
            let mut n = 0f64;
            check(env, sys::napi_get_value_double(env, v, &mut n))?;
            (Val::Num(n), SCALAR_SIZE)
        }
        ValueType::napi_boolean => {
            let mut b = false;
            check(env, sys::napi_get_value_bool(env, v, &mut b))?;
            (Val::Bool(b), SCALAR_SIZE)
        }
        ValueType::napi_null => (Val::Null, SCALAR_SIZE),
        ValueType::napi_undefined => (Val::Undefined, 0),
        _ => {
            let size = match size {
                Some(s) => s,
                None => binary_size(env, v).unwrap_or(SCALAR_SIZE),
            };
            (Val::Ref(Arc::new(JsRef::new(env, v)?)), size)
        }
    })
}

/// The byte length of a Buffer, typed array, DataView or ArrayBuffer.
pub unsafe fn binary_size(env: napi_env, v: napi_value) -> Option<u64> {
    let mut yes = false;
    if sys::napi_is_typedarray(env, v, &mut yes) == Status::napi_ok && yes {
        let mut len = 0usize;
        let mut kind = 0;
        let mut data = ptr::null_mut();
        let mut ab = ptr::null_mut();
        let mut off = 0usize;
        sys::napi_get_typedarray_info(env, v, &mut kind, &mut len, &mut data, &mut ab, &mut off);
        let width = match kind {
            0..=2 => 1,  // Int8, Uint8, Uint8Clamped
            3 | 4 => 2,  // Int16, Uint16
            5..=7 => 4,  // Int32, Uint32, Float32
            8..=10 => 8, // Float64, BigInt64, BigUint64
            _ => 1,
        };
        return Some((len * width) as u64);
    }
    if sys::napi_is_dataview(env, v, &mut yes) == Status::napi_ok && yes {
        let mut len = 0usize;
        let mut data = ptr::null_mut();
        let mut ab = ptr::null_mut();
        let mut off = 0usize;
        sys::napi_get_dataview_info(env, v, &mut len, &mut data, &mut ab, &mut off);
        return Some(len as u64);
    }
    if sys::napi_is_arraybuffer(env, v, &mut yes) == Status::napi_ok && yes {
        let mut len = 0usize;
        let mut data = ptr::null_mut();
        sys::napi_get_arraybuffer_info(env, v, &mut data, &mut len);
        return Some(len as u64);
    }
    None
}
