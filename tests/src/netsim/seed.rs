//! Seeds: one number that reproduces a whole run.
//!
//! Everything random in a simulation (loss, jitter, duplication, reordering,
//! NAT port choice) draws from one ChaCha8 RNG seeded from a `u64`, in event
//! order, so a seed reproduces a run byte for byte. (The endpoints' own
//! randomness, such as STUN transaction ids, RFC 8489 §6, must be seeded by
//! the test as well; [`derive_seed`] gives each one its own seed.)
//!
//! [`for_each_seed`] runs a property over many seeds and, when one fails,
//! says how to rerun exactly that one with `NETSIM_SEED`.

use std::panic::{self, AssertUnwindSafe};

/// The environment variable that pins [`for_each_seed`] to one seed.
pub const SEED_ENV: &str = "NETSIM_SEED";

/// The seed in `NETSIM_SEED`, if set.
///
/// # Panics
///
/// If the variable is set but is not a `u64`: a typo must not silently run
/// other seeds.
pub fn env_seed() -> Option<u64> {
    let value = std::env::var(SEED_ENV).ok()?;
    match value.trim().parse() {
        Ok(seed) => Some(seed),
        Err(_) => panic!("netsim: {SEED_ENV}={value:?} is not a u64 seed"),
    }
}

/// The seeds a property runs with: `0..count`, or only `NETSIM_SEED` when
/// it is set.
pub fn seeds(count: u64) -> Vec<u64> {
    match env_seed() {
        Some(seed) => vec![seed],
        None => (0..count).collect(),
    }
}

/// Runs `f` for every seed of [`seeds`]`(count)`. If it panics, prints to
/// stderr
/// `netsim: failed with seed N; reproduce with NETSIM_SEED=N cargo test -p ice-tests <test name>`
/// and resumes the panic, failing the test.
pub fn for_each_seed(count: u64, mut f: impl FnMut(u64)) {
    for seed in seeds(count) {
        with_seed(seed, &mut f);
    }
}

/// Runs `f(seed)`, printing how to reproduce the run if it panics.
pub fn with_seed<R>(seed: u64, f: impl FnOnce(u64) -> R) -> R {
    match panic::catch_unwind(AssertUnwindSafe(|| f(seed))) {
        Ok(r) => r,
        Err(payload) => {
            eprintln!("{}", reproduce_hint(seed));
            panic::resume_unwind(payload)
        }
    }
}

/// The line printed when a run fails with `seed`, naming the current test
/// (libtest names each test's thread after it).
pub fn reproduce_hint(seed: u64) -> String {
    let current = std::thread::current();
    let test = match current.name() {
        Some(name) if name != "main" => name,
        _ => "<test name>",
    };
    format!(
        "netsim: failed with seed {seed}; reproduce with {SEED_ENV}={seed} cargo test -p ice-tests {test}"
    )
}

/// A seed for a component of the run (an agent, a server) derived from the
/// run's seed and the component's index, so that components do not share a
/// random stream (SplitMix64 finalizer).
pub fn derive_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ() {
        assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
        assert_eq!(derive_seed(7, 3), derive_seed(7, 3));
    }

    #[test]
    fn hint_names_the_seed_and_variable() {
        let hint = reproduce_hint(42);
        assert!(hint.contains("seed 42"), "{hint}");
        assert!(
            hint.contains("NETSIM_SEED=42 cargo test -p ice-tests"),
            "{hint}"
        );
    }
}
