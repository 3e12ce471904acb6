//! Trickle ICE signalling between our agent and webrtc-ice (RFC 8838):
//! each candidate handed to the other side alone, as its agent gathers
//! it, then our end-of-candidates (webrtc-ice has no such input: a
//! remote candidate may come at any time).

use std::time::Duration;

use ice_interop::ours::{OurPeer, Refused};
use tokio::sync::mpsc;

use super::Theirs;

/// Our candidates, one by one as our agent gathers them.
pub async fn trickle_to_theirs(
    ours: &OurPeer,
    theirs: &Theirs,
    limit: Duration,
) -> Result<usize, String> {
    let mut stream = ours.agent.local_candidates();
    let mut n = 0;
    let forward = async {
        while let Some(c) = stream.next().await {
            let line = ice::sdp::write_candidate(&c).map_err(|e| format!("{c:?}: {e}"))?;
            theirs.add_line(&line)?;
            n += 1;
        }
        Ok::<(), String>(())
    };
    tokio::time::timeout(limit, forward)
        .await
        .map_err(|_| format!("our gathering did not complete within {limit:?}"))??;
    Ok(n)
}

/// webrtc-ice's candidates, one by one, then end-of-candidates.
pub async fn trickle_to_ours(
    mut rx: mpsc::UnboundedReceiver<String>,
    ours: &OurPeer,
    limit: Duration,
) -> Result<usize, String> {
    let mut n = 0;
    let forward = async {
        while let Some(line) = rx.recv().await {
            refused(ours.add_remote_lines(&[line]).await?)?;
            n += 1;
        }
        ours.end_of_candidates().await
    };
    tokio::time::timeout(limit, forward)
        .await
        .map_err(|_| format!("webrtc-ice gathering did not complete within {limit:?}"))??;
    Ok(n)
}

/// Nothing refused, or what our agent refused and why.
pub fn refused(r: Refused) -> Result<(), String> {
    match r.as_slice() {
        [] => Ok(()),
        _ => Err(format!("our agent refused webrtc-ice's candidates: {r:?}")),
    }
}
