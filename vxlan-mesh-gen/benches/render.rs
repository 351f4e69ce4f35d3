//! Rendering benchmark: every format for every host of a 1,000-host flood-mode fleet (each
//! host's plan has 999 FDB flood entries). Plans are computed once, outside the timing.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use vxlan_mesh_core::{HostPlan, Mode};
use vxlan_mesh_gen::{render, Format};

fn plans(hosts: u32) -> Vec<HostPlan> {
    vxlan_mesh_core::testing::large_fleet(hosts, Mode::Flood).plans()
}

fn render_all(c: &mut Criterion) {
    let plans = plans(1000);
    let mut g = c.benchmark_group("render 1000-host flood fleet");
    g.sample_size(10);
    for format in Format::ALL {
        g.bench_function(format!("{format}, all hosts"), |b| {
            b.iter(|| {
                let mut bytes = 0usize;
                for plan in &plans {
                    for f in render(black_box(plan), format).unwrap() {
                        bytes += f.contents.len();
                    }
                }
                bytes
            })
        });
    }
    g.bench_function("all formats, all hosts", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for plan in &plans {
                for format in Format::ALL {
                    for f in render(black_box(plan), format).unwrap() {
                        bytes += f.contents.len();
                    }
                }
            }
            bytes
        })
    });
    g.finish();
}

criterion_group!(benches, render_all);
criterion_main!(benches);
