//! The one place where the core's errors become JS errors: one `match` over [`ErrorKind`],
//! with no wildcard arm, so a new kind does not build until it is mapped. The codes are the
//! core's ([`ErrorKind::js_code`]), exported to JS as `errorCodes`.
//!
//! | core kind          | JS class   | `code`                              |
//! |--------------------|------------|-------------------------------------|
//! | `InvalidArgument`  | RangeError | `ERR_FLIGHTCACHE_INVALID_ARGUMENT`  |
//! | `WrongType`        | TypeError  | `ERR_FLIGHTCACHE_WRONG_TYPE`        |
//! | `Timeout`          | Error      | `ERR_FLIGHTCACHE_TIMEOUT`           |
//! | `Reentrant`        | Error      | `ERR_FLIGHTCACHE_REENTRANT`         |
//! | `LoaderFailed`     | the loader's own rejection, unchanged; from another process: Error `ERR_FLIGHTCACHE_LOADER_FAILED` with `typeName` |
//! | `LoaderAborted`    | Error      | `ERR_FLIGHTCACHE_LOADER_ABORTED`    |
//! | `NotFound`         | Error      | `ERR_FLIGHTCACHE_NOT_FOUND`         |

use std::fmt;
use std::os::raw::c_char;
use std::ptr;

use flightcache::{Error, ErrorKind, LoaderError};
use napi::sys::{self, napi_env, napi_value};

use crate::raw::{self, Thrown};
use crate::value::JsRef;

#[derive(Clone, Copy)]
enum Class {
    Error,
    TypeError,
    RangeError,
}

fn class_of(kind: ErrorKind) -> Class {
    match kind {
        ErrorKind::InvalidArgument => Class::RangeError,
        ErrorKind::WrongType => Class::TypeError,
        ErrorKind::Timeout
        | ErrorKind::Reentrant
        | ErrorKind::LoaderFailed
        | ErrorKind::LoaderAborted
        | ErrorKind::NotFound => Class::Error,
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
            if let Ok(v) = js.get(env) {
                return v;
            }
        }
    }
    let kind = e.kind();
    let err = make(env, class_of(kind), kind.js_code(), &e.to_string());
    if let Error::Loader(le) = e {
        if let Some(remote) = le.as_remote() {
            if let Ok(t) = raw::js_string(env, &remote.type_name) {
                let _ = raw::set_named(env, err, "typeName", t);
            }
        }
    }
    err
}

/// `{ WRONG_TYPE: 'ERR_FLIGHTCACHE_WRONG_TYPE', ... }` for every kind.
pub unsafe fn codes(env: napi_env) -> Result<napi_value, Thrown> {
    let o = raw::object(env)?;
    for kind in ErrorKind::ALL {
        let code = kind.js_code();
        let name = code.trim_start_matches("ERR_FLIGHTCACHE_");
        raw::set_named(env, o, name, raw::js_string(env, code)?)?;
    }
    Ok(o)
}

#[cold]
pub unsafe fn throw(env: napi_env, e: &Error) -> Thrown {
    let v = to_js(env, e);
    sys::napi_throw(env, v);
    Thrown
}

#[cold]
pub unsafe fn throw_type(env: napi_env, msg: &str) -> Thrown {
    let code = ErrorKind::WrongType.js_code();
    sys::napi_throw(env, make(env, Class::TypeError, code, msg));
    Thrown
}

#[cold]
pub unsafe fn throw_range(env: napi_env, msg: &str) -> Thrown {
    let code = ErrorKind::InvalidArgument.js_code();
    sys::napi_throw(env, make(env, Class::RangeError, code, msg));
    Thrown
}

#[cold]
pub unsafe fn throw_plain(env: napi_env, msg: &str) {
    sys::napi_throw(env, make(env, Class::Error, "ERR_FLIGHTCACHE", msg));
}

/// What a JS loader threw or rejected with, carried through the core unchanged.
///
/// The core's `LoaderError` is `Send + Sync` (Rust callers share errors across threads),
/// so this cannot rest on the compiler: it remembers its JS thread and touches its
/// reference only there. Reached from any other thread, it gives nothing and, dropped
/// there, it leaks its reference rather than touch the JS heap.
pub struct JsError {
    r: std::mem::ManuallyDrop<JsRef>,
    thread: std::thread::ThreadId,
}

// SAFETY: the only non-Send field is the JsRef, which is read and deleted only when the
// current thread is `thread` (the JS thread that made it); see `get` and `Drop`.
unsafe impl Send for JsError {}
unsafe impl Sync for JsError {}

impl JsError {
    pub unsafe fn loader_error(env: napi_env, v: napi_value) -> Result<LoaderError, Thrown> {
        let name = crate::value::class_name(env, v);
        let e = JsError {
            r: std::mem::ManuallyDrop::new(JsRef::new(env, v)?),
            thread: std::thread::current().id(),
        };
        Ok(LoaderError::new(e).named(name))
    }

    pub unsafe fn get(&self, env: napi_env) -> Result<napi_value, Thrown> {
        if std::thread::current().id() != self.thread {
            return Err(Thrown);
        }
        self.r.get(env)
    }
}

impl Drop for JsError {
    fn drop(&mut self) {
        if std::thread::current().id() == self.thread {
            // SAFETY: on the reference's own JS thread, dropped once.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.r) }
        }
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
