//! # vxlan-mesh-gen
//!
//! Renders a [`vxlan_mesh_core::HostPlan`] into deployable files (work in progress).
#![forbid(unsafe_code)]
