//! HMAC (RFC 2104) over SHA-1 and SHA-256 with the key blocks absorbed
//! once.
//!
//! A STUN message is one or two hash blocks, so a MAC's cost is dominated by
//! its fixed work: two compressions for the keyed pads, and the block
//! buffering of a general-purpose streaming API. Here the inner and outer
//! states after `K XOR ipad` and `K XOR opad` are computed when the key is
//! prepared (RFC 2104 §4, "implementation note"), and a message is fed to the
//! compression function straight from the caller's buffer: whole blocks are
//! compressed in place, only the first block (whose length field STUN
//! adjusts, RFC 8489 §14.5) and the padded tail are assembled on the stack.
//!
//! The compression functions are the `sha1` and `sha2` crates' (SHA-NI when
//! the CPU has it). The result is checked against the `hmac` crate and the
//! RFC 2202 / RFC 4231 vectors in this module's tests.

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The block size of SHA-1 and SHA-256.
const BLOCK: usize = 64;

/// A Merkle-Damgård hash with 64-byte blocks, as HMAC needs it.
pub(crate) trait BlockHash {
    /// The chaining state.
    type State: Copy;
    /// The digest.
    type Output: Copy + AsRef<[u8]>;
    /// The initial state.
    const IV: Self::State;
    /// Compresses whole blocks into the state.
    fn compress(state: &mut Self::State, blocks: &[[u8; BLOCK]]);
    /// The digest bytes of a final state.
    fn output(state: &Self::State) -> Self::Output;
    /// Hashes a key longer than a block (RFC 2104 §2).
    fn hash_long_key(key: &[u8], out: &mut [u8; BLOCK]);
}

pub(crate) enum Sha1Hash {}
pub(crate) enum Sha256Hash {}

impl BlockHash for Sha1Hash {
    type State = [u32; 5];
    type Output = [u8; 20];
    const IV: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];

    #[inline]
    fn compress(state: &mut [u32; 5], blocks: &[[u8; BLOCK]]) {
        sha1::block_api::compress(state, blocks);
    }

    #[inline]
    fn output(state: &[u32; 5]) -> [u8; 20] {
        let mut out = [0u8; 20];
        for (o, w) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    fn hash_long_key(key: &[u8], out: &mut [u8; BLOCK]) {
        out.iter_mut()
            .zip(Sha1::digest(key).iter())
            .for_each(|(o, d)| *o = *d);
    }
}

impl BlockHash for Sha256Hash {
    type State = [u32; 8];
    type Output = [u8; 32];
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];

    #[inline]
    fn compress(state: &mut [u32; 8], blocks: &[[u8; BLOCK]]) {
        sha2::block_api::compress256(state, blocks);
    }

    #[inline]
    fn output(state: &[u32; 8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    fn hash_long_key(key: &[u8], out: &mut [u8; BLOCK]) {
        out.iter_mut()
            .zip(Sha256::digest(key).iter())
            .for_each(|(o, d)| *o = *d);
    }
}

/// An HMAC key with both pads absorbed.
pub(crate) struct Prepared<H: BlockHash> {
    inner: H::State,
    outer: H::State,
}

impl<H: BlockHash> Clone for Prepared<H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H: BlockHash> Copy for Prepared<H> {}

impl<H: BlockHash> Prepared<H> {
    /// Absorbs `K XOR ipad` and `K XOR opad` (RFC 2104 §2).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            H::hash_long_key(key, &mut k);
        } else {
            k.iter_mut().zip(key).for_each(|(o, b)| *o = *b);
        }
        let mut inner = H::IV;
        let mut outer = H::IV;
        H::compress(&mut inner, &[k.map(|b| b ^ 0x36)]);
        H::compress(&mut outer, &[k.map(|b| b ^ 0x5c)]);
        Prepared { inner, outer }
    }

    /// The MAC of `first ‖ rest ‖ zeros`, where `first` replaces the message's
    /// first four bytes (STUN's type and adjusted length) and `zeros` is a
    /// run of zero bytes (RFC 3489 pads its HMAC input to 64 bytes).
    #[inline]
    pub(crate) fn mac(&self, first: [u8; 4], rest: &[u8], zeros: usize) -> H::Output {
        let len = 4 + rest.len() + zeros;
        let mut state = self.inner;
        let mut block = [0u8; BLOCK];
        put(&mut block, 0, &first);
        // Fill the first block, then compress whole blocks from `rest` in
        // place; what is left goes to the tail.
        let head = rest.len().min(BLOCK - 4);
        put(&mut block, 4, rest.get(..head).unwrap_or_default());
        let mut tail = rest.get(head..).unwrap_or_default();
        let mut fill = 4 + head;
        if fill == BLOCK {
            H::compress(&mut state, &[block]);
            let mut chunks = tail.chunks_exact(BLOCK);
            for chunk in &mut chunks {
                if let Ok(b) = <&[u8; BLOCK]>::try_from(chunk) {
                    H::compress(&mut state, core::slice::from_ref(b));
                }
            }
            tail = chunks.remainder();
            block = [0u8; BLOCK];
            put(&mut block, 0, tail);
            fill = tail.len();
        }
        // Zero padding (block bytes are already zero past `fill`).
        let mut zeros = zeros;
        while fill + zeros >= BLOCK {
            zeros -= BLOCK - fill;
            H::compress(&mut state, &[block]);
            block = [0u8; BLOCK];
            fill = 0;
        }
        fill += zeros;
        // SHA padding: 0x80, zeros, the 64-bit length in bits of the whole
        // inner input (the 64-byte pad block included).
        put(&mut block, fill, &[0x80]);
        if fill + 1 > BLOCK - 8 {
            H::compress(&mut state, &[block]);
            block = [0u8; BLOCK];
        }
        put(
            &mut block,
            BLOCK - 8,
            &(((BLOCK + len) as u64) * 8).to_be_bytes(),
        );
        H::compress(&mut state, &[block]);

        let inner = H::output(&state);
        let mut state = self.outer;
        let mut block = [0u8; BLOCK];
        let n = inner.as_ref().len();
        put(&mut block, 0, inner.as_ref());
        put(&mut block, n, &[0x80]);
        put(
            &mut block,
            BLOCK - 8,
            &(((BLOCK + n) as u64) * 8).to_be_bytes(),
        );
        H::compress(&mut state, &[block]);
        H::output(&state)
    }
}

fn put(block: &mut [u8; BLOCK], at: usize, bytes: &[u8]) {
    if let Some(dst) = block.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Compares two MACs in constant time: the time depends on the lengths only.
#[inline]
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use proptest::prelude::*;

    fn reference<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut m = <M as KeyInit>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }

    fn ours<H: BlockHash>(key: &[u8], msg: &[u8], zeros: usize) -> Vec<u8> {
        let mut first = [0u8; 4];
        let n = msg.len().min(4);
        first[..n].copy_from_slice(&msg[..n]);
        // `mac` always takes four first bytes; shorter messages are tested
        // through the zero run instead.
        assert_eq!(n, 4);
        Prepared::<H>::new(key)
            .mac(first, &msg[4..], zeros)
            .as_ref()
            .to_vec()
    }

    #[test]
    fn rfc2202_and_rfc4231_vectors() {
        // RFC 2202 §3 test case 2 / RFC 4231 §4.3 test case 2.
        let msg = b"what do ya want for nothing?";
        assert_eq!(
            ours::<Sha1Hash>(b"Jefe", msg, 0),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
        assert_eq!(
            ours::<Sha256Hash>(b"Jefe", msg, 0),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        // RFC 2202 test case 1 / RFC 4231 test case 1.
        let key = [0x0b; 20];
        assert_eq!(
            ours::<Sha1Hash>(&key, b"Hi There", 0),
            hex("b617318655057264e28bc0b6fb378c8ef146be00")
        );
        assert_eq!(
            ours::<Sha256Hash>(&key, b"Hi There", 0),
            hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        // RFC 2202 test case 6: an 80-byte key, hashed first.
        assert_eq!(
            ours::<Sha1Hash>(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                0
            ),
            hex("aa4ae5e15272d00e95705637ce8a3b55ed402112")
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

        #[test]
        fn matches_the_hmac_crate(
            key in prop::collection::vec(any::<u8>(), 0..150),
            msg in prop::collection::vec(any::<u8>(), 4..400),
            zeros in 0usize..200,
        ) {
            let mut padded = msg.clone();
            padded.extend(std::iter::repeat_n(0u8, zeros));
            prop_assert_eq!(ours::<Sha1Hash>(&key, &msg, zeros), reference::<Hmac<Sha1>>(&key, &padded));
            prop_assert_eq!(ours::<Sha256Hash>(&key, &msg, zeros), reference::<Hmac<Sha256>>(&key, &padded));
        }
    }

    #[test]
    fn every_length_around_block_boundaries() {
        let key = b"boundary";
        for len in 4..200 {
            let msg: Vec<u8> = (0..len as u8).collect();
            assert_eq!(
                ours::<Sha1Hash>(key, &msg, 0),
                reference::<Hmac<Sha1>>(key, &msg),
                "len {len}"
            );
            assert_eq!(
                ours::<Sha256Hash>(key, &msg, 0),
                reference::<Hmac<Sha256>>(key, &msg),
                "len {len}"
            );
        }
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }
}
