//! ICE short-term credentials: the username fragment and password.
//!
//! - RFC 8445 §5.3: the ufrag MUST carry at least 24 bits of randomness and
//!   the password at least 128. [`Credentials::generate`] draws
//!   [`GENERATED_UFRAG_LEN`] = 8 ice-chars (48 bits) and
//!   [`GENERATED_PWD_LEN`] = 24 ice-chars (144 bits), each uniformly from
//!   the 64 ice-chars by taking 6 bits of the caller's RNG (64 is a power of
//!   two, so there is no modulo bias). The RNG comes from the caller: this
//!   module never reads ambient randomness (DESIGN.md principle 1).
//! - RFC 8839 §5.4: `ice-ufrag` is 4 to 256 ice-chars, `ice-pwd` 22 to 256;
//!   `ice-char = ALPHA / DIGIT / "+" / "/"`. [`Credentials::new`] and
//!   [`validate_ufrag`] / [`validate_pwd`] enforce exactly that.
//! - RFC 8445 §7.2.2: a connectivity check carries the USERNAME
//!   `RFRAG:LFRAG`, the receiver's (remote) ufrag first, then the sender's
//!   (local) one: see [`check_username`] and, on the receiving side,
//!   [`split_username`].

use std::fmt;

/// The shortest `ice-ufrag` RFC 8839 §5.4 allows (`4*256ice-char`).
pub const UFRAG_MIN_LEN: usize = 4;
/// The longest `ice-ufrag` RFC 8839 §5.4 allows.
pub const UFRAG_MAX_LEN: usize = 256;
/// The shortest `ice-pwd` RFC 8839 §5.4 allows (`22*256ice-char`).
pub const PWD_MIN_LEN: usize = 22;
/// The longest `ice-pwd` RFC 8839 §5.4 allows.
pub const PWD_MAX_LEN: usize = 256;

/// Length of a generated ufrag: 8 ice-chars, 48 random bits.
pub const GENERATED_UFRAG_LEN: usize = 8;
/// Length of a generated password: 24 ice-chars, 144 random bits.
pub const GENERATED_PWD_LEN: usize = 24;

/// Random bits per generated ice-char: the alphabet has 2^6 = 64 symbols.
const BITS_PER_CHAR: usize = 6;

// RFC 8445 §5.3 MUSTs (at least 24 and 128 random bits), and the RFC 8839
// §5.4 length limits, checked at compile time.
const _: () = {
    assert!(GENERATED_UFRAG_LEN * BITS_PER_CHAR >= 24);
    assert!(GENERATED_PWD_LEN * BITS_PER_CHAR >= 128);
    assert!(GENERATED_UFRAG_LEN >= UFRAG_MIN_LEN && GENERATED_UFRAG_LEN <= UFRAG_MAX_LEN);
    assert!(GENERATED_PWD_LEN >= PWD_MIN_LEN && GENERATED_PWD_LEN <= PWD_MAX_LEN);
};

/// The 64 ice-chars (RFC 8839 §5.1 `ice-char`), indexed by 6 random bits.
const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Whether `c` is an `ice-char` (RFC 8839 §5.1): `ALPHA / DIGIT / "+" / "/"`.
pub const fn is_ice_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

/// Which credential string an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialPart {
    /// The username fragment (`ice-ufrag`).
    Ufrag,
    /// The password (`ice-pwd`).
    Pwd,
    /// The part of a received USERNAME before the colon: the receiver's
    /// own ufrag.
    UsernameLocal,
    /// The part of a received USERNAME after the colon: the sender's ufrag.
    UsernameRemote,
}

impl fmt::Display for CredentialPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialPart::Ufrag => "ice-ufrag",
            CredentialPart::Pwd => "ice-pwd",
            CredentialPart::UsernameLocal => "USERNAME's local ufrag (before the colon)",
            CredentialPart::UsernameRemote => "USERNAME's remote ufrag (after the colon)",
        })
    }
}

/// A ufrag, password or USERNAME that RFC 8839 §5.4 / RFC 8445 §7.2.2
/// does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The string's length (in characters) is outside `min..=max`.
    Length {
        /// The string.
        part: CredentialPart,
        /// Its length in characters.
        len: usize,
        /// The shortest allowed.
        min: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A character that is not an ice-char (`ALPHA / DIGIT / "+" / "/"`).
    InvalidChar {
        /// The string.
        part: CredentialPart,
        /// The character.
        ch: char,
        /// Its position, counted in characters from 0.
        index: usize,
    },
    /// A received USERNAME without the `:` between the two ufrags.
    MissingColon,
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::Length {
                part,
                len,
                min,
                max,
            } => {
                write!(f, "{part} is {len} characters long, outside {min}..={max}")
            }
            CredentialsError::InvalidChar { part, ch, index } => write!(
                f,
                "{part} has {ch:?} at character {index}, which is not an ice-char (ALPHA / DIGIT / \"+\" / \"/\")"
            ),
            CredentialsError::MissingColon => {
                f.write_str("USERNAME has no ':' between the remote and local ufrags")
            }
        }
    }
}

impl std::error::Error for CredentialsError {}

fn validate(part: CredentialPart, s: &str, min: usize, max: usize) -> Result<(), CredentialsError> {
    let mut len = 0usize;
    for (index, ch) in s.chars().enumerate() {
        if !is_ice_char(ch) {
            return Err(CredentialsError::InvalidChar { part, ch, index });
        }
        len = index + 1;
    }
    if len < min || len > max {
        return Err(CredentialsError::Length {
            part,
            len,
            min,
            max,
        });
    }
    Ok(())
}

/// Checks an `ice-ufrag` (RFC 8839 §5.4): 4 to 256 ice-chars.
pub fn validate_ufrag(ufrag: &str) -> Result<(), CredentialsError> {
    validate(CredentialPart::Ufrag, ufrag, UFRAG_MIN_LEN, UFRAG_MAX_LEN)
}

/// Checks an `ice-pwd` (RFC 8839 §5.4): 22 to 256 ice-chars.
pub fn validate_pwd(pwd: &str) -> Result<(), CredentialsError> {
    validate(CredentialPart::Pwd, pwd, PWD_MIN_LEN, PWD_MAX_LEN)
}

/// An agent's ICE username fragment and password, valid by construction
/// (RFC 8839 §5.4 lengths and charset).
///
/// `Debug` shows the ufrag but not the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    ufrag: String,
    pwd: String,
}

impl Credentials {
    /// Credentials from given strings, checked against RFC 8839 §5.4
    /// (ufrag 4..=256 and password 22..=256 ice-chars).
    pub fn new(
        ufrag: impl Into<String>,
        pwd: impl Into<String>,
    ) -> Result<Credentials, CredentialsError> {
        let (ufrag, pwd) = (ufrag.into(), pwd.into());
        validate_ufrag(&ufrag)?;
        validate_pwd(&pwd)?;
        Ok(Credentials { ufrag, pwd })
    }

    /// Fresh random credentials (RFC 8445 §5.3): an 8-char ufrag (48 bits)
    /// and a 24-char password (144 bits), each char drawn uniformly from the
    /// 64 ice-chars using 6 bits of `rng`. The same RNG state gives the same
    /// credentials.
    pub fn generate<R: rand_core::Rng + ?Sized>(rng: &mut R) -> Credentials {
        let ufrag = random_ice_chars(rng, GENERATED_UFRAG_LEN);
        let pwd = random_ice_chars(rng, GENERATED_PWD_LEN);
        Credentials { ufrag, pwd }
    }

    /// The username fragment.
    pub fn ufrag(&self) -> &str {
        &self.ufrag
    }

    /// The password: the key of MESSAGE-INTEGRITY on checks sent to this
    /// agent (RFC 8445 §7.2.2).
    pub fn pwd(&self) -> &str {
        &self.pwd
    }

    /// The USERNAME of a check that this agent (whose credentials these are)
    /// sends to `remote`: `remote_ufrag:local_ufrag` (RFC 8445 §7.2.2).
    pub fn check_username(&self, remote: &Credentials) -> String {
        check_username(&remote.ufrag, &self.ufrag)
    }

    /// Whether a received check's USERNAME is addressed to this agent: its
    /// part before the colon is our ufrag (RFC 8445 §7.3). The part after
    /// the colon is not compared: it may belong to a peer whose credentials
    /// have not arrived yet.
    pub fn is_addressed_to_us(&self, username: &str) -> bool {
        split_username(username).is_ok_and(|u| u.local_ufrag == self.ufrag)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("ufrag", &self.ufrag)
            .field("pwd", &format_args!("<{} chars, redacted>", self.pwd.len()))
            .finish()
    }
}

/// The USERNAME of a connectivity check (RFC 8445 §7.2.2):
/// `remote_ufrag:local_ufrag`, where `remote_ufrag` is the ufrag of the
/// agent receiving the check and `local_ufrag` that of the sender.
pub fn check_username(remote_ufrag: &str, local_ufrag: &str) -> String {
    let mut s = String::with_capacity(remote_ufrag.len() + 1 + local_ufrag.len());
    s.push_str(remote_ufrag);
    s.push(':');
    s.push_str(local_ufrag);
    s
}

/// A received check's USERNAME split at its colon, seen from the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedUsername<'a> {
    /// The part before the colon: the sender's idea of our ufrag, which
    /// must equal our own for the check to be for us.
    pub local_ufrag: &'a str,
    /// The part after the colon: the sender's own ufrag.
    pub remote_ufrag: &'a str,
}

/// Splits the USERNAME of a received check (RFC 8445 §7.2.2 and §7.3) into
/// our ufrag (first) and the sender's (second), checking that both are
/// RFC 8839 §5.4 ufrags. A ufrag cannot contain `:`, so the split is at the
/// only colon; a second colon is rejected as a bad character of the remote
/// part.
pub fn split_username(username: &str) -> Result<ReceivedUsername<'_>, CredentialsError> {
    let (local_ufrag, remote_ufrag) = username
        .split_once(':')
        .ok_or(CredentialsError::MissingColon)?;
    validate(
        CredentialPart::UsernameLocal,
        local_ufrag,
        UFRAG_MIN_LEN,
        UFRAG_MAX_LEN,
    )?;
    validate(
        CredentialPart::UsernameRemote,
        remote_ufrag,
        UFRAG_MIN_LEN,
        UFRAG_MAX_LEN,
    )?;
    Ok(ReceivedUsername {
        local_ufrag,
        remote_ufrag,
    })
}

/// `n` ice-chars, each from 6 fresh bits of `rng` (10 chars per `u64`, the
/// 4 leftover bits discarded), so each char is uniform over the 64.
fn random_ice_chars<R: rand_core::Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    const CHARS_PER_WORD: usize = 64 / BITS_PER_CHAR;
    let mut s = String::with_capacity(n);
    while s.len() < n {
        let mut word = rng.next_u64();
        for _ in 0..CHARS_PER_WORD.min(n - s.len()) {
            let index = (word & 0x3F) as usize;
            word >>= BITS_PER_CHAR;
            s.push(char::from(ICE_CHARS.get(index).copied().unwrap_or(b'A')));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn rfc8445_5_3_generated_lengths_and_charset() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let c = Credentials::generate(&mut rng);
            assert_eq!(c.ufrag().len(), GENERATED_UFRAG_LEN);
            assert_eq!(c.pwd().len(), GENERATED_PWD_LEN);
            assert!(Credentials::new(c.ufrag(), c.pwd()).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        let a = Credentials::generate(&mut ChaCha8Rng::seed_from_u64(7));
        let b = Credentials::generate(&mut ChaCha8Rng::seed_from_u64(7));
        let c = Credentials::generate(&mut ChaCha8Rng::seed_from_u64(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let first = Credentials::generate(&mut rng);
        let second = Credentials::generate(&mut rng);
        assert_ne!(first, second);
    }

    #[test]
    fn generation_works_through_dyn_rng() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let dynamic: &mut dyn rand_core::Rng = &mut rng;
        let c = Credentials::generate(dynamic);
        assert_eq!(c, Credentials::generate(&mut ChaCha8Rng::seed_from_u64(3)));
    }

    /// Each of the 64 ice-chars is about equally likely: with 64,000 draws
    /// each is expected 1000 times; a chi-square over 63 degrees of freedom
    /// above 120 has probability far below 1e-4 for a uniform source.
    #[test]
    fn chars_are_uniform_over_the_64_ice_chars() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut counts = [0u32; 128];
        let mut total = 0u32;
        while total < 64_000 {
            let c = Credentials::generate(&mut rng);
            for b in c.ufrag().bytes().chain(c.pwd().bytes()) {
                counts[usize::from(b)] += 1;
                total += 1;
            }
        }
        let expected = f64::from(total) / 64.0;
        let chi2: f64 = ICE_CHARS
            .iter()
            .map(|&b| {
                let d = f64::from(counts[usize::from(b)]) - expected;
                d * d / expected
            })
            .sum();
        assert!(chi2 < 120.0, "chi-square {chi2}");
        let outside: u32 = (0..128u8)
            .filter(|b| !ICE_CHARS.contains(b))
            .map(|b| counts[usize::from(b)])
            .sum();
        assert_eq!(outside, 0);
    }

    #[test]
    fn rfc8839_5_4_lengths() {
        let pwd = "a".repeat(22);
        assert!(Credentials::new("abcd", &pwd).is_ok());
        assert!(Credentials::new("a".repeat(256), "b".repeat(256)).is_ok());
        assert_eq!(
            Credentials::new("abc", &pwd),
            Err(CredentialsError::Length {
                part: CredentialPart::Ufrag,
                len: 3,
                min: 4,
                max: 256
            })
        );
        assert_eq!(
            Credentials::new("a".repeat(257), &pwd),
            Err(CredentialsError::Length {
                part: CredentialPart::Ufrag,
                len: 257,
                min: 4,
                max: 256
            })
        );
        assert_eq!(
            Credentials::new("abcd", "a".repeat(21)),
            Err(CredentialsError::Length {
                part: CredentialPart::Pwd,
                len: 21,
                min: 22,
                max: 256
            })
        );
        assert_eq!(
            Credentials::new("abcd", "a".repeat(257)),
            Err(CredentialsError::Length {
                part: CredentialPart::Pwd,
                len: 257,
                min: 22,
                max: 256
            })
        );
        assert_eq!(
            Credentials::new("", &pwd),
            Err(CredentialsError::Length {
                part: CredentialPart::Ufrag,
                len: 0,
                min: 4,
                max: 256
            })
        );
    }

    #[test]
    fn rfc8839_5_4_charset() {
        let pwd = "a".repeat(22);
        assert!(Credentials::new("a+/Z09", &pwd).is_ok());
        assert_eq!(
            Credentials::new("ab:cd", &pwd),
            Err(CredentialsError::InvalidChar {
                part: CredentialPart::Ufrag,
                ch: ':',
                index: 2
            })
        );
        assert_eq!(
            Credentials::new("abcd", format!("{pwd}=")),
            Err(CredentialsError::InvalidChar {
                part: CredentialPart::Pwd,
                ch: '=',
                index: 22
            })
        );
        // Non-ASCII letters are not ALPHA; the index counts characters.
        assert_eq!(
            Credentials::new("ééab", &pwd),
            Err(CredentialsError::InvalidChar {
                part: CredentialPart::Ufrag,
                ch: 'é',
                index: 0
            })
        );
        assert!(Credentials::new("ab cd", &pwd).is_err());
        assert!(Credentials::new("abcd-", &pwd).is_err());
    }

    #[test]
    fn rfc8445_7_2_2_username_is_remote_then_local() {
        let local = Credentials::new("LFRG", "l".repeat(22)).unwrap();
        let remote = Credentials::new("RFRG", "r".repeat(22)).unwrap();
        assert_eq!(local.check_username(&remote), "RFRG:LFRG");
        assert_eq!(check_username("RFRG", "LFRG"), "RFRG:LFRG");
        // The remote agent receives it: the first part is its own ufrag.
        let got = split_username("RFRG:LFRG").unwrap();
        assert_eq!(
            got,
            ReceivedUsername {
                local_ufrag: "RFRG",
                remote_ufrag: "LFRG"
            }
        );
        assert!(remote.is_addressed_to_us("RFRG:LFRG"));
        assert!(!local.is_addressed_to_us("RFRG:LFRG"));
        assert!(!remote.is_addressed_to_us("RFRGX:LFRG"));
    }

    #[test]
    fn split_username_rejections() {
        assert_eq!(
            split_username("abcdefgh"),
            Err(CredentialsError::MissingColon)
        );
        assert_eq!(split_username(""), Err(CredentialsError::MissingColon));
        assert_eq!(
            split_username(":abcd"),
            Err(CredentialsError::Length {
                part: CredentialPart::UsernameLocal,
                len: 0,
                min: 4,
                max: 256
            })
        );
        assert_eq!(
            split_username("abcd:"),
            Err(CredentialsError::Length {
                part: CredentialPart::UsernameRemote,
                len: 0,
                min: 4,
                max: 256
            })
        );
        assert_eq!(
            split_username("abcd:efgh:ijkl"),
            Err(CredentialsError::InvalidChar {
                part: CredentialPart::UsernameRemote,
                ch: ':',
                index: 4
            })
        );
        assert_eq!(
            split_username("ab\0d:efgh"),
            Err(CredentialsError::InvalidChar {
                part: CredentialPart::UsernameLocal,
                ch: '\0',
                index: 2
            })
        );
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = Credentials::new("abcd", "SECRETsecretSECRETsecret").unwrap();
        let s = format!("{c:?}");
        assert!(s.contains("abcd"));
        assert!(!s.contains("SECRET"), "{s}");
    }

    #[test]
    fn errors_say_what_and_why() {
        let e = Credentials::new("abc", "a".repeat(22)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ice-ufrag is 3 characters long, outside 4..=256"
        );
        let e = split_username("nocolon").unwrap_err();
        assert_eq!(
            e.to_string(),
            "USERNAME has no ':' between the remote and local ufrags"
        );
    }
}
