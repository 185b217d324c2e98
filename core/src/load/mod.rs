//! Loading: the one protocol every language drives.
//!
//! [`Cache::load`](crate::Cache::load) answers a hit at once; otherwise it returns an
//! [`Op`](crate::Op): the rest of the protocol (join this process's flight for the key or lead it,
//! read the shared store, take the store's lease or wait for another process's load, run
//! the loader, write the result, time out) as a state machine the caller drives on its own
//! thread or event loop:
//!
//! ```text
//! loop {
//!     match op.step(&mut host, &waker) {
//!         Step::Done(answer)  => return answer,
//!         Step::RunLoader     => op.loaded(run the host's loader, &mut host),
//!         Step::Park(until)   => sleep until `waker` is woken or `until` passes,
//!         Step::Spawn(other)  => drive `other` to its end in the background (a thread
//!                                or task of the host, with the same loader), go on,
//!     }
//! }
//! ```
//!
//! `Spawn` is how the resilience policies ([`policy`]) let a caller go while a load goes
//! on: a refresh of a value served stale or ahead of its expiry, or a load that outlived
//! the caller's `soft_timeout` / `hard_timeout`.
//!
//! A binding keeps only what is its own: running its loader, converting values, and
//! parking and waking its thread or event loop. Rust callers use
//! [`Cache::get_or_load`](crate::Cache::get_or_load) and its async twin, which drive the
//! same machine.

pub mod driver;
pub mod flight;
pub mod options;
pub mod policy;
