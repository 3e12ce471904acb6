//! Child processes with bounded waits: run-to-completion with a timeout,
//! and background processes whose stdout is read line by line and which
//! are killed (by their own pid) when dropped, also during a panic.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::realnet::RealNet;

/// How often a wait looks at the child.
const WAIT_POLL: Duration = Duration::from_millis(10);

/// What a finished process printed.
#[derive(Clone, Debug)]
pub struct Output {
    /// How it ended (`None`: killed after its timeout).
    pub status: Option<ExitStatus>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Output {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// A command that could not be run or did not succeed.
#[derive(Clone, Debug)]
pub struct CommandError {
    /// The command line.
    pub command: String,
    /// Why: the spawn error, the exit status or the timeout.
    pub reason: String,
    /// What it printed on stderr (and stdout, if anything).
    pub output: String,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.command, self.reason)?;
        if !self.output.trim().is_empty() {
            write!(f, ":\n{}", self.output.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for CommandError {}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn spawn_error(cmd: &Command, e: std::io::Error) -> CommandError {
    CommandError {
        command: describe(cmd),
        reason: format!("could not start: {e}"),
        output: String::new(),
    }
}

/// Runs `cmd` to completion, feeding it `stdin`; kills it after `timeout`.
pub fn run(
    cmd: &mut Command,
    stdin: Option<&str>,
    timeout: Duration,
) -> Result<Output, CommandError> {
    let start = RealNet::now();
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(cmd, e))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Small inputs (rulesets): the pipe buffer holds them.
        let _ = pipe.write_all(input.as_bytes());
    }
    let out = collect(child.stdout.take());
    let err = collect(child.stderr.take());
    let status = wait_until(&mut child, start + timeout);
    Ok(Output {
        status,
        stdout: join(out),
        stderr: join(err),
        elapsed: start.elapsed(),
    })
}

/// Runs `cmd` and requires exit status 0 within `timeout`.
pub fn run_ok(
    cmd: &mut Command,
    stdin: Option<&str>,
    timeout: Duration,
) -> Result<Output, CommandError> {
    let out = run(cmd, stdin, timeout)?;
    if out.success() {
        return Ok(out);
    }
    let reason = match out.status {
        None => format!("did not finish within {timeout:?} and was killed"),
        Some(s) => format!("failed ({s})"),
    };
    Err(CommandError {
        command: describe(cmd),
        reason,
        output: format!("{}{}", out.stderr, out.stdout),
    })
}

fn collect<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<String>> {
    let mut pipe = pipe?;
    std::thread::Builder::new()
        .name("child output".into())
        .spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .ok()
}

fn join(h: Option<JoinHandle<String>>) -> String {
    h.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// Waits for `child` until `deadline`; kills it then. `None` if killed.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if RealNet::now() < deadline => std::thread::sleep(WAIT_POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// A process running in the background. Its stdout arrives line by line;
/// dropping it kills it (by its pid) and reaps it.
pub struct Background {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    started: Instant,
}

impl fmt::Debug for Background {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Background")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Background {
    /// Starts `cmd` with piped stdin, stdout and stderr. `name` is for
    /// messages.
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Background, CommandError> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| spawn_error(cmd, e))?;
        let (tx, lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            let _ = std::thread::Builder::new()
                .name(format!("{name} stdout"))
                .spawn(move || {
                    for line in BufReader::new(out).lines() {
                        let Ok(line) = line else { return };
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                });
        }
        Ok(Background {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            stderr: collect(child.stderr.take()),
            child,
            lines,
            seen: Vec::new(),
            started: RealNet::now(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for a line of stdout for which `want` holds;
    /// returns it. Every line read is kept (see [`Background::lines`]).
    pub fn wait_for_line(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&str) -> bool,
    ) -> Result<String, CommandError> {
        let deadline = RealNet::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(RealNet::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.error(format!("printed no expected line within {timeout:?}")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.error("ended without printing the expected line".into()));
                }
            }
        }
    }

    /// The lines of stdout read so far.
    pub fn lines(&self) -> &[String] {
        &self.seen
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Closes its stdin (the helper binary's signal to stop), waits up to
    /// `timeout` for it to exit (killing it then), and returns everything
    /// it printed.
    pub fn finish(mut self, timeout: Duration) -> Output {
        self.stdin = None;
        let status = wait_until(&mut self.child, RealNet::now() + timeout);
        // The stdout thread ends with the process.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        Output {
            status,
            stdout: self.seen.join("\n"),
            stderr: join(self.stderr.take()),
            elapsed: self.started.elapsed(),
        }
    }

    fn error(&mut self, reason: String) -> CommandError {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = join(self.stderr.take());
        CommandError {
            command: self.name.clone(),
            reason,
            output: format!("{stderr}{}", self.seen.join("\n")),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stdin = None;
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
