//! Shared helpers for the tracewire examples and the ride-hailing demo.

/// Runs the single-process core demo.
pub fn run_core_demo() {
    println!("tracewire demo: core crate only");
}
