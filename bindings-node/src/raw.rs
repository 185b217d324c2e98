//! A thin layer over Node-API: arguments, strings, numbers, externals and thrown errors.
//!
//! The hot functions are hand-written Node-API callbacks (see `lib.rs`): a napi-rs class
//! method costs thousands of instructions per call, a raw callback a few hundred.

use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::os::raw::c_char;
use std::ptr;

use napi::sys::{self, napi_callback_info, napi_env, napi_status, napi_value, Status, ValueType};

use crate::errors;

/// A JS exception is pending: return to JS at once.
#[derive(Debug)]
pub struct Thrown;
pub type JsResult<T> = Result<T, Thrown>;

/// Turns a failed Node-API call into a pending exception (if the call did not leave one).
#[cold]
#[inline(never)]
pub unsafe fn failed(env: napi_env, status: napi_status) -> Thrown {
    let mut pending = false;
    sys::napi_is_exception_pending(env, &mut pending);
    if !pending {
        let mut info: *const sys::napi_extended_error_info = ptr::null();
        sys::napi_get_last_error_info(env, &mut info);
        let msg = if !info.is_null() && !(*info).error_message.is_null() {
            std::ffi::CStr::from_ptr((*info).error_message)
                .to_string_lossy()
                .into_owned()
        } else {
            format!("Node-API call failed with status {status}")
        };
        errors::throw_plain(env, &format!("flightcache: {msg}"));
    }
    Thrown
}

#[inline(always)]
pub unsafe fn check(env: napi_env, status: napi_status) -> JsResult<()> {
    if status == Status::napi_ok {
        Ok(())
    } else {
        Err(failed(env, status))
    }
}

/// The arguments of one call (missing ones are `undefined`).
pub struct Args<const N: usize> {
    pub env: napi_env,
    pub argv: [napi_value; N],
    /// The `data` the function was made with (see `bound_function`), else null.
    pub data: *mut c_void,
}

#[inline(always)]
pub unsafe fn args<const N: usize>(env: napi_env, info: napi_callback_info) -> JsResult<Args<N>> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut data = ptr::null_mut();
    check(
        env,
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        ),
    )?;
    Ok(Args { env, argv, data })
}

/// Defines a Node-API callback: `js_fn!(name, N, |a| body)` where `a: Args<N>` and the body
/// returns `JsResult<napi_value>`. A Rust panic becomes a JS error, never an abort.
macro_rules! js_fn {
    ($(#[$m:meta])* $name:ident, $n:literal, |$a:ident| $body:block) => {
        $(#[$m])*
        pub unsafe extern "C" fn $name(
            env: napi::sys::napi_env,
            info: napi::sys::napi_callback_info,
        ) -> napi::sys::napi_value {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                || -> $crate::raw::JsResult<napi::sys::napi_value> {
                    let $a = $crate::raw::args::<$n>(env, info)?;
                    $body
                },
            ));
            match r {
                Ok(Ok(v)) => v,
                Ok(Err($crate::raw::Thrown)) => std::ptr::null_mut(),
                Err(_) => {
                    $crate::errors::throw_plain(
                        env,
                        concat!("flightcache: internal error (panic) in ", stringify!($name)),
                    );
                    std::ptr::null_mut()
                }
            }
        }
    };
}
pub(crate) use js_fn;

/// Room for a key read without allocating (UTF-16 units).
const STACK_KEY: usize = 128;

/// Where a key is read to. Keys are read as UTF-16 (a plain copy for V8's one-byte strings,
/// much cheaper than V8's UTF-8 writer) and narrowed here; the common all-ASCII key never
/// touches the heap.
pub struct StrBuf {
    wide: [MaybeUninit<u16>; STACK_KEY],
    narrow: [MaybeUninit<u8>; STACK_KEY],
    heap: String,
}

impl StrBuf {
    #[inline(always)]
    pub fn new() -> Self {
        StrBuf {
            wide: [const { MaybeUninit::uninit() }; STACK_KEY],
            narrow: [const { MaybeUninit::uninit() }; STACK_KEY],
            heap: String::new(),
        }
    }
}

/// Reads a JS string as UTF-8 into `buf` (on the stack when it is short and ASCII). A
/// string with a lone surrogate has no UTF-8 form: it is an error naming `what`, never
/// silently changed (two such keys would collide). Anything but a string is a TypeError
/// naming what it was.
#[inline(always)]
pub unsafe fn read_str<'b>(
    env: napi_env,
    v: napi_value,
    buf: &'b mut StrBuf,
    what: &str,
) -> JsResult<&'b str> {
    let mut len = 0usize;
    let wide = buf.wide.as_mut_ptr() as *mut u16;
    let st = sys::napi_get_value_string_utf16(env, v, wide, STACK_KEY, &mut len);
    if st != Status::napi_ok {
        return Err(not_a_string(env, v, st, what));
    }
    if len + 1 < STACK_KEY {
        let w = std::slice::from_raw_parts(wide, len);
        let narrow = std::slice::from_raw_parts_mut(buf.narrow.as_mut_ptr() as *mut u8, len);
        let mut high = 0u16;
        for (d, &c) in narrow.iter_mut().zip(w) {
            *d = c as u8;
            high |= c;
        }
        if high < 0x80 {
            // SAFETY: every unit is below 0x80, so the narrowed bytes are ASCII.
            return Ok(std::str::from_utf8_unchecked(narrow));
        }
        buf.heap = utf16(env, w, what)?;
        return Ok(&buf.heap);
    }
    read_long_str(env, v, buf, what)
}

#[cold]
unsafe fn utf16(env: napi_env, w: &[u16], what: &str) -> JsResult<String> {
    String::from_utf16(w).map_err(|_| {
        let e = flightcache::value::invalid_string(what);
        errors::throw(env, &e)
    })
}

/// A JS string exactly, or `None` when it has a lone surrogate (such a string is kept as a
/// reference to the JS string instead, so that it comes back unchanged).
pub unsafe fn exact_string(env: napi_env, v: napi_value) -> JsResult<Option<String>> {
    let mut len = 0usize;
    check(
        env,
        sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut len),
    )?;
    let mut wide = vec![0u16; len + 1];
    let mut got = 0usize;
    check(
        env,
        sys::napi_get_value_string_utf16(env, v, wide.as_mut_ptr(), len + 1, &mut got),
    )?;
    Ok(String::from_utf16(&wide[..got]).ok())
}

#[cold]
#[inline(never)]
unsafe fn not_a_string(env: napi_env, v: napi_value, st: napi_status, what: &str) -> Thrown {
    if st == Status::napi_string_expected {
        errors::throw_type(
            env,
            &format!("{what} must be a string, got {}", type_name(env, v)),
        )
    } else {
        failed(env, st)
    }
}

#[cold]
#[inline(never)]
unsafe fn read_long_str<'b>(
    env: napi_env,
    v: napi_value,
    buf: &'b mut StrBuf,
    what: &str,
) -> JsResult<&'b str> {
    let mut len = 0usize;
    check(
        env,
        sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut len),
    )?;
    let mut wide = vec![0u16; len + 1];
    let mut got = 0usize;
    check(
        env,
        sys::napi_get_value_string_utf16(env, v, wide.as_mut_ptr(), len + 1, &mut got),
    )?;
    buf.heap = utf16(env, &wide[..got], what)?;
    Ok(&buf.heap)
}

/// Reads a whole JS string into a new Rust `String`.
pub unsafe fn string(env: napi_env, v: napi_value, what: &str) -> JsResult<String> {
    let mut buf = StrBuf::new();
    read_str(env, v, &mut buf, what).map(str::to_owned)
}

pub unsafe fn type_of(env: napi_env, v: napi_value) -> i32 {
    let mut t = 0;
    sys::napi_typeof(env, v, &mut t);
    t
}

/// A short description of a value's type for error messages ("number", "null", "an array").
pub unsafe fn type_name(env: napi_env, v: napi_value) -> String {
    let t = type_of(env, v);
    match t {
        ValueType::napi_undefined => "undefined".into(),
        ValueType::napi_null => "null".into(),
        ValueType::napi_boolean => "boolean".into(),
        ValueType::napi_number => "number".into(),
        ValueType::napi_string => "string".into(),
        ValueType::napi_symbol => "symbol".into(),
        ValueType::napi_function => "function".into(),
        ValueType::napi_bigint => "bigint".into(),
        ValueType::napi_external => "external".into(),
        _ => {
            let mut is_array = false;
            sys::napi_is_array(env, v, &mut is_array);
            if is_array {
                "array".into()
            } else {
                "object".into()
            }
        }
    }
}

#[inline(always)]
pub unsafe fn is_undefined(env: napi_env, v: napi_value) -> bool {
    type_of(env, v) == ValueType::napi_undefined
}

/// An optional number of milliseconds: `undefined` is `None`; anything but a number is a
/// TypeError. The core validates the number itself (negative, NaN).
#[inline]
pub unsafe fn opt_ms(env: napi_env, v: napi_value, what: &str) -> JsResult<Option<f64>> {
    let mut out = 0f64;
    let st = sys::napi_get_value_double(env, v, &mut out);
    if st == Status::napi_ok {
        return Ok(Some(out));
    }
    if st == Status::napi_number_expected {
        if is_undefined(env, v) {
            return Ok(None);
        }
        return Err(errors::throw_type(
            env,
            &format!(
                "{what} must be a number of milliseconds, got {}",
                type_name(env, v)
            ),
        ));
    }
    Err(failed(env, st))
}

/// An optional whole number >= 0 (a bound or a size): `undefined` is `None`.
pub unsafe fn opt_u64(env: napi_env, v: napi_value, what: &str) -> JsResult<Option<u64>> {
    let Some(n) = opt_number(env, v, what)? else {
        return Ok(None);
    };
    flightcache::args::count(what, n)
        .map(Some)
        .map_err(|e| errors::throw(env, &e))
}

pub unsafe fn opt_number(env: napi_env, v: napi_value, what: &str) -> JsResult<Option<f64>> {
    let mut out = 0f64;
    let st = sys::napi_get_value_double(env, v, &mut out);
    if st == Status::napi_ok {
        return Ok(Some(out));
    }
    if is_undefined(env, v) {
        return Ok(None);
    }
    Err(errors::throw_type(
        env,
        &format!("{what} must be a number, got {}", type_name(env, v)),
    ))
}

#[inline(always)]
pub unsafe fn undefined(env: napi_env) -> napi_value {
    let mut v = ptr::null_mut();
    sys::napi_get_undefined(env, &mut v);
    v
}

#[inline(always)]
pub unsafe fn boolean(env: napi_env, b: bool) -> napi_value {
    let mut v = ptr::null_mut();
    sys::napi_get_boolean(env, b, &mut v);
    v
}

#[inline(always)]
pub unsafe fn number(env: napi_env, n: f64) -> napi_value {
    let mut v = ptr::null_mut();
    sys::napi_create_double(env, n, &mut v);
    v
}

pub unsafe fn js_string(env: napi_env, s: &str) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    check(
        env,
        sys::napi_create_string_utf8(env, s.as_ptr() as *const c_char, s.len() as isize, &mut v),
    )?;
    Ok(v)
}

pub unsafe fn array(env: napi_env, len: usize) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    check(env, sys::napi_create_array_with_length(env, len, &mut v))?;
    Ok(v)
}

pub unsafe fn set_element(env: napi_env, arr: napi_value, i: u32, v: napi_value) -> JsResult<()> {
    check(env, sys::napi_set_element(env, arr, i, v))
}

pub unsafe fn set_named(env: napi_env, obj: napi_value, name: &str, v: napi_value) -> JsResult<()> {
    let key = js_string(env, name)?;
    check(env, sys::napi_set_property(env, obj, key, v))
}

pub unsafe fn object(env: napi_env) -> JsResult<napi_value> {
    let mut v = ptr::null_mut();
    check(env, sys::napi_create_object(env, &mut v))?;
    Ok(v)
}

/// Moves `value` into a JS External; it is dropped when the External is collected.
pub unsafe fn external<T: 'static>(env: napi_env, value: T) -> JsResult<napi_value> {
    unsafe extern "C" fn finalize<T>(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
        drop(Box::from_raw(data as *mut T));
    }
    let data = Box::into_raw(Box::new(value)) as *mut c_void;
    let mut v = ptr::null_mut();
    let st = sys::napi_create_external(env, data, Some(finalize::<T>), ptr::null_mut(), &mut v);
    if st != Status::napi_ok {
        drop(Box::from_raw(data as *mut T));
        return Err(failed(env, st));
    }
    Ok(v)
}

/// A `Uint32Array` over a cache's mirror block, which the array keeps alive (see the
/// core's `MirrorBlock`). JS only reads it.
pub unsafe fn mirror_view(env: napi_env, block: flightcache::MirrorBlock) -> JsResult<napi_value> {
    unsafe extern "C" fn finalize(_env: napi_env, _data: *mut c_void, hint: *mut c_void) {
        drop(Box::from_raw(hint as *mut flightcache::MirrorBlock));
    }
    let (words, len) = (block.as_ptr(), block.len());
    let hint = Box::into_raw(Box::new(block));
    let mut buffer = ptr::null_mut();
    // SAFETY: `words` is `len` 32-bit words that live as long as the block in `hint`, which
    // the buffer's finalizer drops (on failure, dropped here). The core writes them only
    // with atomic operations; JS reads them as plain words, which on every platform Node
    // runs on cannot tear (aligned 32-bit loads).
    let st = sys::napi_create_external_arraybuffer(
        env,
        words as *mut c_void,
        len * 4,
        Some(finalize),
        hint as *mut c_void,
        &mut buffer,
    );
    if st != Status::napi_ok {
        drop(Box::from_raw(hint));
        return Err(failed(env, st));
    }
    let mut view = ptr::null_mut();
    check(
        env,
        sys::napi_create_typedarray(
            env,
            sys::TypedarrayType::uint32_array,
            len,
            buffer,
            0,
            &mut view,
        ),
    )?;
    Ok(view)
}

/// The kinds of native object JS holds, each with its own type tag: a native function
/// checks the tag of every handle it is given, so a handle of the wrong kind (or a forged
/// object) is a TypeError, never memory read as the wrong type.
#[derive(Clone, Copy)]
pub enum Kind {
    Cache,
    Clock,
    Op,
    Wake,
    HttpPolicy,
}

impl Kind {
    fn tag(self) -> sys::napi_type_tag {
        // Random 128-bit values, one per kind (fixed: the tags of one build must agree).
        let lower = match self {
            Kind::Cache => 0x6c1f_4a0e_93d2_57b1,
            Kind::Clock => 0x2b8e_71c4_0d95_a36f,
            Kind::Op => 0x95d0_3e27_b6a1_4cf8,
            Kind::Wake => 0x4e73_c81d_2f06_9ab5,
            Kind::HttpPolicy => 0x13a9_5be2_c740_6d8f,
        };
        sys::napi_type_tag {
            lower,
            upper: 0x666c_6967_6874_6361, // "flightca"
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Cache => "a cache handle (call the methods of a Cache object)",
            Kind::Clock => "a clock handle (call the methods of a ManualClock object)",
            Kind::Op => "an operation handle",
            Kind::Wake => "a wake handle",
            Kind::HttpPolicy => "an HTTP policy handle",
        }
    }
}

/// Moves `value` into a JS External tagged as `kind`; it is dropped when the External is
/// collected.
pub unsafe fn tagged<T: 'static>(env: napi_env, kind: Kind, value: T) -> JsResult<napi_value> {
    let v = external(env, value)?;
    let tag = kind.tag();
    check(env, sys::napi_type_tag_object(env, v, &tag))?;
    Ok(v)
}

/// The value inside an External made by [`tagged`] for `kind`; anything else is a
/// TypeError.
#[inline(always)]
pub unsafe fn handle<'a, T>(env: napi_env, v: napi_value, kind: Kind) -> JsResult<&'a T> {
    // Handles are Externals: anything else fails here, without an exception (checking the
    // tag of a primitive would throw its own error). This is the cheaper of the two checks,
    // so it replaces asking for the value's type first.
    let mut data: *mut c_void = ptr::null_mut();
    let st = sys::napi_get_value_external(env, v, &mut data);
    if st != Status::napi_ok || data.is_null() {
        return Err(bad_handle(env, kind));
    }
    let tag = kind.tag();
    let mut ok = false;
    let st = sys::napi_check_object_type_tag(env, v, &tag, &mut ok);
    if st != Status::napi_ok || !ok {
        return Err(bad_handle(env, kind));
    }
    // SAFETY: the tag says `tagged::<T>` made this External for `kind`, and each kind is
    // made with one `T` only; the External keeps the value alive while `v` is reachable,
    // which it is for the length of this call.
    Ok(&*(data as *const T))
}

#[cold]
#[inline(never)]
unsafe fn bad_handle(env: napi_env, kind: Kind) -> Thrown {
    errors::throw_type(env, &format!("flightcache: not {}", kind.name()))
}

/// Calls `f` with `args` and `this = undefined`.
pub unsafe fn call(env: napi_env, f: napi_value, args: &[napi_value]) -> JsResult<napi_value> {
    let recv = undefined(env);
    let mut out = ptr::null_mut();
    check(
        env,
        sys::napi_call_function(env, recv, f, args.len(), args.as_ptr(), &mut out),
    )?;
    Ok(out)
}

/// A function whose `data` is `value` (read back with [`data_ref`]), dropped when the
/// function is collected: a bound method that needs no handle argument.
pub unsafe fn bound_function<T: 'static>(
    env: napi_env,
    name: &str,
    cb: unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value,
    value: T,
) -> JsResult<napi_value> {
    unsafe extern "C" fn finalize<T>(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
        drop(Box::from_raw(data as *mut T));
    }
    let data = Box::into_raw(Box::new(value)) as *mut c_void;
    let mut f = ptr::null_mut();
    let st = sys::napi_create_function(
        env,
        name.as_ptr() as *const c_char,
        name.len() as isize,
        Some(cb),
        data,
        &mut f,
    );
    if st != Status::napi_ok {
        drop(Box::from_raw(data as *mut T));
        return Err(failed(env, st));
    }
    let st = sys::napi_add_finalizer(
        env,
        f,
        data,
        Some(finalize::<T>),
        ptr::null_mut(),
        ptr::null_mut(),
    );
    if st != Status::napi_ok {
        drop(Box::from_raw(data as *mut T));
        return Err(failed(env, st));
    }
    Ok(f)
}

/// The value of a function made by [`bound_function`] with the same `T`.
#[inline(always)]
pub unsafe fn data_ref<'a, T, const N: usize>(a: &Args<N>) -> JsResult<&'a T> {
    if a.data.is_null() {
        return Err(bad_handle(a.env, Kind::Cache));
    }
    // SAFETY: only `bound_function::<T>` makes functions with data, and the function's
    // finalizer frees it only after the function is gone.
    Ok(&*(a.data as *const T))
}
