//! VNIs in per-peer mode.
//!
//! Every link between two hosts gets its own VNI, derived from the network's base VNI and the
//! two hosts' stable ids only: `base + index(a, b)`, where `index` enumerates unordered pairs
//! of ids (`{1,2}` → 0, `{1,3}` → 1, `{2,3}` → 2, `{1,4}` → 3, …). Both ends compute the
//! same value, no two links share one (so VNIs are unique on every host), and adding or
//! removing a host changes no other link's VNI as long as the other hosts keep their ids.

/// Largest VNI (24 bits).
pub(crate) const MAX_VNI: u32 = 16_777_215;

/// Position of the link between hosts with ids `a` and `b` (both ≥ 1, different) in the
/// network's range.
pub(crate) fn pair_index(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let (lo, hi) = (u64::from(lo.max(1)), u64::from(hi.max(2)));
    (hi - 1) * (hi - 2) / 2 + (lo - 1)
}

/// Number of VNIs a network's range needs when the largest host id is `max_id`.
pub(crate) fn range_len(max_id: u32) -> u64 {
    let n = u64::from(max_id);
    (n * n.saturating_sub(1) / 2).max(1)
}

/// VNI of the link between hosts `a` and `b` in a network whose range starts at `base`, or
/// `None` if it would exceed [`MAX_VNI`] (validation rules that out for valid fleets).
pub(crate) fn link_vni(base: u32, a: u32, b: u32) -> Option<u32> {
    let v = u64::from(base) + pair_index(a, b);
    u32::try_from(v).ok().filter(|v| *v <= MAX_VNI)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn links_are_numbered_in_pair_order() {
        let order: Vec<u64> = [(1, 2), (3, 1), (2, 3), (1, 4)].map(|(a, b)| pair_index(a, b)).into();
        assert_eq!(order, [0, 1, 2, 3]);
        assert_eq!((range_len(4), range_len(1)), (6, 1));
        assert_eq!(link_vni(100, 2, 1), Some(100));
        assert_eq!(link_vni(MAX_VNI, 1, 3), None);
    }

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
