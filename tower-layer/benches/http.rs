//! Benchmarks of the HTTP layers.
fn main() {}
