//! The shared stores this build of the package can open (`Cache(store=URL)`): each store
//! crate registers its URL scheme with the core. `memory://` is the core's own.

pub fn register() {
    flightcache_sqlite::register();
    flightcache_redis::register();
}
