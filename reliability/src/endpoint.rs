//! Stand-ins for a broken or hostile OTLP/HTTP endpoint, for the exporter's side of the suite:
//! one that hangs, one that answers 503, one whose `Retry-After` values are built to overflow
//! time arithmetic, one that answers garbage, and a mix of all four.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// `Retry-After` values that once crashed an exporter or could: past `u64` seconds, `u64::MAX`,
/// a year beyond any calendar arithmetic, negative, fractional, a date in year 9999, an
/// obsolete date form, words.
pub const HOSTILE_RETRY_AFTER: &[&str] = &[
    "18446744073709551615",
    "Sun, 06 Nov 400000000000 08:49:37 GMT",
    "99999999999999999999999999999999",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "-1",
    "1.5",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "soon, please",
];

/// What the endpoint does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Reads the request and never answers, holding the connection.
    Hang,
    /// `503 Service Unavailable`, no `Retry-After`.
    Unavailable,
    /// 503 or 429 with a [`HOSTILE_RETRY_AFTER`] value, in turn.
    HostileRetryAfter,
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// The four above, in turn per connection.
    Mixed,
}

impl Behaviour {
    /// Its name in figures.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Hang => "hanging",
            Behaviour::Unavailable => "503",
            Behaviour::HostileRetryAfter => "hostile-retry-after",
            Behaviour::Garbage => "garbage",
            Behaviour::Mixed => "mixed",
        }
    }
}

/// A loopback port with nothing listening on it: connections are refused.
pub fn dead_addr() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// A running stand-in endpoint. Dropping it (or [`stop`](Endpoint::stop)) closes the listener
/// and every connection it holds.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Binds `addr` (port 0 for any) and serves `behaviour` on the current Tokio runtime.
    pub async fn bind(addr: SocketAddr, behaviour: Behaviour) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = oneshot::channel();
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let mut n = 0usize;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    Some(_) = conns.join_next() => {}
                    Ok((stream, _)) = listener.accept() => {
                        let b = match behaviour {
                            Behaviour::Mixed => [
                                Behaviour::Hang,
                                Behaviour::Unavailable,
                                Behaviour::HostileRetryAfter,
                                Behaviour::Garbage,
                            ][n % 4],
                            b => b,
                        };
                        n += 1;
                        conns.spawn(serve(stream, b, seen.clone()));
                    }
                }
            }
            // Dropping the set aborts every connection it holds.
        });
        Ok(Endpoint {
            addr,
            requests,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests (or connections, for garbage) it has seen.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Closes the listener and every connection, and waits until the port is free.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour, seen: Arc<AtomicU64>) {
    match behaviour {
        Behaviour::Hang => {
            let mut buf = vec![0u8; 16 << 10];
            let mut counted = false;
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if !counted {
                    seen.fetch_add(1, Ordering::Relaxed);
                    counted = true;
                }
            }
        }
        Behaviour::Garbage => {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            seen.fetch_add(1, Ordering::Relaxed);
            let _ = stream
                .write_all(b"\x00\xffNOT HTTP\r\n\r\n\x16\x03\x01")
                .await;
        }
        Behaviour::Unavailable | Behaviour::HostileRetryAfter | Behaviour::Mixed => {
            let hostile = behaviour == Behaviour::HostileRetryAfter;
            let svc = service_fn(move |req: hyper::Request<Incoming>| {
                let n = seen.fetch_add(1, Ordering::Relaxed) as usize;
                drop(req);
                let mut res = Response::builder().status(StatusCode::SERVICE_UNAVAILABLE);
                if hostile {
                    if n % 2 == 1 {
                        res = res.status(StatusCode::TOO_MANY_REQUESTS);
                    }
                    let value = HOSTILE_RETRY_AFTER[n % HOSTILE_RETRY_AFTER.len()];
                    res = res.header(header::RETRY_AFTER, value);
                }
                let res = res
                    .body(Full::new(Bytes::from_static(b"unavailable")))
                    .expect("a valid response");
                async move { Ok::<_, Infallible>(res) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::net::Http1;

    #[tokio::test]
    async fn each_behaviour_answers_as_named() {
        let any = "127.0.0.1:0".parse().unwrap();
        let limit = Duration::from_secs(5);

        let e = Endpoint::bind(any, Behaviour::HostileRetryAfter)
            .await
            .unwrap();
        let mut c = Http1::new(e.addr(), limit);
        let statuses = [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::TOO_MANY_REQUESTS,
        ];
        for (status, retry_after) in statuses.into_iter().zip(HOSTILE_RETRY_AFTER) {
            let a = c
                .post_otlp("application/x-protobuf", false, Bytes::new())
                .await
                .unwrap();
            assert_eq!(a.status, status);
            assert_eq!(a.headers[header::RETRY_AFTER], retry_after);
        }
        assert_eq!(e.requests(), 2);
        e.stop().await;

        let e = Endpoint::bind(any, Behaviour::Unavailable).await.unwrap();
        let a = Http1::new(e.addr(), limit).get("/").await.unwrap();
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(a.headers.get(header::RETRY_AFTER).is_none());

        let e = Endpoint::bind(any, Behaviour::Hang).await.unwrap();
        let err = Http1::new(e.addr(), Duration::from_millis(200))
            .get("/")
            .await;
        assert!(err.unwrap_err().to_string().starts_with("no answer from"));
        let addr = e.addr();
        e.stop().await;
        // Stopped: the port refuses connections.
        assert!(TcpStream::connect(addr).await.is_err());

        let e = Endpoint::bind(any, Behaviour::Garbage).await.unwrap();
        assert!(Http1::new(e.addr(), limit).get("/").await.is_err());

        let dead = dead_addr().unwrap();
        assert!(Http1::new(dead, limit).get("/").await.is_err());
    }
}
