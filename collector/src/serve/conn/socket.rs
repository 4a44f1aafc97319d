//! The socket under a connection: plain or TLS, noting for the connection's clock when bytes
//! move and, from the first bytes, whether it speaks HTTP/2.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::{ConnShared, PROTO_H1, PROTO_H2};

/// The start of the HTTP/2 connection preface; no HTTP/1.1 method starts with it.
const H2_PREFIX: &[u8] = b"PRI";

/// A plain or TLS socket.
#[derive(Debug)]
pub(crate) enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// A socket that reports to its [`ConnShared`].
#[derive(Debug)]
pub(crate) struct Tracked {
    io: Io,
    conn: Arc<ConnShared>,
    /// Bytes of [`H2_PREFIX`] matched so far; `None` once the protocol is known.
    sniff: Option<usize>,
}

impl Tracked {
    pub(crate) fn new(io: Io, conn: Arc<ConnShared>) -> Self {
        let sniff = (!conn.is_h2()).then_some(0);
        Tracked { io, conn, sniff }
    }

    /// Notes a write's outcome: bytes moved, or the socket full.
    fn wrote(&self, r: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        self.conn.write_blocked(r.is_pending());
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            self.conn
                .last_io
                .store(self.conn.listener.now(), Ordering::Release);
        }
        r
    }
}

/// Decides the protocol from the first bytes read: the HTTP/2 preface or anything else.
/// `matched` counts the bytes of [`H2_PREFIX`] seen so far and becomes `None` once decided.
pub(super) fn sniff(matched: &mut Option<usize>, proto: &AtomicU8, bytes: &[u8]) {
    let Some(mut n) = *matched else {
        return;
    };
    for &b in bytes {
        if b != H2_PREFIX[n] {
            proto.store(PROTO_H1, Ordering::Release);
            *matched = None;
            return;
        }
        n += 1;
        if n == H2_PREFIX.len() {
            proto.store(PROTO_H2, Ordering::Release);
            *matched = None;
            return;
        }
    }
    *matched = Some(n);
}

macro_rules! io {
    ($self:ident, $io:ident => $e:expr) => {
        match &mut $self.io {
            Io::Plain($io) => {
                let $io = Pin::new($io);
                $e
            }
            Io::Tls($io) => {
                let $io = Pin::new(&mut **$io);
                $e
            }
        }
    };
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(io!(this, io => io.poll_read(cx, buf)))?;
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            sniff(&mut this.sniff, &this.conn.proto, new);
            this.conn.on_read(this.conn.listener.now());
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = io!(this, io => io.poll_write(cx, buf));
        this.wrote(r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = io!(this, io => io.poll_write_vectored(cx, bufs));
        this.wrote(r)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(io) => io.is_write_vectored(),
            Io::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // TLS may take bytes into its own buffer and only block here.
        let r = io!(this, io => io.poll_flush(cx));
        this.conn.write_blocked(r.is_pending());
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        io!(this, io => io.poll_shutdown(cx))
    }
}
