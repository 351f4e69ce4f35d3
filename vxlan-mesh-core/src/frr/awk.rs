//! [`change`](super::change) for a host that cannot run Rust: the same edits computed by a
//! POSIX awk program, which the rendered shell script carries. Its tests run it against
//! the Rust function on the same inputs: a difference between the two fails here, not on a
//! host. One case differs on purpose: a listing cut short before its `exit` line, in which
//! [`change`](super::change) finds no block, makes the program refuse (exit 2) rather than
//! create a second one.

use super::PEER_GROUP;

/// The awk program (see [`edits_awk`]), with `@GROUP@` standing for [`PEER_GROUP`].
const PROGRAM: &str = r#"# Reads two `router bgp` blocks as `show running-config` prints them, each ending at its
# `exit` line: the wanted one, then the running one (none when FRR runs none). Prints the
# vtysh commands that turn the running block into the wanted one, one per line, as
# vxlan_mesh_core::frr::change computes them (nothing when they are equal); refuses (exit 2,
# the reason on standard error) where it refuses.
function fail(m) {
	if (!failed) print m > "/dev/stderr"
	failed = 1
}
function command(e,  line) {
	line = substr(e, 2)
	if (substr(e, 1, 1) == "+") return line
	if (substr(line, 1, 3) == "no ") return substr(line, 4)
	return "no " line
}
BEGIN { s = 0; open = 0; nf[0] = 0; nf[1] = 0 }
!open && /^router bgp [0-9]+$/ {
	if (s > 1) { fail("more than two blocks"); next }
	open = 1; asn[s] = $3; fam = 0; ctx = ""; seen[s] = 1
	next
}
!open { next }
substr($0, 1, 1) != " " { open = 0; closed[s] = 1; s++; next }
{
	line = $0
	sub(/[ \t\r]+$/, "", line)
	inner = line
	sub(/^[ \t]+/, "", inner)
	depth = length(line) - length(inner)
	if (inner == "" || (depth == 1 && inner == "!")) next
	if (depth == 1 && inner == "exit-address-family") { fam = 0; ctx = ""; next }
	if (depth == 1 && substr(inner, 1, 15) == "address-family ") {
		fam = 1; ctx = inner
		if (!((s, ctx) in n)) { F[s, ++nf[s]] = ctx; n[s, ctx] = 0 }
		next
	}
	if ((depth == 1 && !fam) || (depth == 2 && fam)) {
		if (!((s, ctx) in n)) n[s, ctx] = 0
		L[s, ctx, ++n[s, ctx]] = inner
		has[s, ctx, inner] = 1
		next
	}
	if (!((s) in bad)) bad[s] = "`" inner "` is not a line vxlan-mesh writes"
}
END {
	if (failed) exit 2
	if (open) { fail("`router bgp " asn[s] "` has no `exit` line"); exit 2 }
	if (!seen[0]) { fail("no wanted `router bgp` block"); exit 2 }
	if ((0) in bad) { fail("the wanted block: " bad[0]); exit 2 }
	if (seen[1]) {
		if (!((1, "", "neighbor @GROUP@ peer-group") in has)) {
			fail("FRR runs `router bgp " asn[1] "`, which has no `neighbor @GROUP@ peer-group`: not vxlan-mesh's"); exit 2
		}
		if ((1) in bad) { fail("FRR's running block of vxlan-mesh: " bad[1] "; remove that section by hand"); exit 2 }
		if (asn[1] != asn[0]) { fail("FRR runs vxlan-mesh's `router bgp " asn[1] "`, the plan wants `router bgp " asn[0] "`"); exit 2 }
	}
	k = 0
	# Removals, last line first: every address family of the running block, then its top level.
	for (j = 1; j <= nf[1] + 1; j++) {
		c = (j <= nf[1]) ? F[1, j] : ""
		for (i = n[1, c]; i >= 1; i--) if (!((0, c, L[1, c, i]) in has)) { EC[++k] = c; E[k] = "-" L[1, c, i] }
	}
	# Additions in the wanted block's order: its top level, then every address family.
	for (j = 0; j <= nf[0]; j++) {
		c = (j == 0) ? "" : F[0, j]
		for (i = 1; i <= n[0, c]; i++) if (!((1, c, L[0, c, i]) in has)) { EC[++k] = c; E[k] = "+" L[0, c, i] }
	}
	if (k == 0) exit 0
	print "configure terminal"
	print "router bgp " asn[0]
	for (i = 1; i <= k; i++) {
		if (i == 1 || EC[i] != EC[i - 1]) {
			if (i > 1 && EC[i - 1] != "") print "exit-address-family"
			if (EC[i] != "") print EC[i]
		}
		print command(E[i])
	}
	if (EC[k] != "") print "exit-address-family"
}
"#;

/// The awk program that computes [`change`](super::change)'s vtysh commands in the shell
/// script: it reads the wanted block, then the running one, on standard input, and prints
/// [`BgpChange::vtysh_commands`](super::BgpChange::vtysh_commands) one per line (nothing
/// when they are equal), or exits 2 where `change` refuses.
///
/// ```
/// let program = vxlan_mesh_core::frr::edits_awk();
/// assert!(program.contains("neighbor vxlan-mesh peer-group"));
/// ```
pub fn edits_awk() -> String {
    PROGRAM.replace("@GROUP@", PEER_GROUP)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use super::*;
    use crate::frr::change;

    /// What the awk program prints for `wanted` then `running`: the commands, or `Err` with
    /// its exit code.
    fn awk(wanted: &str, running: &str) -> Result<Vec<String>, i32> {
        let mut child = Command::new("awk")
            .arg(edits_awk())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|_| -1)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(format!("{wanted}{running}").as_bytes())
                .map_err(|_| -1)?;
        }
        let out = child.wait_with_output().map_err(|_| -1)?;
        if !out.status.success() {
            return Err(out.status.code().unwrap_or(-1));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// A block of vxlan-mesh's with these top-level and `l2vpn evpn` lines.
    fn block(asn: u32, top: &[&str], evpn: &[&str], other: &[&str]) -> String {
        let mut s = format!("router bgp {asn}\n");
        for l in top {
            s.push_str(&format!(" {l}\n"));
        }
        if !other.is_empty() {
            s.push_str(" !\n address-family ipv4 unicast\n");
            for l in other {
                s.push_str(&format!("  {l}\n"));
            }
            s.push_str(" exit-address-family\n");
        }
        s.push_str(" !\n address-family l2vpn evpn\n");
        for l in evpn {
            s.push_str(&format!("  {l}\n"));
        }
        s.push_str(" exit-address-family\nexit\n");
        s
    }

    const G: &str = "neighbor vxlan-mesh peer-group";

    #[test]
    fn the_awk_program_computes_the_commands_of_change() {
        let wanted = block(
            65000,
            &[
                "bgp router-id 192.0.2.1",
                "no bgp default ipv4-unicast",
                G,
                "neighbor vxlan-mesh remote-as internal",
                "neighbor vxlan-mesh timers 5 15",
                "neighbor 192.0.2.2 peer-group vxlan-mesh",
            ],
            &["neighbor vxlan-mesh activate", "advertise-all-vni"],
            &[],
        );
        let runnings = [
            String::new(),
            wanted.clone(),
            // A timer change: the one line replaced.
            wanted.replace("timers 5 15", "timers 3 9"),
            // Timers absent, a neighbour gone, one too many, a negated line missing.
            block(
                65000,
                &["bgp router-id 192.0.2.1", G, "neighbor 192.0.2.3 peer-group vxlan-mesh"],
                &[
                    "neighbor vxlan-mesh activate",
                    "neighbor vxlan-mesh route-reflector-client",
                ],
                &[],
            ),
            // Two lines too many: removed last first.
            wanted.replace(
                " neighbor 192.0.2.2 peer-group vxlan-mesh\n",
                " neighbor 192.0.2.2 peer-group vxlan-mesh\n neighbor 192.0.2.3 peer-group vxlan-mesh\n neighbor 192.0.2.4 peer-group vxlan-mesh\n",
            ),
            // A family vxlan-mesh never writes: removed before the top-level lines.
            block(65000, &[G, "bgp router-id 192.0.2.9"], &[], &["network 10.9.0.0/16"]),
            // Around it, a whole listing with another VRF's block.
            format!(
                "frr version 8.4.4\n!\nrouter bgp 65001 vrf red\n bgp router-id 10.0.0.9\nexit\n!\n{}!\nend\n",
                wanted.replace("advertise-all-vni", "advertise-default-gw")
            ),
        ];
        for running in &runnings {
            let block_only = crate::frr::running_block(running).unwrap_or_default();
            let rust = change(running, &wanted, 65000)
                .map(|c| c.map(|c| c.vtysh_commands()).unwrap_or_default())
                .map_err(|e| e.to_string());
            assert_eq!(
                awk(&wanted, &block_only),
                Ok(rust.clone().unwrap_or_default()),
                "running:\n{running}"
            );
            assert!(rust.is_ok(), "{rust:?}");
        }
        // The timer change is one removal and one addition, nothing else.
        assert_eq!(
            awk(&wanted, &runnings[2]),
            Ok(vec![
                "configure terminal".to_string(),
                "router bgp 65000".into(),
                "no neighbor vxlan-mesh timers 3 9".into(),
                "neighbor vxlan-mesh timers 5 15".into(),
            ])
        );
    }

    /// The lines of `pool` whose bit is set in `mask`, in the pool's order.
    fn pick<'a>(pool: &[&'a str], mask: u32) -> Vec<&'a str> {
        pool.iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, l)| *l)
            .collect()
    }

    const TOP: [&str; 8] = [
        "bgp router-id 192.0.2.1",
        "no bgp default ipv4-unicast",
        "neighbor vxlan-mesh remote-as internal",
        "neighbor vxlan-mesh timers 3 9",
        "neighbor vxlan-mesh timers 5 15",
        "neighbor 192.0.2.2 peer-group vxlan-mesh",
        "neighbor 192.0.2.3 peer-group vxlan-mesh",
        "bgp listen range 192.0.2.0/24 peer-group vxlan-mesh",
    ];
    const EVPN: [&str; 3] = [
        "neighbor vxlan-mesh activate",
        "neighbor vxlan-mesh route-reflector-client",
        "advertise-all-vni",
    ];
    const OTHER: [&str; 2] = ["network 10.9.0.0/16", "network 10.8.0.0/16"];

    proptest::proptest! {
        // Each case runs awk once: a few dozen random pairs of blocks suffice.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn the_awk_program_agrees_with_change_on_random_blocks(
            want_top in 0u32..256, want_evpn in 0u32..8,
            have_top in 0u32..256, have_evpn in 0u32..8, have_other in 0u32..4, have_none in proptest::bool::weighted(0.1),
        ) {
            let with_group = |mask| {
                let mut top = pick(&TOP, mask);
                top.insert(top.len().min(2), G);
                top
            };
            let wanted = block(65000, &with_group(want_top), &pick(&EVPN, want_evpn), &[]);
            let running = if have_none {
                String::new()
            } else {
                block(65000, &with_group(have_top), &pick(&EVPN, have_evpn), &pick(&OTHER, have_other))
            };
            let rust = change(&running, &wanted, 65000)
                .map(|c| c.map(|c| c.vtysh_commands()).unwrap_or_default())
                .map_err(|e| e.to_string());
            proptest::prop_assert_eq!(awk(&wanted, &running), Ok(rust.unwrap_or_default()), "running:\n{}wanted:\n{}", running, wanted);
        }
    }

    #[test]
    fn the_awk_program_refuses_where_change_refuses() {
        let wanted = block(65000, &[G], &["advertise-all-vni"], &[]);
        let refused = [
            // Someone else's block.
            block(65000, &["bgp router-id 192.0.2.1"], &[], &[]),
            // Another AS.
            block(65001, &[G], &[], &[]),
            // A nested section.
            format!("router bgp 65000\n {G}\n !\n address-family l2vpn evpn\n  vni 100\n   rd 1:1\n  exit-vni\n exit-address-family\nexit\n"),
        ];
        for running in &refused {
            assert!(change(running, &wanted, 65000).is_err(), "{running}");
            assert_eq!(awk(&wanted, running), Err(2), "{running}");
        }
        // A listing cut short holds no complete block: `change` sees none (and would create
        // one), the script stops, its next run reading the listing again.
        let cut = format!("router bgp 65000\n {G}\n");
        assert!(matches!(
            change(&cut, &wanted, 65000),
            Ok(Some(crate::frr::BgpChange::Edit { created: true, .. }))
        ));
        assert_eq!(awk(&wanted, &cut), Err(2));
    }
}
