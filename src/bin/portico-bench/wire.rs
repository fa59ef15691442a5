//! A counting proxy for the PostgreSQL wire protocol: it forwards every byte between a
//! server under test and PostgreSQL unchanged and counts the frontend's messages, so
//! the bench can say how many statements and round trips one operation costs.
//!
//! An extended-protocol statement is `Parse`? `Bind` `Execute` … `Sync`: one `Execute`
//! per statement, one `Sync` per round trip (several statements may share one). A
//! simple-protocol `Query` (`begin`, `commit`) is a statement and a round trip of its
//! own. `Parse` counts the statements prepared (zero once the connection's statement
//! cache is warm).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// SSLRequest and GSSENCRequest codes: untyped messages before the startup message.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

#[derive(Debug, Default)]
pub(crate) struct Counts {
    execute: AtomicU64,
    query: AtomicU64,
    sync: AtomicU64,
    parse: AtomicU64,
    /// While `Some`, the text of every statement executed, in order.
    log: Mutex<Option<Vec<String>>>,
}

/// Messages counted between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) statements: u64,
    pub(crate) round_trips: u64,
    pub(crate) prepared: u64,
}

impl Counts {
    pub(crate) fn snapshot(&self) -> Tally {
        let q = self.query.load(Ordering::Relaxed);
        Tally {
            statements: self.execute.load(Ordering::Relaxed) + q,
            round_trips: self.sync.load(Ordering::Relaxed) + q,
            prepared: self.parse.load(Ordering::Relaxed),
        }
    }

    /// Starts keeping the text of each statement executed.
    pub(crate) fn record(&self) {
        if let Ok(mut log) = self.log.lock() {
            *log = Some(Vec::new());
        }
    }

    /// The statements executed since [`Counts::record`]; stops keeping them.
    pub(crate) fn take_record(&self) -> Vec<String> {
        self.log
            .lock()
            .ok()
            .and_then(|mut log| log.take())
            .unwrap_or_default()
    }

    fn log(&self, text: &str) {
        if let Ok(mut log) = self.log.lock()
            && let Some(log) = log.as_mut()
        {
            log.push(text.to_string());
        }
    }

    fn count(&self, kind: u8) {
        let counter = match kind {
            b'E' => &self.execute,
            b'Q' => &self.query,
            b'S' => &self.sync,
            b'P' => &self.parse,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl std::ops::Sub for Tally {
    type Output = Tally;
    fn sub(self, o: Tally) -> Tally {
        Tally {
            statements: self.statements - o.statements,
            round_trips: self.round_trips - o.round_trips,
            prepared: self.prepared - o.prepared,
        }
    }
}

/// The frontend's message stream, parsed as it passes.
#[derive(Default)]
struct Frontend {
    started: bool,
    pending: Vec<u8>,
    /// This connection's prepared statements, by name, and the one last bound.
    prepared: HashMap<String, String>,
    bound: String,
}

impl Frontend {
    /// Takes the next bytes and counts every message they complete.
    fn feed(&mut self, bytes: &[u8], counts: &Counts) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            let rest = &self.pending[at..];
            if !self.started {
                // Untyped: length (including itself), then the code or protocol version.
                let Some(len) = be_u32(rest, 0) else { break };
                let len = len as usize;
                if rest.len() < len.max(8) {
                    break;
                }
                let code = be_u32(rest, 4).unwrap_or(0);
                self.started = code != SSL_REQUEST && code != GSSENC_REQUEST;
                at += len;
            } else {
                let Some(len) = be_u32(rest, 1) else { break };
                let total = 1 + len as usize;
                if rest.len() < total {
                    break;
                }
                let kind = rest[0];
                counts.count(kind);
                let body = &rest[5..total];
                match kind {
                    b'P' => {
                        let mut parts = body.split(|b| *b == 0);
                        let name = String::from_utf8_lossy(parts.next().unwrap_or_default());
                        let sql = String::from_utf8_lossy(parts.next().unwrap_or_default());
                        self.prepared.insert(name.into_owned(), one_line(&sql));
                    }
                    b'B' => {
                        let mut parts = body.split(|b| *b == 0);
                        let _portal = parts.next();
                        let name = String::from_utf8_lossy(parts.next().unwrap_or_default());
                        self.bound = self
                            .prepared
                            .get(name.as_ref())
                            .cloned()
                            .unwrap_or_default();
                    }
                    b'E' => counts.log(&self.bound),
                    b'Q' => {
                        let sql = body.split(|b| *b == 0).next().unwrap_or_default();
                        counts.log(&one_line(&String::from_utf8_lossy(sql)));
                    }
                    _ => {}
                }
                at += total;
            }
        }
        self.pending.drain(..at);
    }
}

/// A statement's text on one line, its whitespace collapsed.
fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Listens on a free local port and forwards each connection to `upstream`.
pub(crate) async fn start(upstream: String) -> anyhow::Result<(u16, Arc<Counts>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let counts = Arc::new(Counts::default());
    let shared = counts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counts = shared.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(&upstream).await {
                    let _ = relay(client, server, counts).await;
                }
            });
        }
    });
    Ok((port, counts))
}

async fn relay(client: TcpStream, server: TcpStream, counts: Arc<Counts>) -> std::io::Result<()> {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let down = tokio::spawn(async move { tokio::io::copy(&mut from_server, &mut to_client).await });
    let mut frontend = Frontend::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from_client.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        frontend.feed(&buf[..n], &counts);
        to_server.write_all(&buf[..n]).await?;
    }
    let _ = to_server.shutdown().await;
    down.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Counts, Frontend, Tally};

    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(4 + body.len() as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn counts_statements_and_round_trips_across_split_reads() {
        let mut stream = Vec::new();
        // SSLRequest, then the startup message (protocol 3.0).
        stream.extend_from_slice(&8u32.to_be_bytes());
        stream.extend_from_slice(&80_877_103u32.to_be_bytes());
        stream.extend_from_slice(&9u32.to_be_bytes());
        stream.extend_from_slice(&196_608u32.to_be_bytes());
        stream.push(0);
        stream.extend(msg(b'Q', b"begin\0"));
        for _ in 0..2 {
            stream.extend(msg(b'B', b"xx"));
            stream.extend(msg(b'E', b"\0\0\0\0\0"));
        }
        stream.extend(msg(b'P', b"s\0select 1\0\0\0"));
        stream.extend(msg(b'S', b""));
        stream.extend(msg(b'Q', b"commit\0"));
        let counts = Counts::default();
        counts.record();
        let mut f = Frontend::default();
        for piece in stream.chunks(3) {
            f.feed(piece, &counts);
        }
        assert_eq!(
            counts.snapshot(),
            Tally {
                statements: 4,
                round_trips: 3,
                prepared: 1
            }
        );
        assert!(f.pending.is_empty());
        assert_eq!(counts.take_record(), ["begin", "", "", "commit"]);
    }
}
