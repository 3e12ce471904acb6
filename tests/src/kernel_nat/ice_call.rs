//! Two ICE agents in two namespaces (`nsnode ice-agent`, one process
//! each) and the signalling between them, carried by the test process.
//!
//! Each agent prints its credentials, candidates, end-of-candidates,
//! states, selected pair and received data as lines (see the header of
//! `src/bin/nsnode.rs`); [`IceCall`] reads both agents' stdout on threads
//! into one channel, keeps what each said in an [`AgentView`], and hands
//! the signalling lines to the other agent's stdin (`credentials` →
//! `remote-credentials`, `local` → `remote`, `gathered` →
//! `remote-gathered`), in the order they were printed. Every wait is
//! bounded; dropping the call kills both processes (by their pids).

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use ice::{Candidate, CandidateType};

use super::netns::Netns;
use super::process::{CommandError, describe};
use crate::realnet::RealNet;

/// A selected pair as an agent printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedLine {
    /// The local candidate's type.
    pub local_kind: CandidateType,
    /// The remote candidate's type.
    pub remote_kind: CandidateType,
    /// The local candidate's address.
    pub local: String,
    /// The remote candidate's address.
    pub remote: String,
}

impl SelectedLine {
    /// Whether either candidate is relayed.
    pub fn relayed(&self) -> bool {
        self.local_kind == CandidateType::Relayed || self.remote_kind == CandidateType::Relayed
    }
}

impl fmt::Display for SelectedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {} {}",
            self.local_kind, self.local, self.remote_kind, self.remote
        )
    }
}

/// What one agent has said so far.
#[derive(Clone, Debug, Default)]
pub struct AgentView {
    /// Every line of stdout, in order.
    pub lines: Vec<String>,
    /// Its local candidates.
    pub locals: Vec<Candidate>,
    /// It printed `gathered`.
    pub gathered: bool,
    /// Every state it reported (`Checking`, `Connected`, ...), in order.
    pub states: Vec<String>,
    /// The last selected pair it reported.
    pub selected: Option<SelectedLine>,
    /// The selected pair's base (local socket or relayed address) and
    /// the address it sends to.
    pub path: Option<(SocketAddr, SocketAddr)>,
    /// Application data received, in order.
    pub received: Vec<Vec<u8>>,
    /// Its stdout has ended.
    pub ended: bool,
}

impl AgentView {
    /// The latest state.
    pub fn state(&self) -> Option<&str> {
        self.states.last().map(String::as_str)
    }

    /// Connected or Completed, with a selected pair.
    pub fn connected(&self) -> bool {
        matches!(self.state(), Some("Connected" | "Completed")) && self.selected.is_some()
    }

    /// Whether it offered a local candidate of this type.
    pub fn offered(&self, kind: CandidateType) -> bool {
        self.locals.iter().any(|c| c.kind == kind)
    }

    fn take(&mut self, line: &str) {
        self.lines.push(line.to_owned());
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        match verb {
            "local" => {
                if let Ok(c) = ice::sdp::parse_candidate(rest) {
                    self.locals.push(c);
                }
            }
            "gathered" => self.gathered = true,
            "state" => self.states.push(rest.to_owned()),
            "selected" => {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if let [lk, rk, l, r] = f[..] {
                    if let (Some(local_kind), Some(remote_kind)) = (kind(lk), kind(rk)) {
                        self.selected = Some(SelectedLine {
                            local_kind,
                            remote_kind,
                            local: l.to_owned(),
                            remote: r.to_owned(),
                        });
                    }
                }
            }
            "path" => {
                let mut f = rest.split_whitespace().map(str::parse::<SocketAddr>);
                if let (Some(Ok(base)), Some(Ok(to))) = (f.next(), f.next()) {
                    self.path = Some((base, to));
                }
            }
            "received" => {
                if let Some(data) = unhex(rest) {
                    self.received.push(data);
                }
            }
            _ => {}
        }
    }
}

fn kind(name: &str) -> Option<CandidateType> {
    [
        CandidateType::Host,
        CandidateType::ServerReflexive,
        CandidateType::PeerReflexive,
        CandidateType::Relayed,
    ]
    .into_iter()
    .find(|k| k.sdp_name() == name)
}

/// Lowercase hex, as `nsnode` writes data.
pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// The signalling line for the other agent, if `line` is one.
fn signalling(line: &str) -> Option<String> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    match verb {
        "credentials" => Some(format!("remote-credentials {rest}")),
        "local" => Some(format!("remote {rest}")),
        "gathered" => Some("remote-gathered".to_owned()),
        _ => None,
    }
}

struct Agent {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stdin = None;
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// What an agent left behind once finished.
#[derive(Debug)]
pub struct Transcript {
    /// Its name (`A`, `B`).
    pub name: String,
    /// What it said.
    pub view: AgentView,
    /// How it ended (`None`: killed after the timeout).
    pub status: Option<ExitStatus>,
    /// Its stderr.
    pub stderr: String,
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- agent {} ({:?}) stdout:", self.name, self.status)?;
        for l in &self.view.lines {
            writeln!(f, "  {l}")?;
        }
        writeln!(f, "--- agent {} stderr:", self.name)?;
        for l in self.stderr.lines() {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

/// Two agents and the signalling between them (see the module docs).
pub struct IceCall {
    agents: Vec<Agent>,
    lines: Receiver<(usize, Option<String>)>,
    /// What each agent (A = 0, B = 1) has said.
    pub views: [AgentView; 2],
}

impl fmt::Debug for IceCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.agents.iter().map(|a| a.name.as_str()).collect();
        f.debug_struct("IceCall")
            .field("agents", &names)
            .finish_non_exhaustive()
    }
}

impl IceCall {
    /// Starts `nsnode ice-agent <args>` in each namespace: agent A with
    /// `a`, agent B with `b`.
    pub fn start(
        nsnode: &Path,
        a: (&Netns, &[String]),
        b: (&Netns, &[String]),
    ) -> Result<IceCall, CommandError> {
        let (tx, lines) = mpsc::channel();
        let mut agents = Vec::new();
        for (i, (name, (ns, args))) in [("A", a), ("B", b)].into_iter().enumerate() {
            let mut cmd = ns.command(nsnode);
            cmd.arg("ice-agent")
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().map_err(|e| CommandError {
                command: describe(&cmd),
                reason: format!("could not start: {e}"),
                output: String::new(),
            })?;
            if let Some(out) = child.stdout.take() {
                let tx = tx.clone();
                let _ = std::thread::Builder::new()
                    .name(format!("agent {name} stdout"))
                    .spawn(move || {
                        for line in BufReader::new(out).lines() {
                            let Ok(line) = line else { break };
                            if tx.send((i, Some(line))).is_err() {
                                return;
                            }
                        }
                        let _ = tx.send((i, None));
                    });
            }
            let stderr = child.stderr.take().and_then(|mut e| {
                std::thread::Builder::new()
                    .name(format!("agent {name} stderr"))
                    .spawn(move || {
                        let mut s = String::new();
                        let _ = e.read_to_string(&mut s);
                        s
                    })
                    .ok()
            });
            agents.push(Agent {
                name: name.to_owned(),
                stdin: child.stdin.take(),
                child,
                stderr,
            });
        }
        Ok(IceCall {
            agents,
            lines,
            views: Default::default(),
        })
    }

    /// Writes a line to agent `i`'s stdin (ignored once it has gone).
    pub fn tell(&mut self, i: usize, line: &str) {
        if let Some(stdin) = self.agents.get_mut(i).and_then(|a| a.stdin.as_mut()) {
            let _ = stdin.write_all(format!("{line}\n").as_bytes());
        }
    }

    /// Asks agent `i` to send `data` on its selected pair.
    pub fn send(&mut self, i: usize, data: &[u8]) {
        self.tell(i, &format!("send {}", hex(data)));
    }

    fn take(&mut self, i: usize, line: Option<String>) {
        let Some(view) = self.views.get_mut(i) else {
            return;
        };
        match line {
            None => view.ended = true,
            Some(line) => {
                view.take(&line);
                if let Some(s) = signalling(&line) {
                    self.tell(1 - i, &s);
                }
            }
        }
    }

    /// Carries lines for up to `wait` (less if a line arrives: then
    /// everything already queued is taken too).
    pub fn pump(&mut self, wait: Duration) {
        match self.lines.recv_timeout(wait) {
            Ok((i, line)) => self.take(i, line),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
        while let Ok((i, line)) = self.lines.try_recv() {
            self.take(i, line);
        }
    }

    /// Carries lines until `done` holds of the two views, both agents
    /// have ended, or `limit` has passed; returns whether `done` held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&[AgentView; 2]) -> bool,
    ) -> bool {
        let deadline = RealNet::now() + limit;
        loop {
            if done(&self.views) {
                return true;
            }
            let now = RealNet::now();
            if now >= deadline || self.views.iter().all(|v| v.ended) {
                return false;
            }
            self.pump((deadline - now).min(Duration::from_millis(50)));
        }
    }

    /// Closes both agents' stdin (they close, releasing their TURN
    /// allocations, and exit), waits up to `timeout` for them (killing
    /// them then), and returns what each said.
    pub fn finish(mut self, timeout: Duration) -> [Transcript; 2] {
        for a in &mut self.agents {
            a.stdin = None;
        }
        let deadline = RealNet::now() + timeout;
        while !self.views.iter().all(|v| v.ended) && RealNet::now() < deadline {
            self.pump(Duration::from_millis(50));
        }
        let mut statuses = [None, None];
        for (i, a) in self.agents.iter_mut().enumerate() {
            let status = loop {
                match a.child.try_wait() {
                    Ok(Some(s)) => break Some(s),
                    Ok(None) if RealNet::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    _ => {
                        let _ = a.child.kill();
                        let _ = a.child.wait();
                        break None;
                    }
                }
            };
            if let Some(s) = statuses.get_mut(i) {
                *s = status;
            }
        }
        while let Ok((i, line)) = self.lines.recv_timeout(Duration::from_millis(100)) {
            self.take(i, line);
        }
        let views = std::mem::take(&mut self.views);
        let mut out = Vec::new();
        for ((a, view), status) in self.agents.iter_mut().zip(views).zip(statuses) {
            let stderr = a
                .stderr
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default();
            out.push(Transcript {
                name: a.name.clone(),
                view,
                status,
                stderr,
            });
        }
        let b = out.pop();
        let a = out.pop();
        match (a, b) {
            (Some(a), Some(b)) => [a, b],
            // Two agents were started, so two transcripts exist.
            _ => unreachable_transcripts(),
        }
    }
}

fn unreachable_transcripts() -> ! {
    #[allow(clippy::panic)]
    {
        panic!("IceCall::finish: two agents were started but not two transcripts made")
    }
}
