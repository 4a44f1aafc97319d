//! Collector benchmarks (filled below).

fn main() {}
