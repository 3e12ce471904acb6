//! The one error type of `icectl`: what failed, why, and what to try.
//!
//! Every failure a person sees is a [`CliError`]; its three parts are
//! printed on their own lines (and as one JSON object with `--json`), and
//! its exit code tells scripts usage errors (2) from failures (1).

use std::fmt;

use serde::Serialize;

/// The exit code of a failure at run time (a server that does not answer,
/// a port that is taken).
pub const EXIT_FAILURE: u8 = 1;
/// The exit code of a usage error (bad arguments, a bad URL), as clap
/// uses for its own.
pub const EXIT_USAGE: u8 = 2;

/// A failure, told as what failed, why, and what to try.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CliError {
    /// What failed, e.g. "cannot listen on 127.0.0.1:3478".
    pub what: String,
    /// Why, e.g. "the address is in use by another process".
    pub why: String,
    /// What to try, e.g. "pick another port with --listen 127.0.0.1:3479".
    #[serde(rename = "try")]
    pub hint: String,
    /// The process exit code.
    #[serde(skip)]
    pub code: u8,
}

impl CliError {
    /// A failure at run time (exit code [`EXIT_FAILURE`]).
    pub fn new(what: impl Into<String>, why: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError {
            what: what.into(),
            why: why.into(),
            hint: hint.into(),
            code: EXIT_FAILURE,
        }
    }

    /// A usage error (exit code [`EXIT_USAGE`]).
    pub fn usage(what: impl Into<String>, why: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError {
            code: EXIT_USAGE,
            ..CliError::new(what, why, hint)
        }
    }

    /// A socket that could not be bound at `addr`, given with `flag`.
    pub fn bind(addr: std::net::SocketAddr, flag: &str, e: &std::io::Error) -> Self {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                format!("another process uses it: stop it, or give another port with {flag}")
            }
            std::io::ErrorKind::AddrNotAvailable => format!(
                "{} is not an address of this machine: give one of its own with {flag}",
                addr.ip()
            ),
            std::io::ErrorKind::PermissionDenied => {
                format!("ports below 1024 need root: give a higher port with {flag}")
            }
            _ => format!("check the address given with {flag}"),
        };
        CliError::new(format!("cannot listen on {addr}"), e.to_string(), hint)
    }

    /// The JSON form: `{"error":{"what":…,"why":…,"try":…}}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": self }).to_string()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error: {}\n  why: {}\n  try: {}",
            self.what, self.why, self.hint
        )
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_json_carry_all_three_parts() {
        let e = CliError::usage("bad URL `x`", "no scheme", "stun:host");
        assert_eq!(e.code, EXIT_USAGE);
        assert_eq!(
            e.to_string(),
            "error: bad URL `x`\n  why: no scheme\n  try: stun:host"
        );
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["error"]["what"], "bad URL `x`");
        assert_eq!(v["error"]["why"], "no scheme");
        assert_eq!(v["error"]["try"], "stun:host");
        assert_eq!(CliError::new("a", "b", "c").code, EXIT_FAILURE);
    }
}
