//! Node binding of the flightcache core: the native half of the npm package `flightcache`.
//!
//! `index.js` holds the `Cache` class; each method calls one of the plain functions here
//! with the cache's handle (a type-tagged External, kept in a private field), whose tag
//! each call checks. The hottest calls (`getSync`, `has`, `set`, `load`) are functions
//! bound to one cache instead: they take no handle, so they have none to check. This crate runs nothing of the
//! cache's rules: it converts values, drives the core's operations from the JS thread (see
//! `op`), and maps errors. Its files mirror the Python binding's: `cache`, `op`, `host`,
//! `value`, `errors`, `memo`, `clock`, `stores`, plus `raw` (Node-API helpers).

#![allow(clippy::missing_safety_doc)]

mod cache;
mod clock;
mod errors;
mod host;
mod http;
mod memo;
mod op;
mod raw;
mod stores;
mod value;

use std::os::raw::c_char;
use std::ptr;

use napi::bindgen_prelude::{Env, Object};
use napi::sys::{self, napi_env, napi_value};
use napi::JsValue;
use napi_derive::napi;

use crate::raw::{check, js_fn, JsResult};

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

type Callback = unsafe extern "C" fn(napi_env, sys::napi_callback_info) -> napi_value;

const FUNCTIONS: &[(&str, Callback)] = &[
    ("create", cache::create),
    ("namespace", cache::namespace),
    ("bind", cache::bind),
    ("lookup", cache::lookup),
    ("add", cache::add),
    ("del", cache::del),
    ("expire", cache::expire),
    ("remainingTtl", cache::remaining_ttl),
    ("incr", cache::incr),
    ("keys", cache::keys),
    ("clear", cache::clear),
    ("ping", cache::ping),
    ("len", cache::len),
    ("purge", cache::purge),
    ("storeError", cache::store_error),
    ("stats", cache::stats),
    ("mirror", cache::mirror),
    ("countHits", cache::count_hits),
    ("init", op::init),
    ("parked", op::parked),
    ("step", op::step),
    ("runLoader", op::run_loader),
    ("loaded", op::loaded),
    ("loadedStep", op::loaded_step),
    ("failed", op::failed),
    ("close", op::close),
    ("callKey", call_key),
    ("pathKey", path_key),
    ("clockNew", clock::clock_new),
    ("clockAdvance", clock::clock_advance),
    ("clockNow", clock::clock_now),
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
    raw::set_named(env, exports, "errorCodes", errors::codes(env)?)?;
    raw::set_named(
        env,
        exports,
        "sweepPollMs",
        raw::number(env, flightcache::SWEEP_POLL_MS as f64),
    )?;
    let layout = raw::object(env)?;
    use flightcache::MirrorBlock as M;
    // The block's word indices and the BURST_* numbers, as JS reads them.
    for (name, n) in [
        ("epoch", M::EPOCH as f64),
        ("capacity", M::CAPACITY as f64),
        ("fillSlot", M::FILL_SLOT as f64),
        ("fillGeneration", M::FILL_GENERATION as f64),
        ("fillLiveMs", M::FILL_LIVE_MS as f64),
        ("pending", M::PENDING as f64),
        ("burstReads", M::BURST_READS as f64),
        ("burstHits", M::BURST_HITS as f64),
        ("burstTrustMs", M::BURST_TRUST_MS as f64),
    ] {
        raw::set_named(env, layout, name, raw::number(env, n))?;
    }
    raw::set_named(env, exports, "mirrorLayout", layout)?;
    http::register(env, exports)
}

#[napi(module_exports)]
pub fn init(exports: Object, env: Env) -> napi::Result<()> {
    // SAFETY: called once per environment by Node-API, on its JS thread, with its exports.
    unsafe {
        register(env.raw(), exports.raw())
            .map_err(|_| napi::Error::from_reason("flightcache: could not register functions"))
    }
}
