//! A local SMTP sink for the benchmark: accepts every message on 127.0.0.1, counts
//! them, and keeps the `Approve: ` links of approval emails so the emailed-link
//! scenario can follow them like an approver would. It speaks just enough SMTP for a
//! client (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and never fails a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
pub struct Sink {
    received: AtomicU64,
    approve_links: std::sync::Mutex<Vec<String>>,
    /// Every Approve link ever received, to notice one received twice (an email sent twice).
    seen_links: std::sync::Mutex<std::collections::HashSet<String>>,
    doubled: AtomicU64,
}

impl Sink {
    /// Messages accepted so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Approve links received more than once (each link is one approver's email).
    pub fn doubled_links(&self) -> u64 {
        self.doubled.load(Ordering::Relaxed)
    }

    /// Takes the Approve links received so far.
    pub fn take_approve_links(&self) -> Vec<String> {
        self.approve_links
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

/// Listens on a free local port; returns it and the sink's counters.
pub async fn start() -> anyhow::Result<(u16, Arc<Sink>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let sink = Arc::new(Sink::default());
    let shared = sink.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = shared.clone();
            tokio::spawn(async move {
                let _ = converse(stream, &sink).await;
            });
        }
    });
    Ok((port, sink))
}

async fn converse(stream: TcpStream, sink: &Sink) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                write
                    .write_all(b"250-bench-sink\r\n250 8BITMIME\r\n")
                    .await?
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut links = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    let text = line.trim_end_matches(['\r', '\n']);
                    if text == "." {
                        break;
                    }
                    if let Some(url) = text.strip_prefix("Approve: ") {
                        links.push(url.trim().to_string());
                    }
                }
                sink.received.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut seen) = sink.seen_links.lock() {
                    for l in &links {
                        if !seen.insert(l.clone()) {
                            sink.doubled.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if !links.is_empty()
                    && let Ok(mut all) = sink.approve_links.lock()
                {
                    all.extend(links);
                }
                write.write_all(b"250 queued\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"250 ok\r\n").await?,
        }
    }
}
