//! Waiting for the operator to stop a server: Ctrl-C (SIGINT) or SIGTERM.

use crate::error::CliError;

/// Resolves when the process is asked to stop.
pub async fn ctrl_c() -> Result<(), CliError> {
    let failed = |e: std::io::Error| {
        CliError::new(
            "cannot wait for Ctrl-C",
            e.to_string(),
            "run icectl in a terminal or under a process manager that delivers signals",
        )
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(failed)?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(failed),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(failed)
    }
}
