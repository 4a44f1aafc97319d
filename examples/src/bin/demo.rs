//! The ride-hailing demo.
//!
//! Today it shows the core crate on its own: one process, nested `#[instrument]`-style spans, and
//! the finished spans printed by the stdout exporter. It grows into the multi-service demo as the
//! framework plugins and the collector land.

fn main() {
    tracewire_examples::run_core_demo();
}
