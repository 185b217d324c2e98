//! The core's HTTP and token rules (`flightcache::http`) for `http.js` and `token.js`:
//! conversions only, every decision is the core's. Headers cross as arrays of
//! `[name, value]` string pairs.

use std::os::raw::c_char;
use std::ptr;

use flightcache::http::{key, policy, token};
use napi::sys::{self, napi_env, napi_value, Status, ValueType};

use crate::errors;
use crate::raw::{self, check, js_fn, JsResult};

type Pairs = Vec<(String, String)>;

unsafe fn null(env: napi_env) -> napi_value {
    let mut v = ptr::null_mut();
    sys::napi_get_null(env, &mut v);
    v
}

unsafe fn is_array(env: napi_env, v: napi_value) -> bool {
    let mut a = false;
    sys::napi_is_array(env, v, &mut a);
    a
}

unsafe fn elements(env: napi_env, v: napi_value, what: &str) -> JsResult<Vec<napi_value>> {
    if !is_array(env, v) {
        return Err(errors::throw_type(
            env,
            &format!("{what} must be an array, got {}", raw::type_name(env, v)),
        ));
    }
    let mut len = 0u32;
    check(env, sys::napi_get_array_length(env, v, &mut len))?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut e = ptr::null_mut();
        check(env, sys::napi_get_element(env, v, i, &mut e))?;
        out.push(e);
    }
    Ok(out)
}

unsafe fn strings(env: napi_env, v: napi_value, what: &str) -> JsResult<Vec<String>> {
    elements(env, v, what)?
        .into_iter()
        .map(|e| raw::string(env, e, what))
        .collect()
}

unsafe fn pairs(env: napi_env, v: napi_value, what: &str) -> JsResult<Pairs> {
    let mut out = Vec::new();
    for e in elements(env, v, what)? {
        let p = elements(env, e, "a header")?;
        if p.len() != 2 {
            return Err(errors::throw_type(
                env,
                &format!(
                    "{what} must be [name, value] pairs, found one of {}",
                    p.len()
                ),
            ));
        }
        out.push((raw::string(env, p[0], what)?, raw::string(env, p[1], what)?));
    }
    Ok(out)
}

unsafe fn opt_string(env: napi_env, s: Option<&str>) -> JsResult<napi_value> {
    match s {
        Some(s) => raw::js_string(env, s),
        None => Ok(null(env)),
    }
}

unsafe fn make_array(env: napi_env, items: &[napi_value]) -> JsResult<napi_value> {
    let a = raw::array(env, items.len())?;
    for (i, v) in items.iter().enumerate() {
        raw::set_element(env, a, i as u32, *v)?;
    }
    Ok(a)
}

unsafe fn make_pairs(env: napi_env, ps: &[(String, String)]) -> JsResult<napi_value> {
    let mut items = Vec::with_capacity(ps.len());
    for (n, v) in ps {
        items.push(make_array(
            env,
            &[raw::js_string(env, n)?, raw::js_string(env, v)?],
        )?);
    }
    make_array(env, &items)
}

unsafe fn opt_bool(env: napi_env, v: napi_value, what: &str) -> JsResult<Option<bool>> {
    let mut b = false;
    let st = sys::napi_get_value_bool(env, v, &mut b);
    if st == Status::napi_ok {
        return Ok(Some(b));
    }
    if raw::is_undefined(env, v) {
        return Ok(None);
    }
    Err(errors::throw_type(
        env,
        &format!("{what} must be a boolean, got {}", raw::type_name(env, v)),
    ))
}

unsafe fn core<T>(env: napi_env, r: flightcache::Result<T>) -> JsResult<T> {
    r.map_err(|e| errors::throw(env, &e))
}

js_fn!(
/// `httpPolicy(ttl, maxTtl, respectCacheControl, maxKeyBytes, maxValueBytes, keyParams)`.
http_policy, 6, |a| {
    let env = a.env;
    let key_params = if raw::is_undefined(env, a.argv[5]) {
        None
    } else {
        if raw::type_of(env, a.argv[5]) == ValueType::napi_string {
            return Err(errors::throw_type(env, "keyParams must be an array of names, got a single string"));
        }
        Some(strings(env, a.argv[5], "keyParams")?)
    };
    let o = policy::Options::new(
        policy::Naming::Camel,
        raw::opt_number(env, a.argv[0], "ttl")?,
        raw::opt_number(env, a.argv[1], "maxTtl")?,
        opt_bool(env, a.argv[2], "respectCacheControl")?,
        raw::opt_number(env, a.argv[3], "maxKeyBytes")?,
        raw::opt_number(env, a.argv[4], "maxValueBytes")?,
        key_params,
    );
    raw::tagged(env, raw::Kind::HttpPolicy, core(env, o)?)
});

js_fn!(
/// `httpRequest(policy, method, url, headers)`: `[origin, path, key, maxAge or null]`, or
/// the reason (a string) the request bypasses the cache.
http_request, 4, |a| {
    let env = a.env;
    let o = raw::handle::<policy::Options>(env, a.argv[0], raw::Kind::HttpPolicy)?;
    let method = raw::string(env, a.argv[1], "method")?;
    let url = raw::string(env, a.argv[2], "url")?;
    let headers = pairs(env, a.argv[3], "headers")?;
    match core(env, policy::request(o, &method, &url, &headers))? {
        policy::Request::Bypass { reason } => raw::js_string(env, reason),
        policy::Request::Cache { key, max_age } => make_array(env, &[
            raw::js_string(env, &key.origin)?,
            raw::js_string(env, &key.path)?,
            raw::js_string(env, &key.key)?,
            match max_age {
                Some(ms) => raw::number(env, ms as f64),
                None => null(env),
            },
        ]),
    }
});

js_fn!(
/// `httpResponse(policy, method, status, headers, bodyLength, nowMs)`:
/// `[ttl, vary (names or null), storedHeaders, reason]`; ttl 0 means not stored.
http_response, 6, |a| {
    let env = a.env;
    let o = raw::handle::<policy::Options>(env, a.argv[0], raw::Kind::HttpPolicy)?;
    let method = raw::string(env, a.argv[1], "method")?;
    let status = raw::opt_number(env, a.argv[2], "status")?.unwrap_or(0.0);
    let headers = pairs(env, a.argv[3], "headers")?;
    let len = raw::opt_number(env, a.argv[4], "bodyLength")?.unwrap_or(0.0);
    let now = raw::opt_number(env, a.argv[5], "nowMs")?.unwrap_or(0.0);
    let status = if (0.0..=999.0).contains(&status) { status as u16 } else { 0 };
    let d = policy::response(o, &method, status, &headers, len.max(0.0) as u64, now as i64);
    let vary = match &d.vary {
        key::Vary::Headers(names) => {
            let items: JsResult<Vec<_>> = names.iter().map(|n| raw::js_string(env, n)).collect();
            make_array(env, &items?)?
        }
        key::Vary::All | key::Vary::Nothing => null(env),
    };
    make_array(env, &[
        raw::number(env, d.ttl as f64),
        vary,
        make_pairs(env, &policy::stored_headers(&headers))?,
        raw::js_string(env, d.reason)?,
    ])
});

js_fn!(http_variant, 3, |a| {
    let env = a.env;
    let base = raw::string(env, a.argv[0], "key")?;
    let names = strings(env, a.argv[1], "vary")?;
    let headers = pairs(env, a.argv[2], "headers")?;
    raw::js_string(env, &key::variant_key(&base, &names, &headers))
});

js_fn!(http_varied, 2, |a| {
    let env = a.env;
    let names = strings(env, a.argv[0], "vary")?;
    let headers = pairs(env, a.argv[1], "headers")?;
    let mut items = Vec::new();
    for (n, v) in key::varied_values(&names, &headers) {
        items.push(make_array(
            env,
            &[raw::js_string(env, &n)?, opt_string(env, v.as_deref())?],
        )?);
    }
    make_array(env, &items)
});

js_fn!(http_vary_matches, 2, |a| {
    let env = a.env;
    let mut recorded = Vec::new();
    for e in elements(env, a.argv[0], "a stored response's vary")? {
        let p = elements(env, e, "a stored response's vary")?;
        if p.len() != 2 {
            return Err(errors::throw_type(
                env,
                "a stored response's vary must be [name, value or null] pairs",
            ));
        }
        let v = if raw::type_of(env, p[1]) == ValueType::napi_null {
            None
        } else {
            Some(raw::string(env, p[1], "a stored response's vary")?)
        };
        recorded.push((raw::string(env, p[0], "a stored response's vary")?, v));
    }
    let headers = pairs(env, a.argv[1], "headers")?;
    Ok(raw::boolean(env, key::vary_matches(&recorded, &headers)))
});

js_fn!(http_conditional, 1, |a| {
    let stored = pairs(a.env, a.argv[0], "headers")?;
    make_pairs(a.env, &policy::conditional_headers(&stored))
});

js_fn!(http_refreshed, 2, |a| {
    let stored = pairs(a.env, a.argv[0], "headers")?;
    let fresh = pairs(a.env, a.argv[1], "headers")?;
    make_pairs(a.env, &policy::refreshed_headers(&stored, &fresh))
});

js_fn!(http_serve_stored_on, 1, |a| {
    let status = raw::opt_number(a.env, a.argv[0], "status")?.map(|s| s.clamp(0.0, 999.0) as u16);
    Ok(raw::boolean(a.env, policy::serve_stored_on(status)))
});

js_fn!(http_bearer, 1, |a| {
    let headers = pairs(a.env, a.argv[0], "headers")?;
    match policy::bearer_token(&headers) {
        Some(t) => raw::js_string(a.env, &t),
        None => Ok(raw::undefined(a.env)),
    }
});

js_fn!(http_endpoint, 1, |a| {
    let env = a.env;
    let url = raw::string(env, a.argv[0], "url")?;
    let (origin, path) = core(env, key::endpoint(&url))?;
    make_array(
        env,
        &[
            raw::js_string(env, &origin)?,
            opt_string(env, path.as_deref())?,
        ],
    )
});

js_fn!(
/// `tokenGrant(value, nowMs, skew)`: `[token, keepMs, lifetimeMs]` of what a token fetcher
/// returned (`value`: the JSON text of a token response, or the token itself).
token_grant, 3, |a| {
    let env = a.env;
    let value = raw::string(env, a.argv[0], "token response")?;
    let now = raw::opt_number(env, a.argv[1], "nowMs")?.unwrap_or(0.0);
    let skew = core(env, token::skew(raw::opt_number(env, a.argv[2], "skew")?))?;
    let g = core(env, token::grant(&value, now as i64, skew))?;
    make_array(env, &[
        raw::js_string(env, &g.token)?,
        raw::number(env, g.keep as f64),
        raw::number(env, g.lifetime as f64),
    ])
});

js_fn!(token_skew, 1, |a| {
    let skew = core(
        a.env,
        token::skew(raw::opt_number(a.env, a.argv[0], "skew")?),
    )?;
    Ok(raw::number(a.env, skew as f64))
});

type Callback = unsafe extern "C" fn(napi_env, sys::napi_callback_info) -> napi_value;

const FUNCTIONS: &[(&str, Callback)] = &[
    ("httpPolicy", http_policy),
    ("httpRequest", http_request),
    ("httpResponse", http_response),
    ("httpVariant", http_variant),
    ("httpVaried", http_varied),
    ("httpVaryMatches", http_vary_matches),
    ("httpConditional", http_conditional),
    ("httpRefreshed", http_refreshed),
    ("httpServeStoredOn", http_serve_stored_on),
    ("httpBearer", http_bearer),
    ("httpEndpoint", http_endpoint),
    ("tokenGrant", token_grant),
    ("tokenSkew", token_skew),
];

pub unsafe fn register(env: napi_env, exports: napi_value) -> JsResult<()> {
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
    Ok(())
}
