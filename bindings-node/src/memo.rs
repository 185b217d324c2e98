//! `cache.wrap`: JS arguments become the core's shared values; the core builds the key.
//!
//! An argument is read as `JSON.stringify` reads it (`toJSON` honoured, object properties
//! holding `undefined` or a function left out), plus binary data and BigInts. A value the
//! encoding cannot represent faithfully (a `Map`, a `Set`, a class instance without
//! `toJSON`, a symbol, a function) is an error: it would otherwise collide with `{}`.

use std::ptr;

use flightcache::memo::Arg;
use napi::sys::{self, napi_env, napi_value, ValueType};

use crate::errors;
use crate::raw::{self, check, JsResult};

const MAX_DEPTH: usize = 64;

/// Converts a JS value as `JSON.stringify` sees it: `toJSON` is honoured, an object is its
/// own enumerable string-keyed properties (those holding `undefined` or a function are
/// left out), `undefined` in an array is `null`.
pub unsafe fn to_arg(env: napi_env, v: napi_value, depth: usize) -> JsResult<Arg> {
    let proto = {
        let o = raw::object(env)?;
        let mut p = ptr::null_mut();
        check(env, sys::napi_get_prototype(env, o, &mut p))?;
        p
    };
    arg(env, v, depth, proto)
}

unsafe fn arg(env: napi_env, v: napi_value, depth: usize, proto: napi_value) -> JsResult<Arg> {
    if depth > MAX_DEPTH {
        return Err(errors::throw_range(
            env,
            "wrap: the arguments nest deeper than 64 levels (a cycle?); give wrap a `key`",
        ));
    }
    match raw::type_of(env, v) {
        ValueType::napi_undefined | ValueType::napi_null => Ok(Arg::Null),
        ValueType::napi_boolean => {
            let mut b = false;
            check(env, sys::napi_get_value_bool(env, v, &mut b))?;
            Ok(Arg::Bool(b))
        }
        ValueType::napi_number => {
            let mut n = 0f64;
            check(env, sys::napi_get_value_double(env, v, &mut n))?;
            Ok(Arg::from_f64(n))
        }
        ValueType::napi_string => Ok(Arg::Str(raw::string(env, v, "a wrap argument")?)),
        ValueType::napi_bigint => {
            let mut n = 0i64;
            let mut lossless = false;
            check(
                env,
                sys::napi_get_value_bigint_int64(env, v, &mut n, &mut lossless),
            )?;
            if !lossless {
                let e = flightcache::value::integer_out_of_range("(a BigInt argument of wrap)");
                return Err(errors::throw(env, &e));
            }
            Ok(Arg::Int(n))
        }
        ValueType::napi_object => object_to_arg(env, v, depth, proto),
        _ => Err(errors::throw_type(
            env,
            &format!(
                "wrap: an argument of type {} cannot be part of a cache key; give wrap a `key`",
                raw::type_name(env, v)
            ),
        )),
    }
}

unsafe fn object_to_arg(
    env: napi_env,
    v: napi_value,
    depth: usize,
    proto: napi_value,
) -> JsResult<Arg> {
    let mut to_json = ptr::null_mut();
    check(
        env,
        sys::napi_get_named_property(env, v, c"toJSON".as_ptr(), &mut to_json),
    )?;
    if raw::type_of(env, to_json) == ValueType::napi_function {
        let mut out = ptr::null_mut();
        check(
            env,
            sys::napi_call_function(env, v, to_json, 0, ptr::null(), &mut out),
        )?;
        return arg(env, out, depth + 1, proto);
    }
    if let Some(b) = crate::value::binary(env, v) {
        return Ok(Arg::Bytes(b));
    }
    let mut is_array = false;
    check(env, sys::napi_is_array(env, v, &mut is_array))?;
    if is_array {
        let mut len = 0u32;
        check(env, sys::napi_get_array_length(env, v, &mut len))?;
        let mut items = Vec::with_capacity(len as usize);
        for i in 0..len {
            let mut e = ptr::null_mut();
            check(env, sys::napi_get_element(env, v, i, &mut e))?;
            let t = raw::type_of(env, e);
            if t == ValueType::napi_function || t == ValueType::napi_symbol {
                items.push(Arg::Null);
            } else {
                items.push(arg(env, e, depth + 1, proto)?);
            }
        }
        return Ok(Arg::List(items));
    }
    if !crate::value::is_plain_object(env, v, proto) {
        return Err(errors::throw_type(
            env,
            &format!(
                "wrap: a {} argument cannot be part of a cache key faithfully; give wrap a `key`",
                crate::value::class_name(env, v)
            ),
        ));
    }
    let mut pairs = Vec::new();
    for (k, e) in crate::value::own_properties(env, v)? {
        let t = raw::type_of(env, e);
        if t == ValueType::napi_undefined
            || t == ValueType::napi_function
            || t == ValueType::napi_symbol
        {
            continue;
        }
        pairs.push((
            raw::string(env, k, "a property name")?,
            arg(env, e, depth + 1, proto)?,
        ));
    }
    Ok(Arg::Map(pairs))
}
