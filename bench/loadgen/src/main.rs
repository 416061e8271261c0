//! `loadgen`: many Socket.IO clients from one process, speaking Engine.IO v4 / Socket.IO v5 over
//! websocket directly (no socket.io-client), for the side-by-side benchmark (issue 8).
//!
//! Each client: `GET <url>?EIO=4&transport=websocket`, answers Engine.IO pings (`2` -> `3`),
//! sends `40`, then `420["join:room",{"roomId":<room>}]` and waits for its ack `430[{"ok":true..}]`,
//! and sends `42["heartbeat"]` every `--heartbeat-ms` so that the hub's stale sweep never takes it.
//! Every event data carries `t` (µs since the Unix epoch at the emit call) and `n` (a sequence
//! number per room, across all event kinds): latency = receive time - `t`, a gap = a jump in `n`.
//! A `batch` packet counts each envelope in it.
//!
//! Protocol with the orchestrator (`bench/run.mjs`): once every client is connected and joined
//! (or failed) and the room is quiet (presence notifications drained), prints one line
//! `READY {json}` on stdout; with `--wait-go` it then waits for a line on stdin; it measures for
//! `--duration-ms` + `--grace-ms` and prints the summary JSON (also to `--out`).

mod hist;

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use hist::Hist;

const USAGE: &str =
    "usage: loadgen --url ws://127.0.0.1:3022/api/ws/ [--clients 100] [--room bench] \
[--ramp-ms 1000] [--duration-ms 5000] [--grace-ms 1000] [--heartbeat-ms 30000] [--threads 1] \
[--concurrency 256] [--setup-timeout-ms 120000] [--settle-ms 300] [--wait-go] [--out file.json]
  --room ''      connect only, join nothing (idle connections)
  --threads 1    a current_thread runtime (one core); N > 1: a multi-thread runtime of N workers";

struct Args {
    url: String,
    clients: usize,
    room: Option<String>,
    ramp_ms: u64,
    duration_ms: u64,
    grace_ms: u64,
    heartbeat_ms: u64,
    threads: usize,
    concurrency: usize,
    setup_timeout_ms: u64,
    settle_ms: u64,
    wait_go: bool,
    out: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: String::new(),
        clients: 100,
        room: Some("bench".into()),
        ramp_ms: 1000,
        duration_ms: 5000,
        grace_ms: 1000,
        heartbeat_ms: 30_000,
        threads: 1,
        concurrency: 256,
        setup_timeout_ms: 120_000,
        settle_ms: 300,
        wait_go: false,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--wait-go" {
            a.wait_go = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag}: missing value"))?;
        let num = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: expected a non-negative integer, got {value}"))
        };
        match flag.as_str() {
            "--url" => a.url = value.clone(),
            "--clients" => a.clients = num()? as usize,
            "--room" => a.room = Some(value.clone()).filter(|r| !r.is_empty()),
            "--ramp-ms" => a.ramp_ms = num()?,
            "--duration-ms" => a.duration_ms = num()?,
            "--grace-ms" => a.grace_ms = num()?,
            "--heartbeat-ms" => a.heartbeat_ms = num()?.max(1),
            "--threads" => a.threads = num()?.max(1) as usize,
            "--concurrency" => a.concurrency = num()?.max(1) as usize,
            "--setup-timeout-ms" => a.setup_timeout_ms = num()?,
            "--settle-ms" => a.settle_ms = num()?,
            "--out" => a.out = Some(value.clone()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.url.is_empty() {
        return Err("--url is required".into());
    }
    Ok(a)
}

const SETUP: u8 = 0;
const MEASURING: u8 = 1;
const DONE: u8 = 2;

/// What every client task shares with `main`.
struct Shared {
    phase: AtomicU8,
    ready: AtomicUsize,
    failed: AtomicUsize,
    /// `presence:*` frames seen: the room is settled once this stops moving.
    presence_frames: AtomicU64,
    /// Limits handshakes in flight, so that a big ramp does not time out on accept backlogs.
    handshakes: Semaphore,
}

/// One client's counters. Each client task locks only its own (uncontended) mutex per frame;
/// `main` merges them at the end.
#[derive(Default)]
struct ClientStats {
    frames: u64,
    bytes: u64,
    event_frames: u64,
    batch_frames: u64,
    events: u64,
    presence_frames: u64,
    other_frames: u64,
    gaps: u64,
    reorders: u64,
    last_n: Option<u64>,
    hist: Hist,
    ready_after_ms: Option<u64>,
    connect_error: Option<String>,
    /// Closed after it was ready (by the server or the network), with the phase it happened in.
    disconnected: Option<(u8, String)>,
    ts: Vec<u64>,
    ns: Vec<u64>,
    /// The socket, for TCP_INFO (None once closed: the number may be reused).
    fd: Option<i32>,
    /// TCP payload bytes and segments received, at the start of the measurement.
    tcp_at_go: Option<(u64, u64)>,
    /// The same, counted over the measurement.
    tcp: (u64, u64),
}

/// Bytes (websocket framing included) and segments this socket received, from the kernel.
fn tcp_received(fd: Option<i32>) -> Option<(u64, u64)> {
    let fd = fd?;
    // SAFETY: `info` is a plain C struct that getsockopt fills up to `len` bytes.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        (rc == 0).then_some((info.tcpi_bytes_received, info.tcpi_segs_in as u64))
    }
}

/// User + system CPU time of this process, in µs.
fn cpu_us() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return 0;
        }
        let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        us(ru.ru_utime) + us(ru.ru_stime)
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Finds every `"t":<int>` and `"n":<int>` in a frame. Inside JSON strings a quote is always
/// escaped, so `"t":` can only be a key; the payloads of the benchmark use `t` and `n` for
/// nothing else. Key order does not matter (serde_json sorts keys, JS keeps insertion order).
fn scan_tn(s: &[u8], ts: &mut Vec<u64>, ns: &mut Vec<u64>) {
    ts.clear();
    ns.clear();
    if s.starts_with(COMPACT_BATCH) && scan_compact(s, ts, ns).is_some() {
        return;
    }
    ts.clear();
    ns.clear();
    scan_tn_append(s, ts, ns);
}

/// nself-realtime's compact batch (`batch.format: 'compact'`): `{ ..., "shapes": [[key, ...],
/// ...], "items": [[typeIdx, ms, shapeIdx, v1, ...] | [typeIdx, ms, -1, data], ...] }`. The keys
/// are in `shapes`, not next to the values, so the frame is parsed.
const COMPACT_BATCH: &[u8] = br#"42["batch",{"#;

/// The parts of a compact batch the load generator reads, borrowed from the frame.
#[derive(serde::Deserialize)]
struct CompactBatch<'a> {
    #[serde(borrow)]
    shapes: Vec<Vec<std::borrow::Cow<'a, str>>>,
    #[serde(borrow)]
    items: Vec<Vec<&'a serde_json::value::RawValue>>,
}

fn scan_compact(s: &[u8], ts: &mut Vec<u64>, ns: &mut Vec<u64>) -> Option<()> {
    let text = std::str::from_utf8(s.get(2..)?).ok()?;
    let (_, batch): (&str, CompactBatch) = serde_json::from_str(text).ok()?;
    // Where `t` and `n` sit in each shape's values.
    let at = |key: &str| -> Vec<Option<usize>> {
        batch
            .shapes
            .iter()
            .map(|keys| keys.iter().position(|k| k == key))
            .collect()
    };
    let (t_at, n_at) = (at("t"), at("n"));
    for item in &batch.items {
        let shape: i64 = item.get(2)?.get().parse().ok()?;
        if shape < 0 {
            scan_tn_append(item.get(3)?.get().as_bytes(), ts, ns);
            continue;
        }
        let shape = shape as usize;
        let value = |at: &[Option<usize>]| -> Option<u64> {
            item.get(3 + (*at.get(shape)?)?)?.get().parse().ok()
        };
        if let Some(t) = value(&t_at) {
            ts.push(t);
        }
        if let Some(n) = value(&n_at) {
            ns.push(n);
        }
    }
    Some(())
}

fn scan_tn_append(s: &[u8], ts: &mut Vec<u64>, ns: &mut Vec<u64>) {
    let mut i = 0;
    while i + 4 < s.len() {
        if s[i] == b'"'
            && s[i + 2] == b'"'
            && s[i + 3] == b':'
            && (s[i + 1] == b't' || s[i + 1] == b'n')
        {
            let mut j = i + 4;
            let mut v: u64 = 0;
            let start = j;
            while j < s.len() && s[j].is_ascii_digit() {
                v = v * 10 + (s[j] - b'0') as u64;
                j += 1;
            }
            if j > start {
                if s[i + 1] == b't' {
                    ts.push(v);
                } else {
                    ns.push(v);
                }
            }
            i = j;
        } else {
            i += 1;
        }
    }
}

impl ClientStats {
    fn on_data_frame(&mut self, text: &str, measuring: bool) {
        let now = now_us();
        let mut ts = std::mem::take(&mut self.ts);
        let mut ns = std::mem::take(&mut self.ns);
        scan_tn(text.as_bytes(), &mut ts, &mut ns);
        let events = ts.len().min(ns.len());
        for k in 0..events {
            let n = ns[k];
            if measuring {
                self.hist.record(now.saturating_sub(ts[k]));
                match self.last_n {
                    Some(last) if n > last + 1 => self.gaps += n - last - 1,
                    Some(last) if n <= last => self.reorders += 1,
                    _ => {}
                }
            }
            self.last_n = Some(n);
        }
        if measuring {
            self.events += events as u64;
            self.event_frames += 1;
            if text.starts_with("42[\"batch\"") {
                self.batch_frames += 1;
            }
        }
        self.ts = ts;
        self.ns = ns;
    }
}

fn ws_url(base: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}EIO=4&transport=websocket")
}

fn host_port(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("only ws:// URLs are supported, got {url}"))?;
    Ok(rest.split(['/', '?']).next().unwrap_or(rest).to_string())
}

enum Step {
    Continue,
    Stop,
}

struct Client {
    id: usize,
    url: String,
    addr: String,
    room: Option<String>,
    heartbeat: Duration,
    started: Instant,
    shared: Arc<Shared>,
    stats: Arc<Mutex<ClientStats>>,
}

impl Client {
    async fn run(self, delay: Duration, connect_timeout: Duration) {
        tokio::time::sleep(delay).await;
        let permit = self.shared.handshakes.acquire().await.ok();
        let connected = tokio::time::timeout(connect_timeout, self.connect()).await;
        let mut ws = match connected {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => return self.fail(e),
            Err(_) => return self.fail("connect timed out".into()),
        };
        let mut ready = false;
        let mut permit = permit;
        // Spread heartbeats over the interval instead of sending them all at once.
        let offset = Duration::from_millis(
            (self.id as u64 * 7919) % self.heartbeat.as_millis().max(1) as u64,
        );
        // A client that never gets its join ack (or CONNECT) counts as failed, not as pending.
        let ready_deadline = tokio::time::Instant::now() + connect_timeout;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + offset, self.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = ws.next() => {
                    let step = match msg {
                        Some(Ok(Message::Text(text))) => {
                            let (step, reply, became_ready) = self.on_text(text.as_str(), ready);
                            if became_ready {
                                ready = true;
                                permit = None;
                            }
                            if let Some(reply) = reply {
                                if let Err(e) = ws.send(Message::text(reply)).await {
                                    self.closed(ready, format!("send failed: {e}"));
                                    return;
                                }
                            }
                            step
                        }
                        Some(Ok(Message::Close(frame))) => {
                            self.closed(ready, format!("websocket close {frame:?}"));
                            Step::Stop
                        }
                        Some(Ok(_)) => Step::Continue,
                        Some(Err(e)) => {
                            self.closed(ready, format!("read error: {e}"));
                            Step::Stop
                        }
                        None => {
                            self.closed(ready, "connection ended".into());
                            Step::Stop
                        }
                    };
                    if let Step::Stop = step {
                        drop(permit);
                        return;
                    }
                }
                _ = tokio::time::sleep_until(ready_deadline), if !ready => {
                    self.fail("no CONNECT or join ack in time".into());
                    return;
                }
                _ = heartbeat.tick(), if ready => {
                    if let Err(e) = ws.send(Message::text("42[\"heartbeat\"]")).await {
                        self.closed(ready, format!("send failed: {e}"));
                        return;
                    }
                }
            }
        }
    }

    async fn connect(&self) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, String> {
        let tcp = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| format!("tcp connect: {e}"))?;
        tcp.set_nodelay(true).ok();
        {
            use std::os::fd::AsRawFd;
            self.stats.lock().unwrap().fd = Some(tcp.as_raw_fd());
        }
        // Small buffers: thousands of clients in one process.
        let cfg = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0);
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(self.url.as_str(), tcp, Some(cfg))
                .await
                .map_err(|e| format!("websocket handshake: {e}"))?;
        Ok(ws)
    }

    fn fail(&self, reason: String) {
        self.stats.lock().unwrap().connect_error = Some(reason);
        self.shared.failed.fetch_add(1, Ordering::SeqCst);
    }

    fn closed(&self, ready: bool, reason: String) {
        {
            let mut s = self.stats.lock().unwrap();
            if let (Some(at_go), Some(now)) = (s.tcp_at_go, tcp_received(s.fd)) {
                s.tcp = (now.0 - at_go.0, now.1 - at_go.1);
                s.tcp_at_go = None;
            }
            s.fd = None;
        }
        if ready {
            let phase = self.shared.phase.load(Ordering::Relaxed);
            self.stats.lock().unwrap().disconnected = Some((phase, reason));
        } else {
            self.fail(reason);
        }
    }

    /// Handles one text frame: what to answer, and whether the client just became ready.
    fn on_text(&self, text: &str, ready: bool) -> (Step, Option<String>, bool) {
        let phase = self.shared.phase.load(Ordering::Relaxed);
        let measuring = phase == MEASURING;
        let mut stats = self.stats.lock().unwrap();
        if measuring {
            stats.frames += 1;
            stats.bytes += text.len() as u64;
        }
        let b = text.as_bytes();
        match (b.first(), b.get(1)) {
            // Engine.IO open: connect to namespace `/`.
            (Some(b'0'), _) => (Step::Continue, Some("40".into()), false),
            (Some(b'2'), _) => (Step::Continue, Some("3".into()), false),
            (Some(b'1'), _) => {
                drop(stats);
                self.closed(ready, "engine.io close".into());
                (Step::Stop, None, false)
            }
            (Some(b'4'), Some(b'0')) => match &self.room {
                Some(room) => (
                    Step::Continue,
                    Some(format!("420[\"join:room\",{{\"roomId\":\"{room}\"}}]")),
                    false,
                ),
                None => {
                    drop(stats);
                    self.became_ready();
                    (Step::Continue, None, true)
                }
            },
            (Some(b'4'), Some(b'2')) => {
                if text.starts_with("42[\"presence:") {
                    if measuring {
                        stats.presence_frames += 1;
                    }
                    drop(stats);
                    self.shared.presence_frames.fetch_add(1, Ordering::Relaxed);
                } else if text.starts_with("42[\"pong\"") || text.starts_with("42[\"error\"") {
                    if measuring {
                        stats.other_frames += 1;
                    }
                } else {
                    stats.on_data_frame(text, measuring);
                }
                (Step::Continue, None, false)
            }
            (Some(b'4'), Some(b'3')) => {
                if measuring {
                    stats.other_frames += 1;
                }
                // The join ack is the first ack (id 0); heartbeats are sent without ack ids.
                if !ready && text.starts_with("430") {
                    drop(stats);
                    if text.contains("\"ok\":true") {
                        self.became_ready();
                        return (Step::Continue, None, true);
                    }
                    self.fail(format!("join refused: {}", truncate(text, 200)));
                    return (Step::Stop, None, false);
                }
                (Step::Continue, None, false)
            }
            (Some(b'4'), Some(b'1')) => {
                drop(stats);
                self.closed(ready, "socket.io disconnect".into());
                (Step::Stop, None, false)
            }
            (Some(b'4'), Some(b'4')) => {
                drop(stats);
                self.closed(ready, format!("connect_error {}", truncate(text, 200)));
                (Step::Stop, None, false)
            }
            _ => {
                if measuring {
                    stats.other_frames += 1;
                }
                (Step::Continue, None, false)
            }
        }
    }

    fn became_ready(&self) {
        self.stats.lock().unwrap().ready_after_ms = Some(self.started.elapsed().as_millis() as u64);
        self.shared.ready.fetch_add(1, Ordering::SeqCst);
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("loadgen: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let rt = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    let code = rt.block_on(run(args));
    // Skip dropping thousands of sockets one by one: the OS closes them.
    std::process::exit(code);
}

async fn run(args: Args) -> i32 {
    let addr = match host_port(&args.url) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return 2;
        }
    };
    let url = ws_url(&args.url);
    let shared = Arc::new(Shared {
        phase: AtomicU8::new(SETUP),
        ready: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        presence_frames: AtomicU64::new(0),
        handshakes: Semaphore::new(args.concurrency),
    });
    let started = Instant::now();
    let mut all = Vec::with_capacity(args.clients);
    for id in 0..args.clients {
        let stats = Arc::new(Mutex::new(ClientStats::default()));
        all.push(stats.clone());
        let client = Client {
            id,
            url: url.clone(),
            addr: addr.clone(),
            room: args.room.clone(),
            heartbeat: Duration::from_millis(args.heartbeat_ms),
            started,
            shared: shared.clone(),
            stats,
        };
        let delay = Duration::from_millis(args.ramp_ms * id as u64 / args.clients.max(1) as u64);
        tokio::spawn(client.run(delay, Duration::from_secs(30)));
    }

    // Setup: every client ready or failed, then the room quiet.
    let deadline = started + Duration::from_millis(args.ramp_ms + args.setup_timeout_ms);
    while shared.ready.load(Ordering::SeqCst) + shared.failed.load(Ordering::SeqCst) < args.clients
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected_ms = started.elapsed().as_millis() as u64;
    let mut last = shared.presence_frames.load(Ordering::SeqCst);
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(args.settle_ms) && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = shared.presence_frames.load(Ordering::SeqCst);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    let ready = shared.ready.load(Ordering::SeqCst);
    let failed = shared.failed.load(Ordering::SeqCst);
    let setup = json!({
        "clients": args.clients,
        "ready": ready,
        "failed": failed,
        "connected_ms": connected_ms,
        "settled_ms": started.elapsed().as_millis() as u64,
        "presence_frames_setup": last,
    });
    println!("READY {setup}");
    std::io::stdout().flush().ok();

    if args.wait_go {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        match lines.next_line().await {
            Ok(Some(_)) => {}
            _ => {
                eprintln!("loadgen: stdin closed before go");
                return 3;
            }
        }
    }
    for s in &all {
        let mut s = s.lock().unwrap();
        s.tcp_at_go = tcp_received(s.fd);
    }
    shared.phase.store(MEASURING, Ordering::SeqCst);
    let t0 = Instant::now();
    let cpu0 = cpu_us();
    tokio::time::sleep(Duration::from_millis(args.duration_ms + args.grace_ms)).await;
    shared.phase.store(DONE, Ordering::SeqCst);
    for s in &all {
        let mut s = s.lock().unwrap();
        if let (Some(at_go), Some(now)) = (s.tcp_at_go, tcp_received(s.fd)) {
            s.tcp = (now.0 - at_go.0, now.1 - at_go.1);
        }
    }
    let measured_ms = t0.elapsed().as_millis() as u64;
    let cpu = cpu_us() - cpu0;

    let mut summary = summarize(&args, &all, setup, measured_ms);
    summary["cpu_us"] = json!(cpu);
    summary["cpu_pct"] = json!(100.0 * cpu as f64 / 1000.0 / measured_ms.max(1) as f64);
    let text = summary.to_string();
    println!("{text}");
    std::io::stdout().flush().ok();
    if let Some(path) = &args.out {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("loadgen: cannot write {path}: {e}");
            return 1;
        }
    }
    0
}

fn summarize(
    args: &Args,
    all: &[Arc<Mutex<ClientStats>>],
    setup: serde_json::Value,
    measured_ms: u64,
) -> serde_json::Value {
    let mut hist = Hist::default();
    let (mut frames, mut bytes, mut event_frames, mut batch_frames, mut events) = (0, 0, 0, 0, 0);
    let (mut presence, mut other, mut gaps, mut reorders) = (0, 0, 0, 0);
    let (mut disconnects, mut disconnects_measuring) = (0, 0);
    let (mut tcp_bytes, mut tcp_segments) = (0, 0);
    let mut per_client_min = u64::MAX;
    let mut per_client_max = 0;
    let mut errors: Vec<String> = Vec::new();
    let mut ready_ms = Vec::new();
    for s in all {
        let s = s.lock().unwrap();
        hist.merge(&s.hist);
        frames += s.frames;
        bytes += s.bytes;
        event_frames += s.event_frames;
        batch_frames += s.batch_frames;
        events += s.events;
        presence += s.presence_frames;
        other += s.other_frames;
        gaps += s.gaps;
        reorders += s.reorders;
        tcp_bytes += s.tcp.0;
        tcp_segments += s.tcp.1;
        if let Some((phase, reason)) = &s.disconnected {
            disconnects += 1;
            if *phase == MEASURING {
                disconnects_measuring += 1;
            }
            if errors.len() < 5 {
                errors.push(format!("disconnect: {reason}"));
            }
        }
        if let Some(e) = &s.connect_error {
            if errors.len() < 5 {
                errors.push(format!("connect: {e}"));
            }
        }
        if let Some(ms) = s.ready_after_ms {
            ready_ms.push(ms);
            per_client_min = per_client_min.min(s.events);
            per_client_max = per_client_max.max(s.events);
        }
    }
    ready_ms.sort_unstable();
    let duration_s = args.duration_ms as f64 / 1000.0;
    json!({
        "url": args.url,
        "room": args.room,
        "threads": args.threads,
        "setup": setup,
        "duration_ms": args.duration_ms,
        "grace_ms": args.grace_ms,
        "measured_ms": measured_ms,
        "events": events,
        "events_per_s": if duration_s > 0.0 { events as f64 / duration_s } else { 0.0 },
        "event_frames": event_frames,
        "batch_frames": batch_frames,
        "frames": frames,
        "bytes": bytes,
        "presence_frames": presence,
        "tcp_bytes": tcp_bytes,
        "tcp_segments": tcp_segments,
        "other_frames": other,
        "latency_us": {
            "count": hist.count(),
            "p50": hist.quantile(0.50),
            "p90": hist.quantile(0.90),
            "p99": hist.quantile(0.99),
            "p999": hist.quantile(0.999),
            "max": hist.max(),
            "mean": hist.mean().round(),
        },
        "gaps": gaps,
        "reorders": reorders,
        "disconnects": disconnects,
        "disconnects_measuring": disconnects_measuring,
        "per_client_events": { "min": if per_client_min == u64::MAX { 0 } else { per_client_min }, "max": per_client_max },
        "ready_ms": { "p50": ready_ms.get(ready_ms.len() / 2), "max": ready_ms.last() },
        "errors": errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_t_and_n_in_any_order_and_in_batches() {
        let (mut ts, mut ns) = (Vec::new(), Vec::new());
        scan_tn(
            br#"42["batch",[{"type":"logs:stream","data":{"line":"a \"t\":9","t":17,"n":3},"timestamp":"x"},{"data":{"n":4,"t":18}}]]"#,
            &mut ts,
            &mut ns,
        );
        assert_eq!(ts, vec![17, 18]);
        assert_eq!(ns, vec![3, 4]);
    }

    #[test]
    fn scans_t_and_n_in_compact_batches() {
        let (mut ts, mut ns) = (Vec::new(), Vec::new());
        scan_tn(
            br#"42["batch",{"epoch":"e","seq":1,"timestamp":"2026-11-28T12:00:00.000Z","room":"r","types":["logs:stream","x"],"shapes":[["line","t","n"],["n","t"]],"items":[[0,0,0,"a \"t\":9",17,3],[1,1,1,4,18],[1,2,-1,{"t":19,"n":5}],[1,2,-1,"x"]]}]"#,
            &mut ts,
            &mut ns,
        );
        assert_eq!(ts, vec![17, 18, 19]);
        assert_eq!(ns, vec![3, 4, 5]);
        // Not parseable as compact: the plain scan still runs.
        scan_tn(br#"42["batch",{"shapes":1,"t":7,"n":8}]"#, &mut ts, &mut ns);
        assert_eq!((ts, ns), (vec![7], vec![8]));
    }

    #[test]
    fn gaps_and_reorders_are_counted() {
        let mut s = ClientStats::default();
        for n in [1, 2, 5, 4] {
            s.on_data_frame(&format!(r#"42["x",{{"data":{{"t":1,"n":{n}}}}}]"#), true);
        }
        assert_eq!(s.events, 4);
        assert_eq!(s.gaps, 2);
        assert_eq!(s.reorders, 1);
    }
}
