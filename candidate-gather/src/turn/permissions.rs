//! Permissions (RFC 8656 §9): one per peer IP, installed with
//! CreatePermission and kept for the allocation's life.
//!
//! - A permission lasts [`PERMISSION_LIFETIME`] (300 s) from the last
//!   CreatePermission or ChannelBind success for its IP (§9, §12: a
//!   ChannelBind installs or refreshes the permission too); it is refreshed
//!   at [`REFRESH_FRACTION_PERCENT`](super::REFRESH_FRACTION_PERCENT) of
//!   that, and a failed refresh is retried at half the time left.
//! - The server drops data for peers without a permission (§10.2), so data
//!   sent before the permission is installed waits here, at most
//!   [`MAX_QUEUED_DATAGRAMS`] datagrams and [`MAX_QUEUED_BYTES`] bytes per
//!   IP, and leaves when it is installed; it is dropped if that fails.
//! - The port of XOR-PEER-ADDRESS is ignored by the server (§9.1); the
//!   first peer port seen for the IP is sent, or 0.
//! - Data from a peer counts only if its IP has a permission installed or
//!   being installed (§10.4: the client should drop the rest).
//! - A refused (or unanswered) CreatePermission is remembered for
//!   [`PERMISSION_REFUSAL_HOLD`]: data for that IP is refused at once
//!   meanwhile, so a sender that keeps trying (an ICE check retransmitting
//!   towards a private address the server's policy forbids) does not draw a
//!   CreatePermission and a 403 per datagram. An explicit
//!   `create_permission` asks again.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::allocation::RETRY_FLOOR;
use super::config::refresh_delay;
use super::error::{Operation, TurnError, UsageError};
use super::event::{TurnEvent, TurnState};
use super::request::{OpId, OpKind};
use super::{
    MAX_QUEUED_BYTES, MAX_QUEUED_DATAGRAMS, PERMISSION_LIFETIME, PERMISSION_REFUSAL_HOLD,
    TurnClient, later,
};

#[derive(Debug, Default)]
struct Permission {
    port: u16,
    installed_until: Option<Instant>,
    /// When the next CreatePermission goes out; `None` while one is under
    /// way or none is planned.
    next_refresh: Option<Instant>,
    in_flight: Option<OpId>,
    /// `PermissionCreated` was reported for the current allocation.
    announced: bool,
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    queued_bytes: usize,
}

/// The permission table.
#[derive(Debug, Default)]
pub(super) struct Permissions {
    map: BTreeMap<IpAddr, Permission>,
    /// IPs whose permission failed, until when data for them is refused.
    refused: BTreeMap<IpAddr, Instant>,
}

impl Permissions {
    /// Installed and not expired at `now`.
    pub(super) fn installed(&self, ip: IpAddr, now: Instant) -> bool {
        self.map
            .get(&ip)
            .and_then(|p| p.installed_until)
            .is_some_and(|until| until > now)
    }

    /// Whether data from `ip` is taken: installed, or being installed.
    pub(super) fn accepts(&self, ip: IpAddr, now: Instant) -> bool {
        self.map.get(&ip).is_some_and(|p| {
            p.in_flight.is_some() || p.installed_until.is_some_and(|until| until > now)
        })
    }

    /// The earliest refresh or expiry among permissions not being
    /// refreshed.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.map
            .values()
            .filter(|p| p.in_flight.is_none())
            .flat_map(|p| [p.next_refresh, p.installed_until])
            .flatten()
            .min()
    }

    /// The IPs with a permission (or one wanted).
    pub(super) fn ips(&self) -> Vec<IpAddr> {
        self.map.keys().copied().collect()
    }

    /// The allocation is gone: nothing is installed any more, but what was
    /// wanted (and queued) stays to be installed on the new one.
    pub(super) fn forget_installed(&mut self) {
        for p in self.map.values_mut() {
            p.installed_until = None;
            p.next_refresh = None;
            p.in_flight = None;
            p.announced = false;
        }
    }

    /// Whether data for `ip` is refused at `now` after a failed permission.
    pub(super) fn refused(&self, ip: IpAddr, now: Instant) -> bool {
        self.refused.get(&ip).is_some_and(|until| now < *until)
    }

    /// Forgets a refusal (the owner asks again explicitly).
    pub(super) fn forgive(&mut self, ip: IpAddr) {
        self.refused.remove(&ip);
    }

    /// Queues data for `peer` until its IP's permission is installed.
    fn enqueue(&mut self, peer: SocketAddr, data: &[u8]) -> Result<(), UsageError> {
        let p = self.map.entry(peer.ip()).or_default();
        if p.queue.len() >= MAX_QUEUED_DATAGRAMS
            || p.queued_bytes.saturating_add(data.len()) > MAX_QUEUED_BYTES
        {
            return Err(UsageError::QueueFull { peer });
        }
        p.queued_bytes += data.len();
        p.queue.push_back((peer, data.to_vec()));
        Ok(())
    }
}

impl TurnClient {
    /// Wants a permission for `ip`; sends CreatePermission if there is an
    /// allocation and none is installed or under way.
    pub(super) fn ensure_permission(&mut self, now: Instant, ip: IpAddr, port: u16) {
        let p = self.permissions.map.entry(ip).or_default();
        if p.port == 0 {
            p.port = port;
        }
        let idle = p.in_flight.is_none() && p.installed_until.is_none();
        if idle && self.state == TurnState::Allocated {
            self.start_permission(now, ip);
        }
    }

    /// Sends CreatePermission for `ip`.
    pub(super) fn start_permission(&mut self, now: Instant, ip: IpAddr) {
        let Some(port) = self.permissions.map.get(&ip).map(|p| p.port) else {
            return;
        };
        let id = self.add_op(now, OpKind::Permission { ip, port });
        if let Some(p) = self.permissions.map.get_mut(&ip) {
            p.in_flight = Some(id);
            p.next_refresh = None;
        }
        self.send_request(now, id);
    }

    /// Data for a peer whose permission is not installed yet.
    pub(super) fn hold(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        data: &[u8],
    ) -> Result<(), UsageError> {
        if self.permissions.refused(peer.ip(), now) {
            return Err(UsageError::PermissionRefused { peer });
        }
        self.ensure_permission(now, peer.ip(), peer.port());
        self.permissions.enqueue(peer, data)
    }

    /// An authentic CreatePermission success.
    pub(super) fn permission_succeeded(&mut self, now: Instant, id: OpId, ip: IpAddr) {
        if self
            .permissions
            .map
            .get(&ip)
            .is_some_and(|p| p.in_flight == Some(id))
        {
            self.permission_installed(now, ip);
        }
    }

    /// The server installed or refreshed the permission for `ip` (by
    /// CreatePermission or ChannelBind): restart its clock, announce it the
    /// first time, send what waited.
    pub(super) fn permission_installed(&mut self, now: Instant, ip: IpAddr) {
        let p = self.permissions.map.entry(ip).or_default();
        p.in_flight = None;
        p.installed_until = Some(later(now, PERMISSION_LIFETIME));
        p.next_refresh = Some(later(now, refresh_delay(PERMISSION_LIFETIME)));
        let first = !p.announced;
        p.announced = true;
        let queued = std::mem::take(&mut p.queue);
        p.queued_bytes = 0;
        if first {
            self.events.push_back(TurnEvent::PermissionCreated(ip));
        }
        for (peer, data) in queued {
            // It fitted when queued; the permission is in place now.
            let _ = self.send_now(now, peer, &data);
        }
    }

    /// CreatePermission failed (not with 437): retry while the permission
    /// still holds; otherwise drop it and its queue.
    pub(super) fn permission_failed(
        &mut self,
        now: Instant,
        id: OpId,
        ip: IpAddr,
        error: TurnError,
    ) {
        let Some(p) = self.permissions.map.get_mut(&ip) else {
            return;
        };
        if p.in_flight != Some(id) {
            return;
        }
        p.in_flight = None;
        let left = p.installed_until.map_or(std::time::Duration::ZERO, |u| {
            u.saturating_duration_since(now)
        });
        if left > RETRY_FLOOR {
            p.next_refresh = Some(later(now, left / 2));
            return;
        }
        self.permissions.map.remove(&ip);
        self.permissions.refused.retain(|_, until| now < *until);
        self.permissions
            .refused
            .insert(ip, later(now, PERMISSION_REFUSAL_HOLD));
        self.events
            .push_back(TurnEvent::PermissionFailed(ip, error));
    }

    /// Refreshes what is due and drops what expired.
    pub(super) fn permission_timers(&mut self, now: Instant) {
        for ip in self.permissions.ips() {
            let Some(p) = self.permissions.map.get(&ip) else {
                continue;
            };
            if p.in_flight.is_some() {
                continue;
            }
            if p.installed_until.is_some_and(|u| now >= u) {
                self.permissions.map.remove(&ip);
                let error = TurnError::Expired {
                    operation: Operation::CreatePermission(ip),
                };
                self.events
                    .push_back(TurnEvent::PermissionFailed(ip, error));
            } else if p.next_refresh.is_some_and(|t| now >= t) {
                self.start_permission(now, ip);
            }
        }
    }
}
