//! nself-realtime: a Socket.IO hub for Next.js dashboards, run inside the Node process as a
//! napi-rs addon.
//!
//! # Layout
//!
//! The hub core is plain Rust (no N-API) so that it can be unit tested with `cargo test`:
//!
//! - [`error`]: the error type every public operation returns, with its stable `code`.
//! - [`options`]: `HubOptions` parsed from JSON, validated, with the defaults of SPEC §3.
//! - [`validate`]: the payload rules of SPEC §4 (the six event types, custom event names) and the
//!   room-name rule of SPEC §5.
//! - [`clock`]: wall-clock milliseconds and ISO-8601 formatting for envelopes and presence.
//! - [`envelope`]: builds the `{ type, data, timestamp, room?, seq, epoch }` envelope around a payload.
//! - [`history`]: per-target sequence numbers and the bounded history that recovery replays.
//! - [`compact`]: the compact form of a `batch` packet (one table instead of N envelopes).
//! - [`batch`]: per-target coalescing of high-frequency events (SPEC §6), pure logic.
//! - [`dispatch`]: the single task that turns queued emits into Socket.IO packets, in call order.
//! - [`presence`]: who is connected, in which rooms, since when, and with what state (SPEC §8).
//! - [`rooms`]: the client protocol of SPEC §5 (`join:room`, `leave:room`, `heartbeat`,
//!   `presence:set`, `recover`) on top of socketioxide.
//! - [`auth`]: the `authenticate` / `authorizeRoom` hooks as Rust callables, the handshake
//!   object they get, and the rules combining them with tokens.
//! - [`token`]: signed connection tokens (`secret`, `createToken`), HMAC-SHA256.
//! - [`glob`]: room patterns with `*` (`rooms: ['project-*']`).
//! - [`origin`]: the `allowedOrigins` policy (cross-site WebSocket hijacking, CORS).
//! - [`ratelimit`]: token buckets for client packets and per-address connection limits.
//! - [`metrics`]: `getStats()` as Prometheus text for the `metricsPath` endpoint (pure).
//! - [`stats`]: the counters behind `getStats()` (SPEC §10).
//! - [`server`]: the hyper accept loop and the HTTP wrapper around the Socket.IO service
//!   (tracks long-polling requests so that shutdown can wait for them to drain).
//! - [`keys`]: Redis key names of a cluster, the numbering script and the replay rule (pure).
//! - [`replica`]: the other hubs' presence snapshots, merged and expired (pure).
//! - [`cluster`]: scale-out through Redis: the socketioxide-redis driver that tolerates Redis
//!   outages, cluster-wide numbering and history, presence exchange, Redis health.
//! - [`emitter`]: `createEmitter`: a hub without listener or clients, for processes that run
//!   no hub; its emits reach every hub's clients through Redis.
//! - [`hub`]: lifecycle (start, stop, the process-wide running hub) and the emit entry point.
//!
//! The [`binding`] module is the thin `#[napi]` layer: it converts JS values at the boundary,
//! maps [`error::HubError`] to a JS `Error` with a `code`, and holds no hub logic.

/// Emits allocate on the JS thread and free on the hub's threads; glibc's allocator serialises
/// those cross-thread frees on arena locks, mimalloc does not (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod auth;
pub mod batch;
pub mod binding;
pub mod clock;
pub mod cluster;
pub mod compact;
pub mod dispatch;
pub mod emitter;
pub mod envelope;
pub mod error;
pub mod glob;
pub mod history;
pub mod hub;
pub mod json;
pub mod keys;
pub mod metrics;
pub mod options;
pub mod origin;
pub mod presence;
pub mod ratelimit;
pub mod replica;
pub mod rooms;
pub mod server;
pub mod stats;
pub mod token;
pub mod validate;
