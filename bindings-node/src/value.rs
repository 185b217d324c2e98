//! JS values: how the cache holds them, and how they cross into the core's shared value
//! model and back.
//!
//! Strings, numbers, booleans and null live in Rust (outside the V8 heap: a string's
//! identity is its value, and the garbage collector never walks them). Objects, functions,
//! symbols, bigints and strings with lone surrogates are held by a Node-API reference, so
//! a hit returns the very same value. A reference belongs to its JS thread: [`JsRef`] is
//! neither `Send` nor `Sync`, so the compiler keeps every reference (and every cache that
//! holds one) on the thread that made it.

use std::os::raw::c_char;
use std::ptr;
use std::rc::Rc;

use flightcache::value::{
    integer_out_of_range, invalid_string, unshareable, Value, MAX_SAFE_INTEGER,
};
use napi::sys::{self, napi_env, napi_ref, napi_value, Status, ValueType};

use crate::raw::{self, check, JsResult, StrBuf};

/// A strong reference to a JS value. Node 20 cannot reference a primitive, so a symbol,
/// bigint or string (or a primitive thrown by a loader) is held inside a one-element array.
pub struct JsRef {
    env: napi_env,
    r: napi_ref,
    boxed: bool,
}

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

/// A copy shares the Node-API reference and counts itself in it: a stored value is copied
/// on every hit, and the count lives in the reference the hit reads anyway (an `Rc` around
/// the reference would be one more pointer to follow, a cache miss on random keys).
impl Clone for JsRef {
    fn clone(&self) -> JsRef {
        let mut count = 0u32;
        // SAFETY: a JsRef never leaves the JS thread of `env` (it is neither Send nor Sync),
        // and the reference, made by that env, is alive (this copy holds one count of it).
        unsafe {
            sys::napi_reference_ref(self.env, self.r, &mut count);
        }
        JsRef {
            env: self.env,
            r: self.r,
            boxed: self.boxed,
        }
    }
}

impl Drop for JsRef {
    fn drop(&mut self) {
        let mut count = 1u32;
        // SAFETY: as for `clone`; the last copy deletes the reference. If the count cannot
        // be lowered (the env is being torn down) the reference is left to Node, never
        // deleted while another copy may still use it.
        unsafe {
            if sys::napi_reference_unref(self.env, self.r, &mut count) == Status::napi_ok
                && count == 0
            {
                sys::napi_delete_reference(self.env, self.r);
            }
        }
    }
}

/// A stored value.
#[derive(Clone)]
pub enum Val {
    /// A loader's `undefined`: handed to the callers of that load, never stored.
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    /// An integer beyond ±(2^53 - 1) (from `incr` or a store): a BigInt in JS.
    Int(i64),
    /// A string of at most [`SHORT`] ASCII characters, inside the entry itself: a hit follows
    /// no pointer to read it (on random keys that pointer is a cache miss, the largest part
    /// of a hit's time), and it needs no allocation.
    Short(Short),
    /// A longer string of ASCII characters (made back into a JS string without decoding).
    Ascii(Rc<str>),
    Utf8(Rc<str>),
    Ref(JsRef),
}

/// The longest string kept in a [`Val`] itself: 38 bytes keep a `Val` at 40 bytes, and
/// cover the short strings handlers cache most (ids, tokens of 32 characters, flags).
pub const SHORT: usize = 38;
const _: () = assert!(std::mem::size_of::<Val>() == 40);

#[derive(Clone, Copy)]
pub struct Short {
    len: u8,
    bytes: [u8; SHORT],
}

impl Short {
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: made only from an ASCII `&str` (see `from_str`), so the first `len`
        // bytes are valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[..self.len as usize]) }
    }
}

pub fn from_str(s: &str) -> Val {
    if s.is_ascii() {
        if s.len() <= SHORT {
            let mut bytes = [0u8; SHORT];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            return Val::Short(Short {
                len: s.len() as u8,
                bytes,
            });
        }
        Val::Ascii(Rc::from(s))
    } else {
        Val::Utf8(Rc::from(s))
    }
}

/// An integer as the JS value that holds it exactly: a number within the safe range, else
/// a BigInt.
pub fn from_integer(n: i64) -> Val {
    if n.unsigned_abs() <= MAX_SAFE_INTEGER as u64 {
        Val::Num(n as f64)
    } else {
        Val::Int(n)
    }
}

/// The JS value of a stored value.
#[inline]
pub unsafe fn to_js(env: napi_env, v: &Val) -> JsResult<napi_value> {
    let mut out = ptr::null_mut();
    let st = match v {
        Val::Short(s) => sys::napi_create_string_latin1(
            env,
            s.bytes.as_ptr() as *const c_char,
            s.len as isize,
            &mut out,
        ),
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
        Val::Int(n) => sys::napi_create_bigint_int64(env, *n, &mut out),
        Val::Bool(b) => sys::napi_get_boolean(env, *b, &mut out),
        Val::Null => sys::napi_get_null(env, &mut out),
        Val::Undefined => sys::napi_get_undefined(env, &mut out),
        Val::Ref(r) => return r.get(env),
    };
    check(env, st)?;
    Ok(out)
}

/// A JS value to store. A string that is not valid Unicode (a lone surrogate) is kept as a
/// reference, so that it comes back unchanged.
pub unsafe fn from_js(env: napi_env, v: napi_value) -> JsResult<Val> {
    Ok(match raw::type_of(env, v) {
        ValueType::napi_string => {
            let mut buf = StrBuf::new();
            match raw::read_str(env, v, &mut buf, "value") {
                Ok(s) => from_str(s),
                Err(_) => {
                    // Not valid Unicode: clear the error and keep the JS string itself.
                    let mut ex = ptr::null_mut();
                    sys::napi_get_and_clear_last_exception(env, &mut ex);
                    Val::Ref(JsRef::new(env, v)?)
                }
            }
        }
        ValueType::napi_number => {
            let mut n = 0f64;
            check(env, sys::napi_get_value_double(env, v, &mut n))?;
            Val::Num(n)
        }
        ValueType::napi_boolean => {
            let mut b = false;
            check(env, sys::napi_get_value_bool(env, v, &mut b))?;
            Val::Bool(b)
        }
        ValueType::napi_null => Val::Null,
        ValueType::napi_undefined => Val::Undefined,
        _ => Val::Ref(JsRef::new(env, v)?),
    })
}

/// The integer a JS value holds, for `incr`: a whole number within the safe range, or a
/// BigInt that fits in 64 bits.
pub unsafe fn integer_of(env: napi_env, v: &Val) -> Option<i64> {
    match v {
        Val::Num(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 => Some(*n as i64),
        Val::Int(n) => Some(*n),
        Val::Ref(r) => {
            let js = r.get(env).ok()?;
            if raw::type_of(env, js) != ValueType::napi_bigint {
                return None;
            }
            let (mut n, mut lossless) = (0i64, false);
            sys::napi_get_value_bigint_int64(env, js, &mut n, &mut lossless);
            lossless.then_some(n)
        }
        _ => None,
    }
}

/// A stored value in the shared model (for a store).
pub unsafe fn export(env: napi_env, v: &Val) -> flightcache::Result<Value> {
    Ok(match v {
        Val::Undefined => return Err(unshareable("undefined")),
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => Value::from_f64(*n),
        Val::Int(n) => Value::Int(*n),
        Val::Short(s) => Value::Str(s.as_str().to_string()),
        Val::Ascii(s) | Val::Utf8(s) => Value::Str(s.to_string()),
        Val::Ref(r) => {
            let js = r.get(env).map_err(|_| unshareable("a JS value"))?;
            let proto = object_prototype(env).map_err(|_| unshareable("a JS value"))?;
            js_to_value(env, js, proto, 0)?
        }
    })
}

unsafe fn object_prototype(env: napi_env) -> JsResult<napi_value> {
    let o = raw::object(env)?;
    let mut p = ptr::null_mut();
    check(env, sys::napi_get_prototype(env, o, &mut p))?;
    Ok(p)
}

const MAX_DEPTH: u32 = 128;

/// The name of a JS object's class, for messages (`Map`, `Date`, `Foo`).
pub unsafe fn class_name(env: napi_env, v: napi_value) -> String {
    let mut ctor = ptr::null_mut();
    if sys::napi_get_named_property(env, v, c"constructor".as_ptr(), &mut ctor) == Status::napi_ok
        && raw::type_of(env, ctor) == ValueType::napi_function
    {
        let mut name = ptr::null_mut();
        if sys::napi_get_named_property(env, ctor, c"name".as_ptr(), &mut name) == Status::napi_ok {
            if let Ok(n) = raw::string(env, name, "name") {
                if !n.is_empty() {
                    return n;
                }
            }
        }
    }
    let mut ex = ptr::null_mut();
    sys::napi_get_and_clear_last_exception(env, &mut ex);
    raw::type_name(env, v)
}

/// Whether `v` is a plain object: made by `{}` or `Object.create(null)`.
pub unsafe fn is_plain_object(env: napi_env, v: napi_value, object_proto: napi_value) -> bool {
    let mut p = ptr::null_mut();
    if sys::napi_get_prototype(env, v, &mut p) != Status::napi_ok {
        return false;
    }
    if raw::type_of(env, p) == ValueType::napi_null {
        return true;
    }
    let mut same = false;
    sys::napi_strict_equals(env, p, object_proto, &mut same);
    same
}

/// The bytes of a Buffer, typed array, DataView or ArrayBuffer.
pub unsafe fn binary(env: napi_env, v: napi_value) -> Option<Vec<u8>> {
    let mut yes = false;
    let mut data: *mut std::ffi::c_void = ptr::null_mut();
    let mut len = 0usize;
    if sys::napi_is_typedarray(env, v, &mut yes) == Status::napi_ok && yes {
        let (mut kind, mut count, mut ab, mut off) = (0, 0usize, ptr::null_mut(), 0usize);
        sys::napi_get_typedarray_info(env, v, &mut kind, &mut count, &mut data, &mut ab, &mut off);
        len = count * typed_width(kind);
    } else if sys::napi_is_dataview(env, v, &mut yes) == Status::napi_ok && yes {
        let (mut ab, mut off) = (ptr::null_mut(), 0usize);
        sys::napi_get_dataview_info(env, v, &mut len, &mut data, &mut ab, &mut off);
    } else if sys::napi_is_arraybuffer(env, v, &mut yes) == Status::napi_ok && yes {
        sys::napi_get_arraybuffer_info(env, v, &mut data, &mut len);
    } else {
        return None;
    }
    if data.is_null() || len == 0 {
        return Some(Vec::new());
    }
    // SAFETY: Node-API gave this pointer and length for the value's backing store, which
    // stays alive during this call; the bytes are copied out at once.
    Some(std::slice::from_raw_parts(data as *const u8, len).to_vec())
}

/// The byte length of binary data, without copying it.
pub unsafe fn binary_len(env: napi_env, v: napi_value) -> Option<u64> {
    let mut yes = false;
    if sys::napi_is_typedarray(env, v, &mut yes) == Status::napi_ok && yes {
        let (mut kind, mut count, mut data, mut ab, mut off) =
            (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
        sys::napi_get_typedarray_info(env, v, &mut kind, &mut count, &mut data, &mut ab, &mut off);
        return Some((count * typed_width(kind)) as u64);
    }
    if sys::napi_is_dataview(env, v, &mut yes) == Status::napi_ok && yes {
        let (mut len, mut data, mut ab, mut off) =
            (0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
        sys::napi_get_dataview_info(env, v, &mut len, &mut data, &mut ab, &mut off);
        return Some(len as u64);
    }
    if sys::napi_is_arraybuffer(env, v, &mut yes) == Status::napi_ok && yes {
        let (mut data, mut len) = (ptr::null_mut(), 0usize);
        sys::napi_get_arraybuffer_info(env, v, &mut data, &mut len);
        return Some(len as u64);
    }
    None
}

fn typed_width(kind: i32) -> usize {
    match kind {
        0..=2 => 1,  // Int8, Uint8, Uint8Clamped
        3 | 4 => 2,  // Int16, Uint16
        5..=7 => 4,  // Int32, Uint32, Float32
        8..=10 => 8, // Float64, BigInt64, BigUint64
        _ => 1,
    }
}

/// The own enumerable string-keyed properties of an object, as (name, value).
pub unsafe fn own_properties(
    env: napi_env,
    v: napi_value,
) -> JsResult<Vec<(napi_value, napi_value)>> {
    use sys::{KeyCollectionMode, KeyConversion, KeyFilter};
    let mut names = ptr::null_mut();
    check(
        env,
        sys::napi_get_all_property_names(
            env,
            v,
            KeyCollectionMode::own_only,
            KeyFilter::enumerable | KeyFilter::skip_symbols,
            KeyConversion::numbers_to_strings,
            &mut names,
        ),
    )?;
    let mut len = 0u32;
    check(env, sys::napi_get_array_length(env, names, &mut len))?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut k = ptr::null_mut();
        check(env, sys::napi_get_element(env, names, i, &mut k))?;
        let mut e = ptr::null_mut();
        check(env, sys::napi_get_property(env, v, k, &mut e))?;
        out.push((k, e));
    }
    Ok(out)
}

unsafe fn js_to_value(
    env: napi_env,
    v: napi_value,
    proto: napi_value,
    depth: u32,
) -> flightcache::Result<Value> {
    let lost = |_| unshareable("a JS value that could not be read");
    if depth > MAX_DEPTH {
        return Err(flightcache::Error::InvalidArgument(format!(
            "a value nests deeper than {MAX_DEPTH} levels (a cycle?)"
        )));
    }
    Ok(match raw::type_of(env, v) {
        ValueType::napi_null | ValueType::napi_undefined => Value::Null,
        ValueType::napi_boolean => {
            let mut b = false;
            sys::napi_get_value_bool(env, v, &mut b);
            Value::Bool(b)
        }
        ValueType::napi_number => {
            let mut n = 0f64;
            sys::napi_get_value_double(env, v, &mut n);
            Value::from_f64(n)
        }
        ValueType::napi_string => match raw::exact_string(env, v).map_err(lost)? {
            Some(s) => Value::Str(s),
            None => return Err(invalid_string("a string")),
        },
        ValueType::napi_bigint => {
            let (mut n, mut lossless) = (0i64, false);
            sys::napi_get_value_bigint_int64(env, v, &mut n, &mut lossless);
            if !lossless {
                return Err(integer_out_of_range("(a BigInt)"));
            }
            Value::Int(n)
        }
        ValueType::napi_object => {
            if let Some(b) = binary(env, v) {
                return Ok(Value::Bytes(b));
            }
            let mut is_array = false;
            sys::napi_is_array(env, v, &mut is_array);
            if is_array {
                let mut len = 0u32;
                sys::napi_get_array_length(env, v, &mut len);
                let mut items = Vec::with_capacity(len as usize);
                for i in 0..len {
                    let mut e = ptr::null_mut();
                    check(env, sys::napi_get_element(env, v, i, &mut e)).map_err(lost)?;
                    items.push(js_to_value(env, e, proto, depth + 1)?);
                }
                return Ok(Value::List(items));
            }
            if !is_plain_object(env, v, proto) {
                return Err(unshareable(&class_name(env, v)));
            }
            let mut pairs = Vec::new();
            for (k, e) in own_properties(env, v).map_err(lost)? {
                if raw::is_undefined(env, e) {
                    continue; // as JSON: a property holding undefined is not there
                }
                let name = raw::exact_string(env, k)
                    .map_err(lost)?
                    .ok_or_else(|| invalid_string("a property name"))?;
                pairs.push((name, js_to_value(env, e, proto, depth + 1)?));
            }
            Value::Map(pairs)
        }
        _ => return Err(unshareable(&raw::type_name(env, v))),
    })
}

/// A shared value as a stored value (maps become plain objects, binary a Buffer).
pub unsafe fn import(env: napi_env, v: Value) -> JsResult<Val> {
    Ok(match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(b),
        Value::Int(n) => from_integer(n),
        Value::Float(f) => Val::Num(f),
        Value::Str(s) => from_str(&s),
        other => Val::Ref(JsRef::new(env, value_to_js(env, other)?)?),
    })
}

unsafe fn value_to_js(env: napi_env, v: Value) -> JsResult<napi_value> {
    Ok(match v {
        Value::Bytes(b) => {
            let mut data = ptr::null_mut();
            let mut out = ptr::null_mut();
            check(
                env,
                sys::napi_create_buffer_copy(
                    env,
                    b.len(),
                    b.as_ptr() as *const std::ffi::c_void,
                    &mut data,
                    &mut out,
                ),
            )?;
            out
        }
        Value::List(xs) => {
            let arr = raw::array(env, xs.len())?;
            for (i, x) in xs.into_iter().enumerate() {
                raw::set_element(env, arr, i as u32, value_to_js(env, x)?)?;
            }
            arr
        }
        Value::Map(ps) => {
            let o = raw::object(env)?;
            for (k, x) in ps {
                let key = raw::js_string(env, &k)?;
                check(
                    env,
                    sys::napi_set_property(env, o, key, value_to_js(env, x)?),
                )?;
            }
            o
        }
        scalar => to_js(env, &import(env, scalar)?)?,
    })
}
