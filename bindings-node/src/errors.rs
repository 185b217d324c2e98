//! The one place where the core's errors become JS errors.
//!
//! | core kind          | JS class   | `code`                              |
//! |--------------------|------------|-------------------------------------|
//! | `invalid_argument` | RangeError | `ERR_FLIGHTCACHE_INVALID_ARGUMENT`  |
//! | `wrong_type`       | TypeError  | `ERR_FLIGHTCACHE_WRONG_TYPE`        |
//! | `timeout`          | Error      | `ERR_FLIGHTCACHE_TIMEOUT`           |
//! | `reentrant`        | Error      | `ERR_FLIGHTCACHE_REENTRANT`         |
//! | `loader_error`     | the loader's own rejection, unchanged; a loader that never
//! |                    | finished: Error `ERR_FLIGHTCACHE_LOADER_ABORTED` |
//!
//! Arguments of the wrong JS type are TypeErrors with `ERR_FLIGHTCACHE_WRONG_TYPE`, like the
//! core's `wrong_type`.

use std::fmt;
use std::os::raw::c_char;
use std::ptr;

use flightcache::{Error, LoaderError};
use napi::sys::{self, napi_env, napi_value};

use crate::raw::Thrown;
use crate::value::JsRef;

pub const WRONG_TYPE: &str = "ERR_FLIGHTCACHE_WRONG_TYPE";
pub const INVALID_ARGUMENT: &str = "ERR_FLIGHTCACHE_INVALID_ARGUMENT";

#[derive(Clone, Copy)]
enum Class {
    Error,
    TypeError,
    RangeError,
}

fn class_and_code(e: &Error) -> (Class, &'static str) {
    match e.kind() {
        "invalid_argument" => (Class::RangeError, INVALID_ARGUMENT),
        "wrong_type" => (Class::TypeError, WRONG_TYPE),
        "timeout" => (Class::Error, "ERR_FLIGHTCACHE_TIMEOUT"),
        "reentrant" => (Class::Error, "ERR_FLIGHTCACHE_REENTRANT"),
        "loader_error" => (Class::Error, "ERR_FLIGHTCACHE_LOADER_ABORTED"),
        _ => (Class::Error, "ERR_FLIGHTCACHE"),
    }
}

unsafe fn make(env: napi_env, class: Class, code: &str, msg: &str) -> napi_value {
    let mut c = ptr::null_mut();
    let mut m = ptr::null_mut();
    sys::napi_create_string_utf8(
        env,
        code.as_ptr() as *const c_char,
        code.len() as isize,
        &mut c,
    );
    sys::napi_create_string_utf8(
        env,
        msg.as_ptr() as *const c_char,
        msg.len() as isize,
        &mut m,
    );
    let mut out = ptr::null_mut();
    match class {
        Class::Error => sys::napi_create_error(env, c, m, &mut out),
        Class::TypeError => sys::napi_create_type_error(env, c, m, &mut out),
        Class::RangeError => sys::napi_create_range_error(env, c, m, &mut out),
    };
    out
}

/// The JS error for a core error. A loader's failure gives back the very value the loader
/// rejected with, so that every caller of one flight gets the same object.
pub unsafe fn to_js(env: napi_env, e: &Error) -> napi_value {
    if let Error::Loader(le) = e {
        if let Some(js) = le.downcast_ref::<JsError>() {
            if let Ok(v) = js.0.get(env) {
                return v;
            }
        }
    }
    let (class, code) = class_and_code(e);
    make(env, class, code, &e.to_string())
}

#[cold]
pub unsafe fn throw(env: napi_env, e: &Error) -> Thrown {
    let v = to_js(env, e);
    sys::napi_throw(env, v);
    Thrown
}

#[cold]
pub unsafe fn throw_type(env: napi_env, msg: &str) -> Thrown {
    sys::napi_throw(env, make(env, Class::TypeError, WRONG_TYPE, msg));
    Thrown
}

#[cold]
pub unsafe fn throw_range(env: napi_env, msg: &str) -> Thrown {
    sys::napi_throw(env, make(env, Class::RangeError, INVALID_ARGUMENT, msg));
    Thrown
}

#[cold]
pub unsafe fn throw_plain(env: napi_env, msg: &str) {
    sys::napi_throw(env, make(env, Class::Error, "ERR_FLIGHTCACHE", msg));
}

/// What a JS loader threw or rejected with, carried through the core unchanged.
pub struct JsError(pub JsRef);

impl JsError {
    pub unsafe fn loader_error(env: napi_env, v: napi_value) -> Result<LoaderError, Thrown> {
        Ok(LoaderError::new(JsError(JsRef::new(env, v)?)))
    }
}

impl fmt::Debug for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsError")
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the loader threw or rejected (a JavaScript value)")
    }
}

impl std::error::Error for JsError {}
