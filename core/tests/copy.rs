//! Copy semantics (`Config::copy`), as the bindings use them: the in-process tier keeps its
//! own copy made through the wire format, and `hand_out` gives every reader a new one.

use std::sync::Arc;

use flightcache::{Cache, Cacheable, Config, ErrorKind, LoadOptions, Lookup, Plain, Value};

fn cache(copy: bool) -> Cache<Arc<Value>> {
    Cache::new(Config {
        copy,
        ..Config::default()
    })
    .unwrap()
}

fn hit(c: &Cache<Arc<Value>>, key: &str) -> Arc<Value> {
    match c.read(key) {
        Lookup::Hit(v) => c.hand_out(v, &mut Plain).unwrap(),
        _ => panic!("no hit for {key}"),
    }
}

fn list() -> Arc<Value> {
    Arc::new(Value::List(vec![Value::Int(1), Value::Str("two".into())]))
}

#[test]
fn the_tier_keeps_its_own_copy_and_every_hit_is_a_new_one() {
    let c = cache(true);
    assert!(c.copies());
    let v = list();
    assert!(c.set("k", v.clone(), None).unwrap());
    let (a, b) = (hit(&c, "k"), hit(&c, "k"));
    assert_eq!(*a, *v);
    assert!(!Arc::ptr_eq(&a, &v) && !Arc::ptr_eq(&a, &b));
}

#[test]
fn by_reference_without_the_option() {
    let c = cache(false);
    let v = list();
    c.set("k", v.clone(), None).unwrap();
    assert!(Arc::ptr_eq(&hit(&c, "k"), &v));
}

#[test]
fn a_loaded_value_is_kept_as_a_copy() {
    let c = cache(true);
    let v = list();
    let got = c
        .get_or_load("k", &LoadOptions::default(), || Ok(v.clone()))
        .unwrap();
    assert_eq!(*got, *v);
    assert!(!Arc::ptr_eq(&got, &v));
    assert!(!Arc::ptr_eq(&hit(&c, "k"), &v));
}

/// A value outside the wire format (the default `to_shared`: not shareable).
#[derive(Clone, Debug, PartialEq)]
struct Opaque(u8);

impl Cacheable for Opaque {
    fn size(&self) -> u64 {
        1
    }
}

#[test]
fn a_value_outside_the_wire_format_is_refused_and_changes_nothing() {
    let c: Cache<Opaque> = Cache::new(Config {
        copy: true,
        ..Config::default()
    })
    .unwrap();
    let e = c.set("k", Opaque(1), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongType);
    assert!(e.to_string().contains("copy option"), "{e}");
    assert!(c.add("k", Opaque(1), None).is_err());
    assert_eq!(c.len(), 0);
    // A loader's result: returned to its caller, not kept, counted.
    let got = c
        .get_or_load("l", &LoadOptions::default(), || Ok(Opaque(2)))
        .unwrap();
    assert_eq!(got, Opaque(2));
    assert_eq!(c.len(), 0);
    assert_eq!(c.stats().rejected, 1);
    // Without the option the same value is kept by reference.
    let plain: Cache<Opaque> = Cache::new(Config::default()).unwrap();
    assert!(plain.set("k", Opaque(1), None).unwrap());
}
