//! The page `interop/peers/chromium.html`, served on 127.0.0.1 and driven
//! through WebDriver: the browser's RTCPeerConnection offers or answers,
//! takes our description, reports its ICE connection state and its
//! selected pair (`getStats()`: the transport's `selectedCandidatePairId`).

use std::time::Duration;

use ice::Candidate;
use serde_json::{Value, json};

use super::http::PageServer;
use super::webdriver::Chromium;

const HTML: &str = include_str!("../../peers/chromium.html");

/// One end of the browser's selected pair, as `getStats()` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsCandidate {
    /// `address` (may be absent or an mDNS name for a hidden host).
    pub address: Option<String>,
    /// `port`.
    pub port: u16,
    /// `candidateType`: host, srflx, prflx, relay.
    pub kind: String,
}

/// The browser's selected pair.
#[derive(Clone, Debug, Default)]
pub struct BrowserPair {
    /// The browser's candidate.
    pub local: StatsCandidate,
    /// Ours, as the browser knows it.
    pub remote: StatsCandidate,
    /// `nominated`.
    pub nominated: bool,
    /// Non-STUN bytes the browser received on the pair.
    pub bytes_received: u64,
    /// The whole stats entry, for messages.
    pub raw: Value,
}

impl BrowserPair {
    /// Both sides name the same pair, nominated: the browser's remote
    /// candidate is our local one, and its local candidate our remote one (by
    /// port only when `getStats()` hides the browser's address, as it does
    /// for a peer-reflexive candidate of an mDNS host).
    pub fn same_as(&self, local: &Candidate, remote: &Candidate) -> Result<(), String> {
        let (Some(ours_local), Some(ours_remote)) = (local.socket_addr(), remote.socket_addr())
        else {
            return Err(format!(
                "our selected pair has an unresolved address: {remote:?}"
            ));
        };
        let matches = |addr: std::net::SocketAddr, c: &StatsCandidate| {
            c.port == addr.port()
                && c.address
                    .as_deref()
                    .and_then(|a| a.parse::<std::net::IpAddr>().ok())
                    .is_none_or(|ip| ip == addr.ip())
        };
        if !self.nominated {
            return Err(format!(
                "the browser's selected pair is not nominated: {}",
                self.raw
            ));
        }
        // The browser had our candidates before any check: it knows ours by
        // its signalled type.
        if self.remote.kind != local.kind.sdp_name() {
            return Err(format!(
                "our {} candidate is {} to the browser",
                local.kind, self.remote.kind
            ));
        }
        if matches(ours_local, &self.remote) && matches(ours_remote, &self.local) {
            Ok(())
        } else {
            Err(format!(
                "the pairs differ: ours {ours_local} → {ours_remote}, the browser's {:?} → {:?}",
                self.local, self.remote
            ))
        }
    }
}

/// The browser with the page loaded.
pub struct Page {
    /// The browser.
    pub chromium: Chromium,
    _server: PageServer,
}

impl Page {
    /// Starts the browser and loads the page.
    pub async fn open(mdns: bool) -> Result<Page, String> {
        let server = PageServer::start(HTML).await?;
        let chromium = Chromium::start(mdns).await?;
        chromium.navigate(&server.url).await?;
        Ok(Page {
            chromium,
            _server: server,
        })
    }

    /// The browser's offer, gathering completed.
    pub async fn offer(&self, config: &Value, limit: Duration) -> Result<String, String> {
        let v = self
            .call("iceOffer", json!([config, limit.as_millis() as u64]))
            .await?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("offer: {v}"))
    }

    /// The browser's answer to `offer`, gathering completed.
    pub async fn answer(
        &self,
        offer: &str,
        config: &Value,
        limit: Duration,
    ) -> Result<String, String> {
        let v = self
            .call(
                "iceAnswer",
                json!([offer, config, limit.as_millis() as u64]),
            )
            .await?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("answer: {v}"))
    }

    /// Gives the browser our answer.
    pub async fn accept(&self, answer: &str) -> Result<(), String> {
        self.call("iceAccept", json!([answer])).await.map(drop)
    }

    /// Waits for `iceConnectionState` to be `connected`, `completed` or
    /// `failed`, at most `limit`; returns the state then.
    pub async fn wait(&self, limit: Duration) -> Result<String, String> {
        let v = self
            .call("iceWait", json!([limit.as_millis() as u64]))
            .await?;
        Ok(v.as_str().unwrap_or("(none)").to_owned())
    }

    /// The state and the page's log of events, for messages.
    pub async fn log(&self) -> String {
        match self.call("iceState", json!([])).await {
            Ok(v) => format!("state {}, events {}", v["ice"], v["log"]),
            Err(e) => e,
        }
    }

    /// The selected pair, if the browser has one.
    pub async fn selected(&self) -> Result<Option<BrowserPair>, String> {
        let v = self.call("iceSelected", json!([])).await?;
        if v.is_null() {
            return Ok(None);
        }
        let cand = |c: &Value| StatsCandidate {
            address: c["address"].as_str().map(str::to_owned),
            port: c["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            kind: c["type"].as_str().unwrap_or("?").to_owned(),
        };
        Ok(Some(BrowserPair {
            local: cand(&v["local"]),
            remote: cand(&v["remote"]),
            nominated: v["nominated"] == json!(true),
            bytes_received: v["bytesReceived"].as_u64().unwrap_or(0),
            raw: v,
        }))
    }

    /// Calls the page's async function `name` with `args`; a rejection
    /// is an error carrying its message.
    async fn call(&self, name: &str, args: Value) -> Result<Value, String> {
        let script = format!(
            "const done = arguments[arguments.length - 1];\n\
             Promise.resolve().then(() => {name}(...arguments[0]))\n\
               .then(v => done({{ ok: v === undefined ? null : v }}),\n\
                     e => done({{ err: String(e && e.stack || e) }}));"
        );
        let v = self.chromium.execute_async(&script, json!([args])).await?;
        match v.get("err") {
            Some(e) => Err(format!("{name}: {}", e.as_str().unwrap_or("?"))),
            None => Ok(v["ok"].clone()),
        }
    }
}
