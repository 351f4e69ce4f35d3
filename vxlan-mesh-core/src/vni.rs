//! VNIs in per-peer mode.
//!
//! Every link between two hosts gets its own VNI, derived from the network's base VNI and the
//! two hosts' stable ids only: `base + index(a, b)`, where `index` enumerates unordered pairs
//! of ids (`{1,2}` → 0, `{1,3}` → 1, `{2,3}` → 2, `{1,4}` → 3, …). Both ends compute the
//! same value, no two links share one (so VNIs are unique on every host), and adding or
//! removing a host changes no other link's VNI as long as the other hosts keep their ids.

/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 16_777_215;

/// Position of the link between hosts with ids `a` and `b` (both ≥ 1, different) in the
/// network's range.
///
/// ```
/// use vxlan_mesh_core::vni::pair_index;
/// assert_eq!(pair_index(1, 2), 0);
/// assert_eq!(pair_index(3, 1), 1);
/// assert_eq!(pair_index(2, 3), 2);
/// assert_eq!(pair_index(1, 4), 3);
/// ```
pub fn pair_index(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let (lo, hi) = (u64::from(lo.max(1)), u64::from(hi.max(2)));
    (hi - 1) * (hi - 2) / 2 + (lo - 1)
}

/// Number of VNIs a network's range needs when the largest host id is `max_id`.
///
/// ```
/// assert_eq!(vxlan_mesh_core::vni::range_len(4), 6);
/// assert_eq!(vxlan_mesh_core::vni::range_len(1), 1);
/// ```
pub fn range_len(max_id: u32) -> u64 {
    let n = u64::from(max_id);
    (n * n.saturating_sub(1) / 2).max(1)
}

/// VNI of the link between hosts `a` and `b` in a network whose range starts at `base`, or
/// `None` if it would exceed [`MAX_VNI`] (validation rules that out for valid fleets).
///
/// ```
/// assert_eq!(vxlan_mesh_core::vni::link_vni(100, 2, 1), Some(100));
/// assert_eq!(vxlan_mesh_core::vni::link_vni(16_777_215, 1, 3), None);
/// ```
pub fn link_vni(base: u32, a: u32, b: u32) -> Option<u32> {
    let v = u64::from(base) + pair_index(a, b);
    u32::try_from(v).ok().filter(|v| *v <= MAX_VNI)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn pair_index_is_a_bijection_onto_the_range() {
        let max = 60;
        let mut seen = BTreeSet::new();
        for a in 1..=max {
            for b in (a + 1)..=max {
                assert!(seen.insert(pair_index(a, b)));
                assert_eq!(pair_index(a, b), pair_index(b, a));
            }
        }
        assert_eq!(seen.len() as u64, range_len(max));
        assert_eq!(seen.iter().next_back().copied(), Some(range_len(max) - 1));
    }
}
