//! The HTTP server loop: serves connections until shutdown, then answers every request the
//! server has accepted and refuses the rest.
//!
//! `axum::serve`'s graceful shutdown loses two kinds of requests sent just before SIGTERM: a
//! connection accepted whose request hyper has not read yet is closed at once (the unread
//! request makes the kernel answer with a reset), and the connections still waiting in the
//! kernel's accept queue are reset when the listener is dropped. Here, once shutdown fires,
//! the loop accepts what is already queued before closing the listener (a later connection
//! is refused), and a connection that has not sent its first byte yet gets
//! [`FIRST_REQUEST_WAIT`] to send it; every request then in flight is answered with
//! `Connection: close`. A keep-alive connection idle between requests is closed, as HTTP/1.1
//! allows.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Layer;

/// How long, after shutdown fires, a connection that has sent nothing yet may take to start
/// its request.
const FIRST_REQUEST_WAIT: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` fires, then finishes in-flight requests.
pub async fn run(listener: TcpListener, app: Router, shutdown: CancellationToken) -> io::Result<()> {
    let connections = TaskTracker::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(stream, peer, app.clone(), shutdown.clone()));
                }
                Err(e) => accept_failed(e).await,
            },
            _ = shutdown.cancelled() => break,
        }
    }
    // the kernel completed these handshakes before shutdown: they are ours to answer
    let listener = listener.into_std()?;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => match stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)) {
                Ok(stream) => {
                    connections.spawn(connection(stream, peer, app.clone(), shutdown.clone()));
                }
                Err(e) => tracing::warn!("cannot serve a connection accepted at shutdown: {e}"),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!("accepting the queued connections at shutdown failed: {e}");
                break;
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// One connection: its requests until shutdown, then the one it carries, with `Connection: close`.
async fn connection(stream: TcpStream, peer: SocketAddr, app: Router, shutdown: CancellationToken) {
    let (first_byte, started) = oneshot::channel();
    let io = TokioIo::new(Watched { stream, first_byte: Some(first_byte) });
    let service = TowerToHyperService::new(Extension(ConnectInfo(peer)).layer(app));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => return finished(ended),
        _ = shutdown.cancelled() => {}
    }
    // hyper would close a connection that has not sent anything yet, resetting a request
    // already on its way: let it arrive first
    tokio::select! {
        ended = conn.as_mut() => return finished(ended),
        _ = tokio::time::timeout(FIRST_REQUEST_WAIT, started) => {}
    }
    conn.as_mut().graceful_shutdown();
    finished(conn.await);
}

fn finished(ended: Result<(), hyper::Error>) {
    if let Err(e) = ended {
        tracing::debug!("connection ended: {e}");
    }
}

/// A connection error (the peer gave up while queued) is the peer's; anything else (out of file
/// descriptors) is ours: wait a little rather than spin.
async fn accept_failed(e: io::Error) {
    if !is_connection_error(&e) {
        tracing::error!("accepting a connection failed: {e}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// The stream, telling when the first byte of the first request has been read.
struct Watched {
    stream: TcpStream,
    first_byte: Option<oneshot::Sender<()>>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before
            && let Some(first_byte) = self.first_byte.take()
        {
            let _ = first_byte.send(());
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
