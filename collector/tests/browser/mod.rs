//! A headless Chromium driven over the DevTools protocol, for the UI tests: navigate, wait
//! for the page to say it has rendered, evaluate script, press keys, type, pick files, take
//! screenshots. Plain `std` (a blocking WebSocket client of a few lines), no browser-driver
//! dependency.
//!
//! Chromium is found at `/usr/bin/chromium` or as `chromium` / `chromium-browser` on `PATH`.
//! The tests using it are `#[ignore]`d, so a plain `cargo test` reports them as ignored rather
//! than passing them without a browser; `.ci/run` installs the Debian `chromium` package and
//! runs them with `--ignored` and `TRACEWIRE_CI=1`. Once asked to run, a missing Chromium fails
//! them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};

fn find_chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.exists() {
        return Some(fixed.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The Chromium to drive. Missing, the test fails: it only runs when asked to (`--ignored`,
/// as `.ci/run` does with `TRACEWIRE_CI=1`), so a missing browser is a broken set-up, never a
/// pass.
pub(crate) fn chromium() -> PathBuf {
    find_chromium().unwrap_or_else(|| {
        let ci = std::env::var("TRACEWIRE_CI").is_ok_and(|v| v == "1");
        panic!(
            "no chromium found at /usr/bin/chromium or on PATH (TRACEWIRE_CI={}): install the \
             Debian `chromium` package (`.ci/run` does, as root)",
            if ci { "1" } else { "unset" }
        )
    })
}

/// Where screenshots go: `target/ui-screenshots/`.
pub(crate) fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("create screenshot dir");
    dir
}

/// A minimal WebSocket client (RFC 6455): text frames out (masked), frames in (unmasked),
/// fragmented messages joined.
struct Socket {
    stream: TcpStream,
}

impl Socket {
    fn connect(port: u16, path: &str) -> Socket {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to devtools");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dHJhY2V3aXJlLXVpLXRlc3Q=\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 101 "), "devtools handshake: {status}");
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        assert!(reader.buffer().is_empty(), "data right after the handshake");
        Socket { stream }
    }

    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mask = [0x5a, 0x17, 0xc3, 0x88];
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    fn recv(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).expect("devtools frame");
            let (fin, opcode) = (head[0] & 0x80 != 0, head[0] & 0x0f);
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).unwrap();
            match opcode {
                0x8 => panic!("devtools closed the connection"),
                0x9 | 0xa => continue,
                _ => message.extend_from_slice(&payload),
            }
            if fin {
                return String::from_utf8(message).expect("devtools text");
            }
        }
    }
}

/// One headless Chromium with one page, driven over the DevTools protocol.
pub(crate) struct Browser {
    child: Child,
    profile: PathBuf,
    socket: Socket,
    next_id: u64,
    shots: PathBuf,
}

impl Browser {
    /// Starts Chromium (1400×900) and attaches to its page.
    pub(crate) fn start() -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "tracewire-ui-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1400,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run chromium");
        let port_file = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port: u16 = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Some(Ok(p)) = text.lines().next().map(str::parse)
            {
                break p;
            }
            assert!(Instant::now() < deadline, "chromium did not open devtools");
            std::thread::sleep(Duration::from_millis(50));
        };
        let list = http_get(port, "/json/list");
        let targets: Json = serde_json::from_str(&list).expect("devtools target list");
        let page = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target");
        let ws = page["webSocketDebuggerUrl"].as_str().unwrap();
        let path = &ws[ws.find("/devtools/").unwrap()..];
        let mut b = Browser {
            child,
            profile,
            socket: Socket::connect(port, path),
            next_id: 0,
            shots: screenshot_dir(),
        };
        b.call("Page.enable", json!({}));
        // Record every Content-Security-Policy refusal; devtools scripts are exempt from it.
        b.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": "window.__csp = []; document.addEventListener('securitypolicyviolation', \
                   (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"}),
        );
        b
    }

    /// Sends one command and returns its result (events in between are skipped).
    pub(crate) fn call(&mut self, method: &str, params: Json) -> Json {
        let m = self.send(method, params);
        assert!(m.get("error").is_none(), "{method}: {m}");
        m["result"].clone()
    }

    /// Sends one command and returns its whole answer (`result` or `error`).
    fn send(&mut self, method: &str, params: Json) -> Json {
        self.next_id += 1;
        let id = self.next_id;
        self.socket
            .send(&json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let m: Json = serde_json::from_str(&self.socket.recv()).unwrap();
            if m["id"] == id {
                return m;
            }
        }
    }

    /// The value of a script expression (promises awaited); a thrown error fails the test.
    pub(crate) fn eval(&mut self, expr: &str) -> Json {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expr}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Waits (up to 20 s) until `expr` is truthy.
    pub(crate) fn wait_for(&mut self, expr: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // While a page loads, its elements may be missing or its context gone: not yet.
            let m = self.send(
                "Runtime.evaluate",
                json!({"expression": format!("(() => {{ try {{ return !!({expr}); }} catch (e) {{ return false; }} }})()"),
                       "awaitPromise": true, "returnByValue": true}),
            );
            if m["result"]["result"]["value"] == true {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {expr}; page: {}",
                self.eval("document.getElementById('main') && document.getElementById('main').outerHTML.slice(0, 4000)")
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Opens `url` and waits until the page has rendered (`data-state="ready"`) without
    /// breaking its Content-Security-Policy.
    pub(crate) fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'");
        self.wait_for("document.getElementById('main') && document.getElementById('main').dataset.state === 'ready'");
        self.assert_csp_clean();
    }

    pub(crate) fn assert_csp_clean(&mut self) {
        let v = self.eval("window.__csp || []");
        assert_eq!(v, json!([]), "Content-Security-Policy violations");
    }

    /// The `outerHTML` of the first element matching `selector` (or null).
    pub(crate) fn html(&mut self, selector: &str) -> Json {
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.outerHTML : null; }})()",
            json!(selector)
        ))
    }

    /// The text of every element matching `selector`.
    pub(crate) fn texts(&mut self, selector: &str) -> Vec<String> {
        let v = self.eval(&format!(
            "[...document.querySelectorAll({})].map((e) => e.textContent)",
            json!(selector)
        ));
        serde_json::from_value(v).unwrap()
    }

    /// An attribute of every element matching `selector`.
    pub(crate) fn attrs(&mut self, selector: &str, name: &str) -> Vec<String> {
        let v = self.eval(&format!(
            "[...document.querySelectorAll({})].map((e) => e.getAttribute({}))",
            json!(selector),
            json!(name)
        ));
        serde_json::from_value(v).unwrap()
    }

    /// Presses a key (`Tab`, `Enter`, `+`, …) on whatever has the focus.
    pub(crate) fn key(&mut self, key: &str) {
        let (code, vk, text) = match key {
            "Tab" => ("Tab", 9, ""),
            "Enter" => ("Enter", 13, "\r"),
            " " => ("Space", 32, " "),
            "+" => ("Equal", 187, "+"),
            "-" => ("Minus", 189, "-"),
            "0" => ("Digit0", 48, "0"),
            other => panic!("no key code for {other}"),
        };
        let mut down =
            json!({"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk});
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down);
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}),
        );
    }

    /// Types `text` into the focused element.
    pub(crate) fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Presses Tab until the focused element matches `selector` (at most 60 times), so the
    /// element is reachable from the keyboard; fails otherwise.
    pub(crate) fn tab_to(&mut self, selector: &str) {
        self.eval("document.activeElement && document.activeElement.blur(), window.focus(), true");
        for _ in 0..60 {
            self.key("Tab");
            let hit = self.eval(&format!(
                "!!(document.activeElement && document.activeElement.matches({}))",
                json!(selector)
            ));
            if hit == true {
                return;
            }
        }
        panic!("{selector} is not reachable with Tab");
    }

    /// Sets the files of the file input matching `selector`.
    pub(crate) fn set_files(&mut self, selector: &str, files: &[&Path]) {
        let doc = self.call("DOM.getDocument", json!({}));
        let node = self.call(
            "DOM.querySelector",
            json!({"nodeId": doc["root"]["nodeId"], "selector": selector}),
        );
        let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.call(
            "DOM.setFileInputFiles",
            json!({"nodeId": node["nodeId"], "files": files}),
        );
    }

    /// Saves a screenshot of the page as `target/ui-screenshots/{name}.png`.
    pub(crate) fn screenshot(&mut self, name: &str) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64_decode(r["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "screenshot {name} is no PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn http_get(port: u16, path: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(&s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut reader = BufReader::new(s);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| u32::from(val(c))).collect();
        let n = v.iter().fold(0u32, |acc, &x| acc << 6 | x) << (6 * (4 - v.len()));
        out.extend_from_slice(&n.to_be_bytes()[1..v.len()]);
    }
    out
}
