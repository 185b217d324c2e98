#!/bin/sh
# Builds what the drivers need for two checkouts of flightcache: the Rust driver against each
# one's core (into $FC_OUT/rust-base and $FC_OUT/rust-new), and each one's Python and Node
# packages (`make python-build node-build` in each).
#   FC_BASE=../flightcache-base [FC_NEW=.] [FC_OUT=/tmp/fc-drivers] bench/drivers/setup.sh
# FC_BASE is a checkout of the commit to compare against, for example
#   git worktree add ../flightcache-base 708d575     (before issue 8)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
new=$(cd "${FC_NEW:-$here/../..}" && pwd)
base=$(cd "${FC_BASE:?set FC_BASE to a checkout to compare against}" && pwd)
out=${FC_OUT:-/tmp/fc-drivers}
for side in base new; do
  if [ $side = base ]; then wt=$base; else wt=$new; fi
  mkdir -p "$out/rust-$side/src"
  cp "$here/fcdrv.rs" "$out/rust-$side/src/main.rs"
  cat > "$out/rust-$side/Cargo.toml" <<TOML
[package]
name = "fcdrv"
version = "0.0.0"
edition = "2021"
[dependencies]
flightcache = { path = "$wt/core" }
[profile.release]
opt-level = 3
lto = "fat"
codegen-units = 1
panic = "unwind"
debug = "line-tables-only"
[workspace]
TOML
  (cd "$out/rust-$side" && cargo build --release -q)
  (cd "$wt" && make python-build node-build)
done
echo "drivers built in $out (base: $base, new: $new)"
