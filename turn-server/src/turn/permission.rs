//! Permissions (RFC 8656 §9): per allocation, a list of peer IP addresses
//! (ports do not count), each with an expiry [`PERMISSION_LIFETIME`] after
//! the CreatePermission or ChannelBind that installed or last refreshed
//! it. Data in either direction is relayed only while a permission for the
//! peer's IP exists; Send indications, ChannelData and data from peers do
//! not refresh it (§9: only CreatePermission and ChannelBind do).
//!
//! Addresses are compared in canonical form, so an IPv4 peer seen through
//! an IPv4-mapped socket address is the same peer.

use core::net::IpAddr;
use std::collections::BTreeMap;
use std::time::Instant;

use super::config::PERMISSION_LIFETIME;

#[derive(Clone, Debug, Default)]
pub(crate) struct Permissions {
    expiry: BTreeMap<IpAddr, Instant>,
}

impl Permissions {
    /// Installs or refreshes the permission for `ip`.
    pub(crate) fn install(&mut self, ip: IpAddr, now: Instant) {
        self.expiry
            .insert(ip.to_canonical(), now + PERMISSION_LIFETIME);
    }

    /// Whether a live permission exists for `ip`.
    pub(crate) fn allows(&self, ip: IpAddr, now: Instant) -> bool {
        self.expiry
            .get(&ip.to_canonical())
            .is_some_and(|e| *e > now)
    }

    /// Whether installing `ips` would hold more than `max` permissions.
    pub(crate) fn would_exceed(&self, ips: impl Iterator<Item = IpAddr>, max: usize) -> bool {
        let mut fresh: Vec<IpAddr> = ips
            .map(|ip| ip.to_canonical())
            .filter(|ip| !self.expiry.contains_key(ip))
            .collect();
        fresh.sort();
        fresh.dedup();
        self.expiry.len().saturating_add(fresh.len()) > max
    }

    /// Forgets expired permissions.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.expiry.retain(|_, e| *e > now);
    }

    /// The next expiry, if any.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.expiry.values().min().copied()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.expiry.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn lifetime_is_300_s_and_ports_do_not_count() {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut p = Permissions::default();
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        p.install(ip, t0);
        assert!(p.allows("::ffff:198.51.100.1".parse().unwrap(), t0));
        assert!(p.allows(ip, t0 + Duration::from_secs(299)));
        assert!(!p.allows(ip, t0 + Duration::from_secs(300)));
        assert!(p.would_exceed([ip, "198.51.100.2".parse().unwrap()].into_iter(), 1));
        assert!(!p.would_exceed([ip, ip].into_iter(), 1));
        p.sweep(t0 + Duration::from_secs(300));
        assert_eq!(p.len(), 0);
    }
}
