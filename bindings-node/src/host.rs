//! The core's [`Host`] for JS: measuring values (the core's size rule over JS values), the
//! `ttl` function of a value, and conversions to the shared model. Built for one call, on
//! the JS thread.

use std::ptr;

use flightcache::value::size::{self, Shape, Walk};
use flightcache::value::Value;
use flightcache::{Host, LoaderError};
use napi::sys::{self, napi_env, napi_value, ValueType};

use crate::errors::JsError;
use crate::raw::{self, Thrown};
use crate::value::{self, Val};

pub struct NodeHost {
    pub env: napi_env,
    /// The cache's `sizeOf` function.
    pub size_of: Option<napi_value>,
    /// The call's `ttl`, when it is a function of the value.
    pub ttl_of: Option<napi_value>,
}

/// What a JS function threw, as the core's error: it travels as a loader error and comes
/// back out as the very same thrown value.
pub unsafe fn thrown(env: napi_env, t: Thrown) -> flightcache::Error {
    flightcache::Error::Loader(thrown_loader_error(env, t))
}

/// What a JS function threw, as a loader's failure.
pub unsafe fn thrown_loader_error(env: napi_env, _: Thrown) -> LoaderError {
    let mut ex = ptr::null_mut();
    sys::napi_get_and_clear_last_exception(env, &mut ex);
    JsError::loader_error(env, ex).unwrap_or_else(|_| LoaderError::new("a JS function threw"))
}

struct JsWalk(napi_env);

impl Walk for JsWalk {
    type Node = napi_value;

    fn shape(&mut self, v: &napi_value) -> flightcache::Result<Shape> {
        let env = self.0;
        // SAFETY: `v` is a live value of `env`, on its thread, for the length of this call.
        unsafe {
            Ok(match raw::type_of(env, *v) {
                ValueType::napi_string => {
                    let len = match raw::exact_string(env, *v) {
                        Ok(Some(s)) => s.len() as u64,
                        _ => 0,
                    };
                    Shape::Str(len)
                }
                ValueType::napi_number
                | ValueType::napi_boolean
                | ValueType::napi_null
                | ValueType::napi_undefined
                | ValueType::napi_bigint => Shape::Scalar,
                ValueType::napi_object => {
                    if let Some(n) = value::binary_len(env, *v) {
                        return Ok(Shape::Bytes(n));
                    }
                    let mut is_array = false;
                    sys::napi_is_array(env, *v, &mut is_array);
                    if is_array {
                        let mut len = 0u32;
                        sys::napi_get_array_length(env, *v, &mut len);
                        Shape::List(len as usize)
                    } else {
                        // A plain object, or a class instance: its own fields.
                        let n = value::own_properties(env, *v).map_or(0, |p| p.len());
                        Shape::Map(n)
                    }
                }
                _ => Shape::Opaque,
            })
        }
    }

    fn items(
        &mut self,
        v: &napi_value,
        limit: usize,
    ) -> flightcache::Result<Vec<(u64, napi_value)>> {
        let env = self.0;
        // SAFETY: as in `shape`.
        unsafe {
            let mut is_array = false;
            sys::napi_is_array(env, *v, &mut is_array);
            if is_array {
                let mut len = 0u32;
                sys::napi_get_array_length(env, *v, &mut len);
                let mut out = Vec::new();
                for i in 0..(len as usize).min(limit) {
                    let mut e = ptr::null_mut();
                    sys::napi_get_element(env, *v, i as u32, &mut e);
                    out.push((0, e));
                }
                return Ok(out);
            }
            let props = value::own_properties(env, *v).map_err(|t| thrown(env, t))?;
            Ok(props
                .into_iter()
                .take(limit)
                .map(|(k, e)| {
                    let kb = raw::exact_string(env, k)
                        .ok()
                        .flatten()
                        .map_or(0, |s| s.len() as u64);
                    (kb, e)
                })
                .collect())
        }
    }
}

impl NodeHost {
    /// The bytes a JS value counts for.
    pub unsafe fn measure(&self, v: napi_value) -> flightcache::Result<u64> {
        let env = self.env;
        let mut w = JsWalk(env);
        match self.size_of {
            None => size::measure(&mut w, &v, None),
            Some(f) => {
                let mut ask = |x: &napi_value| -> flightcache::Result<f64> {
                    let r = raw::call(env, f, &[*x]).map_err(|t| thrown(env, t))?;
                    let mut n = 0f64;
                    if raw::type_of(env, r) != ValueType::napi_number {
                        return Err(flightcache::Error::WrongType(format!(
                            "the size returned by sizeOf must be a number, got {}",
                            raw::type_name(env, r)
                        )));
                    }
                    sys::napi_get_value_double(env, r, &mut n);
                    Ok(n)
                };
                size::measure(&mut w, &v, Some(&mut ask))
            }
        }
    }
}

impl Host<Val> for NodeHost {
    fn size_of(&mut self, v: &Val) -> flightcache::Result<u64> {
        match v {
            Val::Short(s) => Ok(s.as_str().len() as u64),
            Val::Ascii(s) | Val::Utf8(s) => Ok(s.len() as u64),
            Val::Undefined => Ok(0),
            Val::Ref(r) => {
                // SAFETY: on the JS thread of `env` (a Host lives for one call on it).
                unsafe {
                    let js = r.get(self.env).map_err(|t| thrown(self.env, t))?;
                    self.measure(js)
                }
            }
            _ => Ok(size::SCALAR_SIZE),
        }
    }

    fn ttl_of(&mut self, v: &Val) -> flightcache::Result<Option<f64>> {
        let Some(f) = self.ttl_of else {
            return Ok(None);
        };
        let env = self.env;
        // SAFETY: as in `size_of`.
        unsafe {
            let js = value::to_js(env, v).map_err(|t| thrown(env, t))?;
            let r = raw::call(env, f, &[js]).map_err(|t| thrown(env, t))?;
            match raw::type_of(env, r) {
                ValueType::napi_undefined | ValueType::napi_null => Ok(None),
                ValueType::napi_number => {
                    let mut n = 0f64;
                    sys::napi_get_value_double(env, r, &mut n);
                    Ok(Some(n))
                }
                _ => Err(flightcache::Error::WrongType(format!(
                    "the ttl function must return a number of milliseconds, got {}",
                    raw::type_name(env, r)
                ))),
            }
        }
    }

    fn keep(&mut self, v: &Val) -> bool {
        !matches!(v, Val::Undefined)
    }

    fn export(&mut self, v: &Val) -> flightcache::Result<Value> {
        // SAFETY: as in `size_of`.
        unsafe { value::export(self.env, v) }
    }

    fn import(&mut self, v: Value) -> flightcache::Result<Val> {
        // SAFETY: as in `size_of`.
        unsafe { value::import(self.env, v).map_err(|t| thrown(self.env, t)) }
    }

    fn as_integer(&mut self, v: &Val) -> Option<i64> {
        // SAFETY: as in `size_of`.
        unsafe { value::integer_of(self.env, v) }
    }

    fn integer(&mut self, n: i64) -> flightcache::Result<Val> {
        Ok(value::from_integer(n))
    }
}
