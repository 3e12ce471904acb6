//! What the real-network tests need from the machine, checked up front.
//!
//! A missing tool or capability fails the test with a message that names
//! it and says how to get it; these tests are never skipped silently.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Something a real-network test needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Need {
    /// Root (CAP_NET_ADMIN and CAP_SYS_ADMIN): namespaces, veth, nftables.
    Root,
    /// `ip` from iproute2, with working network namespaces.
    Netns,
    /// `nft` from nftables.
    Nft,
    /// `conntrack` from conntrack-tools (reads the NAT's flow table).
    Conntrack,
    /// `stun`, the classic RFC 3489 client of Debian's `stun-client`.
    StunClient,
    /// `stund`, the RFC 3489 server of Debian's `stun-server`.
    Stund,
}

impl Need {
    /// The program the need is about, if it is one.
    fn program(self) -> Option<&'static str> {
        match self {
            Need::Root => None,
            Need::Netns => Some("ip"),
            Need::Nft => Some("nft"),
            Need::Conntrack => Some("conntrack"),
            Need::StunClient => Some("stun"),
            Need::Stund => Some("stund"),
        }
    }

    /// The Debian package that provides it.
    fn package(self) -> &'static str {
        match self {
            Need::Root => "",
            Need::Netns => "iproute2",
            Need::Nft => "nftables",
            Need::Conntrack => "conntrack",
            Need::StunClient => "stun-client",
            Need::Stund => "stun-server",
        }
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.program() {
            None => f.write_str(
                "root (network namespaces, veth pairs and nftables need CAP_NET_ADMIN and CAP_SYS_ADMIN): run the tests as root, e.g. `sudo -E cargo test -p ice-tests`",
            ),
            Some(p) => write!(
                f,
                "`{p}` (Debian package `{}`): install it with `apt-get install {}`, or run scripts/test, which installs every package the tests need",
                self.package(),
                self.package()
            ),
        }
    }
}

/// Directories searched besides `PATH` (root's tools live in sbin, which a
/// user's `PATH` may lack).
const EXTRA_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The absolute path of `program`, from `PATH` or the sbin directories.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of a needed program.
///
/// # Panics
///
/// If it is missing, with the message of [`require`].
#[track_caller]
pub fn program(need: Need) -> PathBuf {
    require(&[need]);
    need.program().and_then(find_program).unwrap_or_default()
}

/// Whether the effective user is root, from `/proc/self/status` (no
/// `unsafe` `geteuid`).
fn is_root() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

/// Whether namespaces work here: `ip netns add` and `del` of a probe.
fn netns_works() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let ip = find_program("ip").ok_or_else(|| Need::Netns.to_string())?;
            let name = format!("icet-{}-probe", std::process::id());
            let out = Command::new(&ip)
                .args(["netns", "add", &name])
                .output()
                .map_err(|e| format!("cannot run {}: {e}", ip.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "`ip netns add` fails here ({}): network namespaces need root and a kernel with CONFIG_NET_NS; in a container, run it privileged",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            let _ = Command::new(&ip).args(["netns", "del", &name]).output();
            Ok(())
        })
        .clone()
}

/// Fails the calling test, naming everything in `needs` that is missing
/// and how to get it.
///
/// # Panics
///
/// When anything is missing: that is the point.
#[track_caller]
pub fn require(needs: &[Need]) {
    let mut missing = Vec::new();
    for &need in needs {
        let ok = match need {
            Need::Root => is_root(),
            _ => need.program().and_then(find_program).is_some(),
        };
        if !ok {
            missing.push(format!("  - {need}"));
        }
    }
    if missing.is_empty() && needs.contains(&Need::Netns) && is_root() {
        if let Err(e) = netns_works() {
            missing.push(format!("  - {e}"));
        }
    }
    if !missing.is_empty() {
        // A test that cannot run fails, loudly, rather than passing.
        #[allow(clippy::panic)]
        {
            panic!(
                "this real-network test cannot run; it needs:\n{}",
                missing.join("\n")
            );
        }
    }
}
