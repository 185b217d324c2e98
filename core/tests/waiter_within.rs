//! `Waiter::check_within`: the reentrancy rule for callers that learn the flights they run
//! inside only after `begin_load` returned a waiter (the Node binding's async loaders).

use flightcache::{Cache, Config, LoadOptions, Lookup};

#[test]
fn a_waiter_on_a_flight_the_caller_is_loading_is_reentrant() {
    let c: Cache<String> = Cache::new(Config::default()).unwrap();
    let Lookup::Lead(g) = c.begin_load("k", &LoadOptions::default()).unwrap() else {
        panic!("first caller leads")
    };
    let Lookup::Wait(w) = c.begin_load("k", &LoadOptions::default()).unwrap() else {
        panic!("second caller waits")
    };
    assert!(w.check_within(&[]).is_ok());
    assert!(w.check_within(&[g.flight_id() + 1000]).is_ok());
    let e = w.check_within(&[7, g.flight_id()]).unwrap_err();
    assert_eq!(e.kind(), "reentrant");
    assert!(e.to_string().contains("\"k\""), "{e}");
    // Checking changes nothing: the waiter still gets the flight's value.
    g.complete("v".to_string(), 1).unwrap();
    assert_eq!(w.wait().unwrap(), "v");
}
