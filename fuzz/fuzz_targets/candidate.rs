//! Arbitrary bytes as SDP text (RFC 8839): a candidate line, an ICE
//! attribute line, a whole SDP and a STUN USERNAME. Nothing may panic, and
//! whatever parses must write back, parse back to the same value and
//! rewrite to the same text (the canonical form is a fixed point).
//!
//! Bytes that are not UTF-8 go through `from_utf8_lossy`, so the parsers
//! also meet U+FFFD and other non-ASCII text.

#![no_main]

use ice::credentials::{Credentials, check_username, split_username};
use ice::sdp::{IceAttribute, parse_candidate, parse_sdp, write_candidate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(&text);
});

fn check(s: &str) {
    if let Ok(c) = parse_candidate(s) {
        let written =
            write_candidate(&c).unwrap_or_else(|e| panic!("{s:?} parsed but does not write: {e}"));
        let again = parse_candidate(&written)
            .unwrap_or_else(|e| panic!("{written:?} does not parse back: {e}"));
        assert_eq!(again, c, "{s:?} -> {written:?}");
        assert_eq!(
            write_candidate(&again).ok().as_deref(),
            Some(written.as_str())
        );
    }

    if let Ok(a) = IceAttribute::parse(s) {
        let written = a
            .write()
            .unwrap_or_else(|e| panic!("{s:?} parsed but does not write: {e}"));
        let again = IceAttribute::parse(&written)
            .unwrap_or_else(|e| panic!("{written:?} does not parse back: {e}"));
        assert_eq!(again, a, "{s:?} -> {written:?}");
        assert_eq!(again.write().ok().as_deref(), Some(written.as_str()));
    }

    let sdp = parse_sdp(s);
    for c in sdp.media.iter().flat_map(|m| &m.candidates) {
        let written = write_candidate(c).unwrap_or_else(|e| panic!("{c:?} does not write: {e}"));
        assert_eq!(parse_candidate(&written).as_ref(), Ok(c));
    }
    for e in &sdp.errors {
        // Display never fails and errors stay short.
        assert!(e.error.to_string().len() < 512);
    }

    if let Ok(parts) = split_username(s) {
        assert_eq!(check_username(parts.local_ufrag, parts.remote_ufrag), s);
    }
    if let Some((u, p)) = s.split_once('\n')
        && let Ok(creds) = Credentials::new(u, p)
    {
        assert_eq!((creds.ufrag(), creds.pwd()), (u, p));
    }
}
