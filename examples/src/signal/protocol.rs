//! The rendezvous protocol: JSON objects, one per line, over TCP.
//!
//! ```text
//! client → server   {"type":"join","room":"R"}                 first line, once
//! server → client   {"type":"paired","role":"controlling"}     when a second peer joins R
//!                   {"type":"paired","role":"controlled"}      (the first joiner controls)
//! peer ⇄ peer       {"type":"credentials","ufrag":"…","pwd":"…"}
//!                   {"type":"candidate","candidate":"<a=candidate value>"}
//!                   {"type":"end-of-candidates"}
//!                   {"type":"bye"}
//! server → client   {"type":"peer-left"}                       the other peer went; the room ends
//!                   {"type":"error","message":"…"}             a refusal (room full, bad line, …)
//! ```
//!
//! After pairing the server forwards every line of one peer to the other
//! unchanged, if it is a JSON object whose `type` is a string and not one
//! of the server's own ([`SERVER_TYPES`]: a peer cannot forge a pairing or
//! a departure). Unknown peer types are forwarded, so peers can extend the
//! protocol without the server. A line is at most [`MAX_LINE`] bytes; a
//! longer one closes the connection.

use serde::{Deserialize, Serialize};

/// The longest line either side accepts, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;
/// The longest room name, in characters.
pub const MAX_ROOM_NAME: usize = 64;
/// The `type` values only the server may send (and `join`, which only
/// means something as a first line).
pub const SERVER_TYPES: [&str; 4] = ["join", "paired", "peer-left", "error"];

/// The ICE role a peer gets (RFC 8445 §6.1.1): the first to join a room
/// controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Nominates the pair (the first joiner).
    Controlling,
    /// Follows (the second joiner).
    Controlled,
}

/// What a client sends the server itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientMessage {
    /// Enter a room (the first line of a connection).
    Join {
        /// The room's name: 1 to [`MAX_ROOM_NAME`] characters, no control
        /// characters.
        room: String,
    },
}

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMessage {
    /// A second peer joined: talk.
    Paired {
        /// This peer's role.
        role: Role,
    },
    /// The other peer went; the room is closed and so is this connection.
    PeerLeft,
    /// Something was refused.
    Error {
        /// What and why, for a person.
        message: String,
    },
}

/// What peers send each other through the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PeerMessage {
    /// The ICE credentials (RFC 8445 §5.3; `a=ice-ufrag`, `a=ice-pwd`).
    Credentials {
        /// The username fragment.
        ufrag: String,
        /// The password.
        pwd: String,
    },
    /// A trickled candidate: the value of an `a=candidate` line
    /// (RFC 8839 §5.1), without `a=`.
    Candidate {
        /// E.g. `candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host`.
        candidate: String,
    },
    /// No more candidates (RFC 8838 §4.3).
    EndOfCandidates,
    /// The sender is leaving.
    Bye,
}

/// Whether `room` is an acceptable room name; `Err` says why not.
pub fn check_room(room: &str) -> Result<(), String> {
    let chars = room.chars().count();
    if chars == 0 {
        return Err("the room name is empty".into());
    }
    if chars > MAX_ROOM_NAME {
        return Err(format!(
            "the room name has {chars} characters; at most {MAX_ROOM_NAME}"
        ));
    }
    if room.chars().any(char::is_control) {
        return Err("the room name contains control characters".into());
    }
    Ok(())
}

/// Whether a line from a paired peer may be forwarded: a JSON object whose
/// `type` is a string the server does not reserve. `Err` says why not.
pub fn check_forwardable(line: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("the line is not JSON ({e})"))?;
    let Some(kind) = value.get("type").and_then(serde_json::Value::as_str) else {
        return Err("the line is not a JSON object with a string `type`".into());
    };
    if SERVER_TYPES.contains(&kind) {
        return Err(format!(
            "`{kind}` messages come from the server only, or are the first line (`join`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        assert_eq!(
            j(&ClientMessage::Join { room: "R".into() }),
            r#"{"type":"join","room":"R"}"#
        );
        assert_eq!(
            j(&ServerMessage::Paired {
                role: Role::Controlling
            }),
            r#"{"type":"paired","role":"controlling"}"#
        );
        assert_eq!(j(&ServerMessage::PeerLeft), r#"{"type":"peer-left"}"#);
        assert_eq!(
            j(&ServerMessage::Error {
                message: "m".into()
            }),
            r#"{"type":"error","message":"m"}"#
        );
        assert_eq!(
            j(&PeerMessage::Credentials {
                ufrag: "u".into(),
                pwd: "p".into()
            }),
            r#"{"type":"credentials","ufrag":"u","pwd":"p"}"#
        );
        assert_eq!(
            j(&PeerMessage::Candidate {
                candidate: "c".into()
            }),
            r#"{"type":"candidate","candidate":"c"}"#
        );
        assert_eq!(
            j(&PeerMessage::EndOfCandidates),
            r#"{"type":"end-of-candidates"}"#
        );
        assert_eq!(j(&PeerMessage::Bye), r#"{"type":"bye"}"#);
    }

    fn j<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn rooms_and_forwarding_rules() {
        assert!(check_room("lobby").is_ok());
        assert!(check_room("").is_err());
        assert!(check_room(&"x".repeat(MAX_ROOM_NAME)).is_ok());
        assert!(check_room(&"x".repeat(MAX_ROOM_NAME + 1)).is_err());
        assert!(check_room("a\nb").is_err());
        assert!(check_forwardable(r#"{"type":"bye"}"#).is_ok());
        assert!(check_forwardable(r#"{"type":"custom","x":1}"#).is_ok());
        for bad in [
            "garbage",
            "[1,2]",
            r#"{"kind":"bye"}"#,
            r#"{"type":7}"#,
            r#"{"type":"peer-left"}"#,
            r#"{"type":"paired","role":"controlling"}"#,
            r#"{"type":"join","room":"x"}"#,
        ] {
            assert!(check_forwardable(bad).is_err(), "{bad}");
        }
    }
}
