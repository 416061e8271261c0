//! HTTP in front of the Socket.IO service: the hyper accept loop (one task per connection, all
//! stopped by the hub's shutdown token) and [`Gate`], a thin wrapper service that refuses new
//! handshakes while the hub stops and tracks pending long-polling requests, which is how `stop`
//! knows that a polling client has drained its queue (engineioxide answers a poll at once when
//! anything is queued, so a poll that stays pending means an empty queue).
//!
//! The gate is also the HTTP half of the hub's security: it derives each request's client
//! address ([`ClientAddr`], `trustProxy`), refuses requests whose `Origin` is not allowed (403,
//! WebSocket upgrades and polling alike), answers CORS preflights and adds CORS headers for
//! allowed origins only, and refuses handshakes over the per-address limits (429).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
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

use crate::clock::now_ms;
use crate::origin::{self, OriginPolicy};
use crate::ratelimit::{IpLimiter, IpRefusal};
use crate::stats::Stats;

/// The client address of a request, put into its extensions for the connect middleware (and
/// the `address` of `authenticate`'s handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client address: the TCP peer, or with `trust_proxy` the last `X-Forwarded-For` entry
/// (the address our proxy saw; entries before it are whatever the client claimed).
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trust_proxy: bool) -> IpAddr {
    if !trust_proxy {
        return peer;
    }
    forwarded_for
        .and_then(|h| h.rsplit(',').next())
        .map(str::trim)
        .and_then(|last| {
            last.parse::<IpAddr>()
                .ok()
                .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
        })
        .unwrap_or(peer)
}

/// Shared by every clone of [`GateService`] and by the hub's stop sequence.
pub struct Gate {
    /// Set when the hub starts stopping: new handshakes get 503, existing sessions go on.
    closing: AtomicBool,
    /// Engine.IO sid -> when its currently pending long-poll began.
    polls: Mutex<HashMap<String, Instant>>,
    origins: OriginPolicy,
    trust_proxy: bool,
    /// Shared with the socket handlers, which count open connections.
    ips: Arc<Mutex<IpLimiter>>,
    stats: Arc<Stats>,
    /// `metricsPath`, and what renders its body (set once the hub exists; `None` once it is
    /// gone).
    metrics_path: Option<String>,
    metrics: OnceLock<MetricsFn>,
}

/// Renders the Prometheus text of the hub, `None` if the hub is gone.
pub type MetricsFn = Box<dyn Fn() -> Option<String> + Send + Sync>;

impl Gate {
    pub fn new(
        origins: OriginPolicy,
        trust_proxy: bool,
        ips: Arc<Mutex<IpLimiter>>,
        stats: Arc<Stats>,
    ) -> Self {
        Gate {
            closing: AtomicBool::new(false),
            polls: Mutex::new(HashMap::new()),
            origins,
            trust_proxy,
            ips,
            stats,
            metrics_path: None,
            metrics: OnceLock::new(),
        }
    }

    /// Serves `render()` at `path` (GET), before any Socket.IO handling.
    pub fn with_metrics(mut self, path: Option<String>) -> Self {
        self.metrics_path = path;
        self
    }

    pub fn set_metrics(&self, render: MetricsFn) {
        let _ = self.metrics.set(render);
    }

    fn metrics_response<B>(&self, method: &http::Method) -> Response<Either<B, Full<Bytes>>> {
        if method != http::Method::GET && method != http::Method::HEAD {
            let mut res = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            res.headers_mut().insert(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, HEAD"),
            );
            return res;
        }
        let Some(text) = self.metrics.get().and_then(|f| f()) else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "hub not running");
        };
        let mut res = Response::new(Either::Right(Full::new(Bytes::from(text))));
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        );
        res.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        res
    }

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

/// The Socket.IO service behind the [`Gate`], one clone per TCP connection.
#[derive(Clone)]
pub struct GateService<S> {
    pub inner: S,
    pub gate: Arc<Gate>,
    /// The TCP peer of this connection.
    pub peer: Option<SocketAddr>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn plain<B>(status: StatusCode, body: &'static str) -> Response<Either<B, Full<Bytes>>> {
    let mut res = Response::new(Either::Right(Full::new(Bytes::from_static(
        body.as_bytes(),
    ))));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// CORS headers for an allowed origin (never for others).
fn cors(headers: &mut http::HeaderMap, origin: &http::HeaderValue) {
    use http::header::*;
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        http::HeaderValue::from_static("true"),
    );
    headers.append(VARY, http::HeaderValue::from_static("Origin"));
}

impl<S, B> Service<Request<Incoming>> for GateService<S>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Either<B, Full<Bytes>>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let ready = |res| -> Self::Future { Box::pin(async move { Ok(res) }) };
        let gate = &self.gate;
        let ip = self.peer.map(|peer| {
            let xff = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok());
            client_ip(peer.ip(), xff, gate.trust_proxy)
        });
        if let Some(ip) = ip {
            req.extensions_mut().insert(ClientAddr(ip));
        }
        // Browsers send `Origin` on WebSocket upgrades and cross-origin requests: a page of
        // another site gets nothing, so it cannot ride on the user's cookies.
        let origin = req.headers().get(http::header::ORIGIN).cloned();
        if let Some(o) = &origin {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok());
            let ok = o
                .to_str()
                .is_ok_and(|o| origin::allowed(&gate.origins, o, host));
            if !ok {
                Stats::add(&gate.stats.origin_refusals, 1);
                return ready(plain(StatusCode::FORBIDDEN, "origin not allowed"));
            }
        }
        // Metrics: answered here, so a scrape is neither a handshake (rate limits) nor
        // Socket.IO traffic. A browser page of another origin was refused above.
        if let Some(mp) = &gate.metrics_path {
            let p = req.uri().path();
            if p == mp || p.strip_suffix('/') == Some(mp.as_str()) {
                return ready(gate.metrics_response(req.method()));
            }
        }
        if req.method() == http::Method::OPTIONS {
            let mut res = plain(StatusCode::NO_CONTENT, "");
            *res.body_mut() = Either::Right(Full::default());
            let h = res.headers_mut();
            if let Some(o) = &origin {
                cors(h, o);
                h.insert(
                    http::header::ACCESS_CONTROL_ALLOW_METHODS,
                    http::HeaderValue::from_static("GET, POST, OPTIONS"),
                );
                let asked = req
                    .headers()
                    .get(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
                    .cloned()
                    .unwrap_or(http::HeaderValue::from_static("content-type"));
                h.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
                h.insert(
                    http::header::ACCESS_CONTROL_MAX_AGE,
                    http::HeaderValue::from_static("600"),
                );
            }
            return ready(res);
        }
        let (sid, transport) = engine_query(&req);
        if sid.is_none() && gate.closing.load(Ordering::SeqCst) {
            let mut res = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "nself-realtime hub is shutting down",
            );
            res.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            return ready(res);
        }
        if let (None, Some(ip)) = (sid, ip) {
            if let Err(why) = gate.ips.lock().handshake(ip, now_ms()) {
                Stats::add(&gate.stats.connections_rate_limited, 1);
                let mut res = plain(
                    StatusCode::TOO_MANY_REQUESTS,
                    match why {
                        IpRefusal::TooManyNewConnections => "too many new connections",
                        IpRefusal::TooManyOpenConnections => "too many open connections",
                    },
                );
                res.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("1"),
                );
                return ready(res);
            }
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
            res.map(|r| {
                let mut r = r.map(Either::Left);
                if let Some(o) = &origin {
                    if r.status() != StatusCode::SWITCHING_PROTOCOLS {
                        cors(r.headers_mut(), o);
                    }
                }
                r
            })
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

/// Accepts connections until `shutdown`, serving each with `make_svc(peer)` (HTTP/1.1 with
/// upgrades, for WebSocket). Connection tasks are tracked by `conns`; on `shutdown` each
/// finishes its current request and closes; on `kill` every connection, upgraded ones
/// included, is dropped.
pub async fn serve<S, B, M>(
    listener: TcpListener,
    make_svc: M,
    shutdown: CancellationToken,
    kill: CancellationToken,
    conns: TaskTracker,
) where
    M: Fn(SocketAddr) -> S + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
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
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: the next accept may work.
                eprintln!("nself-realtime: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        stream.set_nodelay(true).ok();
        let stream = KillableStream::new(stream, &kill);
        let svc = make_svc(peer);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_client_address_comes_from_the_proxy_only_when_trusted() {
        let peer: IpAddr = [127, 0, 0, 1].into();
        let xff = Some("6.6.6.6, 203.0.113.7");
        assert_eq!(client_ip(peer, xff, false), peer);
        assert_eq!(client_ip(peer, xff, true), IpAddr::from([203, 0, 113, 7]));
        assert_eq!(
            client_ip(peer, Some("2001:db8::1"), true),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(peer, Some("203.0.113.7:5000"), true),
            IpAddr::from([203, 0, 113, 7])
        );
        assert_eq!(client_ip(peer, Some("garbage"), true), peer);
        assert_eq!(client_ip(peer, None, true), peer);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn client_ip_never_panics(h in ".{0,100}") {
            let _ = client_ip([127, 0, 0, 1].into(), Some(&h), true);
        }
    }
}
