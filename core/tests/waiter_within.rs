//! The reentrancy rule for callers that say which flights they run inside (`within`):
//! async loaders, where the thread does not tell.

use flightcache::{Cache, Config, LoadOptions, Lookup, Parker, Plain, Step};

#[test]
fn a_caller_inside_the_flight_it_would_join_is_reentrant() {
    let c: Cache<String> = Cache::new(Config::default()).unwrap();
    let Lookup::Pending(mut lead) = c.load("k", &LoadOptions::default()).unwrap() else {
        panic!("a miss")
    };
    let parker = Parker::new();
    let waker = parker.waker();
    assert!(matches!(lead.step(&mut Plain, &waker), Step::RunLoader));
    let id = lead.flight_id().expect("leads a flight");

    // Another caller, not inside the flight, waits for it.
    let Lookup::Pending(mut other) = c.load("k", &LoadOptions::default()).unwrap() else {
        panic!("a miss")
    };
    assert!(matches!(other.step(&mut Plain, &waker), Step::Park(None)));

    // A caller inside it is told so, instead of waiting for itself.
    let within = [7, id];
    let opts = LoadOptions {
        within: &within,
        ..Default::default()
    };
    let Lookup::Pending(mut inner) = c.load("k", &opts).unwrap() else {
        panic!("a miss")
    };
    let Step::Done(Err(e)) = inner.step(&mut Plain, &waker) else {
        panic!("reentrant")
    };
    assert_eq!(e.kind(), "reentrant");
    assert!(e.to_string().contains("\"k\""), "{e}");

    // Checking changed nothing: the waiter still gets the flight's value.
    lead.loaded(Ok("v".to_string()));
    assert!(matches!(lead.step(&mut Plain, &waker), Step::Done(Ok(_))));
    let Step::Done(Ok(a)) = other.step(&mut Plain, &waker) else {
        panic!("the waiter is done")
    };
    assert_eq!(a.into_value().unwrap(), "v");
}
