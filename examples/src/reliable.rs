//! A reliable, ordered byte stream over the datagrams of an ICE
//! connection, so that `icectl connect` moves a file byte for byte even
//! when a datagram is lost: selective repeat with cumulative
//! acknowledgements, a fixed window, retransmission after a timeout, and
//! a FIN for end of input. Sans-IO like the rest of the stack: the caller
//! feeds datagrams and `now`, and drains what to send and what to write.
//!
//! Every datagram starts with a byte of 0x80-0x82, which RFC 7983 puts in
//! the RTP range: never taken for STUN or TURN ChannelData.
//!
//! ```text
//! DATA  0x80 | seq u32 | payload (1 to MAX_PAYLOAD bytes)
//! ACK   0x81 | next u32             every packet below `next` arrived
//! FIN   0x82 | seq u32              the stream ends before `seq`
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Payload bytes per datagram: with the 5-byte header, well under the
/// 1280-byte IPv6 minimum MTU minus IP, UDP and TURN overheads.
pub const MAX_PAYLOAD: usize = 1150;

/// Packets in flight at most (and buffered out of order at most).
pub const WINDOW: u32 = 256;

/// How long an unacknowledged packet waits before it is sent again.
pub const RTO: Duration = Duration::from_millis(200);

const DATA: u8 = 0x80;
const ACK: u8 = 0x81;
const FIN: u8 = 0x82;

/// One direction out and one in.
#[derive(Debug)]
pub struct Stream {
    // Sending.
    next_seq: u32,
    acked: u32,
    unacked: BTreeMap<u32, (Vec<u8>, Instant)>,
    pending: VecDeque<u8>,
    input_closed: bool,
    fin_sent: Option<Instant>,
    // Receiving.
    next_expected: u32,
    out_of_order: BTreeMap<u32, Vec<u8>>,
    fin_at: Option<u32>,
    ack_due: bool,
    deliver: VecDeque<Vec<u8>>,
    // Output datagrams.
    transmit: VecDeque<Vec<u8>>,
    /// Datagrams sent again after a timeout.
    pub retransmissions: u64,
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new()
    }
}

impl Stream {
    /// A stream with nothing sent or received.
    pub fn new() -> Stream {
        Stream {
            next_seq: 0,
            acked: 0,
            unacked: BTreeMap::new(),
            pending: VecDeque::new(),
            input_closed: false,
            fin_sent: None,
            next_expected: 0,
            out_of_order: BTreeMap::new(),
            fin_at: None,
            ack_due: false,
            deliver: VecDeque::new(),
            transmit: VecDeque::new(),
            retransmissions: 0,
        }
    }

    /// Whether more input is welcome (the window has room).
    pub fn wants_input(&self) -> bool {
        !self.input_closed && self.pending.len() < MAX_PAYLOAD * WINDOW as usize
    }

    /// Bytes to send to the peer.
    pub fn write(&mut self, now: Instant, bytes: &[u8]) {
        self.pending.extend(bytes);
        self.fill(now);
    }

    /// No more input: the peer gets a FIN once everything is acknowledged.
    pub fn close_input(&mut self, now: Instant) {
        self.input_closed = true;
        self.fill(now);
    }

    /// A datagram from the peer. Anything malformed is ignored.
    pub fn handle_datagram(&mut self, now: Instant, d: &[u8]) {
        let (Some(&kind), Some(seq)) = (d.first(), d.get(1..5)) else {
            return;
        };
        let Ok(seq) = <[u8; 4]>::try_from(seq) else {
            return;
        };
        let seq = u32::from_be_bytes(seq);
        let payload = d.get(5..).unwrap_or_default();
        match kind {
            DATA if !payload.is_empty() => self.on_data(seq, payload),
            ACK => self.on_ack(now, seq),
            FIN => {
                self.fin_at = Some(seq);
                self.ack_due = true;
            }
            _ => {}
        }
    }

    fn on_data(&mut self, seq: u32, payload: &[u8]) {
        self.ack_due = true;
        if seq < self.next_expected || seq >= self.next_expected.saturating_add(WINDOW) {
            return;
        }
        self.out_of_order.insert(seq, payload.to_vec());
        while let Some(p) = self.out_of_order.remove(&self.next_expected) {
            self.deliver.push_back(p);
            self.next_expected += 1;
        }
    }

    fn on_ack(&mut self, now: Instant, next: u32) {
        if next <= self.acked || next > self.next_seq.saturating_add(1) {
            return;
        }
        self.acked = next;
        self.unacked.retain(|&seq, _| seq >= next);
        self.fill(now);
    }

    /// Moves pending bytes into DATA packets while the window allows, and
    /// sends the FIN once input is closed and everything went out.
    fn fill(&mut self, now: Instant) {
        while self.next_seq < self.acked.saturating_add(WINDOW) && !self.pending.is_empty() {
            let n = self.pending.len().min(MAX_PAYLOAD);
            let mut packet = Vec::with_capacity(5 + n);
            packet.push(DATA);
            packet.extend_from_slice(&self.next_seq.to_be_bytes());
            packet.extend(self.pending.drain(..n));
            self.transmit.push_back(packet.clone());
            self.unacked.insert(self.next_seq, (packet, now));
            self.next_seq += 1;
        }
        if self.input_closed && self.pending.is_empty() && self.fin_sent.is_none() {
            self.send_fin(now);
        }
    }

    fn send_fin(&mut self, now: Instant) {
        let mut packet = vec![FIN];
        packet.extend_from_slice(&self.next_seq.to_be_bytes());
        self.transmit.push_back(packet);
        self.fin_sent = Some(now);
    }

    /// Retransmits what timed out.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (packet, sent) in self.unacked.values_mut() {
            if now.saturating_duration_since(*sent) >= RTO {
                self.transmit.push_back(packet.clone());
                *sent = now;
                self.retransmissions += 1;
            }
        }
        if let Some(sent) = self.fin_sent
            && !self.output_done()
            && now.saturating_duration_since(sent) >= RTO
        {
            self.send_fin(now);
        }
    }

    /// When [`Stream::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let data = self.unacked.values().map(|(_, sent)| *sent + RTO).min();
        let fin = self
            .fin_sent
            .filter(|_| !self.output_done())
            .map(|sent| sent + RTO);
        data.into_iter().chain(fin).min()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if let Some(t) = self.transmit.pop_front() {
            return Some(t);
        }
        if self.ack_due {
            self.ack_due = false;
            let mut next = self.next_expected;
            // The FIN counts as the packet after the last one.
            if self.fin_at == Some(self.next_expected) {
                next += 1;
            }
            let mut packet = vec![ACK];
            packet.extend_from_slice(&next.to_be_bytes());
            return Some(packet);
        }
        None
    }

    /// The next bytes for the output, in order.
    pub fn poll_deliver(&mut self) -> Option<Vec<u8>> {
        self.deliver.pop_front()
    }

    /// Everything we wrote was acknowledged, FIN included.
    pub fn output_done(&self) -> bool {
        self.input_closed
            && self.pending.is_empty()
            && self.fin_sent.is_some()
            && self.acked > self.next_seq
    }

    /// The peer's stream has ended and everything before its FIN arrived.
    pub fn input_done(&self) -> bool {
        self.fin_at == Some(self.next_expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two streams joined by a link that drops every `drop_every`th
    /// datagram and delivers the rest after `delay`, in virtual time.
    fn transfer(data: &[u8], drop_every: usize) -> (Vec<u8>, u64) {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut now = t0;
        let (mut a, mut b) = (Stream::new(), Stream::new());
        let mut offset = 0;
        let mut out = Vec::new();
        let mut n = 0usize;
        let mut in_flight: VecDeque<(Instant, bool, Vec<u8>)> = VecDeque::new();
        let delay = Duration::from_millis(5);
        for _ in 0..1_000_000 {
            while a.wants_input() && offset < data.len() {
                let end = (offset + 4096).min(data.len());
                a.write(now, &data[offset..end]);
                offset = end;
            }
            if offset == data.len() {
                a.close_input(now);
            }
            for (to_b, s) in [(true, &mut a), (false, &mut b)] {
                while let Some(d) = s.poll_transmit() {
                    n += 1;
                    if drop_every == 0 || n % drop_every != 0 {
                        in_flight.push_back((now + delay, to_b, d));
                    }
                }
            }
            while let Some(d) = b.poll_deliver() {
                out.extend(d);
            }
            if a.output_done() && b.input_done() {
                return (out, a.retransmissions);
            }
            let next_arrival = in_flight.front().map(|(t, _, _)| *t);
            let next = [next_arrival, a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .expect("something is pending");
            now = next.max(now);
            while in_flight.front().is_some_and(|(t, _, _)| *t <= now) {
                let (_, to_b, d) = in_flight.pop_front().unwrap();
                if to_b {
                    b.handle_datagram(now, &d);
                } else {
                    a.handle_datagram(now, &d);
                }
            }
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
        panic!("transfer did not finish");
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn a_megabyte_arrives_byte_for_byte_without_loss() {
        let data = sample(1 << 20);
        let (out, retransmissions) = transfer(&data, 0);
        assert_eq!(out, data);
        assert_eq!(retransmissions, 0);
    }

    #[test]
    fn loss_of_every_seventh_datagram_is_repaired() {
        let data = sample(300_000);
        let (out, retransmissions) = transfer(&data, 7);
        assert_eq!(out, data);
        assert!(retransmissions > 0);
    }

    #[test]
    fn an_empty_stream_still_ends() {
        let (out, _) = transfer(&[], 0);
        assert!(out.is_empty());
    }

    #[test]
    fn garbage_and_stale_packets_change_nothing() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut s = Stream::new();
        for d in [
            &[][..],
            &[0x80],
            &[0x80, 0, 0, 0],
            &[0x80, 0, 0, 0, 0],
            &[0x81, 0xff, 0xff, 0xff, 0xff],
            &[0x82, 0, 0, 0, 9],
            &[0x7f, 1, 2, 3, 4, 5],
        ] {
            s.handle_datagram(now, d);
        }
        assert!(s.poll_deliver().is_none());
        assert!(!s.input_done());
        // A packet far beyond the window is not buffered.
        let mut far = vec![0x80];
        far.extend_from_slice(&(WINDOW + 5).to_be_bytes());
        far.push(1);
        s.handle_datagram(now, &far);
        assert!(s.out_of_order.is_empty());
    }
}
