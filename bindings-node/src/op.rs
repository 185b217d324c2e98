//! Driving the core's operations ([`flightcache::Op`]) from JS: `index.js` steps an
//! operation, runs its loader when told, and awaits a wake-up when told to park.
//!
//! The core wakes a parked operation from whichever thread finished what it waited for (a
//! store runtime thread, or the JS thread itself). Its waker holds only the operation's id
//! and calls a thread-safe function, which runs `index.js`'s wake handler on the JS thread:
//! no other thread touches a JS value.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Wake as WakeTrait, Waker};
use std::time::Instant;

use flightcache::{Answer, FlightId, Op, Step};
use napi::sys::{self, napi_env, napi_threadsafe_function, napi_value};

use crate::errors;
use crate::host::{self, NodeHost};
use crate::raw::{self, check, js_fn, JsResult, Kind};
use crate::value::{self, JsRef, Val};

/// An operation and what its host needs: the cache's `sizeOf`, the call's `ttl` function,
/// and what to answer for nothing (a `get`'s `undefined`).
pub struct OpCell {
    op: RefCell<Option<Op<Val>>>,
    id: u64,
    wake: Tsfn,
    /// Made once per operation, not per step: each is an allocation.
    waker: Waker,
    size_of: Option<std::rc::Rc<JsRef>>,
    ttl_of: Option<JsRef>,
    /// Answers `[value, status, source, ageMs, remainingTtl]` (`getEntry`).
    entry: bool,
}

static NEXT_OP: AtomicU64 = AtomicU64::new(1);

/// What `init` makes for one copy of `index.js`: the thread-safe function that calls its
/// wake handler, and how many of its operations are parked (while any is, the function
/// keeps the process alive). Each copy of the package in a thread has its own, so that a
/// wake-up always reaches the copy that parked.
pub struct Wake {
    tsfn: Tsfn,
    parked: Cell<u32>,
}

struct NodeWake {
    tsfn: Tsfn,
    id: u64,
}

#[derive(Clone, Copy)]
pub struct Tsfn(napi_threadsafe_function);

// SAFETY: a thread-safe function may be called from any thread: that is what Node-API
// makes it for. Nothing else of the JS thread is reached through it.
unsafe impl Send for Tsfn {}
unsafe impl Sync for Tsfn {}

impl WakeTrait for NodeWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let data = Box::into_raw(Box::new(self.id)) as *mut c_void;
        // SAFETY: see `Tsfn`. The box is freed by `call_js`, or here if the call failed.
        unsafe {
            let st = sys::napi_call_threadsafe_function(
                self.tsfn.0,
                data,
                sys::ThreadsafeFunctionCallMode::nonblocking,
            );
            if st != sys::Status::napi_ok {
                drop(Box::from_raw(data as *mut u64));
            }
        }
    }
}

/// Runs on the JS thread: hands the woken operation's id to `index.js`'s handler.
unsafe extern "C" fn call_js(
    env: napi_env,
    js_cb: napi_value,
    _ctx: *mut c_void,
    data: *mut c_void,
) {
    if data.is_null() {
        return;
    }
    let id = *Box::from_raw(data as *mut u64);
    if env.is_null() || js_cb.is_null() {
        return; // the environment is going away
    }
    let _ = raw::call(env, js_cb, &[raw::number(env, id as f64)]);
}

/// A new operation's id, and the waker that hands that id to `tsfn`'s handler.
fn id_and_waker(tsfn: Tsfn) -> (u64, Waker) {
    let id = NEXT_OP.fetch_add(1, Ordering::Relaxed);
    (id, Waker::from(Arc::new(NodeWake { tsfn, id })))
}

/// The thread-safe function of a wake handle.
pub unsafe fn wake_of(env: napi_env, v: napi_value) -> JsResult<Tsfn> {
    Ok(raw::handle::<Wake>(env, v, Kind::Wake)?.tsfn)
}

js_fn!(
/// init(wake) -> handle: `wake(opId)` is called on the JS thread when an operation of this
/// copy of the package may go on.
init, 1, |a| {
    let env = a.env;
    let name = raw::js_string(env, "flightcache wake")?;
    let mut tsfn = ptr::null_mut();
    check(
        env,
        sys::napi_create_threadsafe_function(
            env,
            a.argv[0],
            ptr::null_mut(),
            name,
            0,
            1,
            ptr::null_mut(),
            None,
            ptr::null_mut(),
            Some(call_js),
            &mut tsfn,
        ),
    )?;
    // Idle, it does not keep the process alive; a parked operation refs it (`parked`).
    check(env, sys::napi_unref_threadsafe_function(env, tsfn))?;
    raw::tagged(
        env,
        Kind::Wake,
        Wake {
            tsfn: Tsfn(tsfn),
            parked: Cell::new(0),
        },
    )
});

js_fn!(
/// parked(wake, delta): counts parked operations (+1 when one parks, -1 when it goes on),
/// so that the process stays alive while an operation waits for a store or another
/// process.
parked, 2, |a| {
    let env = a.env;
    let w = raw::handle::<Wake>(env, a.argv[0], Kind::Wake)?;
    let mut d = 0f64;
    check(env, sys::napi_get_value_double(env, a.argv[1], &mut d))?;
    let before = w.parked.get();
    let after = if d > 0.0 { before + 1 } else { before.saturating_sub(1) };
    w.parked.set(after);
    if before == 0 && after == 1 {
        check(env, sys::napi_ref_threadsafe_function(env, w.tsfn.0))?;
    } else if before == 1 && after == 0 {
        check(env, sys::napi_unref_threadsafe_function(env, w.tsfn.0))?;
    }
    Ok(raw::undefined(env))
});

/// An operation made by the core, as what `index.js` gets: its answer when it has one at
/// once, else `out` with the operation's handle in `out[0]`.
pub unsafe fn answer_or_pending(
    env: napi_env,
    wake: Tsfn,
    mut op: Op<Val>,
    size_of: Option<std::rc::Rc<JsRef>>,
    ttl_of: Option<JsRef>,
    out: napi_value,
) -> JsResult<napi_value> {
    if let Some(a) = op.answered_now() {
        // Most writes without a store: no waker to make.
        return match a {
            Ok(a) => answer_to_js(env, a),
            Err(e) => Err(errors::throw(env, &e)),
        };
    }
    let mut host = host_for(env, size_of.as_deref(), ttl_of.as_ref())?;
    let (id, waker) = id_and_waker(wake);
    let step = op.step(&mut host, &waker);
    match step {
        Step::Done(Ok(a)) => answer_to_js(env, a),
        Step::Done(Err(e)) => Err(errors::throw(env, &e)),
        _ => {
            if let Step::Spawn(other) = step {
                // index.js drives it: the next step hands it over.
                op.defer_spawn(other);
            }
            let cell = OpCell {
                op: RefCell::new(Some(op)),
                id,
                wake,
                waker,
                size_of,
                ttl_of,
                entry: false,
            };
            raw::set_element(env, out, 0, raw::tagged(env, Kind::Op, cell)?)?;
            Ok(out)
        }
    }
}

/// A load the core could not answer at once: a new handle, not yet stepped.
pub unsafe fn pending_load(
    env: napi_env,
    wake: Tsfn,
    op: Op<Val>,
    size_of: Option<std::rc::Rc<JsRef>>,
    ttl_of: Option<JsRef>,
    entry: bool,
    out: napi_value,
) -> JsResult<napi_value> {
    let (id, waker) = id_and_waker(wake);
    let cell = OpCell {
        op: RefCell::new(Some(op)),
        id,
        wake,
        waker,
        size_of,
        ttl_of,
        entry,
    };
    raw::set_element(env, out, 0, raw::tagged(env, Kind::Op, cell)?)?;
    Ok(out)
}

unsafe fn host_for(
    env: napi_env,
    size_of: Option<&JsRef>,
    ttl_of: Option<&JsRef>,
) -> JsResult<NodeHost> {
    Ok(NodeHost {
        env,
        size_of: size_of.map(|f| f.get(env)).transpose()?,
        ttl_of: ttl_of.map(|f| f.get(env)).transpose()?,
    })
}

pub unsafe fn answer_to_js(env: napi_env, a: Answer<Val>) -> JsResult<napi_value> {
    Ok(match a {
        Answer::Value(v) => value::to_js(env, &v)?,
        Answer::Absent | Answer::Ms(None) | Answer::Done => raw::undefined(env),
        Answer::Bool(b) => raw::boolean(env, b),
        Answer::Int(n) => value::to_js(env, &value::from_integer(n))?,
        Answer::Ms(Some(ms)) => raw::number(env, ms),
        Answer::Keys(k) => {
            let arr = raw::array(env, k.len())?;
            for (i, key) in k.iter().enumerate() {
                raw::set_element(env, arr, i as u32, raw::js_string(env, key)?)?;
            }
            arr
        }
    })
}

/// The operation in its cell, borrowed for one call. JS code may run meanwhile (a loader,
/// `sizeOf`): a call on the same operation from there is an error, never a second borrow.
unsafe fn borrow<'a>(
    env: napi_env,
    cell: &'a OpCell,
) -> JsResult<std::cell::RefMut<'a, Option<Op<Val>>>> {
    match cell.op.try_borrow_mut() {
        Ok(slot) if slot.is_some() => Ok(slot),
        _ => {
            errors::throw_plain(env, "flightcache: this operation has finished or is in use");
            Err(raw::Thrown)
        }
    }
}

const DONE: f64 = 0.0;
const FAILED: f64 = 1.0;
const RUN_LOADER: f64 = 2.0;
const PARK: f64 = 3.0;
const SPAWN: f64 = 4.0;
/// From here up: run the loader of flight `kind - RUN_LOADER_OF`.
const RUN_LOADER_OF: f64 = 8.0;

/// `[value, status, source, ageMs, remainingTtl]`: how a `getEntry` answer was served.
unsafe fn entry_to_js(env: napi_env, value: napi_value, op: &Op<Val>) -> JsResult<napi_value> {
    let info = op.entry_info();
    let opt = |v: Option<f64>| v.map_or_else(|| raw::undefined(env), |n| raw::number(env, n));
    let arr = raw::array(env, 5)?;
    raw::set_element(env, arr, 0, value)?;
    raw::set_element(env, arr, 1, raw::js_string(env, info.status.name())?)?;
    raw::set_element(env, arr, 2, raw::js_string(env, info.source.name())?)?;
    raw::set_element(env, arr, 3, opt(info.age_ms))?;
    raw::set_element(env, arr, 4, opt(info.remaining_ttl))?;
    Ok(arr)
}

/// Hands a step's payload over in `out[0]` (a reused array: no array is made per step) and
/// answers its kind.
unsafe fn kind(
    env: napi_env,
    out: napi_value,
    kind: f64,
    payload: napi_value,
) -> JsResult<napi_value> {
    raw::set_element(env, out, 0, payload)?;
    Ok(raw::number(env, kind))
}

/// One step of the operation in `cell`, its payload handed over in `out` (see `step`).
unsafe fn step_cell(env: napi_env, cell: &OpCell, out: napi_value) -> JsResult<napi_value> {
    let mut slot = borrow(env, cell)?;
    let op = slot.as_mut().expect("checked by borrow");
    let mut host = host_for(env, cell.size_of.as_deref(), cell.ttl_of.as_ref())?;
    // A finished operation is closed (dropped) when its answer has been made.
    match op.step(&mut host, &cell.waker) {
        Step::Done(Ok(ans)) if cell.entry => {
            let v = answer_to_js(env, ans)?;
            let entry = entry_to_js(env, v, op)?;
            *slot = None;
            kind(env, out, DONE, entry)
        }
        Step::Done(Ok(ans)) => {
            *slot = None;
            kind(env, out, DONE, answer_to_js(env, ans)?)
        }
        Step::Spawn(other) => {
            drop(slot);
            let ttl_of = match &cell.ttl_of {
                Some(f) => Some(JsRef::new(env, f.get(env)?)?),
                None => None,
            };
            let (id, waker) = id_and_waker(cell.wake);
            let bg = OpCell {
                op: RefCell::new(Some(*other)),
                id,
                wake: cell.wake,
                waker,
                size_of: cell.size_of.clone(),
                ttl_of,
                entry: false,
            };
            kind(env, out, SPAWN, raw::tagged(env, Kind::Op, bg)?)
        }
        Step::Done(Err(e)) => {
            *slot = None;
            kind(env, out, FAILED, errors::to_js(env, &e))
        }
        Step::RunLoader => {
            // The flight's id in the kind itself: no payload to hand over.
            let kind = match op.flight_id() {
                Some(f) => RUN_LOADER_OF + f as f64,
                None => RUN_LOADER,
            };
            drop(slot);
            Ok(raw::number(env, kind))
        }
        Step::Park(until) => {
            drop(slot);
            let ms = match until {
                Some(u) => raw::number(
                    env,
                    u.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0,
                ),
                None => raw::undefined(env),
            };
            raw::set_element(env, out, 1, raw::number(env, cell.id as f64))?;
            kind(env, out, PARK, ms)
        }
    }
}

js_fn!(
/// step(op, out) -> kind, with its payload in out[0]: 0 done (the answer), 1 failed (the
/// error), 3 park (milliseconds until a timeout to apply, or undefined; the operation's id
/// in out[1]), 4 drive this other operation in the background (a refresh, or a load its
/// caller stopped waiting for); 8 + id: run the loader of flight `id` (2: of no flight),
/// with no payload. After done or failed the operation is closed.
step, 2, |a| {
    let cell = raw::handle::<OpCell>(a.env, a.argv[0], Kind::Op)?;
    step_cell(a.env, cell, a.argv[1])
});

js_fn!(
/// runLoader(flight, fn): calls fn() marked as the loader of `flight` on this thread, so
/// that a synchronous call for the same key from inside it is `reentrant`. (An id, not an
/// operation's handle: there is nothing of the operation to reach, so no handle to check.)
run_loader, 2, |a| {
    let env = a.env;
    if raw::is_undefined(env, a.argv[0]) {
        return raw::call(env, a.argv[1], &[]);
    }
    let mut id = 0f64;
    if sys::napi_get_value_double(env, a.argv[0], &mut id) != sys::Status::napi_ok {
        return Err(errors::throw_type(env, "flightcache: not a flight id"));
    }
    flightcache::run_as_leader(id as FlightId, || raw::call(env, a.argv[1], &[]))
});

js_fn!(
/// loaded(op, value): the loader's value (one that arrived later: the caller steps next).
loaded, 2, |a| {
    let env = a.env;
    let cell = raw::handle::<OpCell>(env, a.argv[0], Kind::Op)?;
    let v = value::from_js(env, a.argv[1])?;
    // A closed operation takes no value (its caller gave up).
    if let Some(op) = cell.op.try_borrow_mut().ok().as_deref_mut().and_then(Option::as_mut) {
        op.loaded(Ok(v));
    }
    Ok(raw::undefined(env))
});

js_fn!(
/// loadedStep(op, value, out) -> kind: the value a loader answered at once, then the next
/// step, as `step` answers it (one native call instead of two on every load). A value that
/// cannot be converted fails the load, as it does through `loaded` and `failed`.
loaded_step, 3, |a| {
    let env = a.env;
    let cell = raw::handle::<OpCell>(env, a.argv[0], Kind::Op)?;
    let result = value::from_js(env, a.argv[1]).map_err(|t| host::thrown_loader_error(env, t));
    if let Some(op) = cell.op.try_borrow_mut().ok().as_deref_mut().and_then(Option::as_mut) {
        op.loaded(result);
    }
    step_cell(env, cell, a.argv[2])
});

js_fn!(
/// failed(op, error): the loader threw or rejected with `error`.
failed, 2, |a| {
    let env = a.env;
    let cell = raw::handle::<OpCell>(env, a.argv[0], Kind::Op)?;
    let le = errors::JsError::loader_error(env, a.argv[1])?;
    if let Some(op) = cell.op.try_borrow_mut().ok().as_deref_mut().and_then(Option::as_mut) {
        op.loaded(Err(le));
    }
    Ok(raw::undefined(env))
});

js_fn!(
/// close(op): abandons the operation (a load it leads is taken over by a waiter).
close, 1, |a| {
    let cell = raw::handle::<OpCell>(a.env, a.argv[0], Kind::Op)?;
    let op = cell.op.try_borrow_mut().ok().and_then(|mut slot| slot.take());
    drop(op);
    Ok(raw::undefined(a.env))
});
