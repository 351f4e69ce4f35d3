//! The one netlink receive loop: datagrams read from a socket, split into messages at
//! `NLMSG_ALIGN`ed offsets, each handed over whole (exactly its header's length).

use netlink_packet_core::NetlinkBuffer;

use super::ApplyError;

/// What the handler of one message wants next.
pub(crate) enum Step<T> {
    /// Keep reading.
    More,
    /// Stop: the answer is complete.
    Done(T),
}

/// `struct nlmsghdr`.
const HEADER_LEN: usize = 16;

/// `NLMSG_ALIGN`: messages in a datagram start at multiples of 4 bytes.
fn aligned(length: usize) -> usize {
    length.saturating_add(3) & !3
}

/// Receives datagrams on `socket` into `buffer` and calls `each` with every message, in
/// order, until it returns [`Step::Done`]. A message whose length does not fit its
/// datagram is an error, never read past or skipped.
pub(crate) fn receive<T>(
    socket: &netlink_sys::Socket,
    buffer: &mut Vec<u8>,
    what: &'static str,
    mut each: impl FnMut(&[u8]) -> Result<Step<T>, ApplyError>,
) -> Result<T, ApplyError> {
    loop {
        buffer.clear();
        socket.recv(buffer, 0).map_err(|source| ApplyError::Socket {
            what: "receive from",
            source,
        })?;
        let mut offset = 0;
        while offset < buffer.len() {
            let rest = buffer.get(offset..).unwrap_or_default();
            let length = NetlinkBuffer::new_checked(rest)
                .map(|m| m.length() as usize)
                .map_err(|e| ApplyError::Decode {
                    what,
                    message: e.to_string(),
                })?;
            // A length shorter than the header would never move the offset on.
            let message = rest
                .get(..length)
                .filter(|_| length >= HEADER_LEN)
                .ok_or_else(|| ApplyError::Decode {
                    what,
                    message: format!("message length {length} in the {} bytes left of a datagram", rest.len()),
                })?;
            if let Step::Done(answer) = each(message)? {
                return Ok(answer);
            }
            offset += aligned(length);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::aligned;

    #[test]
    fn messages_start_at_multiples_of_four() {
        assert_eq!(aligned(16), 16);
        assert_eq!(aligned(17), 20);
        assert_eq!(aligned(19), 20);
        assert_eq!(aligned(20), 20);
    }
}
