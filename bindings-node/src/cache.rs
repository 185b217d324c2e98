//! The cache's native functions: each converts its arguments, asks the core, and gives
//! `index.js` the answer, or the operation to drive (see `op`). No rule of the cache lives
//! here.

use std::rc::Rc;

use flightcache::{
    Cache, Clock, Config, FlightId, LoadOptions, Lookup, ManualClock, PolicyOptions, Stats, Ttl,
    Written,
};
use napi::sys::{self, napi_env, napi_value, ValueType};

use crate::errors;
use crate::host::NodeHost;
use crate::op::{answer_or_pending, pending_load, wake_of, Tsfn};
use crate::raw::{self, check, js_fn, JsResult, Kind, StrBuf};
use crate::value::{self, to_js, JsRef, Val};

/// What a cache handle holds: the core's cache (or namespace view) and its `sizeOf`.
#[derive(Clone)]
pub struct Handle {
    pub cache: Cache<Val>,
    pub size_of: Option<Rc<JsRef>>,
    /// The wake handle of the copy of `index.js` that made the cache.
    pub wake: Tsfn,
}

#[inline(always)]
unsafe fn handle<'a>(env: napi_env, v: napi_value) -> JsResult<&'a Handle> {
    raw::handle::<Handle>(env, v, Kind::Cache)
}

unsafe fn opt_string(env: napi_env, v: napi_value, what: &str) -> JsResult<Option<String>> {
    match raw::type_of(env, v) {
        ValueType::napi_undefined | ValueType::napi_null => Ok(None),
        ValueType::napi_string => raw::string(env, v, what).map(Some),
        _ => Err(errors::throw_type(
            env,
            &format!(
                "{what} must be a URL (a string), got {}",
                raw::type_name(env, v)
            ),
        )),
    }
}

unsafe fn opt_bool(env: napi_env, v: napi_value, what: &str) -> JsResult<bool> {
    match raw::type_of(env, v) {
        ValueType::napi_undefined | ValueType::napi_null => Ok(false),
        ValueType::napi_boolean => {
            let mut b = false;
            check(env, sys::napi_get_value_bool(env, v, &mut b))?;
            Ok(b)
        }
        _ => Err(errors::throw_type(
            env,
            &format!("{what} must be a boolean, got {}", raw::type_name(env, v)),
        )),
    }
}

/// A hit's value as JS: with the `copy` option a copy of the caller's own (the core's rule,
/// `hand_out`), else the value itself.
#[inline(always)]
unsafe fn hit_to_js(env: napi_env, cache: &Cache<Val>, v: Val) -> JsResult<napi_value> {
    if !cache.copies() {
        return to_js(env, &v);
    }
    let mut host = NodeHost {
        env,
        size_of: None,
        ttl_of: None,
    };
    match cache.hand_out(v, &mut host) {
        Ok(v) => to_js(env, &v),
        Err(e) => Err(errors::throw(env, &e)),
    }
}

unsafe fn opt_fn(env: napi_env, v: napi_value) -> JsResult<Option<JsRef>> {
    if raw::type_of(env, v) == ValueType::napi_function {
        JsRef::new(env, v).map(Some)
    } else {
        Ok(None)
    }
}

/// A `ttl` argument, with one type check: milliseconds, a function of the value, or
/// `undefined` (the cache's default).
unsafe fn ttl_arg(env: napi_env, v: napi_value) -> JsResult<(Ttl, Option<JsRef>)> {
    match raw::type_of(env, v) {
        ValueType::napi_undefined => Ok((Ttl::from(None::<f64>), None)),
        ValueType::napi_function => Ok((Ttl::FromValue, Some(JsRef::new(env, v)?))),
        _ => Ok((raw::opt_ms(env, v, "ttl")?.into(), None)),
    }
}

/// The options object's fields, read by name.
unsafe fn field(env: napi_env, o: napi_value, name: &str) -> JsResult<napi_value> {
    let key = raw::js_string(env, name)?;
    let mut v = std::ptr::null_mut();
    check(env, sys::napi_get_property(env, o, key, &mut v))?;
    Ok(v)
}

/// The resilience options of a cache's or a call's options object (undefined: none).
unsafe fn policy_options(env: napi_env, o: napi_value) -> JsResult<PolicyOptions> {
    if raw::type_of(env, o) != ValueType::napi_object {
        return Ok(PolicyOptions::default());
    }
    Ok(PolicyOptions {
        stale_ttl: raw::opt_ms(env, field(env, o, "staleTtl")?, "staleTtl")?,
        stale_if_error: raw::opt_ms(env, field(env, o, "staleIfError")?, "staleIfError")?,
        soft_timeout: raw::opt_ms(env, field(env, o, "softTimeout")?, "softTimeout")?,
        hard_timeout: raw::opt_ms(env, field(env, o, "hardTimeout")?, "hardTimeout")?,
        refresh_ahead: raw::opt_number(env, field(env, o, "refreshAhead")?, "refreshAhead")?,
        fail_safe_backoff: raw::opt_ms(env, field(env, o, "failSafeBackoff")?, "failSafeBackoff")?,
    })
}

js_fn!(
/// create(options, clock, sizeOf, wake): a cache. `options` has been checked for unknown names
/// by index.js; every value is checked here or by the core.
create, 4, |a| {
    let env = a.env;
    let o = a.argv[0];
    let d = Config::default();
    let clock = if raw::is_undefined(env, a.argv[1]) {
        Clock::default()
    } else {
        Clock::Manual(raw::handle::<ManualClock>(env, a.argv[1], Kind::Clock)?.clone())
    };
    let config = Config {
        max_entries: raw::opt_u64(env, field(env, o, "maxEntries")?, "maxEntries")?
            .unwrap_or(d.max_entries),
        max_bytes: raw::opt_u64(env, field(env, o, "maxBytes")?, "maxBytes")?,
        max_key_bytes: raw::opt_u64(env, field(env, o, "maxKeyBytes")?, "maxKeyBytes")?,
        max_value_bytes: raw::opt_u64(env, field(env, o, "maxValueBytes")?, "maxValueBytes")?,
        ttl: raw::opt_ms(env, field(env, o, "ttl")?, "ttl")?.unwrap_or(d.ttl),
        max_ttl: raw::opt_ms(env, field(env, o, "maxTtl")?, "maxTtl")?,
        load_timeout: raw::opt_ms(env, field(env, o, "loadTimeout")?, "loadTimeout")?,
        clock,
        store: opt_string(env, field(env, o, "store")?, "store")?,
        store_timeout: raw::opt_ms(env, field(env, o, "storeTimeout")?, "storeTimeout")?,
        lease: raw::opt_ms(env, field(env, o, "lease")?, "lease")?,
        l1_staleness: raw::opt_ms(env, field(env, o, "l1Staleness")?, "l1Staleness")?,
        store_max_entries: raw::opt_u64(env, field(env, o, "storeMaxEntries")?, "storeMaxEntries")?,
        store_max_bytes: raw::opt_u64(env, field(env, o, "storeMaxBytes")?, "storeMaxBytes")?,
        policy: policy_options(env, o)?,
        // One part, without a lock: `new_serialized` below.
        shards: None,
        copy: opt_bool(env, field(env, o, "copy")?, "copy")?,
    };
    crate::stores::register();
    let size_of = opt_fn(env, a.argv[2])?.map(Rc::new);
    let wake = wake_of(env, a.argv[3])?;
    // SAFETY: only this JS thread calls the cache (a `Val` is neither Send nor Sync, so the
    // compiler keeps the cache on it), one call at a time. Mirrored: `getSync` answers
    // from index.js's copies while the block says they are current.
    match unsafe { Cache::new_mirrored(config) } {
        Ok(cache) => raw::tagged(env, Kind::Cache, Handle { cache, size_of, wake }),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

js_fn!(namespace, 2, |a| {
    let h = handle(a.env, a.argv[0])?;
    let name = raw::string(a.env, a.argv[1], "namespace name")?;
    match h.cache.namespace(&name) {
        Ok(ns) => raw::tagged(
            a.env,
            Kind::Cache,
            Handle {
                cache: ns,
                size_of: h.size_of.clone(),
                wake: h.wake,
            },
        ),
        Err(e) => Err(errors::throw(a.env, &e)),
    }
});

js_fn!(
/// The hit path: `cache.getSync(key)`, a function bound to one cache (see `bind`).
bound_get_sync, 1, |a| {
    let c = raw::data_ref::<Cache<Val>, 1>(&a)?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[0], &mut buf, "key")?;
    if c.copies() {
        return match c.get(key) {
            Some(v) => hit_to_js(a.env, c, v),
            None => Ok(raw::undefined(a.env)),
        };
    }
    // The value is converted where it lies, not copied out first: a referenced value's copy
    // would count itself in its Node-API reference and out again (two Node-API calls, and a
    // write to the reference, per hit). `to_js` runs no JS, so nothing calls the cache
    // while its map is in use. Every `Val` converts to the same JS value on each hit (a
    // primitive, or the one object referenced), so index.js may keep what it gets.
    match c.get_mirrored(key, |v| (to_js(a.env, &v), true)) {
        Some(r) => r,
        None => Ok(raw::undefined(a.env)),
    }
});

js_fn!(
/// `cache.has(key)` (the in-process tier), bound to one cache.
bound_has, 1, |a| {
    let c = raw::data_ref::<Cache<Val>, 1>(&a)?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(a.env, a.argv[0], &mut buf, "key")?;
    Ok(raw::boolean(a.env, c.has_local(key)))
});

js_fn!(
/// bind(h) -> [getSync(key), has(key), set(key, value, ttl, out), load(key, ...)]:
/// functions bound to the cache of `h`, so that the hottest calls pass no handle to check
/// (each function holds its own handle to the cache).
bind, 1, |a| {
    let env = a.env;
    let h = handle(env, a.argv[0])?;
    let arr = raw::array(env, 4)?;
    raw::set_element(env, arr, 0, raw::bound_function(env, "getSync", bound_get_sync, h.cache.clone())?)?;
    raw::set_element(env, arr, 1, raw::bound_function(env, "has", bound_has, h.cache.clone())?)?;
    raw::set_element(env, arr, 2, raw::bound_function(env, "set", bound_set, h.clone())?)?;
    raw::set_element(env, arr, 3, raw::bound_function(env, "load", bound_load, h.clone())?)?;
    Ok(arr)
});

js_fn!(
/// lookup(h, key, maxAge, out): the value (or undefined) of a `get` without a loader, or
/// `out` holding the store read to drive.
lookup, 4, |a| {
    let env = a.env;
    let h = handle(env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, a.argv[1], &mut buf, "key")?;
    let max_age = raw::opt_ms(env, a.argv[2], "maxAge")?;
    match h.cache.lookup(key, max_age) {
        Ok(Lookup::Hit(v)) => hit_to_js(env, &h.cache, v),
        Ok(Lookup::Absent) => Ok(raw::undefined(env)),
        Ok(Lookup::Pending(op)) => pending_load(env, h.wake, op, h.size_of.clone(), None, false, a.argv[3]),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

unsafe fn within(env: napi_env, v: napi_value) -> JsResult<Vec<FlightId>> {
    if raw::is_undefined(env, v) {
        return Ok(Vec::new());
    }
    let mut len = 0u32;
    check(env, sys::napi_get_array_length(env, v, &mut len))?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut e = std::ptr::null_mut();
        check(env, sys::napi_get_element(env, v, i, &mut e))?;
        let mut n = 0f64;
        check(env, sys::napi_get_value_double(env, e, &mut n))?;
        out.push(n as FlightId);
    }
    Ok(out)
}

/// `cache.load(key, ttl, maxAge, within, out, options, entry)`: the value on a hit, else
/// `out` holding the load to drive. `ttl` is milliseconds, undefined, or a function of the
/// value; `options` the call's (its resilience options are read); `entry` 0 for `get`, 1
/// for `getEntry` with a loader, 2 without (always an operation, answering how it was
/// served).
unsafe fn load_on(env: napi_env, h: &Handle, argv: &[napi_value; 7]) -> JsResult<napi_value> {
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, argv[0], &mut buf, "key")?;
    let (ttl, ttl_fn) = ttl_arg(env, argv[1])?;
    let within = within(env, argv[3])?;
    let opts = LoadOptions {
        ttl,
        max_age: raw::opt_ms(env, argv[2], "maxAge")?,
        within: &within,
        policy: policy_options(env, argv[5])?,
        ..Default::default()
    };
    let mut entry = 0f64;
    check(env, sys::napi_get_value_double(env, argv[6], &mut entry))?;
    if entry > 0.0 {
        return match h.cache.load_entry(key, &opts, entry == 1.0) {
            Ok(op) => pending_load(env, h.wake, op, h.size_of.clone(), ttl_fn, true, argv[4]),
            Err(e) => Err(errors::throw(env, &e)),
        };
    }
    match h.cache.load(key, &opts) {
        Ok(Lookup::Hit(v)) => hit_to_js(env, &h.cache, v),
        Ok(Lookup::Absent) => Ok(raw::undefined(env)),
        Ok(Lookup::Pending(op)) => {
            pending_load(env, h.wake, op, h.size_of.clone(), ttl_fn, false, argv[4])
        }
        Err(e) => Err(errors::throw(env, &e)),
    }
}

js_fn!(
/// `cache.load(...)`, bound to one cache (see `load_on`).
bound_load, 7, |a| {
    let h = raw::data_ref::<Handle, 7>(&a)?;
    load_on(a.env, h, &a.argv)
});

/// `cache.set(key, value, ttl, out)` for `setSync` and `set`: whether it was stored, or
/// `out` holding the store write. `undefined` deletes (as in lru-cache). `ttl` may be a
/// function of the value.
unsafe fn set_on(env: napi_env, h: &Handle, argv: &[napi_value; 4]) -> JsResult<napi_value> {
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, argv[0], &mut buf, "key")?;
    let (ttl, ttl_fn) = ttl_arg(env, argv[2])?;
    let v = value::from_js(env, argv[1])?;
    if let Val::Undefined = v {
        // Same validation as a set, so that a bad ttl changes nothing here either.
        if let Ttl::Ms(t) = ttl {
            flightcache::parse_ttl("ttl", t).map_err(|e| errors::throw(env, &e))?;
        }
        let op = h.cache.del(key);
        return answer_or_pending(env, h.wake, op, None, None, argv[3]).map(|r| {
            if r == argv[3] {
                r
            } else {
                raw::boolean(env, false)
            }
        });
    }
    let mut host = NodeHost {
        env,
        size_of: h.size_of.as_deref().map(|f| f.get(env)).transpose()?,
        ttl_of: ttl_fn.as_ref().map(|f| f.get(env)).transpose()?,
    };
    match h.cache.set_with(key, v, ttl, &mut host) {
        Ok(Written::Done(stored)) => Ok(raw::boolean(env, stored)),
        Ok(Written::Pending(op)) => answer_or_pending(env, h.wake, op, None, None, argv[3]),
        Err(e) => Err(errors::throw(env, &e)),
    }
}

js_fn!(
/// `cache.set(key, value, ttl, out)`, bound to one cache (see `set_on`).
bound_set, 4, |a| {
    let h = raw::data_ref::<Handle, 4>(&a)?;
    set_on(a.env, h, &a.argv)
});

js_fn!(
/// add(h, key, value, ttl, out): whether it was stored (only if the key had no live
/// value), or `out` holding the store's answer. `undefined` is not a value to add.
add, 5, |a| {
    let env = a.env;
    let h = handle(env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, a.argv[1], &mut buf, "key")?;
    let (ttl, ttl_fn) = ttl_arg(env, a.argv[3])?;
    let v = value::from_js(env, a.argv[2])?;
    if let Val::Undefined = v {
        return Err(errors::throw_type(env, "add: value must not be undefined"));
    }
    let mut host = NodeHost {
        env,
        size_of: h.size_of.as_deref().map(|f| f.get(env)).transpose()?,
        ttl_of: ttl_fn.as_ref().map(|f| f.get(env)).transpose()?,
    };
    match h.cache.add_with(key, v, ttl, &mut host) {
        Ok(op) => answer_or_pending(env, h.wake, op, None, None, a.argv[4]),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

macro_rules! keyed_op {
    ($(#[$m:meta])* $name:ident, |$h:ident, $key:ident, $env:ident, $a:ident| $make:expr) => {
        js_fn!($(#[$m])* $name, 4, |$a| {
            let $env = $a.env;
            let $h = handle($env, $a.argv[0])?;
            let mut buf = StrBuf::new();
            let $key = raw::read_str($env, $a.argv[1], &mut buf, "key")?;
            let out = $a.argv[3];
            let op = $make;
            answer_or_pending($env, $h.wake, op, None, None, out)
        });
    };
}

keyed_op!(
/// del(h, key, _, out)
del, |h, key, env, a| { let _ = a; h.cache.del(key) });

keyed_op!(
/// remainingTtl(h, key, _, out)
remaining_ttl, |h, key, env, a| { let _ = a; h.cache.remaining_ttl(key) });

keyed_op!(
/// expire(h, key, ttl, out)
expire, |h, key, env, a| {
    let Some(ttl) = raw::opt_ms(env, a.argv[2], "ttl")? else {
        return Err(errors::throw_type(env, "ttl must be a number of milliseconds, got undefined"));
    };
    h.cache.expire(key, ttl).map_err(|e| errors::throw(env, &e))?
});

js_fn!(
/// incr(h, key, by, mustExist, out): `by` is a whole number or a BigInt; `mustExist` a
/// boolean (checked by index.js).
incr, 5, |a| {
    let env = a.env;
    let h = handle(env, a.argv[0])?;
    let mut buf = StrBuf::new();
    let key = raw::read_str(env, a.argv[1], &mut buf, "key")?;
    let by = match raw::type_of(env, a.argv[2]) {
        ValueType::napi_undefined => 1,
        ValueType::napi_bigint => {
            let (mut n, mut lossless) = (0i64, false);
            check(env, sys::napi_get_value_bigint_int64(env, a.argv[2], &mut n, &mut lossless))?;
            if !lossless {
                return Err(errors::throw_range(env, "by must fit in 64 bits"));
            }
            n
        }
        _ => match raw::opt_number(env, a.argv[2], "by")? {
            None => 1,
            Some(n) => flightcache::args::whole_number("by", n).map_err(|e| errors::throw(env, &e))?,
        },
    };
    let mut must_exist = false;
    if !raw::is_undefined(env, a.argv[3]) {
        check(env, sys::napi_get_value_bool(env, a.argv[3], &mut must_exist))?;
    }
    let mut host = NodeHost { env, size_of: None, ttl_of: None };
    match h.cache.incr_with(key, by, must_exist, &mut host) {
        Ok(op) => answer_or_pending(env, h.wake, op, None, None, a.argv[4]),
        Err(e) => Err(errors::throw(env, &e)),
    }
});

macro_rules! cache_op {
    ($(#[$m:meta])* $name:ident, |$h:ident| $make:expr) => {
        js_fn!($(#[$m])* $name, 2, |a| {
            let env = a.env;
            let $h = handle(env, a.argv[0])?;
            let op = $make;
            answer_or_pending(env, $h.wake, op, None, None, a.argv[1])
        });
    };
}

cache_op!(
/// keys(h, out)
keys, |h| h.cache.keys());
cache_op!(
/// clear(h, out)
clear, |h| h.cache.clear());
cache_op!(
/// ping(h, out)
ping, |h| h.cache.ping());

js_fn!(len, 1, |a| {
    let n = handle(a.env, a.argv[0])?.cache.len();
    Ok(raw::number(a.env, n as f64))
});

js_fn!(purge, 1, |a| {
    let n = handle(a.env, a.argv[0])?.cache.purge_expired();
    Ok(raw::number(a.env, n as f64))
});

js_fn!(
/// mirror(h): a Uint32Array over the block index.js reads before answering `getSync` from
/// its copies (the core's `MirrorBlock`), or undefined for a cache without one.
mirror, 1, |a| {
    match handle(a.env, a.argv[0])?.cache.mirror_block() {
        Some(block) => raw::mirror_view(a.env, block),
        None => Ok(raw::undefined(a.env)),
    }
});

js_fn!(
/// countHits(h, n): hits index.js answered from its copies.
count_hits, 2, |a| {
    let n = raw::opt_u64(a.env, a.argv[1], "hits")?.unwrap_or(0);
    handle(a.env, a.argv[0])?.cache.count_mirror_hits(n);
    Ok(raw::undefined(a.env))
});

js_fn!(store_error, 1, |a| {
    match handle(a.env, a.argv[0])?.cache.store_error() {
        Some(e) => raw::js_string(a.env, &e),
        None => Ok(raw::undefined(a.env)),
    }
});

js_fn!(stats, 1, |a| {
    let env = a.env;
    let s: Stats = handle(env, a.argv[0])?.cache.stats();
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
        ("storeHits", s.store_hits),
        ("storeMisses", s.store_misses),
        ("storeErrors", s.store_errors),
        ("remoteLoadsJoined", s.remote_loads_joined),
        ("staleHits", s.stale_hits),
        ("refreshes", s.refreshes),
        ("refreshErrors", s.refresh_errors),
    ] {
        raw::set_named(env, o, name, raw::number(env, n as f64))?;
    }
    Ok(o)
});
