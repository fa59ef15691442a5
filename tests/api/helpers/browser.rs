//! The toolkit of the tests in a real headless Chromium (driven through chromedriver
//! with fantoccini): start chromedriver, open a browser session, find, click and type
//! (finding an element again when an htmx swap replaced it), and save numbered
//! screenshots.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without
//! them a browser test fails and says so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use uuid::Uuid;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process, killed when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_chromedriver() -> PathBuf {
    let candidates = [PathBuf::from(CHROMEDRIVER)];
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromedriver"))
            .collect::<Vec<_>>()
    });
    candidates
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed, so the browser test cannot run. \
                 Install Debian's packages: `apt-get update && apt-get install -y chromium chromium-driver` \
                 (.ci/run does this)."
            )
        })
}

pub async fn start_driver() -> Driver {
    let path = find_chromedriver();
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install Debian's `chromium` package (apt-get install -y chromium)"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let url = format!("http://127.0.0.1:{port}");
    let driver = Driver { child, url };
    let status = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = status.get(format!("{}/status", driver.url)).send().await
            && r.status().is_success()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port} within 10 seconds");
}

pub async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1400",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver")
}

pub struct Shots {
    pub dir: PathBuf,
    pub n: usize,
}

impl Shots {
    pub async fn take(&mut self, c: &Client, name: &str) {
        self.n += 1;
        let png = c.screenshot().await.expect("screenshot");
        let path = self.dir.join(format!("{:02}-{name}.png", self.n));
        std::fs::write(&path, png).expect("write screenshot");
    }

    /// The page at 1280 px and at a phone's 390 px.
    pub async fn take_wide_and_narrow(&mut self, c: &Client, name: &str) {
        self.take(c, name).await;
        c.set_window_size(390, 844)
            .await
            .expect("a phone-wide window");
        self.take(c, &format!("{name}-390")).await;
        c.set_window_size(1280, 1400)
            .await
            .expect("the wide window again");
    }
}

pub async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

/// Waits until the page's main heading contains `text`.
pub async fn wait_heading(c: &Client, text: &str) {
    let xpath = format!("//h1[contains(normalize-space(.), \"{text}\")]");
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("waiting for the heading “{text}”: {e}"));
}

pub async fn click(c: &Client, css: &str) {
    wait_for(c, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

pub async fn click_text(c: &Client, tag: &str, text: &str) {
    let xpath = format!("//{tag}[contains(normalize-space(.), \"{text}\")]");
    let el = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("waiting for <{tag}> “{text}”: {e}"));
    el.click()
        .await
        .unwrap_or_else(|e| panic!("click <{tag}> “{text}”: {e}"));
}

/// Finds `css`/`xpath` and runs `act` on the element, finding it again when an htmx swap
/// replaced it in between (a stale element is the page moving on, not a failure).
pub async fn on_fresh<T, F, Fut>(c: &Client, locator: Locator<'_>, act: F) -> Result<T, String>
where
    F: Fn(fantoccini::elements::Element) -> Fut,
    Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
{
    let mut last = String::new();
    for _ in 0..50 {
        match c.find(locator).await {
            Ok(el) => match act(el).await {
                Ok(v) => return Ok(v),
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last)
}

pub async fn type_into(c: &Client, css: &str, text: &str) {
    let el = wait_for(c, css).await;
    el.clear().await.ok();
    el.send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// A fresh browser profile directory.
pub fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-chromium-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("profile directory");
    dir
}

/// The whole page on a phone, below the fold too; then the wide window again.
pub async fn phone_full(
    c: &fantoccini::Client,
    shots: &mut Shots,
    name: &str,
) -> Result<(), String> {
    c.set_window_size(390, 2400)
        .await
        .map_err(|e| e.to_string())?;
    shots.take(c, &format!("{name}-390-full")).await;
    let overflow = c
        .execute(
            "const w = document.documentElement.clientWidth; return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > w + 1).map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 5).join(', ');",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("{name}: wider than a phone in main: {overflow}");
    c.set_window_size(1280, 1400)
        .await
        .map_err(|e| e.to_string())
}
