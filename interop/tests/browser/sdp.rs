//! The SDP carried between the browser and our agent: the ICE attributes
//! of the browser's description (RFC 8839 §5, read with `ice::sdp`), and
//! a data-channel description (RFC 8841) for the browser made of our
//! credentials and candidates.
//!
//! Our description has a placeholder `a=fingerprint` (RFC 8122): ICE
//! completes before DTLS starts, so the browser's DTLS handshake failing
//! later does not matter here. It never says `ice-lite`: our agent is a
//! full agent, so the offerer is the controlling one (RFC 8445 §6.1.1).

use ice::Credentials;
use ice::sdp::{IceAttribute, parse_sdp};

/// The ICE part of the browser's description.
#[derive(Clone, Debug)]
pub struct BrowserIce {
    /// `a=ice-ufrag`.
    pub ufrag: String,
    /// `a=ice-pwd`.
    pub pwd: String,
    /// `a=mid` of the data-channel section, repeated in our answer.
    pub mid: String,
    /// The `a=candidate:` lines, as the browser wrote them.
    pub candidates: Vec<String>,
}

impl BrowserIce {
    /// Reads the first media section of `sdp`; fails if ICE attributes are
    /// missing or malformed, or the browser claims to be a lite agent.
    pub fn parse(sdp: &str) -> Result<BrowserIce, String> {
        let ice = parse_sdp(sdp);
        if let Some(e) = ice.errors.first() {
            return Err(format!("line {} of the browser's SDP: {}", e.line, e.error));
        }
        let media = ice
            .media
            .first()
            .ok_or_else(|| format!("no media section in the browser's SDP:\n{sdp}"))?;
        if media.lite {
            return Err("the browser's SDP says ice-lite".to_owned());
        }
        let missing = |what: &str| format!("no {what} in the browser's SDP:\n{sdp}");
        Ok(BrowserIce {
            ufrag: media.ufrag.clone().ok_or_else(|| missing("ice-ufrag"))?,
            pwd: media.pwd.clone().ok_or_else(|| missing("ice-pwd"))?,
            mid: media.mid.clone().ok_or_else(|| missing("a=mid"))?,
            candidates: sdp
                .lines()
                .filter(|l| l.starts_with("a=candidate:"))
                .map(|l| l.trim_end().to_owned())
                .collect(),
        })
    }
}

/// The DTLS role line of our description (RFC 8842 §5.1).
#[derive(Clone, Copy, Debug)]
pub enum Setup {
    /// In an offer: the answerer chooses (the browser answers `active`).
    ActPass,
    /// In an answer: the browser is the DTLS client, so it sends the first
    /// datagram (a ClientHello) over the selected pair.
    Passive,
}

/// Our description of one data-channel section `mid`, with our
/// credentials and candidates (`candidate:…` values).
pub fn our_description(
    creds: &Credentials,
    candidates: &[String],
    mid: &str,
    setup: Setup,
) -> Result<String, String> {
    let attr = |a: IceAttribute| a.write().map_err(|e| format!("our {}: {e}", a.name()));
    // The default address (RFC 8839 §4.2.1.1) is that of the first candidate.
    let (ip, port) = candidates
        .first()
        .and_then(|c| {
            let f: Vec<&str> = c.split(' ').collect();
            Some((*f.get(4)?, *f.get(5)?))
        })
        .unwrap_or(("0.0.0.0", "9"));
    let family = if ip.contains(':') { "IP6" } else { "IP4" };
    let setup = match setup {
        Setup::ActPass => "actpass",
        Setup::Passive => "passive",
    };
    // Any 32 bytes: the handshake is never meant to complete.
    let fingerprint = (0..32u8)
        .map(|b| format!("{:02X}", b.wrapping_mul(37)))
        .collect::<Vec<_>>()
        .join(":");
    let mut lines = vec![
        "v=0".to_owned(),
        "o=- 1 1 IN IP4 127.0.0.1".to_owned(),
        "s=-".to_owned(),
        "t=0 0".to_owned(),
        format!("a=group:BUNDLE {mid}"),
        format!("m=application {port} UDP/DTLS/SCTP webrtc-datachannel"),
        format!("c=IN {family} {ip}"),
        attr(IceAttribute::Ufrag(creds.ufrag().to_owned()))?,
        attr(IceAttribute::Pwd(creds.pwd().to_owned()))?,
        format!("a=fingerprint:sha-256 {fingerprint}"),
        format!("a=setup:{setup}"),
        format!("a=mid:{mid}"),
        "a=sctp-port:5000".to_owned(),
    ];
    lines.extend(candidates.iter().map(|c| format!("a={c}")));
    lines.push(attr(IceAttribute::EndOfCandidates)?);
    Ok(lines.join("\r\n") + "\r\n")
}
