//! coturn, the production TURN server (`turnserver`, Debian package
//! `coturn`), started for interop tests: a generated configuration in a
//! directory of its own, loopback only, a free port, killed when dropped.
//!
//! [`Coturn::start`] writes a `turnserver.conf` with long-term credentials
//! (`lt-cred-mech`, one `user=name:password`, a `realm`), listening on
//! `127.0.0.1` at a free port for UDP and TCP, relaying from `127.0.0.1`
//! within a port range of its own, loopback peers allowed, no TLS, DTLS,
//! CLI or web admin, and the log on stdout. It waits until coturn reports
//! both listeners open; if coturn cannot bind the port (another process
//! took it between the probe and the start: coturn then retries forever
//! instead of exiting), it is killed and started again on another port.
//!
//! Everything coturn prints (stdout and stderr) is kept: [`Coturn::log`]
//! returns it for assertion messages, [`Coturn::wait_for_log`] waits for a
//! line. The process is killed (by its own handle) and the directory
//! removed when the value is dropped, also while a test panics.
//!
//! A missing `turnserver` is a failure naming the package, never a skip
//! ([`turnserver`]).

use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::realnet::RealNet;

/// The Debian package that ships `turnserver`.
pub const PACKAGE: &str = "coturn";

/// How many ports [`Coturn::start`] tries before giving up.
const START_ATTEMPTS: u32 = 5;

/// How long coturn may take to open its listeners.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Relay port ranges are carved out of this span, below Linux's default
/// ephemeral range (32768-60999): the sockets tests bind with port 0 never
/// land in a relay range, and each instance gets a block of its own.
const RELAY_SPAN: RangeInclusive<u16> = 20_000..=31_999;

/// Ports per relay range.
const RELAY_BLOCK: u16 = 100;

/// Distinguishes instances started by one process.
static INSTANCE: AtomicU32 = AtomicU32::new(0);

/// The path of `turnserver`.
///
/// # Panics
///
/// If it is not installed: the message names the package to install.
pub fn turnserver() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join("turnserver"))
        .find(|p| p.is_file());
    match found {
        Some(p) => p,
        // An interop test that cannot run fails, loudly, rather than
        // passing.
        #[allow(clippy::panic)]
        None => panic!(
            "`turnserver` not found: install the Debian package `{PACKAGE}` \
             (apt-get install -y {PACKAGE}; scripts/test does); the coturn \
             interop tests do not skip"
        ),
    }
}

/// coturn's version line (`turnserver --version`, for example `4.6.1`).
pub fn version() -> io::Result<String> {
    let out = Command::new(turnserver())
        .arg("--version")
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.trim().to_owned())
}

/// What to configure.
#[derive(Clone, Debug)]
pub struct CoturnConfig {
    /// The realm (`realm=`).
    pub realm: String,
    /// Long-term credential users (`user=name:password`).
    pub users: Vec<(String, String)>,
    /// `max-allocate-lifetime=` in seconds: the longest allocation (and
    /// refresh) lifetime coturn grants. coturn raises a requested lifetime
    /// below 600 s to 600 s and then caps it by this, so this is the way to
    /// get short lifetimes. `None`: coturn's default (3600 s).
    pub max_allocate_lifetime: Option<u32>,
    /// `stale-nonce=` in seconds: nonces expire after this long and
    /// requests with an older one get 438 (Stale Nonce). `None`: coturn's
    /// default (nonces do not go stale).
    pub stale_nonce: Option<u32>,
    /// `fingerprint`: FINGERPRINT on coturn's messages.
    pub fingerprint: bool,
    /// More configuration lines, verbatim.
    pub extra: Vec<String>,
}

impl CoturnConfig {
    /// One realm and one user, coturn's default lifetimes.
    pub fn new(realm: &str, user: &str, password: &str) -> CoturnConfig {
        CoturnConfig {
            realm: realm.to_owned(),
            users: vec![(user.to_owned(), password.to_owned())],
            max_allocate_lifetime: None,
            stale_nonce: None,
            fingerprint: false,
            extra: Vec::new(),
        }
    }

    /// The configuration file for `port`, relaying within `relay`, with
    /// its files in `dir`.
    fn render(&self, port: u16, relay: &RangeInclusive<u16>, dir: &Path) -> String {
        let mut lines = vec![
            "listening-ip=127.0.0.1".to_owned(),
            "relay-ip=127.0.0.1".to_owned(),
            format!("listening-port={port}"),
            format!("min-port={}", relay.start()),
            format!("max-port={}", relay.end()),
            "lt-cred-mech".to_owned(),
            format!("realm={}", self.realm),
            "allow-loopback-peers".to_owned(),
            "no-tls".to_owned(),
            "no-dtls".to_owned(),
            "no-cli".to_owned(),
            // One IP: no RFC 5780 alternate listener on port + 1.
            "no-rfc5780".to_owned(),
            "log-file=stdout".to_owned(),
            "simple-log".to_owned(),
            "verbose".to_owned(),
            // Its files in the test's directory, not /var.
            format!("pidfile={}", dir.join("turnserver.pid").display()),
            format!("userdb={}", dir.join("turndb").display()),
        ];
        for (user, password) in &self.users {
            lines.push(format!("user={user}:{password}"));
        }
        if let Some(secs) = self.max_allocate_lifetime {
            lines.push(format!("max-allocate-lifetime={secs}"));
        }
        if let Some(secs) = self.stale_nonce {
            lines.push(format!("stale-nonce={secs}"));
        }
        if self.fingerprint {
            lines.push("fingerprint".to_owned());
        }
        lines.extend(self.extra.iter().cloned());
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// Why coturn could not be started.
#[derive(Debug)]
pub struct StartError {
    /// What went wrong on the last attempt.
    pub reason: String,
    /// What coturn printed on the last attempt.
    pub log: String,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "coturn did not start: {}\n--- coturn log ---\n{}",
            self.reason, self.log
        )
    }
}

impl std::error::Error for StartError {}

/// Everything coturn printed, shared with the reader threads.
#[derive(Default)]
struct Log {
    text: Mutex<String>,
    grew: Condvar,
}

impl Log {
    fn append(&self, line: &str) {
        if let Ok(mut t) = self.text.lock() {
            t.push_str(line);
            t.push('\n');
        }
        self.grew.notify_all();
    }

    fn snapshot(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Waits up to `timeout` for `done` to hold on the whole log.
    fn wait(&self, timeout: Duration, mut done: impl FnMut(&str) -> bool) -> bool {
        let deadline = RealNet::now() + timeout;
        let Ok(mut text) = self.text.lock() else {
            return false;
        };
        loop {
            if done(&text) {
                return true;
            }
            let left = deadline.saturating_duration_since(RealNet::now());
            if left.is_zero() {
                return false;
            }
            // Short waits: the process may die without printing.
            let step = left.min(Duration::from_millis(100));
            text = match self.grew.wait_timeout(text, step) {
                Ok((t, _)) => t,
                Err(_) => return false,
            };
        }
    }
}

/// A running coturn. Dropping it kills the process and removes its files.
pub struct Coturn {
    child: Child,
    addr: SocketAddr,
    relay: RangeInclusive<u16>,
    dir: PathBuf,
    log: Arc<Log>,
    readers: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Coturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coturn")
            .field("pid", &self.child.id())
            .field("addr", &self.addr)
            .field("relay", &self.relay)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Coturn {
    /// Starts coturn with `config` on a free loopback port (see the module
    /// documentation) and waits until it listens on UDP and TCP.
    ///
    /// # Panics
    ///
    /// If `turnserver` is not installed ([`turnserver`]).
    pub fn start(config: &CoturnConfig) -> Result<Coturn, StartError> {
        let program = turnserver();
        let mut last = StartError {
            reason: "not tried".into(),
            log: String::new(),
        };
        for _ in 0..START_ATTEMPTS {
            match Coturn::try_start(&program, config) {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        last.reason = format!("{} (after {START_ATTEMPTS} attempts)", last.reason);
        Err(last)
    }

    fn try_start(program: &Path, config: &CoturnConfig) -> Result<Coturn, StartError> {
        let fail = |reason: String| StartError {
            reason,
            log: String::new(),
        };
        let port = free_port().map_err(|e| fail(format!("no free port: {e}")))?;
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let relay = relay_range(std::process::id(), instance);
        let dir = std::env::temp_dir().join(format!(
            "ice-tests-coturn-{}-{instance}-{port}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).map_err(|e| fail(format!("cannot create {dir:?}: {e}")))?;
        let conf = dir.join("turnserver.conf");
        fs::write(&conf, config.render(port, &relay, &dir))
            .map_err(|e| fail(format!("cannot write {conf:?}: {e}")))?;
        let mut child = match Command::new(program)
            .arg("-c")
            .arg(&conf)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(fail(format!("cannot run {}: {e}", program.display())));
            }
        };
        let log = Arc::new(Log::default());
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.extend(spawn_reader("coturn stdout", out, Arc::clone(&log)));
        }
        if let Some(err) = child.stderr.take() {
            readers.extend(spawn_reader("coturn stderr", err, Arc::clone(&log)));
        }
        let mut coturn = Coturn {
            child,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            relay,
            dir,
            log,
            readers,
        };
        let udp = format!("UDP listener opened on: {}", coturn.addr);
        let tcp = format!("TCP listener opened on : {}", coturn.addr);
        let addr = coturn.addr.to_string();
        // "Cannot bind DTLS/UDP listener socket to addr 127.0.0.1:P" (and
        // the TCP one): coturn retries forever instead of exiting.
        let bind_failed = |text: &str| {
            text.lines()
                .any(|l| l.contains("Cannot bind") && l.contains(&addr))
        };
        let mut exited = false;
        let ready = coturn.log.wait(READY_TIMEOUT, |text| {
            if bind_failed(text) {
                return true;
            }
            if !matches!(coturn.child.try_wait(), Ok(None)) {
                exited = true;
                return true;
            }
            text.contains(&udp) && text.contains(&tcp)
        });
        let text = coturn.log();
        let reason = if !ready {
            Some(format!("no `{udp}` and `{tcp}` within {READY_TIMEOUT:?}"))
        } else if exited {
            Some(format!("turnserver exited ({:?})", coturn.child.try_wait()))
        } else if bind_failed(&text) {
            Some(format!("port {port} was taken"))
        } else {
            None
        };
        match reason {
            None => Ok(coturn),
            Some(reason) => {
                drop(coturn);
                Err(StartError { reason, log: text })
            }
        }
    }

    /// Where coturn listens, for UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The relay ports configured (`min-port` to `max-port`).
    pub fn relay_ports(&self) -> RangeInclusive<u16> {
        self.relay.clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything coturn printed so far.
    pub fn log(&self) -> String {
        self.log.snapshot()
    }

    /// Waits up to `timeout` for a line containing `needle` after the
    /// first `skip` bytes of the log; returns whether one came.
    pub fn wait_for_log(&self, skip: usize, needle: &str, timeout: Duration) -> bool {
        self.log.wait(timeout, |text| {
            text.get(skip..).is_some_and(|t| t.contains(needle))
        })
    }

    /// Waits up to `timeout` for `done` to hold on everything coturn
    /// printed; returns whether it did. coturn logs an exchange after it
    /// answered, so a line about a request may come after its answer.
    pub fn wait_for(&self, timeout: Duration, done: impl FnMut(&str) -> bool) -> bool {
        self.log.wait(timeout, done)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops coturn and returns everything it printed.
    pub fn stop(mut self) -> String {
        self.kill();
        self.log()
    }

    fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        // The pipes close with the process: the readers end.
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_port() -> io::Result<u16> {
    let mut last = io::Error::other("no port free for UDP and TCP");
    for _ in 0..32 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(_) => return Ok(port),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A block of [`RELAY_BLOCK`] relay ports for instance `instance` of
/// process `pid`.
fn relay_range(pid: u32, instance: u32) -> RangeInclusive<u16> {
    let blocks = u32::from((RELAY_SPAN.end() - RELAY_SPAN.start() + 1) / RELAY_BLOCK);
    let index = pid.wrapping_mul(7).wrapping_add(instance) % blocks.max(1);
    // Cannot overflow: index < blocks, and the span fits in u16.
    let start = RELAY_SPAN.start() + u16::try_from(index).unwrap_or(0) * RELAY_BLOCK;
    start..=start + (RELAY_BLOCK - 1)
}

fn spawn_reader<R: Read + Send + 'static>(
    name: &str,
    pipe: R,
    log: Arc<Log>,
) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            for line in BufReader::new(pipe).lines() {
                match line {
                    Ok(line) => log.append(&line),
                    Err(_) => return,
                }
            }
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_ranges_stay_in_the_span() {
        for pid in [0, 1, 4242, u32::MAX] {
            for instance in 0..300 {
                let r = relay_range(pid, instance);
                assert!(RELAY_SPAN.contains(r.start()) && RELAY_SPAN.contains(r.end()));
                assert_eq!(r.end() - r.start() + 1, RELAY_BLOCK);
            }
        }
    }

    #[test]
    fn the_config_has_the_essentials() {
        let mut c = CoturnConfig::new("example.test", "alice", "secret");
        c.max_allocate_lifetime = Some(10);
        let text = c.render(3478, &(20_000..=20_099), Path::new("/tmp/x"));
        for line in [
            "listening-ip=127.0.0.1",
            "listening-port=3478",
            "min-port=20000",
            "max-port=20099",
            "lt-cred-mech",
            "user=alice:secret",
            "realm=example.test",
            "allow-loopback-peers",
            "no-tls",
            "no-dtls",
            "no-cli",
            "max-allocate-lifetime=10",
            "userdb=/tmp/x/turndb",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
