//! Whether the owned nftables table and ebtables chain exist at all, asked of nf_tables
//! directly over nfnetlink: two small dumps instead of starting `nft` and `ebtables` on
//! every apply and status. The programs still read the objects when they exist.

use netlink_packet_core::{NetlinkBuffer, NlasIterator, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_sys::protocols::NETLINK_NETFILTER;
use netlink_sys::SocketAddr;

use super::receive::{receive, Step};
use crate::plan::{EBTABLES_CHAIN, NFT_TABLE};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFPROTO_INET: u8 = 1;
const NFPROTO_BRIDGE: u8 = 7;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `struct nfgenmsg`: family, version, resource id.
const NFGENMSG_LEN: usize = 4;

/// What exists, as far as nf_tables knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Present {
    /// Table `inet vxlan_mesh`.
    pub(crate) firewall: bool,
    /// Chain `VXLAN-MESH` in the ebtables (`bridge filter`) table.
    pub(crate) loop_rules: bool,
}

/// `None` when nf_tables cannot be asked (then the caller runs the programs anyway).
pub(crate) fn probe() -> Option<Present> {
    let mut socket = netlink_sys::Socket::new(NETLINK_NETFILTER).ok()?;
    socket.bind_auto().ok()?;
    socket.connect(&SocketAddr::new(0, 0)).ok()?;
    let tables = dump(&socket, NFT_MSG_GETTABLE, NFT_MSG_NEWTABLE, 1)?;
    let chains = dump(&socket, NFT_MSG_GETCHAIN, NFT_MSG_NEWCHAIN, 2)?;
    let firewall = tables
        .iter()
        .any(|(family, attrs)| *family == NFPROTO_INET && attr(attrs, NFTA_TABLE_NAME) == Some(NFT_TABLE));
    let loop_rules = chains.iter().any(|(family, attrs)| {
        *family == NFPROTO_BRIDGE
            && attr(attrs, NFTA_CHAIN_TABLE) == Some("filter")
            && attr(attrs, NFTA_CHAIN_NAME) == Some(EBTABLES_CHAIN)
    });
    Some(Present { firewall, loop_rules })
}

type Attrs = Vec<(u16, Vec<u8>)>;

/// A string attribute (nul-terminated in nfnetlink).
fn attr(attrs: &Attrs, kind: u16) -> Option<&str> {
    attrs
        .iter()
        .find(|(k, _)| *k == kind)
        .and_then(|(_, v)| std::str::from_utf8(v.split(|b| *b == 0).next().unwrap_or_default()).ok())
}

/// Dumps every object of one kind in every family: (family, attributes) per object.
fn dump(socket: &netlink_sys::Socket, get: u16, new: u16, sequence: u32) -> Option<Vec<(u8, Attrs)>> {
    let mut request = vec![0u8; 16 + NFGENMSG_LEN];
    {
        let mut header = NetlinkBuffer::new(&mut request[..]);
        header.set_length(16 + NFGENMSG_LEN as u32);
        header.set_message_type((NFNL_SUBSYS_NFTABLES << 8) | get);
        header.set_flags(NLM_F_REQUEST | NLM_F_DUMP);
        header.set_sequence_number(sequence);
    }
    socket.send(&request, 0).ok()?;
    let mut out = Vec::new();
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    let complete = receive(socket, &mut buffer, "nf_tables dump", |bytes| {
        let Ok(message) = NetlinkBuffer::new_checked(bytes) else {
            return Ok(Step::Done(false));
        };
        if message.sequence_number() != sequence {
            return Ok(Step::More);
        }
        match message.message_type() {
            NLMSG_DONE => return Ok(Step::Done(true)),
            NLMSG_ERROR => return Ok(Step::Done(false)),
            t if t == (NFNL_SUBSYS_NFTABLES << 8) | new => {
                let payload = message.payload();
                let Some((family, attrs)) = payload.first().zip(payload.get(NFGENMSG_LEN..)) else {
                    return Ok(Step::Done(false));
                };
                let attrs = NlasIterator::new(attrs)
                    .filter_map(Result::ok)
                    .map(|nla| (nla.kind() & 0x3fff, nla.value().to_vec()))
                    .collect();
                out.push((*family, attrs));
            }
            _ => {}
        }
        Ok(Step::More)
    })
    .ok()?;
    complete.then_some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn sh(cmd: &str) {
        let out = std::process::Command::new("sh").arg("-c").arg(cmd).output().unwrap();
        assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// In a fresh namespace (root needed): sees exactly our table and our chain.
    #[test]
    #[cfg_attr(not(feature = "e2e"), ignore = "needs root: run with --features e2e")]
    fn sees_our_table_and_chain_and_nothing_else() {
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare needs root");
            let nothing = Present {
                firewall: false,
                loop_rules: false,
            };
            assert_eq!(probe(), Some(nothing));
            sh("nft add table inet other && nft add table ip vxlan_mesh && ebtables -t filter -N OTHER");
            assert_eq!(probe(), Some(nothing), "other names and families do not count");
            sh("nft add table inet vxlan_mesh");
            assert_eq!(probe().map(|p| p.firewall), Some(true));
            sh("ebtables -t filter -N VXLAN-MESH");
            assert_eq!(
                probe(),
                Some(Present {
                    firewall: true,
                    loop_rules: true
                })
            );
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
}
