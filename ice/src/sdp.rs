//! The SDP attributes of ICE: parsing and writing candidate lines and the
//! session and media-level ICE attributes.
//!
//! - RFC 8839 §5.1, the `candidate` attribute:
//!   `candidate:<foundation> <component-id> <transport> <priority>
//!   <connection-address> <port> typ <cand-type> [raddr <addr> rport <port>]
//!   *(<extension-att-name> <extension-att-value>)`. See [`parse_candidate`]
//!   and [`write_candidate`].
//! - RFC 8839 §5.3 `ice-lite`, §5.4 `ice-ufrag` / `ice-pwd` (lengths and
//!   charset checked by [`crate::credentials`]), §5.5 `ice-pacing`, §5.6
//!   `ice-options` (RFC 8838 §3 defines the `trickle` option), and the
//!   trickle end-of-candidates indication `end-of-candidates` (RFC 8838,
//!   attribute defined by RFC 8840): [`IceAttribute`].
//! - [`parse_sdp`]: the ICE parameters of each media section of a whole
//!   SDP blob, with the session-level fallbacks of RFC 8839 §5.
//!
//! Not implemented: `remote-candidates` and `ice-mismatch` (RFC 8839 §5.2,
//! §5.3), which only SIP offer/answer uses; they parse as
//! [`SdpError::NotIceAttribute`].
//!
//! # Liberal in what is accepted
//!
//! - A candidate line may come with or without `a=`, and with or without
//!   the `candidate:` prefix (browsers hand `candidate:…` strings to
//!   JavaScript). Fields may be separated by runs of spaces or tabs;
//!   surrounding whitespace and a line end are ignored.
//! - Keywords (`UDP`, `typ`, `host`, `raddr`, …) match case-insensitively,
//!   as RFC 5234 ABNF strings do. Numbers may have leading zeros within
//!   their digit limits.
//! - `raddr`/`rport` are kept for any candidate type, including the
//!   `0.0.0.0`/`::` and port 0 that browsers send to hide the base. An
//!   `raddr` that is a (well-formed) host name, which [`Candidate::related`]
//!   cannot hold, is dropped: the related address is informational (RFC
//!   8839 §5.1), so the candidate is still usable.
//! - Extension attributes are kept in order, unknown ones included. Their
//!   names and values may be any visible ASCII (`VCHAR`), which is wider
//!   than the RFC's `token` for names. The keywords `typ`, `raddr` and
//!   `rport` cannot be extension names, since writing them back would
//!   change the meaning of the line.
//!
//! # Canonical writing
//!
//! [`write_candidate`] writes single spaces, the transport as `UDP` / `TCP`
//! (the spelling of the RFC 8839 grammar and examples, also what Firefox and
//! libnice send; Chrome and pion send lowercase, and every parser we know of
//! accepts either), the type and `typ`/`raddr`/`rport` in lowercase, and
//! numbers without leading zeros. For every candidate it accepts,
//! `parse_candidate(&write_candidate(c)?) == Ok(c)`, except that an IPv6
//! scope id or flow label is not written (SDP has no place for either,
//! and neither means anything to the peer). For every line `parse_candidate`
//! accepts, writing the result gives the canonical form of that line.
//!
//! # Bounds
//!
//! No input can panic. Lines longer than [`MAX_LINE_LEN`] bytes and
//! candidates with more than [`MAX_EXTENSIONS`] extension pairs are
//! rejected before or while scanning, so the work per line is bounded.
//! An attribute is accepted only if its canonical line, with `a=` and
//! CRLF, also fits in [`MAX_LINE_LEN`] (it can be a few bytes longer than
//! the given one: a missing `candidate:` prefix, an IPv6 address written
//! differently), so that whatever parses can be written and parsed back.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::candidate::{Candidate, CandidateAddress, CandidateType, TransportProtocol};
use crate::credentials::{self, CredentialsError, is_ice_char};

/// The longest line accepted, in bytes, counting everything given
/// (`a=`, the attribute name, a line end). Writers keep below it with room
/// for `a=` and CRLF, so that anything written parses back.
pub const MAX_LINE_LEN: usize = 1024;

/// The most extension attribute pairs a candidate line may carry.
pub const MAX_EXTENSIONS: usize = 32;

/// The longest foundation (RFC 8839 §5.1: `1*32ice-char`).
pub const MAX_FOUNDATION_LEN: usize = 32;

/// The longest host name accepted as a connection address (RFC 1035
/// §2.3.4: 255 octets on the wire, 253 characters written out).
pub const MAX_HOST_NAME_LEN: usize = 253;

/// The longest label of a host name (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Room left in [`MAX_LINE_LEN`] for `a=` and CRLF when writing.
const WRITE_LIMIT: usize = MAX_LINE_LEN - "a=".len() - "\r\n".len();

/// The longest excerpt of the input kept in an error.
const EXCERPT_LEN: usize = 64;

/// A field of an ICE attribute, named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `foundation`.
    Foundation,
    /// `component-id`.
    Component,
    /// `transport`.
    Transport,
    /// `priority`.
    Priority,
    /// `connection-address`.
    Address,
    /// `port`.
    Port,
    /// The `typ` keyword and `cand-type`.
    CandidateType,
    /// The address after `raddr`.
    RelatedAddress,
    /// The port after `rport`.
    RelatedPort,
    /// An `extension-att-name`.
    ExtensionName,
    /// An `extension-att-value`.
    ExtensionValue,
    /// A tag of `ice-options`.
    IceOption,
    /// The value of `ice-pacing`.
    Pacing,
}

impl Field {
    /// The field's name as errors show it.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Foundation => "foundation",
            Field::Component => "component id",
            Field::Transport => "transport",
            Field::Priority => "priority",
            Field::Address => "connection address",
            Field::Port => "port",
            Field::CandidateType => "candidate type",
            Field::RelatedAddress => "related address (raddr)",
            Field::RelatedPort => "related port (rport)",
            Field::ExtensionName => "extension attribute name",
            Field::ExtensionValue => "extension attribute value",
            Field::IceOption => "ice-options tag",
            Field::Pacing => "ice-pacing value",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a connection or related address was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// Digits and dots, or a name whose last label is all digits (no
    /// top-level domain is, RFC 3696 §2), that is not an IPv4 address.
    Ipv4,
    /// Contains `:` but is not an IPv6 address (zones such as `%eth0` and
    /// brackets are not accepted).
    Ipv6,
    /// A host name longer than [`MAX_HOST_NAME_LEN`].
    NameTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A host name with an empty label (leading, trailing or double dot).
    EmptyLabel,
    /// A host name label longer than 63 characters.
    LabelTooLong {
        /// The label's length.
        len: usize,
    },
    /// A character other than a letter, digit, `-` or `.` in a host name
    /// (RFC 8866 `FQDN`).
    NameChar {
        /// The character.
        ch: char,
    },
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Ipv4 => f.write_str("is not a valid IPv4 address"),
            AddressError::Ipv6 => f.write_str("is not a valid IPv6 address"),
            AddressError::NameTooLong { len } => {
                write!(
                    f,
                    "is a host name of {len} bytes, longer than {MAX_HOST_NAME_LEN}"
                )
            }
            AddressError::EmptyLabel => f.write_str("is a host name with an empty label"),
            AddressError::LabelTooLong { len } => {
                write!(
                    f,
                    "is a host name with a label of {len} characters, longer than {MAX_LABEL_LEN}"
                )
            }
            AddressError::NameChar { ch } => {
                write!(
                    f,
                    "is neither an IP address nor a host name: {ch:?} is not allowed in a host name"
                )
            }
        }
    }
}

/// Why an ICE attribute line was rejected. Every variant names the field
/// at fault; excerpts of the input are cut to 64 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SdpError {
    /// The line is longer than [`MAX_LINE_LEN`] bytes (or, when writing,
    /// would not fit in it with `a=` and CRLF).
    LineTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The line ends before this field.
    Missing {
        /// The missing field.
        field: Field,
    },
    /// A character that the field's grammar does not allow.
    InvalidChar {
        /// The field.
        field: Field,
        /// The character.
        ch: char,
        /// Its position in the field, counted in characters from 0.
        index: usize,
    },
    /// A field whose length is outside what its grammar allows.
    Length {
        /// The field.
        field: Field,
        /// Its length in characters.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A numeric field that is not a run of decimal digits.
    NotANumber {
        /// The field.
        field: Field,
        /// What was found instead.
        found: String,
    },
    /// A numeric field with more digits than its grammar allows.
    TooManyDigits {
        /// The field.
        field: Field,
        /// The number of digits.
        digits: usize,
        /// The most allowed.
        max: usize,
    },
    /// A number outside the field's range.
    OutOfRange {
        /// The field.
        field: Field,
        /// The value.
        value: u64,
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
    },
    /// A transport other than UDP and TCP. RFC 8839 §5.1 leaves room for
    /// extensions: a receiver skips such a candidate and goes on.
    UnknownTransport {
        /// The transport as given.
        transport: String,
    },
    /// A candidate type other than host, srflx, prflx and relay; skipped
    /// like an unknown transport.
    UnknownCandidateType {
        /// The type as given.
        kind: String,
    },
    /// Something other than `typ` after the port.
    ExpectedTyp {
        /// What was found.
        found: String,
    },
    /// A connection or related address that is neither an IP address nor
    /// a host name.
    InvalidAddress {
        /// [`Field::Address`] or [`Field::RelatedAddress`].
        field: Field,
        /// The address as given.
        found: String,
        /// What is wrong with it.
        reason: AddressError,
    },
    /// `raddr` without the `rport` that must follow it.
    RelatedAddressWithoutPort,
    /// `rport` without `raddr` before it.
    RelatedPortWithoutAddress,
    /// `typ`, `raddr` or `rport` where an extension attribute name is
    /// expected: repeated, or after the extensions.
    MisplacedKeyword {
        /// The keyword as given.
        keyword: String,
    },
    /// An extension attribute name with no value after it.
    ExtensionWithoutValue {
        /// The name.
        name: String,
    },
    /// More than [`MAX_EXTENSIONS`] extension attribute pairs.
    TooManyExtensions,
    /// An attribute that is not one of the ICE attributes of
    /// [`IceAttribute`] (or a line that is no attribute at all).
    NotIceAttribute {
        /// The attribute name as given.
        name: String,
    },
    /// A value after an attribute that takes none (`ice-lite`,
    /// `end-of-candidates`).
    UnexpectedValue {
        /// The attribute.
        attribute: &'static str,
    },
    /// An `ice-ufrag` or `ice-pwd` outside RFC 8839 §5.4.
    Credentials(CredentialsError),
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::LineTooLong { len } => {
                write!(
                    f,
                    "line of {len} bytes is longer than the {MAX_LINE_LEN} accepted"
                )
            }
            SdpError::Missing { field } => write!(f, "the line ends before the {field}"),
            SdpError::InvalidChar { field, ch, index } => {
                write!(
                    f,
                    "{field} has {ch:?} at character {index}, which its grammar does not allow"
                )
            }
            SdpError::Length {
                field,
                len,
                min,
                max,
            } => {
                write!(f, "{field} is {len} characters long, outside {min}..={max}")
            }
            SdpError::NotANumber { field, found } => {
                write!(f, "{field} {found:?} is not a decimal number")
            }
            SdpError::TooManyDigits { field, digits, max } => {
                write!(f, "{field} has {digits} digits, more than {max}")
            }
            SdpError::OutOfRange {
                field,
                value,
                min,
                max,
            } => {
                write!(f, "{field} {value} is outside {min}..={max}")
            }
            SdpError::UnknownTransport { transport } => {
                write!(
                    f,
                    "unknown transport {transport:?} (UDP and TCP are known); skip this candidate"
                )
            }
            SdpError::UnknownCandidateType { kind } => write!(
                f,
                "unknown candidate type {kind:?} (host, srflx, prflx and relay are known); skip this candidate"
            ),
            SdpError::ExpectedTyp { found } => {
                write!(f, "expected \"typ\" after the port, found {found:?}")
            }
            SdpError::InvalidAddress {
                field,
                found,
                reason,
            } => write!(f, "{field} {found:?} {reason}"),
            SdpError::RelatedAddressWithoutPort => f.write_str("raddr is not followed by rport"),
            SdpError::RelatedPortWithoutAddress => f.write_str("rport without raddr before it"),
            SdpError::MisplacedKeyword { keyword } => {
                write!(
                    f,
                    "{keyword:?} is out of place: repeated, or after the extension attributes"
                )
            }
            SdpError::ExtensionWithoutValue { name } => {
                write!(f, "extension attribute {name:?} has no value")
            }
            SdpError::TooManyExtensions => {
                write!(f, "more than {MAX_EXTENSIONS} extension attribute pairs")
            }
            SdpError::NotIceAttribute { name } => write!(f, "{name:?} is not an ICE attribute"),
            SdpError::UnexpectedValue { attribute } => write!(f, "{attribute} takes no value"),
            SdpError::Credentials(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SdpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SdpError::Credentials(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CredentialsError> for SdpError {
    fn from(e: CredentialsError) -> SdpError {
        SdpError::Credentials(e)
    }
}

/// At most [`EXCERPT_LEN`] characters of `s`, for an error.
fn excerpt(s: &str) -> String {
    s.chars().take(EXCERPT_LEN).collect()
}

/// SDP whitespace between fields: SP, and HTAB leniently.
fn is_separator(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Strips `prefix` from `s`, ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// The fields of a line, split at runs of separators.
fn fields(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_separator).filter(|t| !t.is_empty())
}

/// The next field, which must be there.
fn require<'a>(
    fields: &mut impl Iterator<Item = &'a str>,
    field: Field,
) -> Result<&'a str, SdpError> {
    fields.next().ok_or(SdpError::Missing { field })
}

/// A run of at most `max_digits` decimal digits with a value in
/// `min..=max`.
fn parse_decimal(
    field: Field,
    s: &str,
    max_digits: usize,
    min: u64,
    max: u64,
) -> Result<u64, SdpError> {
    if s.is_empty() {
        return Err(SdpError::Missing { field });
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SdpError::NotANumber {
            field,
            found: excerpt(s),
        });
    }
    if s.len() > max_digits {
        return Err(SdpError::TooManyDigits {
            field,
            digits: s.len(),
            max: max_digits,
        });
    }
    let value = s.bytes().fold(0u64, |v, b| {
        v.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    if value < min || value > max {
        return Err(SdpError::OutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(value)
}

fn parse_u16(
    field: Field,
    s: &str,
    max_digits: usize,
    min: u16,
    max: u16,
) -> Result<u16, SdpError> {
    let v = parse_decimal(field, s, max_digits, u64::from(min), u64::from(max))?;
    u16::try_from(v).map_err(|_| SdpError::OutOfRange {
        field,
        value: v,
        min: u64::from(min),
        max: u64::from(max),
    })
}

fn parse_u32(field: Field, s: &str) -> Result<u32, SdpError> {
    let max = u64::from(u32::MAX);
    let v = parse_decimal(field, s, 10, 0, max)?;
    u32::try_from(v).map_err(|_| SdpError::OutOfRange {
        field,
        value: v,
        min: 0,
        max,
    })
}

/// `port` (RFC 8866): `1*5DIGIT`, 0..=65535.
fn parse_port(field: Field, s: &str) -> Result<u16, SdpError> {
    parse_u16(field, s, 5, 0, u16::MAX)
}

/// Checks `s` is 1..=`max` chars of which `allowed` accepts each.
fn check_chars(
    field: Field,
    s: &str,
    min: usize,
    max: usize,
    allowed: fn(char) -> bool,
) -> Result<(), SdpError> {
    let mut len = 0usize;
    for (index, ch) in s.chars().enumerate() {
        if !allowed(ch) {
            return Err(SdpError::InvalidChar { field, ch, index });
        }
        len = index + 1;
    }
    if len < min || len > max {
        return Err(SdpError::Length {
            field,
            len,
            min,
            max,
        });
    }
    Ok(())
}

/// `foundation = 1*32ice-char` (RFC 8839 §5.1).
fn check_foundation(s: &str) -> Result<(), SdpError> {
    check_chars(Field::Foundation, s, 1, MAX_FOUNDATION_LEN, is_ice_char)
}

/// Visible ASCII, `VCHAR` of RFC 5234.
fn is_vchar(c: char) -> bool {
    c.is_ascii_graphic()
}

/// The keywords that cannot be extension names.
fn is_keyword(s: &str) -> bool {
    ["typ", "raddr", "rport"]
        .iter()
        .any(|k| s.eq_ignore_ascii_case(k))
}

fn check_extension(name: &str, value: &str) -> Result<(), SdpError> {
    if is_keyword(name) {
        return Err(SdpError::MisplacedKeyword {
            keyword: excerpt(name),
        });
    }
    check_chars(Field::ExtensionName, name, 1, usize::MAX, is_vchar)?;
    if value.is_empty() {
        return Err(SdpError::ExtensionWithoutValue {
            name: excerpt(name),
        });
    }
    check_chars(Field::ExtensionValue, value, 1, usize::MAX, is_vchar)
}

fn parse_transport(s: &str) -> Result<TransportProtocol, SdpError> {
    if s.eq_ignore_ascii_case("udp") {
        Ok(TransportProtocol::Udp)
    } else if s.eq_ignore_ascii_case("tcp") {
        Ok(TransportProtocol::Tcp)
    } else {
        Err(SdpError::UnknownTransport {
            transport: excerpt(s),
        })
    }
}

fn transport_name(t: TransportProtocol) -> &'static str {
    match t {
        TransportProtocol::Udp => "UDP",
        TransportProtocol::Tcp => "TCP",
    }
}

fn parse_candidate_type(s: &str) -> Result<CandidateType, SdpError> {
    [
        CandidateType::Host,
        CandidateType::ServerReflexive,
        CandidateType::PeerReflexive,
        CandidateType::Relayed,
    ]
    .into_iter()
    .find(|k| s.eq_ignore_ascii_case(k.sdp_name()))
    .ok_or_else(|| SdpError::UnknownCandidateType { kind: excerpt(s) })
}

/// A connection address (RFC 8866 `unicast-address`): an IPv4 or IPv6
/// address, or else a host name (an FQDN or an mDNS `.local` name).
fn parse_address(field: Field, s: &str) -> Result<AddressOrName, SdpError> {
    if let Ok(v4) = s.parse::<Ipv4Addr>() {
        return Ok(AddressOrName::Ip(IpAddr::V4(v4)));
    }
    if let Ok(v6) = s.parse::<Ipv6Addr>() {
        return Ok(AddressOrName::Ip(IpAddr::V6(v6)));
    }
    check_host_name(s).map_err(|reason| SdpError::InvalidAddress {
        field,
        found: excerpt(s),
        reason,
    })?;
    Ok(AddressOrName::Name)
}

enum AddressOrName {
    Ip(IpAddr),
    Name,
}

/// A host name: dot-separated labels of letters, digits and `-` (RFC 8866
/// `FQDN`, RFC 1035 §2.3.4 lengths), whose last label is not all digits
/// (RFC 3696 §2), so that it cannot be mistaken for an IPv4 address.
/// Called only on strings that are not IP addresses.
fn check_host_name(s: &str) -> Result<(), AddressError> {
    if s.contains(':') {
        return Err(AddressError::Ipv6);
    }
    if let Some(ch) = s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(AddressError::NameChar { ch });
    }
    let last = s.rsplit('.').next().unwrap_or(s);
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::Ipv4);
    }
    if s.len() > MAX_HOST_NAME_LEN {
        return Err(AddressError::NameTooLong { len: s.len() });
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(AddressError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(AddressError::LabelTooLong { len: label.len() });
        }
    }
    Ok(())
}

/// Parses a candidate line (RFC 8839 §5.1).
///
/// Accepts `a=candidate:…`, `candidate:…` (the form browsers hand to
/// JavaScript) and the bare fields `<foundation> <component> …`; see the
/// module documentation for what is accepted leniently. Lines longer than
/// [`MAX_LINE_LEN`] bytes are rejected.
///
/// [`SdpError::UnknownTransport`] and [`SdpError::UnknownCandidateType`]
/// mean a candidate of an extension this agent does not know: skip it and
/// go on. The other errors mean a malformed line.
///
/// ```
/// use ice::candidate::{CandidateAddress, CandidateType};
/// use ice::sdp::{parse_candidate, write_candidate};
///
/// let line = "candidate:842163049 1 udp 1677729535 203.0.113.7 40075 typ srflx \
///             raddr 192.168.1.5 rport 40075 generation 0 ufrag sXt1";
/// let c = parse_candidate(line)?;
/// assert_eq!(c.kind, CandidateType::ServerReflexive);
/// assert_eq!(c.address, CandidateAddress::Ip("203.0.113.7:40075".parse()?));
/// assert_eq!(c.extensions[1], ("ufrag".to_string(), "sXt1".to_string()));
/// assert_eq!(
///     write_candidate(&c)?,
///     "candidate:842163049 1 UDP 1677729535 203.0.113.7 40075 typ srflx \
///      raddr 192.168.1.5 rport 40075 generation 0 ufrag sXt1"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_candidate(line: &str) -> Result<Candidate, SdpError> {
    if line.len() > MAX_LINE_LEN {
        return Err(SdpError::LineTooLong { len: line.len() });
    }
    let s = line.trim_matches(|c: char| c.is_ascii_whitespace());
    let s = s.strip_prefix("a=").unwrap_or(s);
    let s = strip_prefix_ignore_case(s, "candidate:").unwrap_or(s);
    parse_candidate_fields(s)
}

/// The fields after `candidate:`.
fn parse_candidate_fields(s: &str) -> Result<Candidate, SdpError> {
    let mut fields = fields(s);

    let foundation = require(&mut fields, Field::Foundation)?;
    check_foundation(foundation)?;
    let component = parse_u16(
        Field::Component,
        require(&mut fields, Field::Component)?,
        3,
        1,
        256,
    )?;
    let transport = parse_transport(require(&mut fields, Field::Transport)?)?;
    let priority = parse_u32(Field::Priority, require(&mut fields, Field::Priority)?)?;
    let address = require(&mut fields, Field::Address)?;
    let port = parse_port(Field::Port, require(&mut fields, Field::Port)?)?;
    let address = match parse_address(Field::Address, address)? {
        AddressOrName::Ip(ip) => CandidateAddress::Ip(SocketAddr::new(ip, port)),
        AddressOrName::Name => CandidateAddress::Name {
            name: address.to_owned(),
            port,
        },
    };

    let typ = require(&mut fields, Field::CandidateType)?;
    if !typ.eq_ignore_ascii_case("typ") {
        return Err(SdpError::ExpectedTyp {
            found: excerpt(typ),
        });
    }
    let kind = parse_candidate_type(require(&mut fields, Field::CandidateType)?)?;

    let mut related = None;
    let mut next = fields.next();
    if next.is_some_and(|t| t.eq_ignore_ascii_case("raddr")) {
        let addr = require(&mut fields, Field::RelatedAddress)?;
        let addr = parse_address(Field::RelatedAddress, addr)?;
        match fields.next() {
            Some(t) if t.eq_ignore_ascii_case("rport") => {}
            _ => return Err(SdpError::RelatedAddressWithoutPort),
        }
        let rport = parse_port(
            Field::RelatedPort,
            require(&mut fields, Field::RelatedPort)?,
        )?;
        related = match addr {
            AddressOrName::Ip(ip) => Some(SocketAddr::new(ip, rport)),
            // A name cannot be held in `Candidate::related`; it is only
            // informational, so the candidate is kept without it.
            AddressOrName::Name => None,
        };
        next = fields.next();
    } else if next.is_some_and(|t| t.eq_ignore_ascii_case("rport")) {
        return Err(SdpError::RelatedPortWithoutAddress);
    }

    let mut extensions = Vec::new();
    while let Some(name) = next {
        if extensions.len() == MAX_EXTENSIONS {
            return Err(SdpError::TooManyExtensions);
        }
        let value = fields.next().unwrap_or("");
        check_extension(name, value)?;
        extensions.push((name.to_owned(), value.to_owned()));
        next = fields.next();
    }

    let candidate = Candidate {
        foundation: foundation.to_owned(),
        component,
        transport,
        priority,
        address,
        kind,
        related,
        extensions,
    };
    // Accept only what can be written back: the canonical line can be a
    // few bytes longer than the given one (no `candidate:` prefix given,
    // an IPv6 address written differently).
    let len = canonical_len(&candidate);
    if len > WRITE_LIMIT {
        return Err(SdpError::LineTooLong { len });
    }
    Ok(candidate)
}

/// Counts the bytes written through it.
struct LenCounter(usize);

impl fmt::Write for LenCounter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}

/// The length of `write_candidate`'s output for `c`, without allocating.
fn canonical_len(c: &Candidate) -> usize {
    let mut counter = LenCounter(0);
    // Neither the counter nor the writer ever fails.
    let _ = write_candidate_to(&mut counter, c);
    counter.0
}

/// The canonical `candidate:…` text of `c`, unchecked.
fn write_candidate_to<W: fmt::Write>(w: &mut W, c: &Candidate) -> fmt::Result {
    write!(
        w,
        "candidate:{} {} {} {} ",
        c.foundation,
        c.component,
        transport_name(c.transport),
        c.priority
    )?;
    match &c.address {
        CandidateAddress::Ip(a) => write!(w, "{} {}", a.ip(), a.port())?,
        CandidateAddress::Name { name, port } => write!(w, "{name} {port}")?,
    }
    write!(w, " typ {}", c.kind.sdp_name())?;
    if let Some(r) = c.related {
        write!(w, " raddr {} rport {}", r.ip(), r.port())?;
    }
    for (name, value) in &c.extensions {
        write!(w, " {name} {value}")?;
    }
    Ok(())
}

/// Writes a candidate as `candidate:…` (RFC 8839 §5.1), without `a=`: the
/// form of a browser's `RTCIceCandidate.candidate`. Prefix `a=` for an SDP
/// line, or use [`IceAttribute::write`].
///
/// The output is canonical (see the module documentation) and parses back
/// to `c`, IPv6 scope ids and flow labels aside. Fails, naming the field,
/// when `c` could not be parsed back: a foundation, component, host name or
/// extension outside the grammar, more than [`MAX_EXTENSIONS`]
/// extensions, or a line that would not fit in [`MAX_LINE_LEN`] with `a=`
/// and CRLF.
pub fn write_candidate(c: &Candidate) -> Result<String, SdpError> {
    check_foundation(&c.foundation)?;
    if !(1..=256).contains(&c.component) {
        return Err(SdpError::OutOfRange {
            field: Field::Component,
            value: u64::from(c.component),
            min: 1,
            max: 256,
        });
    }
    if let CandidateAddress::Name { name, .. } = &c.address {
        check_host_name(name).map_err(|reason| SdpError::InvalidAddress {
            field: Field::Address,
            found: excerpt(name),
            reason,
        })?;
    }
    if c.extensions.len() > MAX_EXTENSIONS {
        return Err(SdpError::TooManyExtensions);
    }
    for (name, value) in &c.extensions {
        check_extension(name, value)?;
    }

    let len = canonical_len(c);
    if len > WRITE_LIMIT {
        return Err(SdpError::LineTooLong { len });
    }
    let mut s = String::with_capacity(len);
    // Writing into a String cannot fail.
    let _ = write_candidate_to(&mut s, c);
    Ok(s)
}

/// One ICE attribute of an SDP (RFC 8839 §5, RFC 8838).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceAttribute {
    /// `a=ice-ufrag:<ufrag>` (RFC 8839 §5.4), 4..=256 ice-chars.
    Ufrag(String),
    /// `a=ice-pwd:<pwd>` (RFC 8839 §5.4), 22..=256 ice-chars.
    Pwd(String),
    /// `a=ice-options:<tag> *(SP <tag>)` (RFC 8839 §5.6), in order, unknown
    /// tags included. `trickle` (RFC 8838 §3) and `ice2` (RFC 8445 §10)
    /// are the known ones. Tags may be any visible ASCII, wider than the
    /// grammar's ice-chars.
    Options(Vec<String>),
    /// `a=ice-pacing:<ms>` (RFC 8839 §5.5).
    Pacing(u32),
    /// `a=ice-lite` (RFC 8839 §5.3).
    Lite,
    /// `a=end-of-candidates` (RFC 8838, RFC 8840): no more candidates will
    /// come for this generation.
    EndOfCandidates,
    /// `a=candidate:…` (RFC 8839 §5.1).
    Candidate(Candidate),
}

/// The `ice-options` tag of Trickle ICE (RFC 8838 §3).
pub const OPTION_TRICKLE: &str = "trickle";

/// The `ice-options` tag of an RFC 8445 agent (RFC 8445 §10).
pub const OPTION_ICE2: &str = "ice2";

const UFRAG: &str = "ice-ufrag";
const PWD: &str = "ice-pwd";
const OPTIONS: &str = "ice-options";
const PACING: &str = "ice-pacing";
const LITE: &str = "ice-lite";
const END_OF_CANDIDATES: &str = "end-of-candidates";
const CANDIDATE: &str = "candidate";

/// Whether `name` is an attribute that [`IceAttribute::parse`] handles.
fn is_ice_attribute_name(name: &str) -> bool {
    [
        UFRAG,
        PWD,
        OPTIONS,
        PACING,
        LITE,
        END_OF_CANDIDATES,
        CANDIDATE,
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

impl IceAttribute {
    /// The attribute's name (`ice-ufrag`, `candidate`, …).
    pub const fn name(&self) -> &'static str {
        match self {
            IceAttribute::Ufrag(_) => UFRAG,
            IceAttribute::Pwd(_) => PWD,
            IceAttribute::Options(_) => OPTIONS,
            IceAttribute::Pacing(_) => PACING,
            IceAttribute::Lite => LITE,
            IceAttribute::EndOfCandidates => END_OF_CANDIDATES,
            IceAttribute::Candidate(_) => CANDIDATE,
        }
    }

    /// Parses one attribute line, with or without `a=` (and its line end):
    /// `a=ice-ufrag:abcd`, `ice-lite`, `a=candidate:…`. Attribute names
    /// match case-insensitively. Any other attribute is
    /// [`SdpError::NotIceAttribute`].
    pub fn parse(line: &str) -> Result<IceAttribute, SdpError> {
        if line.len() > MAX_LINE_LEN {
            return Err(SdpError::LineTooLong { len: line.len() });
        }
        let s = line.trim_matches(|c: char| c.is_ascii_whitespace());
        let s = s.strip_prefix("a=").unwrap_or(s);
        let (name, text) = match s.split_once(':') {
            Some((name, value)) => (
                name.trim_matches(is_separator),
                value.trim_matches(is_separator),
            ),
            None => (s, ""),
        };
        if name.eq_ignore_ascii_case(CANDIDATE) {
            parse_candidate_fields(text).map(IceAttribute::Candidate)
        } else if name.eq_ignore_ascii_case(UFRAG) {
            credentials::validate_ufrag(text)?;
            Ok(IceAttribute::Ufrag(text.to_owned()))
        } else if name.eq_ignore_ascii_case(PWD) {
            credentials::validate_pwd(text)?;
            Ok(IceAttribute::Pwd(text.to_owned()))
        } else if name.eq_ignore_ascii_case(OPTIONS) {
            let tags = fields(text).map(str::to_owned).collect::<Vec<_>>();
            check_options(&tags)?;
            Ok(IceAttribute::Options(tags))
        } else if name.eq_ignore_ascii_case(PACING) {
            Ok(IceAttribute::Pacing(parse_u32(Field::Pacing, text)?))
        } else if name.eq_ignore_ascii_case(LITE) {
            no_value(LITE, text).map(|()| IceAttribute::Lite)
        } else if name.eq_ignore_ascii_case(END_OF_CANDIDATES) {
            no_value(END_OF_CANDIDATES, text).map(|()| IceAttribute::EndOfCandidates)
        } else {
            Err(SdpError::NotIceAttribute {
                name: excerpt(name),
            })
        }
    }

    /// Writes the attribute as an SDP line without its line end:
    /// `a=ice-ufrag:abcd`, `a=ice-lite`, `a=candidate:…`. Fails, naming the
    /// field, on values that [`IceAttribute::parse`] would reject, so that
    /// whatever is written parses back to `self` (IPv6 scope ids aside).
    pub fn write(&self) -> Result<String, SdpError> {
        let s = match self {
            IceAttribute::Ufrag(u) => {
                credentials::validate_ufrag(u)?;
                format!("a={UFRAG}:{u}")
            }
            IceAttribute::Pwd(p) => {
                credentials::validate_pwd(p)?;
                format!("a={PWD}:{p}")
            }
            IceAttribute::Options(tags) => {
                check_options(tags)?;
                format!("a={OPTIONS}:{}", tags.join(" "))
            }
            IceAttribute::Pacing(ms) => format!("a={PACING}:{ms}"),
            IceAttribute::Lite => format!("a={LITE}"),
            IceAttribute::EndOfCandidates => format!("a={END_OF_CANDIDATES}"),
            IceAttribute::Candidate(c) => format!("a={}", write_candidate(c)?),
        };
        if s.len() > MAX_LINE_LEN - "\r\n".len() {
            return Err(SdpError::LineTooLong { len: s.len() });
        }
        Ok(s)
    }
}

/// `ice-options = "ice-options:" ice-option-tag *(SP ice-option-tag)`
/// (RFC 8839 §5.6). The grammar's tags are `1*ice-char`; any visible
/// ASCII is accepted, so that one odd tag (old Chrome sent `google-ice`)
/// does not lose the others, `trickle` among them.
/// Also checks that the written line fits in [`MAX_LINE_LEN`] with CRLF.
fn check_options(tags: &[String]) -> Result<(), SdpError> {
    if tags.is_empty() {
        return Err(SdpError::Missing {
            field: Field::IceOption,
        });
    }
    let mut len = "a=ice-options:".len() + tags.len() - 1;
    for tag in tags {
        check_chars(Field::IceOption, tag, 1, usize::MAX, is_vchar)?;
        len = len.saturating_add(tag.len());
    }
    if len > MAX_LINE_LEN - "\r\n".len() {
        return Err(SdpError::LineTooLong { len });
    }
    Ok(())
}

fn no_value(attribute: &'static str, value: &str) -> Result<(), SdpError> {
    if value.is_empty() {
        Ok(())
    } else {
        Err(SdpError::UnexpectedValue { attribute })
    }
}

/// The ICE parameters of one media section (`m=` line) of an SDP, with the
/// session-level values applied (RFC 8839 §5: `ice-ufrag`, `ice-pwd`,
/// `ice-options`, `ice-lite` may be given for the whole session).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaIce {
    /// The media type, the first field of the `m=` line (`audio`, `video`,
    /// `application`, …).
    pub media: String,
    /// The `a=mid` value, if any (RFC 9143 bundling refers to it).
    pub mid: Option<String>,
    /// The media-level `ice-ufrag`, else the session-level one. The first
    /// one given at a level counts.
    pub ufrag: Option<String>,
    /// The media-level `ice-pwd`, else the session-level one.
    pub pwd: Option<String>,
    /// The `ice-options` tags of the session, then those of the media
    /// section, without repeats.
    pub options: Vec<String>,
    /// The `ice-pacing` of the media section, else of the session.
    pub pacing: Option<u32>,
    /// Whether `ice-lite` is present (it is a session-level attribute;
    /// a media-level one is honoured too).
    pub lite: bool,
    /// The candidates that parsed, in order. Those that did not are in
    /// [`SdpIce::errors`].
    pub candidates: Vec<Candidate>,
    /// Whether `end-of-candidates` is present, at media or session level.
    pub end_of_candidates: bool,
}

impl MediaIce {
    /// Whether the `trickle` ice-option is present (RFC 8838 §3).
    pub fn trickle(&self) -> bool {
        self.options.iter().any(|o| o == OPTION_TRICKLE)
    }
}

/// An ICE attribute line of an SDP that was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The line number, counted from 1.
    pub line: usize,
    /// Why it was rejected.
    pub error: SdpError,
}

/// The ICE parameters of a whole SDP, as [`parse_sdp`] finds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SdpIce {
    /// One entry per `m=` section, in order.
    pub media: Vec<MediaIce>,
    /// The ICE attribute lines that were rejected and skipped (candidates
    /// with an unknown transport land here too), in order.
    pub errors: Vec<LineError>,
}

/// Extracts the ICE parameters of each media section of an SDP blob.
///
/// Lines may end with CRLF or LF. Only ICE attributes, `m=` and `a=mid`
/// lines are looked at; everything else is ignored. A rejected ICE line is
/// recorded in [`SdpIce::errors`] and skipped, so one bad candidate does
/// not lose the others. Candidates at session level (not allowed by RFC
/// 8839 §5.1) are ignored.
pub fn parse_sdp(sdp: &str) -> SdpIce {
    #[derive(Default)]
    struct Level {
        ufrag: Option<String>,
        pwd: Option<String>,
        options: Vec<String>,
        pacing: Option<u32>,
        lite: bool,
        end_of_candidates: bool,
    }

    fn finish(session: &Level, media: MediaIce, level: Level) -> MediaIce {
        let mut options = Vec::new();
        for o in session.options.iter().chain(&level.options) {
            if !options.contains(o) {
                options.push(o.clone());
            }
        }
        MediaIce {
            ufrag: level.ufrag.or_else(|| session.ufrag.clone()),
            pwd: level.pwd.or_else(|| session.pwd.clone()),
            options,
            pacing: level.pacing.or(session.pacing),
            lite: session.lite || level.lite,
            end_of_candidates: session.end_of_candidates || level.end_of_candidates,
            ..media
        }
    }

    let mut out = SdpIce::default();
    let mut session = Level::default();
    // The media section being read and its own attributes.
    let mut current: Option<(MediaIce, Level)> = None;

    for (index, raw) in sdp.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(m) = line.strip_prefix("m=") {
            if let Some((media, level)) = current.take() {
                out.media.push(finish(&session, media, level));
            }
            let media = MediaIce {
                media: m.split(is_separator).next().unwrap_or("").to_owned(),
                ..MediaIce::default()
            };
            current = Some((media, Level::default()));
            continue;
        }
        let Some(attr) = line.strip_prefix("a=") else {
            continue;
        };
        let name = attr
            .split_once(':')
            .map_or(attr, |(n, _)| n)
            .trim_matches(is_separator);
        if name.eq_ignore_ascii_case("mid") {
            if let Some((media, _)) = current.as_mut()
                && media.mid.is_none()
            {
                media.mid = attr
                    .split_once(':')
                    .map(|(_, v)| v.trim_matches(is_separator).to_owned());
            }
            continue;
        }
        if !is_ice_attribute_name(name) {
            continue;
        }
        let attribute = match IceAttribute::parse(line) {
            Ok(a) => a,
            Err(error) => {
                out.errors.push(LineError {
                    line: index + 1,
                    error,
                });
                continue;
            }
        };
        let level = match current.as_mut() {
            Some((_, level)) => level,
            None => &mut session,
        };
        match attribute {
            IceAttribute::Ufrag(u) => {
                level.ufrag.get_or_insert(u);
            }
            IceAttribute::Pwd(p) => {
                level.pwd.get_or_insert(p);
            }
            IceAttribute::Options(tags) => level.options.extend(tags),
            IceAttribute::Pacing(ms) => {
                level.pacing.get_or_insert(ms);
            }
            IceAttribute::Lite => level.lite = true,
            IceAttribute::EndOfCandidates => level.end_of_candidates = true,
            IceAttribute::Candidate(c) => {
                if let Some((media, _)) = current.as_mut() {
                    media.candidates.push(c);
                }
            }
        }
    }
    if let Some((media, level)) = current.take() {
        out.media.push(finish(&session, media, level));
    }
    out
}

#[cfg(test)]
mod tests {
    //! Private helpers; the behaviour is tested in `ice/tests/sdp.rs`.
    use super::*;

    #[test]
    fn canonical_len_is_the_written_length() {
        for line in [
            "candidate:1 1 udp 1 192.0.2.1 9 typ host",
            "candidate:842163049 1 udp 1677729535 203.0.113.7 40075 typ srflx raddr 192.168.1.5 rport 40075 generation 0",
            "candidate:1 1 tcp 1 abcd.local 9 typ host tcptype passive",
            "candidate:1 1 udp 1 ::ffff:1.2.3.4 9 typ relay raddr :: rport 0",
        ] {
            let c = parse_candidate(line).unwrap();
            assert_eq!(
                canonical_len(&c),
                write_candidate(&c).unwrap().len(),
                "{line}"
            );
        }
    }

    #[test]
    fn host_names() {
        assert_eq!(
            check_host_name("a1b2c3d4-0000-4000-8000-000000000000.local"),
            Ok(())
        );
        assert_eq!(check_host_name("localhost"), Ok(()));
        assert_eq!(check_host_name("1e100.net"), Ok(()));
        assert_eq!(check_host_name("x.123a"), Ok(()));
        assert_eq!(check_host_name("x.123"), Err(AddressError::Ipv4));
        assert_eq!(check_host_name("123"), Err(AddressError::Ipv4));
        assert_eq!(check_host_name("a:b"), Err(AddressError::Ipv6));
        assert_eq!(check_host_name(""), Err(AddressError::EmptyLabel));
        assert_eq!(
            check_host_name("a_b"),
            Err(AddressError::NameChar { ch: '_' })
        );
    }

    #[test]
    fn decimals() {
        let f = Field::Port;
        assert_eq!(parse_decimal(f, "0", 5, 0, 9), Ok(0));
        assert_eq!(parse_decimal(f, "00009", 5, 0, 9), Ok(9));
        assert_eq!(
            parse_decimal(f, "", 5, 0, 9),
            Err(SdpError::Missing { field: f })
        );
        assert_eq!(
            parse_decimal(f, "000009", 5, 0, 9),
            Err(SdpError::TooManyDigits {
                field: f,
                digits: 6,
                max: 5
            })
        );
        assert_eq!(
            parse_decimal(f, "10", 5, 0, 9),
            Err(SdpError::OutOfRange {
                field: f,
                value: 10,
                min: 0,
                max: 9
            })
        );
        assert_eq!(parse_u32(f, "4294967295"), Ok(u32::MAX));
    }

    #[test]
    fn excerpts_cut_at_characters() {
        let s = "é".repeat(100);
        assert_eq!(excerpt(&s).chars().count(), EXCERPT_LEN);
        assert_eq!(excerpt("abc"), "abc");
    }

    #[test]
    fn prefixes_strip_case_insensitively_and_never_split_a_char() {
        assert_eq!(
            strip_prefix_ignore_case("CANDIDATE:x", "candidate:"),
            Some("x")
        );
        assert_eq!(strip_prefix_ignore_case("candidat", "candidate:"), None);
        assert_eq!(strip_prefix_ignore_case("candidatéx", "candidate:"), None);
    }
}
