//! `icectl`: the command-line face of the ICE stack.
//!
//! The subcommands (`demo`, `gather`, `nat-type`, `serve`, `signal`,
//! `connect`) arrive with the `icectl` issue. Until then the binary says so
//! and exits with an error instead of pretending to work.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "icectl: no subcommands are implemented yet.\n\
         This build holds only the STUN codec (stun-proto); see README.md for what exists\n\
         and run `scripts/test` to check it."
    );
    ExitCode::from(2)
}
