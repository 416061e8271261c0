//! HTTP in front of the Socket.IO service: the hyper accept loop (one task per connection, all
//! stopped by the hub's shutdown token) and [`Gate`], a thin wrapper service that refuses new
//! handshakes while the hub stops and tracks pending long-polling requests, which is how `stop`
//! knows that a polling client has drained its queue (engineioxide answers a poll at once when
//! anything is queued, so a poll that stays pending means an empty queue).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

/// Shared by every clone of [`GateService`] and by the hub's stop sequence.
#[derive(Default)]
pub struct Gate {
    /// Set when the hub starts stopping: new handshakes get 503, existing sessions go on.
    closing: AtomicBool,
    /// Engine.IO sid -> when its currently pending long-poll began.
    polls: Mutex<HashMap<String, Instant>>,
}

impl Gate {
    pub fn close_handshakes(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// How many polling sessions have had a poll pending for at least `min`, counting only
    /// from `not_before`: a poll that was already pending when packets were queued at
    /// `not_before` is being answered with them, and must not count as idle meanwhile.
    pub fn idle_polls(&self, min: Duration, not_before: Instant) -> usize {
        let now = Instant::now();
        self.polls
            .lock()
            .values()
            .filter(|since| now.saturating_duration_since((**since).max(not_before)) >= min)
            .count()
    }
}

/// Ends a pending poll's record when its response is ready (or the request is dropped).
struct PollGuard {
    gate: Arc<Gate>,
    sid: String,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        self.gate.polls.lock().remove(&self.sid);
    }
}

/// Reads `sid` and `transport` from an Engine.IO request's query.
fn engine_query(req: &Request<Incoming>) -> (Option<&str>, Option<&str>) {
    let (mut sid, mut transport) = (None, None);
    for pair in req.uri().query().unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("sid", v)) => sid = Some(v),
            Some(("transport", v)) => transport = Some(v),
            _ => {}
        }
    }
    (sid, transport)
}

/// The Socket.IO service behind the [`Gate`].
#[derive(Clone)]
pub struct GateService<S> {
    pub inner: S,
    pub gate: Arc<Gate>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<Incoming>> for GateService<S>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Either<B, Full<Bytes>>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let (sid, transport) = engine_query(&req);
        if sid.is_none() && self.gate.closing.load(Ordering::SeqCst) {
            let res = Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header("retry-after", "1")
                .body(Either::Right(Full::new(Bytes::from_static(
                    b"nself-realtime hub is shutting down",
                ))));
            return Box::pin(async move {
                Ok(res.unwrap_or_else(|_| Response::new(Either::Right(Full::default()))))
            });
        }
        let guard = match (sid, transport, req.method()) {
            (Some(sid), Some("polling"), &http::Method::GET) => {
                self.gate
                    .polls
                    .lock()
                    .insert(sid.to_string(), Instant::now());
                Some(PollGuard {
                    gate: self.gate.clone(),
                    sid: sid.to_string(),
                })
            }
            _ => None,
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            drop(guard);
            res.map(|r| r.map(Either::Left))
        })
    }
}

/// A TCP stream that fails every read and write once `kill` is cancelled. WebSocket connections
/// leave hyper (and our connection tasks) when they upgrade; this is how `stop` still closes one
/// whose client stopped reading, once its time is up.
struct KillableStream {
    inner: TcpStream,
    /// One wait per direction: the WebSocket reader and writer poll from different tasks.
    read_kill: Pin<Box<WaitForCancellationFutureOwned>>,
    write_kill: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl KillableStream {
    fn new(inner: TcpStream, kill: &CancellationToken) -> Self {
        KillableStream {
            inner,
            read_kill: Box::pin(kill.clone().cancelled_owned()),
            write_kill: Box::pin(kill.clone().cancelled_owned()),
        }
    }
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "nself-realtime hub stopped",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read_kill.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.write_kill.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_kill.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts connections until `shutdown`, serving each with `svc` (HTTP/1.1 with upgrades, for
/// WebSocket). Connection tasks are tracked by `conns`; on `shutdown` each finishes its current
/// request and closes; on `kill` every connection, upgraded ones included, is dropped.
pub async fn serve<S, B>(
    listener: TcpListener,
    svc: S,
    shutdown: CancellationToken,
    kill: CancellationToken,
    conns: TaskTracker,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: the next accept may work.
                eprintln!("nself-realtime: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        stream.set_nodelay(true).ok();
        let stream = KillableStream::new(stream, &kill);
        let svc = svc.clone();
        let shutdown = shutdown.clone();
        conns.spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await.ok();
                }
            }
        });
    }
}
