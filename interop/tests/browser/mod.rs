//! The browser side of `tests/chromium.rs` (issue 8): a headless Chromium
//! under chromedriver ([`webdriver`], over [`http`]), the test page and its
//! RTCPeerConnection ([`page`]), the SDP carried both ways ([`sdp`]), and
//! our `icectl serve` as the browser's TURN server ([`icectl`]).

pub mod http;
pub mod icectl;
pub mod page;
pub mod sdp;
pub mod webdriver;
