//! Shared by the integration tests.

#![allow(dead_code)]

pub mod touch;
pub mod vectors;
