//! The TURN requests (RFC 8656 §7.2 Allocate, §7.3 Refresh, §9.2
//! CreatePermission, §12.2 ChannelBind; RFC 6062 Connect and
//! ConnectionBind refused), after authentication ([`super::auth`]) and the
//! 420 check.
//!
//! **Allocate** (§7.2), in the RFC's order: 437 if the 5-tuple has an
//! allocation (a retransmission with the same transaction id gets the
//! success again); 300 with ALTERNATE-SERVER if configured; 400 without a
//! valid REQUESTED-TRANSPORT, 442 unless it is UDP; 400 for
//! RESERVATION-TOKEN with EVEN-PORT or an address family attribute, 508
//! for a token that is unknown or expired; 400 for both
//! REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY; 440 for a
//! family without relay IP (IPv4 when none is asked); 400 for EVEN-PORT R
//! with ADDITIONAL-ADDRESS-FAMILY or an ADDITIONAL-ADDRESS-FAMILY other than
//! IPv6; 486 over the user's quota, 508 over the server's; 508 when no
//! port can be bound. The success carries XOR-RELAYED-ADDRESS (two for a
//! dual allocation), LIFETIME, RESERVATION-TOKEN (R bit),
//! ADDRESS-ERROR-CODE (a dual allocation without IPv6) and
//! XOR-MAPPED-ADDRESS.
//!
//! **Refresh** (§7.3): 400 for a malformed LIFETIME, 443 for a
//! REQUESTED-ADDRESS-FAMILY the allocation lacks; LIFETIME 0 deletes the
//! allocation; otherwise the new lifetime is clamped like Allocate's. The
//! success carries LIFETIME.
//!
//! **CreatePermission** (§9.2): 400 without a valid XOR-PEER-ADDRESS, 443
//! for a peer of a family the allocation has no relay of, 403 for a peer
//! the policy refuses, 508 beyond the permission limit; all or none of the
//! peers are installed.
//!
//! **ChannelBind** (§12.2): 400 without a valid CHANNEL-NUMBER (range
//! 0x4000-0x4FFF) and XOR-PEER-ADDRESS, 443, 403, 400 for a number or
//! peer bound otherwise (see [`super::channel`]), 508 beyond the permission
//! limit; the binding also installs or refreshes the peer's permission.
//!
//! Every request but Allocate and ConnectionBind needs the 5-tuple's
//! allocation (437) made by the same user (441).

use core::net::SocketAddr;
use std::time::Instant;

use stun_proto::attr::{
    AdditionalAddressFamily, AddressFamily, EvenPort, Lifetime, RequestedAddressFamily,
    RequestedTransport, ReservationToken, XorPeerAddress,
};
use stun_proto::{Attribute, AttributeType, Message, Method, TransactionId};

use super::allocation::{DeallocReason, FiveTuple, granted_lifetime};
use super::auth::{AuthFailure, Authenticated};
use super::dropped::TurnDropped;
use super::quota::QuotaExceeded;
use super::relay::{Group, Pending};
use super::response::{self, Challenge, ErrorExtra, Reply, Sign, UnknownList};
use super::{Outcome, Timer, TurnServer};

/// The comprehension-required attributes this server understands
/// (RFC 8489 §6.3.1). DONT-FRAGMENT only when the driver can set DF
/// (RFC 8656 §7.2 item 4).
pub(crate) fn understood(t: AttributeType, dont_fragment: bool) -> bool {
    match t {
        AttributeType::DONT_FRAGMENT => dont_fragment,
        AttributeType::USERNAME
        | AttributeType::USERHASH
        | AttributeType::MESSAGE_INTEGRITY
        | AttributeType::MESSAGE_INTEGRITY_SHA256
        | AttributeType::REALM
        | AttributeType::NONCE
        | AttributeType::PASSWORD_ALGORITHM
        | AttributeType::CHANNEL_NUMBER
        | AttributeType::LIFETIME
        | AttributeType::XOR_PEER_ADDRESS
        | AttributeType::DATA
        | AttributeType::REQUESTED_ADDRESS_FAMILY
        | AttributeType::EVEN_PORT
        | AttributeType::REQUESTED_TRANSPORT
        | AttributeType::RESERVATION_TOKEN
        | AttributeType::CONNECTION_ID => true,
        _ => false,
    }
}

/// One request being answered.
struct Ctx<'m, 'a> {
    five: FiveTuple,
    msg: &'m Message<'a>,
    auth: Authenticated,
}

impl TurnServer {
    /// Authenticates and answers a TURN request (see [`super`]).
    pub(crate) fn request(
        &mut self,
        now: Instant,
        five: FiveTuple,
        msg: &Message<'_>,
    ) -> Result<Outcome, TurnDropped> {
        let method = msg.method();
        let id = msg.transaction_id();
        let unix_now = self.unix_now(now);
        let auth =
            match self
                .credentials
                .authenticate(msg, now, five.client.ip(), &self.nonces, unix_now)
            {
                Ok(a) => a,
                Err(fail) => return self.auth_error(now, five, method, id, fail),
            };
        let df = self.config.dont_fragment;
        let mut unknown = UnknownList::default();
        msg.unknown_comprehension_required_by(move |t| understood(t, df))
            .for_each(|t| unknown.push(t));
        let c = Ctx { five, msg, auth };
        if !unknown.is_empty() {
            let extra = ErrorExtra {
                unknown: unknown.as_slice(),
                ..ErrorExtra::default()
            };
            return self.error(&c, 420, &extra);
        }
        match method {
            Method::ALLOCATE => return self.allocate(now, &c),
            // RFC 6062 §5.4: no pending connection has this CONNECTION-ID.
            Method::CONNECTION_BIND => return self.error(&c, 400, &ErrorExtra::default()),
            _ => {}
        }
        let Some(aid) = self.by_five.get(&five).copied() else {
            return self.error(&c, 437, &ErrorExtra::default());
        };
        let (live, owner) = match self.allocations.get(&aid) {
            Some(a) => (a.live(now), a.username == c.auth.username),
            None => (false, false),
        };
        if !live {
            self.delete(aid, DeallocReason::Expired);
            return self.error(&c, 437, &ErrorExtra::default());
        }
        if !owner {
            return self.error(&c, 441, &ErrorExtra::default());
        }
        match method {
            Method::REFRESH => self.refresh(now, &c, aid),
            Method::CREATE_PERMISSION => self.create_permission(now, &c, aid),
            Method::CHANNEL_BIND => self.channel_bind(now, &c, aid),
            // RFC 6062 §5.2: this 5-tuple has no TCP allocation (this
            // server makes none).
            _ => self.error(&c, 437, &ErrorExtra::default()),
        }
    }

    /// 401, 400 or 438 (RFC 8489 §9.2.4).
    fn auth_error(
        &mut self,
        now: Instant,
        five: FiveTuple,
        method: Method,
        id: TransactionId,
        fail: AuthFailure,
    ) -> Result<Outcome, TurnDropped> {
        let code = fail.code();
        let nonce = self.nonces.issue(now, five.client.ip());
        let algorithms = self.credentials.password_algorithms();
        let challenge = (code != 400).then(|| Challenge {
            realm: self.credentials.realm(),
            nonce: &nonce,
            algorithms: &algorithms,
        });
        let extra = ErrorExtra {
            challenge,
            ..ErrorExtra::default()
        };
        let sign = match &fail {
            AuthFailure::StaleNonce(a) => Sign::Key(&a.key, a.integrity),
            _ => Sign::Unsigned,
        };
        let reply = Reply {
            method,
            id,
            software: self.config.software.as_deref(),
        };
        let mut data = Vec::with_capacity(160);
        response::error(&mut data, &reply, code, &extra, sign)?;
        self.send_to_client(five, data);
        Ok(Outcome::Error)
    }

    /// A signed error response to an authenticated request.
    fn error(
        &mut self,
        c: &Ctx<'_, '_>,
        code: u16,
        extra: &ErrorExtra<'_>,
    ) -> Result<Outcome, TurnDropped> {
        let reply = Reply {
            method: c.msg.method(),
            id: c.msg.transaction_id(),
            software: self.config.software.as_deref(),
        };
        let mut data = Vec::with_capacity(128);
        response::error(
            &mut data,
            &reply,
            code,
            extra,
            Sign::Key(&c.auth.key, c.auth.integrity),
        )?;
        self.send_to_client(c.five, data);
        Ok(Outcome::Error)
    }

    /// A signed error with nothing but ERROR-CODE (for answers that come
    /// after the request, such as a failed bind).
    pub(crate) fn respond_error(
        &mut self,
        five: FiveTuple,
        method: Method,
        id: TransactionId,
        code: u16,
        auth: &Authenticated,
    ) -> Result<(), TurnDropped> {
        let reply = Reply {
            method,
            id,
            software: self.config.software.as_deref(),
        };
        let mut data = Vec::with_capacity(96);
        response::error(
            &mut data,
            &reply,
            code,
            &ErrorExtra::default(),
            Sign::Key(&auth.key, auth.integrity),
        )?;
        self.send_to_client(five, data);
        Ok(())
    }

    fn success(
        &mut self,
        c: &Ctx<'_, '_>,
        lifetime: Option<core::time::Duration>,
    ) -> Result<Outcome, TurnDropped> {
        let reply = Reply {
            method: c.msg.method(),
            id: c.msg.transaction_id(),
            software: self.config.software.as_deref(),
        };
        let sign = Sign::Key(&c.auth.key, c.auth.integrity);
        let mut data = Vec::with_capacity(96);
        match lifetime {
            Some(l) => response::refresh_success(&mut data, &reply, l, sign)?,
            None => response::empty_success(&mut data, &reply, sign)?,
        }
        self.send_to_client(c.five, data);
        Ok(Outcome::Success)
    }

    /// RFC 8656 §7.2.
    fn allocate(&mut self, now: Instant, c: &Ctx<'_, '_>) -> Result<Outcome, TurnDropped> {
        let none = ErrorExtra::default();
        let txid = c.msg.transaction_id();
        if let Some(aid) = self.by_five.get(&c.five).copied() {
            let (live, retransmission) = match self.allocations.get(&aid) {
                Some(a) => (a.live(now), a.txid == txid && a.username == c.auth.username),
                None => (false, false),
            };
            if live && retransmission {
                if let Some(a) = self.allocations.remove(&aid) {
                    let result = self.allocate_success(&a, &c.auth);
                    self.allocations.insert(aid, a);
                    result?;
                }
                return Ok(Outcome::Success);
            }
            if live {
                return self.error(c, 437, &none);
            }
            self.delete(aid, DeallocReason::Expired);
        }
        if let Some(pid) = self.pending_by_five.get(&c.five) {
            if self.pending.get(pid).is_some_and(|p| p.txid == txid) {
                return Err(TurnDropped::AllocationPending);
            }
            return self.error(c, 437, &none);
        }
        if let Some(alternate) = self.config.alternate_server {
            let extra = ErrorExtra {
                alternate: Some(alternate),
                ..ErrorExtra::default()
            };
            return self.error(c, 300, &extra);
        }
        match c.msg.get::<RequestedTransport>() {
            Ok(Some(t)) if t.protocol == RequestedTransport::UDP.protocol => {}
            Ok(Some(_)) => return self.error(c, 442, &none),
            _ => return self.error(c, 400, &none),
        }
        let (Ok(token), Ok(even), Ok(requested), Ok(additional), Ok(lifetime)) = (
            c.msg.get::<ReservationToken>(),
            c.msg.get::<EvenPort>(),
            c.msg.get::<RequestedAddressFamily>(),
            c.msg.get::<AdditionalAddressFamily>(),
            c.msg.get::<Lifetime>(),
        ) else {
            return self.error(c, 400, &none);
        };
        if token.is_some() && (even.is_some() || requested.is_some() || additional.is_some()) {
            return self.error(c, 400, &none);
        }
        if requested.is_some() && additional.is_some() {
            return self.error(c, 400, &none);
        }
        let v4 = self.config.relay_v4.map(core::net::IpAddr::V4);
        let v6 = self.config.relay_v6.map(core::net::IpAddr::V6);
        let primary = match requested.map(|r| r.family()) {
            None | Some(Some(AddressFamily::V4)) => v4,
            Some(Some(AddressFamily::V6)) => v6,
            Some(None) => None,
        };
        let Some(primary) = primary.or(if token.is_some() { v4.or(v6) } else { None }) else {
            return self.error(c, 440, &none);
        };
        let reserve = even.is_some_and(|e| e.reserve);
        let mut address_error = None;
        let mut dual = false;
        if let Some(a) = additional {
            if reserve || a.family() != Some(AddressFamily::V6) {
                return self.error(c, 400, &none);
            }
            if v6.is_some() {
                dual = true;
            } else {
                address_error = Some((AddressFamily::V6, 440));
            }
        }
        let (default, max) = self.lifetimes();
        let granted = granted_lifetime(lifetime.map(|l| l.0), default, max);
        match self.quotas.acquire(&c.auth.username) {
            Ok(()) => {}
            Err(QuotaExceeded::User) => return self.error(c, 486, &none),
            Err(QuotaExceeded::Total) => return self.error(c, 508, &none),
        }
        let mut pending = Pending {
            five: c.five,
            txid,
            auth: c.auth.clone(),
            lifetime: granted,
            groups: Vec::new(),
            address_error,
            failed: Vec::new(),
        };
        if let Some(ReservationToken(t)) = token {
            return match self.claim_reservation(&t, now) {
                Some(relay) => {
                    self.create(now, pending, vec![relay], None)?;
                    Ok(Outcome::Success)
                }
                None => {
                    self.quotas.release(&c.auth.username);
                    self.error(c, 508, &none)
                }
            };
        }
        pending
            .groups
            .push(Group::new(primary, even.is_some(), reserve, false));
        if let (true, Some(v6)) = (dual, v6) {
            pending.groups.push(Group::new(v6, false, false, true));
        }
        if !self.start_pending(pending) {
            return self.error(c, 508, &none);
        }
        Ok(Outcome::Pending)
    }

    /// RFC 8656 §7.3.
    fn refresh(&mut self, now: Instant, c: &Ctx<'_, '_>, aid: u64) -> Result<Outcome, TurnDropped> {
        let none = ErrorExtra::default();
        let (Ok(lifetime), Ok(family)) = (
            c.msg.get::<Lifetime>(),
            c.msg.get::<RequestedAddressFamily>(),
        ) else {
            return self.error(c, 400, &none);
        };
        if let Some(f) = family {
            let has = self.allocations.get(&aid).is_some_and(|a| {
                a.relays.iter().any(|r| match f.family() {
                    Some(AddressFamily::V4) => r.is_ipv4(),
                    Some(AddressFamily::V6) => r.is_ipv6(),
                    None => false,
                })
            });
            if !has {
                return self.error(c, 443, &none);
            }
        }
        if lifetime == Some(Lifetime(0)) {
            self.delete(aid, DeallocReason::Refreshed);
            return self.success(c, Some(core::time::Duration::ZERO));
        }
        let (default, max) = self.lifetimes();
        let desired = granted_lifetime(lifetime.map(|l| l.0), default, max);
        let expires = now + desired;
        if let Some(a) = self.allocations.get_mut(&aid) {
            a.expires = expires;
        }
        self.schedule(expires, Timer::Expire(aid));
        self.success(c, Some(desired))
    }

    /// Every XOR-PEER-ADDRESS of a request; `None` if one does not decode.
    fn peers(msg: &Message<'_>) -> Option<Vec<SocketAddr>> {
        let ctx = msg.context();
        msg.attributes()
            .filter(|a| a.attr_type == AttributeType::XOR_PEER_ADDRESS)
            .map(|a| XorPeerAddress::decode(a.value, &ctx).ok().map(|p| p.0))
            .collect()
    }

    /// 443, then 403, for a peer of allocation `aid`. A permission is for
    /// an IP (RFC 8656 §9.1: the port is ignored, 0 included); a channel
    /// is for a transport address, so its port must be one.
    fn peer_refusal(&self, aid: u64, peer: SocketAddr, port_counts: bool) -> Option<u16> {
        let a = self.allocations.get(&aid)?;
        if a.relay_for(peer).is_none() {
            return Some(443);
        }
        let refused = if port_counts {
            self.config.peers.check(peer)
        } else {
            self.config.peers.check_ip(peer.ip())
        };
        refused.err().map(|_| 403)
    }

    /// RFC 8656 §9.2.
    fn create_permission(
        &mut self,
        now: Instant,
        c: &Ctx<'_, '_>,
        aid: u64,
    ) -> Result<Outcome, TurnDropped> {
        let none = ErrorExtra::default();
        let peers = match Self::peers(c.msg) {
            Some(p) if !p.is_empty() => p,
            _ => return self.error(c, 400, &none),
        };
        for code in [443, 403] {
            if peers
                .iter()
                .any(|p| self.peer_refusal(aid, *p, false) == Some(code))
            {
                return self.error(c, code, &none);
            }
        }
        let max = self.config.max_permissions;
        let full = self.allocations.get(&aid).is_some_and(|a| {
            a.permissions
                .would_exceed(peers.iter().map(|p| p.ip()), max)
        });
        if full {
            return self.error(c, 508, &none);
        }
        if let Some(a) = self.allocations.get_mut(&aid) {
            for p in &peers {
                a.permissions.install(p.ip(), now);
            }
        }
        self.schedule(now + super::PERMISSION_LIFETIME, Timer::Sweep(aid));
        self.success(c, None)
    }

    /// RFC 8656 §12.2.
    fn channel_bind(
        &mut self,
        now: Instant,
        c: &Ctx<'_, '_>,
        aid: u64,
    ) -> Result<Outcome, TurnDropped> {
        let none = ErrorExtra::default();
        let top = if self.config.legacy_channels {
            0x7FFF
        } else {
            0x4FFF
        };
        let number = match c
            .msg
            .get_raw(AttributeType::CHANNEL_NUMBER)
            .map(|a| a.value)
        {
            Some(&[a, b, _, _]) => u16::from_be_bytes([a, b]),
            _ => return self.error(c, 400, &none),
        };
        let peer = match c.msg.get::<XorPeerAddress>() {
            Ok(Some(p)) => p.0,
            _ => return self.error(c, 400, &none),
        };
        if !(0x4000..=top).contains(&number) {
            return self.error(c, 400, &none);
        }
        if let Some(code) = self.peer_refusal(aid, peer, true) {
            return self.error(c, code, &none);
        }
        let max = self.config.max_permissions;
        let Some(a) = self.allocations.get_mut(&aid) else {
            return self.error(c, 437, &none);
        };
        if a.permissions.would_exceed(core::iter::once(peer.ip()), max) {
            return self.error(c, 508, &none);
        }
        if a.channels.bind(number, peer, now).is_err() {
            return self.error(c, 400, &none);
        }
        a.permissions.install(peer.ip(), now);
        self.schedule(now + super::PERMISSION_LIFETIME, Timer::Sweep(aid));
        self.success(c, None)
    }
}
