//! Running `icectl` as a child process: a guard that kills it on drop,
//! its stdout read line by line with bounded waits.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// The binary under test.
pub fn icectl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_icectl"))
}

/// Runs `icectl args` to completion (bounded by `limit`: killed then).
pub fn run(args: &[&str], limit: Duration) -> Output {
    let mut child = icectl()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start icectl");
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if waited >= limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("icectl {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
        waited += Duration::from_millis(10);
    };
    Output {
        status,
        stdout: stdout.recv().unwrap_or_default(),
        stderr: stderr.recv().unwrap_or_default(),
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        let _ = tx.send(bytes);
    });
    rx
}

/// A background `icectl`, killed (by its pid) when dropped.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr: Receiver<Vec<u8>>,
}

impl Running {
    /// Starts `icectl args` in the background.
    pub fn start(args: &[&str]) -> Running {
        Running::from_command(icectl().args(args))
    }

    /// Starts a prepared command (e.g. inside a namespace).
    pub fn from_command(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start icectl");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = drain(child.stderr.take());
        Running {
            child,
            lines,
            stderr,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of stdout within `limit`.
    pub fn line(&mut self, limit: Duration) -> String {
        match self.lines.recv_timeout(limit) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self
                    .stderr
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default();
                panic!(
                    "no line from icectl within {limit:?} ({e}); stderr:\n{}",
                    String::from_utf8_lossy(&err)
                )
            }
        }
    }

    /// The next stdout line parsed as JSON.
    pub fn json(&mut self, limit: Duration) -> serde_json::Value {
        let line = self.line(limit);
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends SIGINT (as Ctrl-C does) through kill(1) and waits up to
    /// `limit` for the exit; returns the rest of stdout.
    pub fn interrupt(mut self, limit: Duration) -> (std::process::ExitStatus, Vec<String>) {
        let ok = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -INT failed");
        let mut waited = Duration::ZERO;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                waited < limit,
                "icectl did not stop within {limit:?} of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(10));
            waited += Duration::from_millis(10);
        };
        // The reader thread ends with the pipe, closing the channel.
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(LINE) {
            rest.push(line);
        }
        (status, rest)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Generous bound for a child's line on a loaded machine.
pub const LINE: Duration = Duration::from_secs(20);
