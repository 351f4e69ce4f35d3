//! Planning benchmarks (filled in by the core issue).
fn main() {}
