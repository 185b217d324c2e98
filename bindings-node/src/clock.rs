//! `ManualClock`'s native functions.

use flightcache::ManualClock;

use crate::errors;
use crate::raw::{self, js_fn, Kind};

js_fn!(clock_new, 0, |a| {
    raw::tagged(a.env, Kind::Clock, ManualClock::new())
});

js_fn!(clock_advance, 2, |a| {
    let env = a.env;
    let clock = raw::handle::<ManualClock>(env, a.argv[0], Kind::Clock)?;
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
    let clock = raw::handle::<ManualClock>(a.env, a.argv[0], Kind::Clock)?;
    Ok(raw::number(a.env, clock.now_ms() as f64))
});
