//! A headless Chromium driven through chromedriver with the W3C WebDriver
//! protocol (New Session, Navigate To, Execute Async Script, Delete
//! Session), spoken over raw HTTP/1.1 on loopback.
//!
//! chromedriver and the browser are started by [`Chromium::start`] and
//! stopped when the value is dropped: the session is deleted (the browser
//! exits), then chromedriver is killed and the profile directory removed.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::http;

/// The binaries, overridable with `CHROMIUM` and `CHROMEDRIVER`.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to answer `/status`.
const STARTUP: Duration = Duration::from_secs(15);

/// A running browser session.
pub struct Chromium {
    driver: Child,
    addr: SocketAddr,
    session: String,
    /// `browserVersion` from the session's capabilities.
    pub version: String,
    profile: PathBuf,
    browser_pid: Option<u64>,
}

impl Chromium {
    /// Starts chromedriver and a headless Chromium. `mdns` false disables
    /// the obfuscation of host candidates behind `.local` names.
    pub async fn start(mdns: bool) -> Result<Chromium, String> {
        let chromium = binary("CHROMIUM", CHROMIUM)?;
        let chromedriver = binary("CHROMEDRIVER", CHROMEDRIVER)?;
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let profile = profile_dir()?;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        let mut browser = Chromium {
            driver,
            addr,
            session: String::new(),
            version: String::new(),
            profile,
            browser_pid: None,
        };
        browser.wait_ready().await?;
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--allow-loopback-in-peer-connection".to_owned(),
            format!("--user-data-dir={}", browser.profile.display()),
        ];
        if !mdns {
            args.push("--disable-features=WebRtcHideLocalIpsWithMdns".to_owned());
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args},
        }}});
        let value = browser.call("POST", "/session", Some(&caps)).await?;
        browser.session = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("New Session returned no sessionId: {value}"))?
            .to_owned();
        let capabilities = &value["capabilities"];
        browser.version = capabilities["browserVersion"]
            .as_str()
            .ok_or_else(|| format!("no browserVersion in {capabilities}"))?
            .to_owned();
        browser.browser_pid = capabilities["goog:processID"].as_u64();
        Ok(browser)
    }

    /// Loads `url` and waits for it to load.
    pub async fn navigate(&self, url: &str) -> Result<(), String> {
        let path = format!("/session/{}/url", self.session);
        self.call("POST", &path, Some(&json!({ "url": url })))
            .await
            .map(drop)
    }

    /// Runs `script` as an async function body: its last argument is the
    /// callback that returns the value (WebDriver §13.2.2).
    pub async fn execute_async(&self, script: &str, args: Value) -> Result<Value, String> {
        let path = format!("/session/{}/execute/async", self.session);
        let body = json!({ "script": script, "args": args });
        self.call("POST", &path, Some(&body)).await
    }

    /// One WebDriver command; the `value` of a success, else the error.
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let (status, mut json) = http::request(self.addr, method, path, body).await?;
        let value = json["value"].take();
        if status == 200 {
            Ok(value)
        } else {
            Err(format!(
                "WebDriver {method} {path}: status {status}: {} {}",
                value["error"], value["message"]
            ))
        }
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let poll = async {
            loop {
                if let Ok(v) = self.call("GET", "/status", None).await
                    && v["ready"] == json!(true)
                {
                    return Ok(());
                }
                if let Ok(Some(status)) = self.driver.try_wait() {
                    return Err(format!("chromedriver exited at startup: {status}"));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(STARTUP, poll)
            .await
            .map_err(|_| format!("chromedriver did not answer /status within {STARTUP:?}"))?
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let deleted = http::request_blocking(self.addr, "DELETE", &path, STARTUP);
            if deleted != Ok(200)
                && let Some(pid) = self.browser_pid
            {
                // The browser did not close with its session: end it by
                // its id (the process chromedriver started for us).
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        let _ = self.driver.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The binary named by `var`, else `default`; an error naming the apt
/// packages if it is missing.
fn binary(var: &str, default: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    if Path::new(&path).exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: install the Debian packages `chromium chromium-driver` \
             (apt-get install chromium chromium-driver), or set {var}",
            path.display()
        ))
    }
}

/// A loopback port free a moment ago (chromedriver takes a port number,
/// not a listening socket).
fn free_port() -> Result<u16, String> {
    let socket = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    socket
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// A fresh, empty browser profile directory.
fn profile_dir() -> Result<PathBuf, String> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ice-interop-chromium-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}
