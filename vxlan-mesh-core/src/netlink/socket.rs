//! One small synchronous rtnetlink socket: dumps, and batches of requests that are sent
//! pipelined (many messages per datagram) and acknowledged one by one.
//!
//! Why batches: the kernel processes every message of one datagram inside the same
//! `sendmsg` call, so a process killed with SIGKILL can never stop between two requests
//! of one datagram. The requests that create a device and mark it as ours therefore
//! travel together; and 500 devices cost a handful of system calls instead of thousands.
//!
//! Why bounded chunks: a datagram larger than the socket's send buffer is refused
//! (`EMSGSIZE`), and the kernel drops acknowledgements that do not fit our receive buffer
//! (`ENOBUFS`, after which nothing tells which requests were done). So a batch travels in
//! chunks of at most [`MAX_DATAGRAM`] bytes and at most as many requests as the receive
//! buffer holds acknowledgements, and each chunk is acknowledged before the next is sent:
//! whatever was acknowledged is done, and a re-run resumes from there.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use netlink_packet_route::neighbour::NeighbourMessage;
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteMetric};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::SocketAddr;

use super::receive::{receive, Step};
use super::ApplyError;

/// Largest datagram we send: well under the default socket send buffer (212992 bytes).
const MAX_DATAGRAM: usize = 64 * 1024;

/// Receive buffer: the kernel's dump datagrams are at most 32 KiB.
const RECV_BUFFER: usize = 256 * 1024;

/// The socket receive buffer asked for (the kernel caps it at `net.core.rmem_max`).
const SOCKET_RCVBUF: usize = 4 << 20;

/// What one queued acknowledgement costs in the receive buffer: the kernel charges a
/// socket buffer's true size (data rounded up, plus `struct sk_buff` and its shared info).
/// Measured on this project's kernel: 157 header-only acknowledgements fill a 131,072-byte
/// buffer, about 835 bytes each; counted with a margin.
const ACK_COST: usize = 1024;

/// Requests in flight are bounded below this, whatever the buffer says.
const MIN_IN_FLIGHT: usize = 16;

/// How often a dump the kernel reports as interrupted (`NLM_F_DUMP_INTR`) is restarted.
const DUMP_ATTEMPTS: u32 = 10;

/// Where a route leaves: its output interface's index and its MTU metric, if it has one.
pub(crate) type Egress = (u32, Option<u32>);

/// One request of a batch and what it does to which object, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    message: RouteNetlinkMessage,
    flags: u16,
    operation: &'static str,
    object: String,
}

impl Request {
    /// A request with extra `NLM_F_*` flags (`NLM_F_REQUEST | NLM_F_ACK` are always set).
    pub(crate) fn new(message: RouteNetlinkMessage, flags: u16, operation: &'static str, object: &str) -> Self {
        Request {
            message,
            flags,
            operation,
            object: object.to_string(),
        }
    }
}

/// Requests grouped by device: a group that fits one datagram never spans two; a larger
/// one (a flood device's thousands of FDB entries) is split, its first requests (creation,
/// ownership alias) still in one datagram.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    groups: Vec<(String, Vec<Request>)>,
}

/// What a batch did: the first refusal, and the devices whose requests were refused.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) first_error: Option<ApplyError>,
    pub(crate) failed: Vec<String>,
}

impl Batch {
    /// Adds the requests for `device`; they are sent in one datagram.
    pub(crate) fn group(&mut self, device: &str, requests: Vec<Request>) {
        if !requests.is_empty() {
            self.groups.push((device.to_string(), requests));
        }
    }

    /// Whether there is nothing to send.
    pub(crate) fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// A bound, connected `NETLINK_ROUTE` socket.
pub(crate) struct Socket {
    socket: netlink_sys::Socket,
    sequence: u32,
    recv: Vec<u8>,
    /// Most requests sent before their acknowledgements are read.
    in_flight: usize,
}

fn socket_error(what: &'static str) -> impl FnOnce(io::Error) -> ApplyError {
    move |source| ApplyError::Socket { what, source }
}

impl Socket {
    /// Opens a socket in the calling thread's network namespace.
    pub(crate) fn new() -> Result<Self, ApplyError> {
        let mut socket = netlink_sys::Socket::new(NETLINK_ROUTE).map_err(socket_error("open"))?;
        socket.bind_auto().map_err(socket_error("bind"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(socket_error("connect"))?;
        // Acknowledgements carry the request's header only, not the whole request: a
        // refused FDB entry is named by its sequence number anyway.
        socket.set_cap_ack(true).map_err(socket_error("configure"))?;
        // Best effort (capped by `net.core.rmem_max`): what we got is read back and bounds
        // the requests in flight.
        let _ = socket.set_rx_buf_sz(SOCKET_RCVBUF);
        let rcvbuf = socket.get_rx_buf_sz().map_err(socket_error("configure"))?;
        Ok(Socket {
            socket,
            sequence: 0,
            recv: Vec::with_capacity(RECV_BUFFER),
            in_flight: in_flight(rcvbuf),
        })
    }

    fn next_sequence(&mut self) -> u32 {
        self.sequence = self.sequence.wrapping_add(1);
        self.sequence
    }

    fn encode(&mut self, message: RouteNetlinkMessage, flags: u16, out: &mut Vec<u8>) -> u32 {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.next_sequence();
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let start = out.len();
        out.resize(start + packet.buffer_len(), 0);
        packet.serialize(&mut out[start..]);
        packet.header.sequence_number
    }

    /// Dumps every link of the namespace (statistics skipped: we never read them).
    pub(crate) fn dump_links(&mut self) -> Result<Vec<LinkMessage>, ApplyError> {
        let mut request = LinkMessage::default();
        request
            .attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        let replies = self.dump(RouteNetlinkMessage::GetLink(request), "links")?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .collect())
    }

    /// Dumps the bridge-family neighbour table: bridge and VXLAN FDB entries.
    pub(crate) fn dump_fdb(&mut self) -> Result<Vec<NeighbourMessage>, ApplyError> {
        let mut request = NeighbourMessage::default();
        request.header.family = AddressFamily::Bridge;
        let replies = self.dump(RouteNetlinkMessage::GetNeighbour(request), "FDB entries")?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => Some(n),
                _ => None,
            })
            .collect())
    }

    /// Dumps every address of the namespace, both families.
    pub(crate) fn dump_addresses(&mut self) -> Result<Vec<AddressMessage>, ApplyError> {
        let replies = self.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()), "addresses")?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => Some(a),
                _ => None,
            })
            .collect())
    }

    /// A dump, restarted when the kernel reports that the table changed while it was read
    /// (a partial or doubled table would be read as drift, or hide it).
    fn dump(
        &mut self,
        request: RouteNetlinkMessage,
        what: &'static str,
    ) -> Result<Vec<RouteNetlinkMessage>, ApplyError> {
        for _ in 0..DUMP_ATTEMPTS {
            let (replies, interrupted) = self.dump_once(request.clone(), what)?;
            if !interrupted {
                return Ok(replies);
            }
        }
        Err(ApplyError::DumpInterrupted {
            what,
            attempts: DUMP_ATTEMPTS,
        })
    }

    fn dump_once(
        &mut self,
        request: RouteNetlinkMessage,
        what: &'static str,
    ) -> Result<(Vec<RouteNetlinkMessage>, bool), ApplyError> {
        let mut out = Vec::new();
        let sequence = self.encode(request, NLM_F_DUMP, &mut out);
        self.socket.send(&out, 0).map_err(socket_error("send to"))?;
        let mut replies = Vec::new();
        let mut interrupted = false;
        receive(&self.socket, &mut self.recv, what, |bytes| {
            let packet = decode(bytes, what)?;
            if packet.header.sequence_number != sequence {
                return Ok(Step::More);
            }
            interrupted |= packet.header.flags & NLM_F_DUMP_INTR != 0;
            match packet.payload {
                NetlinkPayload::Done(_) => Ok(Step::Done(())),
                NetlinkPayload::Error(e) if e.code.is_some() => Err(ApplyError::Netlink {
                    operation: "dump",
                    object: what.to_string(),
                    source: e.to_io(),
                }),
                NetlinkPayload::InnerMessage(m) => {
                    replies.push(m);
                    Ok(Step::More)
                }
                _ => Ok(Step::More),
            }
        })?;
        Ok((replies, interrupted))
    }

    /// One request answered by messages and an acknowledgement: the messages, or the
    /// kernel's refusal.
    fn ask(
        &mut self,
        request: RouteNetlinkMessage,
        what: &'static str,
    ) -> Result<Result<Vec<RouteNetlinkMessage>, io::Error>, ApplyError> {
        let mut out = Vec::new();
        let sequence = self.encode(request, NLM_F_ACK, &mut out);
        self.socket.send(&out, 0).map_err(socket_error("send to"))?;
        let mut replies = Vec::new();
        receive(&self.socket, &mut self.recv, what, |bytes| {
            let packet = decode(bytes, what)?;
            if packet.header.sequence_number != sequence {
                return Ok(Step::More);
            }
            match packet.payload {
                NetlinkPayload::Error(e) if e.code.is_some() => Ok(Step::Done(Err(e.to_io()))),
                NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => Ok(Step::Done(Ok(std::mem::take(&mut replies)))),
                NetlinkPayload::InnerMessage(m) => {
                    replies.push(m);
                    Ok(Step::More)
                }
                _ => Ok(Step::More),
            }
        })
    }

    /// The routes the kernel would use towards each of `destinations`, in order: each one's
    /// output interface and MTU metric, if any; `None` where there is no route.
    ///
    /// Asked pipelined, as batches are sent: a chunk of requests in one datagram, every
    /// answer of a chunk read before the next is sent. One round trip per peer was most of
    /// a 5,000-peer flood apply's fixed cost (5,016 `sendto` in `strace -c`).
    pub(crate) fn routes_to(&mut self, destinations: &[IpAddr]) -> Result<Vec<Option<Egress>>, ApplyError> {
        let mut routes = Vec::with_capacity(destinations.len());
        for chunk in destinations.chunks(routes_in_flight(self.in_flight)) {
            let mut out = Vec::new();
            let first = self.sequence.wrapping_add(1);
            for destination in chunk {
                let request = route_request(*destination, RouteFlags::empty());
                self.encode(RouteNetlinkMessage::GetRoute(request), NLM_F_ACK, &mut out);
            }
            self.socket.send(&out, 0).map_err(socket_error("send to"))?;
            let mut found = vec![None; chunk.len()];
            let mut outstanding = chunk.len();
            receive(&self.socket, &mut self.recv, "route", |bytes| {
                let packet = decode(bytes, "route")?;
                let index = packet.header.sequence_number.wrapping_sub(first) as usize;
                let Some(slot) = found.get_mut(index) else {
                    return Ok(Step::More);
                };
                match packet.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(route)) => *slot = oif_and_mtu(&route),
                    // Every request ends with its acknowledgement, or with the refusal that
                    // says there is no route.
                    NetlinkPayload::Error(e) => {
                        if e.code.is_some() {
                            *slot = None;
                        }
                        outstanding = outstanding.saturating_sub(1);
                    }
                    _ => {}
                }
                Ok(if outstanding == 0 { Step::Done(()) } else { Step::More })
            })?;
            routes.extend(found);
        }
        Ok(routes)
    }

    /// The route of the routing tables that matches `destination` (not the resolved
    /// host routes [`Socket::routes_to`] gives: `ip route get fibmatch`); `None` when none does.
    pub(crate) fn route_match(&mut self, destination: IpAddr) -> Result<Option<RouteMessage>, ApplyError> {
        let request = route_request(destination, RouteFlags::FibMatch);
        let Ok(replies) = self.ask(RouteNetlinkMessage::GetRoute(request), "route")? else {
            return Ok(None);
        };
        Ok(replies.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewRoute(route) => Some(route),
            _ => None,
        }))
    }

    /// Sends every request of `batch`, pipelined in bounded chunks, and waits for every
    /// acknowledgement of a chunk before sending the next.
    ///
    /// Groups of a device in `skip` (refused in an earlier stage) are not sent. All other
    /// requests are sent even when one fails (the kernel goes on with the next message of a
    /// datagram anyway); the first failure is reported, naming its object.
    pub(crate) fn execute(&mut self, batch: Batch, skip: &[String]) -> Result<Outcome, ApplyError> {
        let mut outcome = Outcome::default();
        let mut chunk = Chunk::default();
        for (device, group) in batch.groups.into_iter().filter(|(device, _)| !skip.contains(device)) {
            let size: usize = group.iter().map(wire_len).sum();
            // A group that fits a chunk starts one rather than being split.
            if !chunk.fits(size, group.len(), self.in_flight) {
                self.send_chunk(&mut chunk, &mut outcome)?;
            }
            for request in group {
                // Only a group larger than a whole chunk gets here with a full chunk.
                if !chunk.fits(wire_len(&request), 1, self.in_flight) {
                    self.send_chunk(&mut chunk, &mut outcome)?;
                }
                let sequence = self.encode(request.message, NLM_F_ACK | request.flags, &mut chunk.out);
                chunk.pending.push(Pending {
                    sequence,
                    operation: request.operation,
                    object: request.object,
                    device: device.clone(),
                });
            }
        }
        self.send_chunk(&mut chunk, &mut outcome)?;
        Ok(outcome)
    }

    /// Sends one chunk (if not empty) in one datagram and reads its acknowledgements.
    fn send_chunk(&mut self, chunk: &mut Chunk, outcome: &mut Outcome) -> Result<(), ApplyError> {
        if chunk.pending.is_empty() {
            return Ok(());
        }
        self.socket.send(&chunk.out, 0).map_err(socket_error("send to"))?;
        self.collect_acks(&chunk.pending, outcome)?;
        chunk.out.clear();
        chunk.pending.clear();
        Ok(())
    }

    /// Reads acknowledgements until every pending sequence number has one.
    fn collect_acks(&mut self, pending: &[Pending], outcome: &mut Outcome) -> Result<(), ApplyError> {
        let (Some(low), Some(high)) = (pending.first().map(|p| p.sequence), pending.last().map(|p| p.sequence)) else {
            return Ok(());
        };
        let mut outstanding = pending.len();
        receive(&self.socket, &mut self.recv, "acknowledgement", |bytes| {
            let packet = decode(bytes, "acknowledgement")?;
            let sequence = packet.header.sequence_number;
            let NetlinkPayload::Error(e) = &packet.payload else {
                return Ok(Step::More);
            };
            if !(low..=high).contains(&sequence) {
                return Ok(Step::More);
            }
            outstanding = outstanding.saturating_sub(1);
            if let (Some(_), Some(p)) = (e.code, pending.iter().find(|p| p.sequence == sequence)) {
                if !outcome.failed.contains(&p.device) {
                    outcome.failed.push(p.device.clone());
                }
                if outcome.first_error.is_none() {
                    outcome.first_error = Some(ApplyError::Netlink {
                        operation: p.operation,
                        object: p.object.clone(),
                        source: e.to_io(),
                    });
                }
            }
            Ok(if outstanding == 0 { Step::Done(()) } else { Step::More })
        })
    }
}

/// One whole message of a datagram, decoded.
fn decode(bytes: &[u8], what: &'static str) -> Result<NetlinkMessage<RouteNetlinkMessage>, ApplyError> {
    NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes).map_err(|e| ApplyError::Decode {
        what,
        message: e.to_string(),
    })
}

/// A `RTM_GETROUTE` request for the host route to `destination`.
fn route_request(destination: IpAddr, flags: RouteFlags) -> RouteMessage {
    let mut request = RouteMessage::default();
    (request.header.address_family, request.header.destination_prefix_length) = match destination {
        IpAddr::V4(_) => (AddressFamily::Inet, 32),
        IpAddr::V6(_) => (AddressFamily::Inet6, 128),
    };
    request.header.flags = flags;
    request
        .attributes
        .push(RouteAttribute::Destination(RouteAddress::from(destination)));
    request
}

/// A route's output interface and MTU metric; `None` without an output interface.
fn oif_and_mtu(route: &RouteMessage) -> Option<Egress> {
    let mut oif = None;
    let mut mtu = None;
    for attr in &route.attributes {
        match attr {
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Metrics(metrics) => {
                mtu = metrics.iter().find_map(|m| match m {
                    RouteMetric::Mtu(v) => Some(*v),
                    _ => None,
                })
            }
            _ => {}
        }
    }
    oif.map(|i| (i, mtu))
}

/// How many route lookups may wait for their answers when `in_flight` acknowledgements
/// may: each answer is a route message besides the acknowledgement, allocated by the kernel
/// at `NLMSG_GOODSIZE` (a page) before it is trimmed, so counted as [`ROUTE_COST`] acks'
/// worth.
fn routes_in_flight(in_flight: usize) -> usize {
    (in_flight / ROUTE_COST).clamp(1, MAX_DATAGRAM / ROUTE_REQUEST_LEN)
}

/// A route request's size on the wire, rounded up: the netlink header (16 bytes), `rtmsg`
/// (12) and an IPv6 destination (20).
const ROUTE_REQUEST_LEN: usize = 64;

/// A route answer and its acknowledgement in the receive buffer, in acknowledgements
/// ([`ACK_COST`]): a page plus the socket buffer's overhead, twice over for margin.
const ROUTE_COST: usize = 8;

/// How many requests may wait for their acknowledgements with a receive buffer of
/// `rcvbuf` bytes (as `SO_RCVBUF` reads back).
fn in_flight(rcvbuf: usize) -> usize {
    (rcvbuf / ACK_COST).max(MIN_IN_FLIGHT)
}

/// A request's size on the wire: its payload and the netlink header.
fn wire_len(request: &Request) -> usize {
    NetlinkSerializable::buffer_len(&request.message) + 16
}

/// One datagram being filled, and the requests in it.
#[derive(Default)]
struct Chunk {
    out: Vec<u8>,
    pending: Vec<Pending>,
}

impl Chunk {
    /// Whether `count` more requests of `size` bytes fit (an empty chunk takes anything:
    /// one request is never split).
    fn fits(&self, size: usize, count: usize, in_flight: usize) -> bool {
        self.pending.is_empty() || (self.out.len() + size <= MAX_DATAGRAM && self.pending.len() + count <= in_flight)
    }
}

/// A request sent and not yet acknowledged.
struct Pending {
    sequence: u32,
    operation: &'static str,
    object: String,
    device: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: usize) -> Vec<Pending> {
        (0..n)
            .map(|i| Pending {
                sequence: i as u32,
                operation: "add fdb entry to",
                object: String::new(),
                device: "vxm100".into(),
            })
            .collect()
    }

    #[test]
    fn route_lookups_in_flight_leave_room_for_their_answers_and_fit_a_datagram() {
        // 4 MiB of receive buffer: 4,096 acknowledgements, 512 route answers.
        assert_eq!(routes_in_flight(in_flight(4 << 20)), 512);
        // The default buffer as read back (twice 212,992 bytes): 416 acks, 52 routes.
        assert_eq!(routes_in_flight(in_flight(425_984)), 52);
        assert_eq!(routes_in_flight(0), 1);
        // A huge buffer: the requests still fit one datagram.
        assert_eq!(routes_in_flight(in_flight(1 << 30)), MAX_DATAGRAM / ROUTE_REQUEST_LEN);
        let request = RouteNetlinkMessage::GetRoute(route_request(
            std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
            RouteFlags::empty(),
        ));
        assert!(NetlinkSerializable::buffer_len(&request) + 16 <= ROUTE_REQUEST_LEN);
    }

    #[test]
    fn requests_in_flight_follow_the_receive_buffer() {
        // The kernel's default 212,992 bytes, doubled as `SO_RCVBUF` reads back.
        assert_eq!(in_flight(425_984), 416);
        assert_eq!(in_flight(8 << 20), 8192);
        assert_eq!(in_flight(0), MIN_IN_FLIGHT);
    }

    #[test]
    fn a_chunk_is_bounded_by_bytes_and_by_requests_but_never_empty() {
        let empty = Chunk::default();
        assert!(empty.fits(10 * MAX_DATAGRAM, 10_000, 16), "anything starts a chunk");
        let full_bytes = Chunk {
            out: vec![0; MAX_DATAGRAM - 60],
            pending: pending(1),
        };
        assert!(full_bytes.fits(60, 1, 1000));
        assert!(!full_bytes.fits(61, 1, 1000));
        let full_count = Chunk {
            out: vec![0; 60 * 416],
            pending: pending(416),
        };
        assert!(!full_count.fits(60, 1, 416));
        assert!(full_count.fits(60, 1, 417));
    }
}
