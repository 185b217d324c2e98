//! Node binding of the flightcache core: the native half of the npm package `flightcache`.
//!
//! `index.js` holds the `Cache` class; each method calls one of the plain functions below
//! with the cache's handle (a JS External holding a `Cache<Val>`). The functions are
//! hand-written Node-API callbacks, registered by hand: the hit path (`getSync`) is a
//! single native call that reads the key into a stack buffer, asks the core, and makes the
//! JS value. The binding converts values, drives loads from the JS thread and maps errors;
//! every cache rule is the core's.

#![allow(clippy::missing_safety_doc)]

mod errors;
mod http;
mod memo;
mod raw;
mod value;

use std::cell::{Cell, RefCell};
use std::os::raw::c_char;
use std::ptr;

use flightcache::{
    Cache, Clock, Config, FlightId, LoadGuard, LoadOptions, Lookup, ManualClock, Stats, Waiter,
};
use napi::bindgen_prelude::{Env, Object};
use napi::sys::{self, napi_env, napi_ref, napi_value};
use napi::JsValue;
use napi_derive::napi;

use crate::errors::JsError;
use crate::raw::{check, js_fn, JsResult, StrBuf};
use crate::value::{from_js, to_js, Val};

type C = Cache<Val>;
type GuardCell = RefCell<Option<LoadGuard<Val>>>;
type WaiterCell = RefCell<Option<Waiter<Val>>>;

enum Pending {
    Lead(LoadGuard<Val>),
    Wait(Waiter<Val>),
}

thread_local! {
    /// The load `begin` just started or joined, taken by `takeLead` / `takeWait` in the
    /// same synchronous JS step.
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
    /// The two objects `begin` returns on a miss, made by index.js (`setSentinels`).
    static SENTINELS: Cell<[napi_ref; 2]> = const { Cell::new([ptr::null_mut(); 2]) };
}

#[inline(always)]
unsafe fn cache<'a>(env: napi_env, v: napi_value) -> JsResult<&'a C> {
    raw::external_ref::<C>(env, v)
}

#[inline(always)]
unsafe fn value_or_undefined(env: napi_env, v: Option<Val>) -> JsResult<napi_value> {
    match v {
        Some(v) => to_js(env, &v),
        None => Ok(raw::undefined(env)),
    }
}

// ------------------------------------------------------------------ the cache

js_fn!(create, 8, |a| {
    let env = a.env;
    let d = Config::default();
    let clock = if raw::is_undefined(env, a.argv[7]) {
        Clock::default()
    } else {
        Clock::Manual(raw::external_ref::<ManualClock>(env, a.argv[7])?.clone())
    };
    let config = Config {
        max_entries: raw::opt_u64(env, a.argv[0], "maxEntries")?.unwrap_or(d.max_entries),
        max_bytes: raw::opt_u64(env, a.argv[1], "maxBytes")?,
        max_key_bytes: raw::opt_u64(env, a.argv[2], "maxKeyBytes")?,
        max_value_bytes: raw::opt_u64(env, a.argv[3], "maxValueBytes")?,
        ttl: raw::opt_ms(env, a.argv[4], "ttl")?.unwrap_or(d.ttl),
        max_ttl: raw::opt_ms(env, a.argv[5], "maxTtl")?,
        load_timeout: raw::opt_ms(env, a.argv[6], "loadTimeout")?,
        clock,
    };
    match C::new(config) {
        Ok(c) => raw::external(env, c),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

js_fn!(namespace, 2, |a| {
    let c = cache(a.env, a.argv[0])?;
    let name = raw::string(a.env, a.argv[1], "namespace name")?;
    match c.namespace(&name) {
        Ok(ns) => raw::external(a.env, ns),
        Err(e) => Err(errors::throw(a.env, &e)),
    }
});

js_fn!(get_sync, 2, |a| {
    let c = cache(a.env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[1], &mut buf, "key")?;
    value_or_undefined(a.env, c.get(key))
});

js_fn!(
/// The hit path: `cache._get(key)`, a function bound to one cache (see `bind`).
bound_get_sync, 1, |a| {
    let c = raw::data_ref::<C, 1>(&a)?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[0], &mut buf, "key")?;
    value_or_undefined(a.env, c.get(key))
});

js_fn!(
/// Like `has`, bound to one cache.
bound_has, 1, |a| {
    let c = raw::data_ref::<C, 1>(&a)?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[0], &mut buf, "key")?;
    Ok(raw::boolean(a.env, c.has(key)))
});

js_fn!(
/// bind(h) -> [getSync(key), has(key)]: functions bound to the cache of `h`, so that the
/// hottest calls pass no handle (each function holds its own handle to the cache).
bind, 1, |a| {
    let env = a.env;
    let c = cache(env, a.argv[0])?;
    let arr = raw::array(env, 2)?;
    raw::set_element(env, arr, 0, raw::bound_function(env, "getSync", bound_get_sync, c.clone())?)?;
    raw::set_element(env, arr, 1, raw::bound_function(env, "has", bound_has, c.clone())?)?;
    Ok(arr)
});

js_fn!(get_fresh, 3, |a| {
    let c = cache(a.env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[1], &mut buf, "key")?;
    let max_age = raw::opt_ms(a.env, a.argv[2], "maxAge")?;
    match c.get_fresh(key, max_age) {
        Ok(v) => value_or_undefined(a.env, v),
        Err(e) => Err(errors::throw(a.env, &e)),
    }
});

js_fn!(has, 2, |a| {
    let c = cache(a.env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[1], &mut buf, "key")?;
    Ok(raw::boolean(a.env, c.has(key)))
});

js_fn!(
/// set(h, key, value, ttl, size): `undefined` deletes (as in lru-cache) and returns false.
set, 5, |a| {
    let env = a.env;
    let c = cache(env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, a.argv[1], &mut buf, "key")?;
    let ttl = raw::opt_ms(env, a.argv[3], "ttl")?;
    let size = raw::opt_u64(env, a.argv[4], "size")?;
    let (v, size) = from_js(env, a.argv[2], size)?;
    if let Val::Undefined = v {
        // Same validation as a set, so that a bad ttl changes nothing here either.
        if let Some(t) = ttl {
            flightcache::parse_ttl("ttl", t).map_err(|e| errors::throw(env, &e))?;
        }
        c.del(key);
        return Ok(raw::boolean(env, false));
    }
    match c.set_sized(key, v, size, ttl) {
        Ok(stored) => Ok(raw::boolean(env, stored)),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

js_fn!(del, 2, |a| {
    let c = cache(a.env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[1], &mut buf, "key")?;
    Ok(raw::boolean(a.env, c.del(key)))
});

js_fn!(expire, 3, |a| {
    let env = a.env;
    let c = cache(env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, a.argv[1], &mut buf, "key")?;
    let Some(ttl) = raw::opt_ms(env, a.argv[2], "ttl")? else {
        return Err(errors::throw_type(
            env,
            "ttl must be a number of milliseconds, got undefined",
        ));
    };
    match c.expire(key, ttl) {
        Ok(b) => Ok(raw::boolean(env, b)),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

js_fn!(remaining_ttl, 2, |a| {
    let c = cache(a.env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[1], &mut buf, "key")?;
    Ok(match c.remaining_ttl(key) {
        Some(ms) => raw::number(a.env, ms),
        None => raw::undefined(a.env),
    })
});

js_fn!(incr, 3, |a| {
    let env = a.env;
    let c = cache(env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, a.argv[1], &mut buf, "key")?;
    let by = match raw::opt_number(env, a.argv[2], "by")? {
        None => 1,
        Some(n) => flightcache::args::whole_number("by", n).map_err(|e| errors::throw(env, &e))?,
    };
    match c.incr(key, by) {
        Ok(n) => Ok(raw::number(env, n as f64)),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

js_fn!(keys, 1, |a| {
    let c = cache(a.env, a.argv[0])?;
    let keys = c.keys();
    let arr = raw::array(a.env, keys.len())?;
    for (i, k) in keys.iter().enumerate() {
        raw::set_element(a.env, arr, i as u32, raw::js_string(a.env, k)?)?;
    }
    Ok(arr)
});

js_fn!(clear, 1, |a| {
    cache(a.env, a.argv[0])?.clear();
    Ok(raw::undefined(a.env))
});

js_fn!(len, 1, |a| {
    let n = cache(a.env, a.argv[0])?.len();
    Ok(raw::number(a.env, n as f64))
});

js_fn!(ping, 1, |a| {
    let ok = cache(a.env, a.argv[0])?.ping();
    Ok(raw::boolean(a.env, ok))
});

js_fn!(purge, 1, |a| {
    let n = cache(a.env, a.argv[0])?.purge_expired();
    Ok(raw::number(a.env, n as f64))
});

js_fn!(stats, 1, |a| {
    let env = a.env;
    let s: Stats = cache(env, a.argv[0])?.stats();
    let o = raw::object(env)?;
    for (name, n) in [
        ("hits", s.hits),
        ("misses", s.misses),
        ("loads", s.loads),
        ("loadErrors", s.load_errors),
        ("evictions", s.evictions),
        ("expirations", s.expirations),
        ("rejected", s.rejected),
        ("entries", s.entries),
        ("bytes", s.bytes),
    ] {
        raw::set_named(env, o, name, raw::number(env, n as f64))?;
    }
    Ok(o)
});

// ------------------------------------------------------------------ loading

unsafe fn sentinel(env: napi_env, i: usize) -> JsResult<napi_value> {
    let r = SENTINELS.with(|s| s.get())[i];
    let mut v = ptr::null_mut();
    check(env, sys::napi_get_reference_value(env, r, &mut v))?;
    Ok(v)
}

js_fn!(set_sentinels, 2, |a| {
    let mut refs = [ptr::null_mut(); 2];
    for (i, r) in refs.iter_mut().enumerate() {
        check(a.env, sys::napi_create_reference(a.env, a.argv[i], 1, r))?;
    }
    SENTINELS.with(|s| s.set(refs));
    Ok(raw::undefined(a.env))
});

js_fn!(
/// begin(h, key, ttl, maxAge): the value on a hit; else LEAD (this caller loads: take the
/// guard with `takeLead`) or WAIT (another caller loads: take the waiter with `takeWait`).
begin, 4, |a| {
    let env = a.env;
    let c = cache(env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, a.argv[1], &mut buf, "key")?;
    let opts = LoadOptions {
        ttl: raw::opt_ms(env, a.argv[2], "ttl")?,
        max_age: raw::opt_ms(env, a.argv[3], "maxAge")?,
        timeout: None,
        within: &[],
    };
    match c.begin_load(key, &opts) {
        Ok(Lookup::Hit(v)) => to_js(env, &v),
        Ok(Lookup::Lead(g)) => {
            PENDING.with(|p| *p.borrow_mut() = Some(Pending::Lead(g)));
            sentinel(env, 0)
        }
        Ok(Lookup::Wait(w)) => {
            PENDING.with(|p| *p.borrow_mut() = Some(Pending::Wait(w)));
            sentinel(env, 1)
        }
        Err(e) => Err(errors::throw(env, &e)),
    }
});

fn take_pending() -> Option<Pending> {
    PENDING.with(|p| p.borrow_mut().take())
}

unsafe fn pair(env: napi_env, a: napi_value, b: napi_value, c: napi_value) -> JsResult<napi_value> {
    let arr = raw::array(env, 3)?;
    raw::set_element(env, arr, 0, a)?;
    raw::set_element(env, arr, 1, b)?;
    raw::set_element(env, arr, 2, c)?;
    Ok(arr)
}

js_fn!(
/// takeLead() -> [guard, flightId]
take_lead, 0, |a| {
    let env = a.env;
    match take_pending() {
        Some(Pending::Lead(g)) => {
            let id = g.flight_id();
            let cell: GuardCell = RefCell::new(Some(g));
            let ext = raw::external(env, cell)?;
            pair(env, ext, raw::number(env, id as f64), raw::undefined(env))
        }
        _ => {
            errors::throw_plain(env, "flightcache: internal error: no load to lead");
            Err(raw::Thrown)
        }
    }
});

js_fn!(
/// takeWait() -> [waiter, flightId, timeoutMs | undefined]
take_wait, 0, |a| {
    let env = a.env;
    match take_pending() {
        Some(Pending::Wait(w)) => {
            let id = w.flight_id();
            let timeout = match w.timeout() {
                Some(t) => raw::number(env, t.as_millis() as f64),
                None => raw::undefined(env),
            };
            let cell: WaiterCell = RefCell::new(Some(w));
            let ext = raw::external(env, cell)?;
            pair(env, ext, raw::number(env, id as f64), timeout)
        }
        _ => {
            errors::throw_plain(env, "flightcache: internal error: no load to wait for");
            Err(raw::Thrown)
        }
    }
});

unsafe fn take_guard(env: napi_env, v: napi_value) -> JsResult<LoadGuard<Val>> {
    let cell = raw::external_ref::<GuardCell>(env, v)?;
    let g = cell.borrow_mut().take();
    g.ok_or_else(|| {
        errors::throw_plain(env, "flightcache: internal error: load already finished");
        raw::Thrown
    })
}

js_fn!(
/// runLoader(guard, fn): calls fn() marked as the loader of the guard's flight on this
/// thread, so that a synchronous call for the same key from inside it is `reentrant`.
run_loader, 2, |a| {
    let env = a.env;
    let cell = raw::external_ref::<GuardCell>(env, a.argv[0])?;
    let g = cell.borrow();
    match g.as_ref() {
        Some(g) => g.run(|| raw::call(env, a.argv[1], &[])),
        None => raw::call(env, a.argv[1], &[]),
    }
});

js_fn!(
/// complete(guard, value, size, ttl) -> value: stores the loaded value (unless a write came
/// first) and hands it to every waiter. `undefined` is handed over and never stored. When
/// an argument is wrong, the flight is left running (index.js then fails it with the error).
complete, 4, |a| {
    let env = a.env;
    let size = raw::opt_u64(env, a.argv[2], "size")?;
    let ttl = raw::opt_ms(env, a.argv[3], "ttl")?;
    let (v, size) = from_js(env, a.argv[1], size)?;
    let g = take_guard(env, a.argv[0])?;
    let r = match v {
        Val::Undefined => g.complete_with_ttl(v, 0, Some(0.0)),
        v => g.complete_with_ttl(v, size, ttl),
    };
    match r {
        Ok(_) => Ok(a.argv[1]),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

js_fn!(
/// fail(guard, error): every waiter of the flight rejects with this very value. Does
/// nothing when the flight has already finished.
fail, 2, |a| {
    let env = a.env;
    let cell = raw::external_ref::<GuardCell>(env, a.argv[0])?;
    let g = cell.borrow_mut().take();
    if let Some(g) = g {
        let le = JsError::loader_error(env, a.argv[1])?;
        drop(g.fail(le));
    }
    Ok(raw::undefined(env))
});

js_fn!(
/// waitCheck(waiter, within): `reentrant` when the waiter's flight is one the calling
/// async context is loading.
wait_check, 2, |a| {
    let env = a.env;
    let cell = raw::external_ref::<WaiterCell>(env, a.argv[0])?;
    let mut len = 0u32;
    check(env, sys::napi_get_array_length(env, a.argv[1], &mut len))?;
    let mut within: Vec<FlightId> = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut e = ptr::null_mut();
        check(env, sys::napi_get_element(env, a.argv[1], i, &mut e))?;
        let mut n = 0f64;
        check(env, sys::napi_get_value_double(env, e, &mut n))?;
        within.push(n as FlightId);
    }
    if let Some(w) = cell.borrow().as_ref() {
        if let Err(e) = w.check_within(&within) {
            return Err(errors::throw(env, &e));
        }
    }
    Ok(raw::undefined(env))
});

struct JsThread(napi_env);
// SAFETY: the env is only used by the callback, which runs on the thread that completes
// the flight: the JS thread (inside `complete` or `fail`, or `waitOn` itself).
unsafe impl Send for JsThread {}

impl JsThread {
    fn env(&self) -> napi_env {
        self.0
    }
}

js_fn!(
/// waitOn(waiter, cb) -> timeoutError | undefined: calls cb(ok, valueOrError) when the
/// flight finishes. When the cache has a load timeout, returns the error to reject with
/// once it passes (index.js arms the timer).
wait_on, 2, |a| {
    let env = a.env;
    let cell = raw::external_ref::<WaiterCell>(env, a.argv[0])?;
    let Some(w) = cell.borrow_mut().take() else {
        errors::throw_plain(env, "flightcache: internal error: already waiting");
        return Err(raw::Thrown);
    };
    let timeout_error = match w.timeout() {
        Some(_) => errors::to_js(env, &w.timeout_error()),
        None => raw::undefined(env),
    };
    let cb = value::JsRef::new(env, a.argv[1])?;
    let thread = JsThread(env);
    w.on_complete(move |outcome| unsafe {
        let env = thread.env();
        let mut scope = ptr::null_mut();
        sys::napi_open_handle_scope(env, &mut scope);
        if let Ok(f) = cb.get(env) {
            let (ok, v) = match outcome {
                Ok(v) => (true, to_js(env, &v).unwrap_or_else(|_| raw::undefined(env))),
                Err(e) => (false, errors::to_js(env, &e)),
            };
            if raw::call(env, f, &[raw::boolean(env, ok), v]).is_err() {
                let mut ex = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(env, &mut ex);
            }
        }
        sys::napi_close_handle_scope(env, scope);
        drop(cb);
    });
    Ok(timeout_error)
});

// ------------------------------------------------------------------ wrap keys

js_fn!(call_key, 2, |a| {
    let env = a.env;
    let name = raw::string(env, a.argv[0], "name")?;
    let mut len = 0u32;
    check(env, sys::napi_get_array_length(env, a.argv[1], &mut len))?;
    let mut args = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut e = ptr::null_mut();
        check(env, sys::napi_get_element(env, a.argv[1], i, &mut e))?;
        args.push(memo::to_arg(env, e, 0)?);
    }
    raw::js_string(env, &flightcache::memo::call_key(&name, &args))
});

js_fn!(path_key, 3, |a| {
    let env = a.env;
    let name = raw::string(env, a.argv[0], "name")?;
    let first = if raw::is_undefined(env, a.argv[1]) {
        None
    } else {
        Some(memo::to_arg(env, a.argv[1], 0)?)
    };
    let mut len = 0u32;
    check(env, sys::napi_get_array_length(env, a.argv[2], &mut len))?;
    let mut paths = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut e = ptr::null_mut();
        check(env, sys::napi_get_element(env, a.argv[2], i, &mut e))?;
        paths.push(raw::string(env, e, "key path")?);
    }
    match flightcache::memo::path_key(&name, first.as_ref(), &paths) {
        Ok(k) => raw::js_string(env, &k),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

// ------------------------------------------------------------------ ManualClock

js_fn!(clock_new, 0, |a| {
    raw::external(a.env, ManualClock::new())
});

js_fn!(clock_advance, 2, |a| {
    let env = a.env;
    let clock = raw::external_ref::<ManualClock>(env, a.argv[0])?;
    let Some(ms) = raw::opt_number(env, a.argv[1], "ms")? else {
        return Err(errors::throw_type(
            env,
            "ms must be a number, got undefined",
        ));
    };
    let ms = flightcache::parse_ttl("ms", ms).map_err(|e| errors::throw(env, &e))?;
    clock.advance(ms);
    Ok(raw::number(env, clock.now_ms() as f64))
});

js_fn!(clock_now, 1, |a| {
    let clock = raw::external_ref::<ManualClock>(a.env, a.argv[0])?;
    Ok(raw::number(a.env, clock.now_ms() as f64))
});

// ------------------------------------------------------------------ registration

type Callback = unsafe extern "C" fn(napi_env, sys::napi_callback_info) -> napi_value;

const FUNCTIONS: &[(&str, Callback)] = &[
    ("create", create),
    ("namespace", namespace),
    ("getSync", get_sync),
    ("bind", bind),
    ("getFresh", get_fresh),
    ("has", has),
    ("set", set),
    ("del", del),
    ("expire", expire),
    ("remainingTtl", remaining_ttl),
    ("incr", incr),
    ("keys", keys),
    ("clear", clear),
    ("len", len),
    ("ping", ping),
    ("purge", purge),
    ("stats", stats),
    ("setSentinels", set_sentinels),
    ("begin", begin),
    ("takeLead", take_lead),
    ("takeWait", take_wait),
    ("runLoader", run_loader),
    ("complete", complete),
    ("fail", fail),
    ("waitCheck", wait_check),
    ("waitOn", wait_on),
    ("callKey", call_key),
    ("pathKey", path_key),
    ("clockNew", clock_new),
    ("clockAdvance", clock_advance),
    ("clockNow", clock_now),
];

unsafe fn register(env: napi_env, exports: napi_value) -> JsResult<()> {
    for (name, cb) in FUNCTIONS {
        let mut f = ptr::null_mut();
        check(
            env,
            sys::napi_create_function(
                env,
                name.as_ptr() as *const c_char,
                name.len() as isize,
                Some(*cb),
                ptr::null_mut(),
                &mut f,
            ),
        )?;
        raw::set_named(env, exports, name, f)?;
    }
    http::register(env, exports)
}

#[napi(module_exports)]
pub fn init(exports: Object, env: Env) -> napi::Result<()> {
    unsafe {
        register(env.raw(), exports.raw())
            .map_err(|_| napi::Error::from_reason("flightcache: could not register functions"))
    }
}
