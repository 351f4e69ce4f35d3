//! Planning benchmarks: every host of a 1,000-host fleet in both modes, and the diff of a
//! 1,000-peer host against itself.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use vxlan_mesh_core::testing::large_fleet;
use vxlan_mesh_core::{diff, Mode, Observed};

fn plans(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan all hosts of 1000");
    g.sample_size(10);
    for mode in [Mode::Flood, Mode::PerPeer] {
        let f = large_fleet(1000, mode);
        g.bench_function(mode.as_str(), |b| b.iter(|| black_box(f.plans())));
    }
    g.finish();

    let f = large_fleet(1001, Mode::PerPeer);
    let state = f.plan("host0").expect("host0 exists").state();
    let applied = Observed::from(&state);
    c.bench_function("diff 1000-peer host against itself", |b| {
        b.iter(|| black_box(diff(&state, &applied).expect("no conflict")))
    });
}

criterion_group!(benches, plans);
criterion_main!(benches);
