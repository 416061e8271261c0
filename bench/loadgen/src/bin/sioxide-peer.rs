//! `sioxide-peer`: the floor of the side-by-side benchmark. Bare socketioxide 0.18 on hyper, with
//! none of nself-realtime's layer (no validation, presence, stats or dispatcher queue): the same
//! wire protocol the load generator speaks (`join:room` with an ack, `heartbeat` -> `pong`), the
//! same envelopes, and the same batching rule (per room: 10 events or 100 ms, an unbatched emit
//! flushes the room's batch first), with the emits generated here in Rust at the scenario's rate.
//!
//! Control, one JSON object per line: on stdin `{"cmd":"run",...}` (see [`Scenario`]),
//! `{"cmd":"stats"}`, `{"cmd":"quit"}`; on stdout `LISTEN {"port":..}` at start, `DONE {..}` after
//! a run, `STATS {..}`.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::{SocketIo, TransportType};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;

/// The per-socket queue of the nself-realtime hub's default (`maxQueuedPackets`), so that both
/// drop (or not) under the same bursts.
const MAX_BUFFER: usize = 16_384;
const BATCH_MAX: usize = 10;
const BATCH_WAIT: Duration = Duration::from_millis(100);
const BATCHED: [&str; 2] = ["logs:stream", "docker:stats"];

fn main() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

fn arg(name: &str, default: &str) -> String {
    let mut it = std::env::args();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().unwrap_or_default();
        }
    }
    default.to_string()
}

async fn run() {
    let port: u16 = arg("--port", "0").parse().expect("--port");
    let path = arg("--path", "/api/ws");
    let (svc, io) = SocketIo::builder()
        .req_path(path)
        .ping_interval(Duration::from_secs(30))
        .ping_timeout(Duration::from_secs(10))
        .max_buffer_size(MAX_BUFFER)
        .transports([TransportType::Websocket, TransportType::Polling])
        .build_svc();
    // Handlers go on in a connect middleware, which runs before CONNECT is sent: registered in
    // the connect handler (its own task, after CONNECT), a client's first `join:room` can arrive
    // before the handler exists and be dropped (seen here: joins never acknowledged under load).
    io.ns("/", on_connect.with(register));

    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    println!(
        "LISTEN {}",
        json!({ "port": port, "pid": std::process::id() })
    );
    std::io::stdout().flush().ok();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            stream.set_nodelay(true).ok();
            let svc = svc.clone();
            tokio::spawn(async move {
                http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await
                    .ok();
            });
        }
    });

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(cmd) = serde_json::from_str::<Value>(&line) else {
            eprintln!("sioxide-peer: not JSON: {line}");
            continue;
        };
        match cmd.get("cmd").and_then(Value::as_str) {
            Some("run") => {
                let scenario = Scenario::from_json(&cmd);
                let report = run_scenario(&io, &scenario).await;
                println!("DONE {report}");
            }
            Some("stats") => println!(
                "STATS {}",
                json!({ "rss": rss_bytes(), "cpu_us": cpu_us() })
            ),
            Some("quit") => break,
            other => eprintln!("sioxide-peer: unknown cmd {other:?}"),
        }
        std::io::stdout().flush().ok();
    }
}

async fn on_connect() {}

async fn register(s: SocketRef) -> Result<(), std::convert::Infallible> {
    s.on(
        "join:room",
        async |s: SocketRef, TryData::<Value>(d), ack: AckSender| {
            let room = d
                .ok()
                .and_then(|v| v.get("roomId").and_then(Value::as_str).map(str::to_string));
            match room {
                Some(room) => {
                    s.join(room.clone());
                    ack.send(&json!({ "ok": true, "room": room })).ok();
                }
                None => {
                    ack.send(&json!({ "ok": false, "error": { "code": "BAD_REQUEST" } }))
                        .ok();
                }
            }
        },
    );
    s.on("heartbeat", async |s: SocketRef, ack: AckSender| {
        let body = json!({ "timestamp": iso8601(now_ms()) });
        ack.send(&body).ok();
        s.emit("pong", &body).ok();
    });
    Ok(())
}

/// What to emit: `kinds` `[{ "type", "rate" (events/s), "burst" (events per emission instant,
/// e.g. 20 docker:stats once a second) }]` to `room` for `duration_ms`, batching on or off.
struct Scenario {
    room: String,
    duration_ms: u64,
    batch: bool,
    kinds: Vec<(String, f64, u64)>,
}

impl Scenario {
    fn from_json(v: &Value) -> Scenario {
        let kinds = v["kinds"]
            .as_array()
            .map(|ks| {
                ks.iter()
                    .map(|k| {
                        (
                            k["type"].as_str().unwrap_or("service:status").to_string(),
                            k["rate"].as_f64().unwrap_or(0.0),
                            k["burst"].as_u64().unwrap_or(1).max(1),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Scenario {
            room: v["room"].as_str().unwrap_or("bench").to_string(),
            duration_ms: v["duration_ms"].as_u64().unwrap_or(1000),
            batch: v["batch"].as_bool().unwrap_or(true),
            kinds,
        }
    }
}

/// Events of one kind due `elapsed` into a run: bursts of `burst`, the first at once.
fn due(rate: f64, burst: u64, elapsed: f64, total: u64) -> u64 {
    if rate <= 0.0 {
        return 0;
    }
    let bursts = (elapsed * rate / burst as f64).floor() as u64 + 1;
    (bursts * burst).min(total)
}

/// The per-room batch, as the hub and the socket.io peer keep it.
struct Pending {
    envelopes: Vec<String>,
    first_at: Instant,
}

struct Sender<'a> {
    io: &'a SocketIo,
    batches: HashMap<String, Pending>,
    frames: u64,
    failed: u64,
}

impl Sender<'_> {
    async fn emit(&mut self, room: &str, event: &str, envelope: String, batched: bool) {
        if batched {
            let p = self
                .batches
                .entry(room.to_string())
                .or_insert_with(|| Pending {
                    envelopes: Vec::with_capacity(BATCH_MAX),
                    first_at: Instant::now(),
                });
            if p.envelopes.is_empty() {
                p.first_at = Instant::now();
            }
            p.envelopes.push(envelope);
            if p.envelopes.len() >= BATCH_MAX {
                self.flush(room).await;
            }
        } else {
            self.flush(room).await;
            self.send(room, event, envelope).await;
        }
    }

    async fn flush(&mut self, room: &str) {
        let Some(p) = self.batches.get_mut(room) else {
            return;
        };
        if p.envelopes.is_empty() {
            return;
        }
        let json = format!("[{}]", p.envelopes.join(","));
        p.envelopes.clear();
        self.send(room, "batch", json).await;
    }

    async fn flush_due(&mut self, now: Instant) {
        let due: Vec<String> = self
            .batches
            .iter()
            .filter(|(_, p)| {
                !p.envelopes.is_empty() && now.duration_since(p.first_at) >= BATCH_WAIT
            })
            .map(|(r, _)| r.clone())
            .collect();
        for room in due {
            self.flush(&room).await;
        }
    }

    async fn send(&mut self, room: &str, event: &str, json: String) {
        let raw = RawValue::from_string(json).expect("envelope is JSON");
        self.frames += 1;
        if self
            .io
            .to(room.to_string())
            .emit(event, &*raw)
            .await
            .is_err()
        {
            self.failed += 1;
        }
    }
}

async fn run_scenario(io: &SocketIo, sc: &Scenario) -> Value {
    let cpu0 = cpu_us();
    let started = Instant::now();
    let mut sender = Sender {
        io,
        batches: HashMap::new(),
        frames: 0,
        failed: 0,
    };
    let secs = sc.duration_ms as f64 / 1000.0;
    let totals: Vec<u64> = sc
        .kinds
        .iter()
        .map(|(_, rate, _)| (rate * secs).round() as u64)
        .collect();
    let mut sent = vec![0u64; sc.kinds.len()];
    let mut seq = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut late_ticks = 0u64;
    let cutoff = Duration::from_millis(sc.duration_ms + 1000);
    loop {
        tick.tick().await;
        let elapsed = started.elapsed().as_secs_f64();
        let finished = elapsed >= secs;
        for (k, (kind, rate, burst)) in sc.kinds.iter().enumerate() {
            let target = if finished {
                totals[k]
            } else {
                due(*rate, *burst, elapsed, totals[k])
            };
            if target > sent[k] + burst {
                late_ticks += 1;
            }
            while sent[k] < target {
                // Behind by more than a second at the end: stop (see bench/peers/common.mjs).
                if started.elapsed() > cutoff {
                    break;
                }
                seq += 1;
                let now = now_us();
                let ts = iso8601(now / 1000);
                let data = payload(kind, sent[k], seq, now, &ts);
                let envelope = format!(
                    "{{\"type\":\"{kind}\",\"data\":{data},\"timestamp\":\"{ts}\",\"room\":\"{}\"}}",
                    sc.room
                );
                let batched = sc.batch && BATCHED.contains(&kind.as_str());
                sender.emit(&sc.room, kind, envelope, batched).await;
                sent[k] += 1;
            }
        }
        sender.flush_due(Instant::now()).await;
        if finished || started.elapsed() > cutoff {
            break;
        }
    }
    let emit_end_ms = started.elapsed().as_millis() as u64;
    // What is still pending goes out after its wait, as in the hub (stop flushes sooner).
    while sender.batches.values().any(|p| !p.envelopes.is_empty()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        sender.flush_due(Instant::now()).await;
    }
    json!({
        "peer": "socketioxide",
        "events": seq,
        "planned": totals.iter().sum::<u64>(),
        "frames_emitted": sender.frames,
        "emit_errors": sender.failed,
        "late_ticks": late_ticks,
        "emit_ms": emit_end_ms,
        "cpu_us": cpu_us() - cpu0,
        "cpu_total_us": cpu_us(),
        "rss": rss_bytes(),
    })
}

/// The payloads of the benchmark, byte for byte the same as `bench/peers/common.mjs` builds.
fn payload(kind: &str, i: u64, n: u64, t: u64, ts: &str) -> String {
    match kind {
        "service:status" => format!(
            "{{\"service\":\"svc-{}\",\"status\":\"running\",\"timestamp\":\"{ts}\",\"containerId\":\"3f2a9c1b7d4e\",\"health\":{{\"status\":\"healthy\",\"lastCheck\":\"{ts}\"}},\"resources\":{{\"cpu\":2.35,\"memory\":187695104}},\"t\":{t},\"n\":{n}}}",
            i % 7
        ),
        "build:progress" => format!(
            "{{\"step\":\"images\",\"progress\":{},\"status\":\"in-progress\",\"message\":\"building image 3 of 7\",\"timestamp\":\"{ts}\",\"totalSteps\":7,\"currentStep\":3,\"t\":{t},\"n\":{n}}}",
            i % 101
        ),
        "logs:stream" => format!(
            "{{\"service\":\"hasura\",\"line\":\"{{\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"request completed\\\",\\\"path\\\":\\\"/v1/graphql\\\",\\\"status\\\":200,\\\"ms\\\":{}}}\",\"timestamp\":\"{ts}\",\"level\":\"info\",\"source\":\"stdout\",\"t\":{t},\"n\":{n}}}",
            i % 1000
        ),
        "docker:stats" => format!(
            "{{\"containerId\":\"c{:011}\",\"containerName\":\"nself_{}\",\"timestamp\":\"{ts}\",\"stats\":{{\"cpu\":12.48,\"memory\":187695104,\"memoryLimit\":2147483648,\"memoryPercent\":8.74,\"network\":{{\"rx\":52428800,\"tx\":15728640}},\"blockIO\":{{\"read\":19922944,\"write\":40632320}}}},\"t\":{t},\"n\":{n}}}",
            i % 20,
            i % 20
        ),
        _ => format!("{{\"i\":{i},\"t\":{t},\"n\":{n}}}"),
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    now_us() / 1000
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (civil-from-days, H. Hinnant).
fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// User + system CPU time of this process, all threads, in µs.
fn cpu_us() -> u64 {
    // /proc/self/stat fields 14 and 15 (utime, stime) in clock ticks, after the `(comm)` field.
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    let Some(after) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    ticks * 10_000 // CLK_TCK is 100 on Linux
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}
