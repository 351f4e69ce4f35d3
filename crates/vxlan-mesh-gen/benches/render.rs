//! Rendering benchmark: every format for every host of a 1,000-host flood-mode fleet (each
//! host's plan has 999 FDB flood entries). Plans are computed once, outside the timing.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion};
use vxlan_mesh_core::{HostPlan, HostSpec, Inventory, Mode, NetworkSpec};
use vxlan_mesh_gen::{render, Format};

fn plans(hosts: u32) -> Vec<HostPlan> {
    Inventory {
        port: None,
        mode: Some(Mode::Flood),
        loop_prevention: None,
        firewall: None,
        networks: vec![NetworkSpec {
            name: "lan".into(),
            vni: 100,
            bridge: "vxbr0".into(),
            mtu: None,
            container_ipv6: None,
        }],
        hosts: (0..hosts)
            .map(|i| HostSpec {
                name: format!("host{i}"),
                // 10.0.0.1 onwards: 1,000 distinct addresses (nothing is sent anywhere).
                address: IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + i)),
                device: None,
                underlay_mtu: None,
                id: None,
                networks: None,
            })
            .collect(),
    }
    .validate()
    .expect("benchmark fleet is valid")
    .plans()
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
