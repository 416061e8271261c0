//! The `#[napi]` layer: converts JS values at the boundary, calls the hub core, and maps
//! [`HubError`] to a JS `Error` with a `code`. No hub logic lives here.

use std::any::Any;
use std::cell::RefCell;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use parking_lot::Mutex;

use crate::auth::{Hooks, JsHook};
use crate::emitter;
use crate::error::{self as hub_error, HubError};
use crate::hub::{self, Hub};
use crate::options::HubConfig;
use crate::presence;
use crate::token;
use crate::validate::EventKind;

/// The hub's tokio runtime, handed to napi so that promises resolve from it too.
///
/// Workers: one core fewer than the machine has (1 to 4), so that the Node event loop the hub
/// lives in keeps a core of its own; `NSELF_REALTIME_WORKER_THREADS` overrides it. On 2 cores,
/// 1 worker instead of 2 halved the fan-out latency p99 and brought the emitting process's
/// event-loop delay p99 under 5 ms (BENCHMARKS.md, side by side, "Profiles", A/B of item 2).
#[napi_derive::module_init]
fn init() {
    let threads = std::env::var("NSELF_REALTIME_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1).clamp(1, 4))
        });
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("nself-realtime")
        .enable_all()
        .build()
    {
        Ok(rt) => create_custom_tokio_runtime(rt),
        // napi falls back to its default runtime.
        Err(e) => eprintln!("nself-realtime: could not build the hub runtime: {e}"),
    }
}

/// A strong threadsafe function held while a hub runs without `unref`: it keeps the Node event
/// loop alive the way a listening `net.Server` does. Type-erased: only its drop matters.
static KEEP_ALIVE: Mutex<Option<Box<dyn Any + Send>>> = Mutex::new(None);

fn hold_process_open(env: &Env) -> Result<()> {
    let f = env.create_function_from_closure("nselfRealtimeHub", |_| Ok(()))?;
    let tsfn = f
        .build_threadsafe_function::<()>()
        .weak::<false>()
        .build()?;
    *KEEP_ALIVE.lock() = Some(Box::new(tsfn));
    Ok(())
}

/// A JS `Error` with `code`, as every error of this API.
fn js_error(env: &Env, e: HubError) -> Error {
    let made = env
        .create_error(Error::new(Status::GenericFailure, e.message.clone()))
        .and_then(|mut obj| {
            obj.set_named_property("code", e.code.as_str())?;
            Ok(Error::from(obj.into_unknown(env)?))
        });
    made.unwrap_or_else(|_| Error::new(Status::GenericFailure, e.to_string()))
}

fn running(env: &Env) -> Result<std::sync::Arc<Hub>> {
    hub::running().map_err(|e| js_error(env, e))
}

/// `(value, strict) => string | { __nselfError }`, see src/stringify.js.
type StringifyFn = FunctionRef<FnArgs<(Unknown<'static>, bool)>, Unknown<'static>>;

thread_local! {
    /// The emitters' `JSON.stringify` (src/stringify.js), compiled once per JS thread.
    static STRINGIFY: RefCell<Option<StringifyFn>> = const { RefCell::new(None) };
}

/// `JSON.stringify(value)` on the JS thread (`undefined` becomes `null`). With `strict` (the
/// typed events) `NaN` and `Infinity` are refused instead of becoming `null`; a value that
/// cannot be serialised (a BigInt, a cycle) is refused with the field it is in.
fn stringify(env: &Env, value: Unknown, strict: bool) -> Result<String> {
    let out: Unknown = STRINGIFY.with(|cell| -> Result<Unknown> {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let f: Function<FnArgs<(Unknown, bool)>, Unknown> =
                env.run_script(include_str!("stringify.js"))?;
            *cell = Some(f.create_ref()?);
        }
        match cell.as_ref() {
            Some(r) => r.borrow_back(env)?.call((value, strict).into()),
            None => Err(Error::from_reason("JSON.stringify is unavailable")),
        }
    })?;
    match out.get_type()? {
        ValueType::String => out.coerce_to_string()?.into_utf8()?.into_owned(),
        ValueType::Undefined => Ok("null".to_string()),
        _ => {
            let reason: String = Object::from_unknown(out)?.get_named_property("__nselfError")?;
            Err(js_error(env, HubError::event(reason)))
        }
    }
}

/// `room?: string`: anything else is `ERR_INVALID_ROOM`.
fn room_arg(env: &Env, room: Option<Unknown>) -> Result<Option<String>> {
    let Some(room) = room else { return Ok(None) };
    match room.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        ValueType::String => Ok(Some(room.coerce_to_string()?.into_utf8()?.into_owned()?)),
        other => Err(js_error(
            env,
            HubError::room(format!("room: expected a string, got {}", type_name(other))),
        )),
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::Object => "an object",
        ValueType::Function => "a function",
        ValueType::BigInt => "a bigint",
        _ => "an unknown value",
    }
}

/// Where an emitter call goes: the running hub, or a `createEmitter` emitter. Both validate
/// with the same rules ([`crate::dispatch::Emit`]).
trait Sink {
    fn typed(&self, kind: EventKind, json: &str, room: Option<&str>) -> hub_error::HubResult<()>;
    fn custom(&self, event: &str, json: &str, room: Option<&str>) -> hub_error::HubResult<()>;
}

impl Sink for Hub {
    fn typed(&self, kind: EventKind, json: &str, room: Option<&str>) -> hub_error::HubResult<()> {
        self.emit_typed(kind, json, room)
    }
    fn custom(&self, event: &str, json: &str, room: Option<&str>) -> hub_error::HubResult<()> {
        self.emit_custom(event, json, room)
    }
}

impl Sink for emitter::Emitter {
    fn typed(&self, kind: EventKind, json: &str, room: Option<&str>) -> hub_error::HubResult<()> {
        self.emit_typed(kind, json, room)
    }
    fn custom(&self, event: &str, json: &str, room: Option<&str>) -> hub_error::HubResult<()> {
        self.emit_custom(event, json, room)
    }
}

fn emit_kind(
    env: &Env,
    sink: &dyn Sink,
    kind: EventKind,
    data: Unknown,
    room: Option<Unknown>,
) -> Result<()> {
    let room = room_arg(env, room)?;
    let json = stringify(env, data, true)?;
    sink.typed(kind, &json, room.as_deref())
        .map_err(|e| js_error(env, e))
}

fn emit_any(
    env: &Env,
    sink: &dyn Sink,
    event: Unknown,
    data: Unknown,
    room: Option<Unknown>,
) -> Result<()> {
    let event = match event.get_type()? {
        ValueType::String => event.coerce_to_string()?.into_utf8()?.into_owned()?,
        other => {
            return Err(js_error(
                env,
                HubError::event(format!(
                    "event: expected a string, got {}",
                    type_name(other)
                )),
            ))
        }
    };
    let room = room_arg(env, room)?;
    let typed = EventKind::from_name(&event).is_some();
    let json = stringify(env, data, typed)?;
    sink.custom(&event, &json, room.as_deref())
        .map_err(|e| js_error(env, e))
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

#[napi(object, js_name = "HubInfo")]
pub struct JsHubInfo {
    pub host: String,
    pub port: u32,
    pub path: String,
    /// `http://host:port`: what a Node socket.io-client connects to (with `path`).
    pub url: String,
    /// ISO-8601 time of the start.
    pub started_at: String,
    /// A random id of this start.
    pub epoch: String,
}

impl From<hub::HubInfo> for JsHubInfo {
    fn from(i: hub::HubInfo) -> Self {
        JsHubInfo {
            host: i.host,
            port: u32::from(i.port),
            path: i.path,
            url: i.url,
            started_at: i.started_at,
            epoch: i.epoch,
        }
    }
}

/// `(options) => { rest, authenticate?, authorizeRoom? }`, see src/hooks.js.
type SplitFn = FunctionRef<Unknown<'static>, Object<'static>>;

thread_local! {
    /// The options splitter (src/hooks.js), compiled once per JS thread.
    static SPLIT: RefCell<Option<SplitFn>> = const { RefCell::new(None) };
}

/// A wrapped hook (src/hooks.js) as a weak threadsafe function: it never keeps Node alive, and
/// a throw inside it is a rejected promise, never a crash.
type HookTsfn = napi::threadsafe_function::ThreadsafeFunction<
    String,
    Promise<String>,
    String,
    Status,
    false,
    true,
>;

fn hook(name: &str, value: Unknown) -> std::result::Result<Option<JsHook>, HubError> {
    let bad = |what: &str| HubError::options(format!("{name}: expected a function, got {what}"));
    let t = value.get_type().map_err(|_| bad("an unknown value"))?;
    match t {
        ValueType::Undefined | ValueType::Null => Ok(None),
        ValueType::Function => {
            let built = Function::<String, Promise<String>>::from_unknown(value).and_then(|f| {
                f.build_threadsafe_function::<String>()
                    .weak::<true>()
                    .callee_handled::<false>()
                    .build()
            });
            let tsfn: std::sync::Arc<HookTsfn> =
                std::sync::Arc::new(built.map_err(|e| HubError::options(format!("{name}: {e}")))?);
            let call: JsHook = std::sync::Arc::new(move |arg: String| {
                let tsfn = tsfn.clone();
                Box::pin(async move {
                    let promise = tsfn
                        .call_async_catch(arg)
                        .await
                        .map_err(|e| e.to_string())?;
                    promise.await.map_err(|e| e.to_string())
                })
            });
            Ok(Some(call))
        }
        other => Err(bad(type_name(other))),
    }
}

/// Splits `startHub`'s options into the JSON part and the function hooks.
fn split_options(
    env: &Env,
    options: Unknown,
) -> Result<std::result::Result<(Option<serde_json::Value>, Hooks), HubError>> {
    let split: Object = SPLIT.with(|cell| -> Result<Object> {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let f: Function<Unknown, Object> = env.run_script(include_str!("hooks.js"))?;
            *cell = Some(f.create_ref()?);
        }
        match cell.as_ref() {
            Some(r) => r.borrow_back(env)?.call(options),
            None => Err(Error::from_reason("the options splitter is unavailable")),
        }
    })?;
    let rest: Unknown = split.get_named_property("rest")?;
    let hooks = match (
        hook("authenticate", split.get_named_property("authenticate")?),
        hook("authorizeRoom", split.get_named_property("authorizeRoom")?),
    ) {
        (Ok(authenticate), Ok(authorize_room)) => Hooks {
            authenticate,
            authorize_room,
        },
        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
    };
    let json = env
        .from_js_value::<serde_json::Value, _>(rest)
        .map_err(|e| {
            HubError::options(format!(
                "options: expected a plain object of JSON values and the functions \
                 authenticate and authorizeRoom ({e})"
            ))
        });
    Ok(json.map(|j| (Some(j), hooks)))
}

/// Starts the hub on its own port and resolves once it listens. Called again with the same
/// options it resolves to the running hub; with other options it rejects with
/// `ERR_HUB_RUNNING`. A taken port rejects with `EADDRINUSE`. `authenticate` and
/// `authorizeRoom` are compared by presence only: a second call keeps the running hub's.
#[napi(
    ts_args_type = "options?: HubOptions",
    ts_return_type = "Promise<HubInfo>"
)]
pub fn start_hub<'env>(
    env: &'env Env,
    options: Option<Unknown>,
) -> Result<PromiseRaw<'env, JsHubInfo>> {
    let parsed = match options {
        None => Ok((None, Hooks::default())),
        Some(o) if matches!(o.get_type()?, ValueType::Undefined | ValueType::Null) => {
            Ok((None, Hooks::default()))
        }
        Some(o) => split_options(env, o)?,
    };
    let started = parsed.and_then(|(v, hooks)| {
        let mut cfg = HubConfig::from_json(v.as_ref())?;
        (cfg.has_authenticate, cfg.has_authorize_room) = hooks.shape();
        Ok((cfg, hooks))
    });
    env.spawn_future_with_callback(
        async move {
            Ok(match started {
                Ok((cfg, hooks)) => {
                    let unref = cfg.unref;
                    hub::start(cfg, hooks).await.map(|info| (info, unref))
                }
                Err(e) => Err(e),
            })
        },
        |env, res: std::result::Result<(hub::HubInfo, bool), HubError>| match res {
            Ok((info, unref)) => {
                if !unref {
                    hold_process_open(env)?;
                }
                Ok(JsHubInfo::from(info))
            }
            Err(e) => Err(js_error(env, e)),
        },
    )
}

#[napi(object)]
pub struct StopOptions {
    /// How long to wait for clients to receive what is queued (default 5000 ms).
    pub timeout_ms: Option<f64>,
}

/// Flushes every batch, delivers queued packets to websocket and polling clients (up to
/// `timeoutMs`, default 5000), tells clients to reconnect, stops listening, then resolves.
/// Emitters throw `ERR_HUB_NOT_RUNNING` from the moment it is called.
#[napi]
pub fn stop_hub<'env>(
    env: &'env Env,
    options: Option<StopOptions>,
) -> Result<PromiseRaw<'env, ()>> {
    let timeout_ms = options.and_then(|o| o.timeout_ms).unwrap_or(5000.0);
    let timeout = if (0.0..=600_000.0).contains(&timeout_ms) && timeout_ms.fract() == 0.0 {
        // Taken out of service now, so that emits after this call fail instead of racing.
        Ok((hub::begin_stop(), Duration::from_millis(timeout_ms as u64)))
    } else {
        Err(HubError::options(format!(
            "timeoutMs: expected an integer from 0 to 600000, got {timeout_ms}"
        )))
    };
    env.spawn_future_with_callback(
        async move {
            Ok(match timeout {
                Ok((hub, timeout)) => {
                    hub::finish_stop(hub, timeout).await;
                    Ok(())
                }
                Err(e) => Err(e),
            })
        },
        |env, res: std::result::Result<(), HubError>| match res {
            Ok(()) => {
                KEEP_ALIVE.lock().take();
                Ok(())
            }
            Err(e) => Err(js_error(env, e)),
        },
    )
}

/// The running hub, or `null`.
#[napi]
pub fn hub_info() -> Option<JsHubInfo> {
    hub::info().map(JsHubInfo::from)
}

/// Signs a connection token for a hub started with `secret` (HMAC-SHA256, verified in Rust
/// with no JS call). The browser passes it as `auth: { token }`. Signed with `options.secret`
/// when given, else with the running hub's first secret. Any hub with the secret accepts it.
#[napi(ts_args_type = "options: CreateTokenOptions")]
pub fn create_token(env: &Env, options: Unknown) -> Result<String> {
    let value = env
        .from_js_value::<serde_json::Value, _>(options)
        .map_err(|e| {
            js_error(
                env,
                HubError::options(format!(
                    "options: expected {{ userId, rooms?, expiresIn, secret? }} ({e})"
                )),
            )
        })?;
    let hub_key = hub::running()
        .ok()
        .and_then(|h| h.signing_key().map(<[u8]>::to_vec));
    token::create(&value, hub_key.as_deref(), crate::clock::now_ms() / 1000)
        .map_err(|e| js_error(env, e))
}

// ---------------------------------------------------------------------------------------------
// Emitters

/// Sends a `service:status` event to everyone, or to the members of `room`.
#[napi(ts_args_type = "data: ServiceStatusEvent, room?: string")]
pub fn emit_service_status(env: &Env, data: Unknown, room: Option<Unknown>) -> Result<()> {
    emit_kind(env, &*running(env)?, EventKind::ServiceStatus, data, room)
}

/// Sends a `build:progress` event to everyone, or to the members of `room`.
#[napi(ts_args_type = "data: BuildProgressEvent, room?: string")]
pub fn emit_build_progress(env: &Env, data: Unknown, room: Option<Unknown>) -> Result<()> {
    emit_kind(env, &*running(env)?, EventKind::BuildProgress, data, room)
}

/// Sends a `deploy:progress` event to everyone, or to the members of `room`.
#[napi(ts_args_type = "data: DeployProgressEvent, room?: string")]
pub fn emit_deploy_progress(env: &Env, data: Unknown, room: Option<Unknown>) -> Result<()> {
    emit_kind(env, &*running(env)?, EventKind::DeployProgress, data, room)
}

/// Sends a `logs:stream` event (batched by default) to everyone, or to the members of `room`.
#[napi(ts_args_type = "data: LogStreamEvent, room?: string")]
pub fn emit_log_stream(env: &Env, data: Unknown, room: Option<Unknown>) -> Result<()> {
    emit_kind(env, &*running(env)?, EventKind::LogStream, data, room)
}

/// Sends a `docker:stats` event (batched by default) to everyone, or to the members of `room`.
#[napi(ts_args_type = "data: DockerStatsEvent, room?: string")]
pub fn emit_docker_stats(env: &Env, data: Unknown, room: Option<Unknown>) -> Result<()> {
    emit_kind(env, &*running(env)?, EventKind::DockerStats, data, room)
}

/// Sends a `db:query:result` event to everyone, or to the members of `room`.
#[napi(ts_args_type = "data: DbQueryResultEvent, room?: string")]
pub fn emit_db_query_result(env: &Env, data: Unknown, room: Option<Unknown>) -> Result<()> {
    emit_kind(env, &*running(env)?, EventKind::DbQueryResult, data, room)
}

/// Sends a custom event (name: 1-64 characters `[A-Za-z0-9_.:-]`, not reserved) with any
/// JSON-serialisable data. One of the six typed names gets that type's validation.
#[napi(ts_args_type = "event: string, data?: unknown, room?: string")]
pub fn emit(env: &Env, event: Unknown, data: Unknown, room: Option<Unknown>) -> Result<()> {
    emit_any(env, &*running(env)?, event, data, room)
}

#[napi(object)]
pub struct EmitToSocketOptions {
    /// How long to wait for the client's ack, per attempt (default 5000 ms).
    pub ack_timeout_ms: Option<f64>,
    /// How many times to send again when no ack came (default 2).
    pub retries: Option<f64>,
}

/// Reads `{ ackTimeoutMs, retries }`.
fn to_socket_options(
    o: Option<EmitToSocketOptions>,
) -> std::result::Result<(Duration, u32), HubError> {
    let (timeout, retries) = o.map_or((None, None), |o| (o.ack_timeout_ms, o.retries));
    let timeout = timeout.unwrap_or(5000.0);
    if !(1.0..=600_000.0).contains(&timeout) || timeout.fract() != 0.0 {
        return Err(HubError::options(format!(
            "ackTimeoutMs: expected an integer from 1 to 600000, got {timeout}"
        )));
    }
    let retries = retries.unwrap_or(2.0);
    if !(0.0..=100.0).contains(&retries) || retries.fract() != 0.0 {
        return Err(HubError::options(format!(
            "retries: expected an integer from 0 to 100, got {retries}"
        )));
    }
    Ok((Duration::from_millis(timeout as u64), retries as u32))
}

/// Sends an event to one socket and resolves with what its client acknowledged (the package's
/// client acks every event automatically). Without an ack within `ackTimeoutMs` it is sent
/// again, up to `retries` times (the client handles a repeat once), then the promise rejects
/// with `ERR_ACK_TIMEOUT`; an unknown or disconnected socket rejects with `ERR_UNKNOWN_SOCKET`.
#[napi(
    ts_args_type = "socketId: string, event: string, data?: unknown, options?: EmitToSocketOptions",
    ts_return_type = "Promise<unknown>"
)]
pub fn emit_to_socket<'env>(
    env: &'env Env,
    socket_id: Unknown,
    event: Unknown,
    data: Unknown,
    options: Option<EmitToSocketOptions>,
) -> Result<PromiseRaw<'env, serde_json::Value>> {
    let prepared = (|| {
        let hub = hub::running()?;
        let socket_id = string_arg(socket_id, "socketId")?;
        let event = string_arg(event, "event")?;
        let (timeout, retries) = to_socket_options(options)?;
        let typed = EventKind::from_name(&event).is_some();
        let json = stringify(env, data, typed).map_err(|e| HubError::event(e.reason.clone()))?;
        let send = hub.prepare_to_socket(&socket_id, &event, &json)?;
        Ok::<_, HubError>((send, timeout, retries))
    })();
    env.spawn_future_with_callback(
        async move {
            Ok(match prepared {
                Ok((send, timeout, retries)) => send.deliver(timeout, retries).await,
                Err(e) => Err(e),
            })
        },
        |env, res: std::result::Result<serde_json::Value, HubError>| {
            res.map_err(|e| js_error(env, e))
        },
    )
}

/// A required string argument, or `ERR_INVALID_EVENT` naming it.
fn string_arg(v: Unknown, name: &str) -> std::result::Result<String, HubError> {
    let t = v.get_type().map_err(|e| HubError::event(e.reason))?;
    if t != ValueType::String {
        return Err(HubError::event(format!(
            "{name}: expected a string, got {}",
            type_name(t)
        )));
    }
    v.coerce_to_string()
        .and_then(|s| s.into_utf8())
        .and_then(|s| s.into_owned())
        .map_err(|e| HubError::event(e.reason))
}

/// @internal Emit path with `JSON.stringify` done by the caller (bench/emit-cost.mjs).
#[napi(js_name = "_emitJson")]
pub fn emit_json(env: &Env, event: String, json: String, room: Option<String>) -> Result<()> {
    running(env)?
        .emit_custom(&event, &json, room.as_deref())
        .map_err(|e| js_error(env, e))
}

/// @internal Emit path converting the JS object with serde (bench/emit-cost.mjs).
#[napi(
    js_name = "_emitValue",
    ts_args_type = "event: string, data: unknown, room?: string"
)]
pub fn emit_value(
    env: &Env,
    event: String,
    data: serde_json::Value,
    room: Option<String>,
) -> Result<()> {
    let json = data.to_string();
    running(env)?
        .emit_custom(&event, &json, room.as_deref())
        .map_err(|e| js_error(env, e))
}

// ---------------------------------------------------------------------------------------------
// Presence and stats

#[napi(object, js_name = "PresenceInfo")]
pub struct JsPresenceInfo {
    /// From `authenticate`; `'anonymous'` without it.
    pub user_id: String,
    pub socket_id: String,
    pub rooms: Vec<String>,
    /// ISO-8601.
    pub connected_at: String,
    /// ISO-8601 time of the last packet from the client.
    pub last_seen: String,
    /// What the client last sent with `presence:set`.
    #[napi(ts_type = "Record<string, unknown>")]
    pub state: Option<serde_json::Value>,
}

fn presence_list(list: Vec<presence::PresenceInfo>) -> Vec<JsPresenceInfo> {
    list.into_iter()
        .map(|p| JsPresenceInfo {
            user_id: p.user_id,
            socket_id: p.socket_id,
            rooms: p.rooms,
            connected_at: p.connected_at,
            last_seen: p.last_seen,
            state: p.state.and_then(|s| serde_json::from_str(&s).ok()),
        })
        .collect()
}

/// Every connected socket, oldest first.
#[napi]
pub fn get_presence(env: &Env) -> Result<Vec<JsPresenceInfo>> {
    Ok(presence_list(running(env)?.presence()))
}

/// The sockets in `room`.
#[napi]
pub fn get_room_members(env: &Env, room: String) -> Result<Vec<JsPresenceInfo>> {
    let hub = running(env)?;
    hub.room_members(&room)
        .map(presence_list)
        .map_err(|e| js_error(env, e))
}

/// The sockets of one user (every tab, every device).
#[napi]
pub fn get_user_presence(env: &Env, user_id: String) -> Result<Vec<JsPresenceInfo>> {
    Ok(presence_list(running(env)?.user_presence(&user_id)))
}

#[napi(object)]
pub struct SocketDrops {
    pub socket_id: String,
    pub events: f64,
}

#[napi(object, js_name = "HubStats")]
pub struct JsHubStats {
    /// Sockets connected now.
    pub connections: f64,
    /// Sockets connected since start.
    pub connections_total: f64,
    pub websocket_connections: f64,
    pub polling_connections: f64,
    /// Rooms with at least one member.
    pub rooms: f64,
    /// Emitter calls accepted.
    pub events_emitted: f64,
    /// `batch` packets sent.
    pub batches_sent: f64,
    /// Packets put into client queues (one per recipient).
    pub packets_sent: f64,
    /// Events a client did not get because its queue was full (one per event per client).
    pub events_dropped: f64,
    /// Emits accepted but not yet handled by the dispatcher.
    pub events_queued: f64,
    /// Events waiting in batches.
    pub events_in_batches: f64,
    /// Packets received from clients.
    pub client_packets: f64,
    /// Client requests refused (bad room, too many rooms, bad payload).
    pub client_errors: f64,
    /// Sockets disconnected by the stale sweep.
    pub sockets_swept: f64,
    /// Streams that `recover` requests got back in full, and the events replayed to them.
    pub recoveries: f64,
    pub events_replayed: f64,
    /// Streams that history no longer covered (the client was told `recovered: false`).
    pub recovery_misses: f64,
    /// Events held in history for recovery.
    pub history_events: f64,
    /// `emitToSocket` calls acknowledged, and rejected with `ERR_ACK_TIMEOUT`.
    pub acks_received: f64,
    pub ack_timeouts: f64,
    /// Connected sockets that missed events while connected (their queue overflowed), with the
    /// count their client recovered, most first.
    pub dropped_by_socket: Vec<SocketDrops>,
    /// Client packets dropped by the per-socket rate limit.
    pub packets_rate_limited: f64,
    /// Sockets disconnected for flooding.
    pub sockets_rate_limited: f64,
    /// Connections refused as `unauthorized`.
    pub auth_failures: f64,
    /// Requests refused for their `Origin` (403).
    pub origin_refusals: f64,
    /// Handshakes refused by the per-address limits (429).
    pub connections_rate_limited: f64,
    /// Joins refused with `FORBIDDEN`.
    pub joins_forbidden: f64,
    /// ISO-8601.
    pub started_at: String,
    pub uptime_ms: f64,
    /// With `redis`: hubs alive in the cluster (this one included), as last heard (1 s).
    pub hubs: Option<f64>,
    /// With `redis`: sockets connected to any hub of the cluster.
    pub cluster_connections: Option<f64>,
    /// With `redis`: rooms with members on any hub.
    pub cluster_rooms: Option<f64>,
    /// With `redis`: whether Redis answers.
    pub redis: Option<RedisHealth>,
}

#[napi(object)]
pub struct RedisHealth {
    pub connected: bool,
    /// The last Redis failure seen (kept after a reconnect).
    pub last_error: Option<String>,
    /// Times Redis became unreachable since start.
    pub outages: f64,
    /// Broadcasts that reached this hub's clients only, because Redis was away.
    pub unpublished: f64,
}

/// Counters of the running hub.
#[napi]
pub fn get_stats(env: &Env) -> Result<JsHubStats> {
    let s = running(env)?.stats();
    Ok(JsHubStats {
        connections: s.connections as f64,
        connections_total: s.connections_total as f64,
        websocket_connections: s.websocket_connections as f64,
        polling_connections: s.polling_connections as f64,
        rooms: s.rooms as f64,
        events_emitted: s.events_emitted as f64,
        batches_sent: s.batches_sent as f64,
        packets_sent: s.packets_sent as f64,
        events_dropped: s.events_dropped as f64,
        events_queued: s.events_queued as f64,
        events_in_batches: s.events_in_batches as f64,
        client_packets: s.client_packets as f64,
        client_errors: s.client_errors as f64,
        sockets_swept: s.sockets_swept as f64,
        recoveries: s.recoveries as f64,
        events_replayed: s.events_replayed as f64,
        recovery_misses: s.recovery_misses as f64,
        history_events: s.history_events as f64,
        acks_received: s.acks_received as f64,
        ack_timeouts: s.ack_timeouts as f64,
        dropped_by_socket: s
            .dropped_by_socket
            .into_iter()
            .map(|(socket_id, events)| SocketDrops {
                socket_id,
                events: events as f64,
            })
            .collect(),
        packets_rate_limited: s.packets_rate_limited as f64,
        sockets_rate_limited: s.sockets_rate_limited as f64,
        auth_failures: s.auth_failures as f64,
        origin_refusals: s.origin_refusals as f64,
        connections_rate_limited: s.connections_rate_limited as f64,
        joins_forbidden: s.joins_forbidden as f64,
        started_at: s.started_at,
        uptime_ms: s.uptime_ms as f64,
        hubs: s.cluster.as_ref().map(|c| c.hubs as f64),
        cluster_connections: s.cluster.as_ref().map(|c| c.connections as f64),
        cluster_rooms: s.cluster.as_ref().map(|c| c.rooms as f64),
        redis: s.cluster.map(|c| RedisHealth {
            connected: c.redis.connected,
            last_error: c.redis.last_error,
            outages: c.redis.outages as f64,
            unpublished: c.redis.unpublished as f64,
        }),
    })
}

// ---------------------------------------------------------------------------------------------
// createEmitter

/// An emitter for a process that runs no hub (see `createEmitter`).
#[napi(js_name = "RealtimeEmitter")]
pub struct JsEmitter {
    inner: std::sync::Arc<emitter::Emitter>,
}

/// Emits to the clients of every hub of a Redis cluster from a process that runs no hub (a
/// worker, a cron job, a CLI). Same emitters and validation as the module's; events are numbered
/// and kept in the shared history as a hub's are. Connects in the background; emitters throw
/// `ERR_REDIS_UNAVAILABLE` while Redis is known not to answer. Call `close()` before exiting: it
/// publishes what is queued (the emitter does not keep the process alive).
#[napi(ts_args_type = "options: EmitterOptions")]
pub fn create_emitter(env: &Env, options: Unknown) -> Result<JsEmitter> {
    let value = env
        .from_js_value::<serde_json::Value, _>(options)
        .map_err(|e| {
            js_error(
                env,
                HubError::options(format!(
                    "options: expected {{ redis: {{ url, prefix? }}, history?, batch?, \
                     maxPayloadBytes? }} ({e})"
                )),
            )
        })?;
    let started = emitter::EmitterConfig::from_json(&value)
        .and_then(|cfg| within_runtime_if_available(|| emitter::Emitter::start(cfg)));
    started
        .map(|inner| JsEmitter { inner })
        .map_err(|e| js_error(env, e))
}

#[napi(object)]
pub struct EmitterStats {
    /// Emitter calls accepted.
    pub events_emitted: f64,
    /// `batch` packets published.
    pub batches_sent: f64,
    /// Events accepted and then not published because Redis stopped answering.
    pub events_dropped: f64,
    /// Calls refused with `ERR_REDIS_UNAVAILABLE`.
    pub events_refused: f64,
    /// Accepted events not yet published.
    pub events_queued: f64,
    pub redis: RedisHealth,
}

#[napi]
impl JsEmitter {
    #[napi(ts_args_type = "data: ServiceStatusEvent, room?: string")]
    pub fn emit_service_status(
        &self,
        env: &Env,
        data: Unknown,
        room: Option<Unknown>,
    ) -> Result<()> {
        emit_kind(env, &*self.inner, EventKind::ServiceStatus, data, room)
    }

    #[napi(ts_args_type = "data: BuildProgressEvent, room?: string")]
    pub fn emit_build_progress(
        &self,
        env: &Env,
        data: Unknown,
        room: Option<Unknown>,
    ) -> Result<()> {
        emit_kind(env, &*self.inner, EventKind::BuildProgress, data, room)
    }

    #[napi(ts_args_type = "data: DeployProgressEvent, room?: string")]
    pub fn emit_deploy_progress(
        &self,
        env: &Env,
        data: Unknown,
        room: Option<Unknown>,
    ) -> Result<()> {
        emit_kind(env, &*self.inner, EventKind::DeployProgress, data, room)
    }

    #[napi(ts_args_type = "data: LogStreamEvent, room?: string")]
    pub fn emit_log_stream(&self, env: &Env, data: Unknown, room: Option<Unknown>) -> Result<()> {
        emit_kind(env, &*self.inner, EventKind::LogStream, data, room)
    }

    #[napi(ts_args_type = "data: DockerStatsEvent, room?: string")]
    pub fn emit_docker_stats(&self, env: &Env, data: Unknown, room: Option<Unknown>) -> Result<()> {
        emit_kind(env, &*self.inner, EventKind::DockerStats, data, room)
    }

    #[napi(ts_args_type = "data: DbQueryResultEvent, room?: string")]
    pub fn emit_db_query_result(
        &self,
        env: &Env,
        data: Unknown,
        room: Option<Unknown>,
    ) -> Result<()> {
        emit_kind(env, &*self.inner, EventKind::DbQueryResult, data, room)
    }

    /// A custom event, validated as the module's `emit`.
    #[napi(ts_args_type = "event: string, data?: unknown, room?: string")]
    pub fn emit(
        &self,
        env: &Env,
        event: Unknown,
        data: Unknown,
        room: Option<Unknown>,
    ) -> Result<()> {
        emit_any(env, &*self.inner, event, data, room)
    }

    /// Publishes everything emitted so far (pending batches included), then disconnects from
    /// Redis. Emitters throw `ERR_EMITTER_CLOSED` from the moment it is called.
    #[napi]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        env.spawn_future(async move {
            inner.close().await;
            Ok(())
        })
    }

    /// Counters of this emitter, and Redis health.
    #[napi]
    pub fn stats(&self) -> EmitterStats {
        let s = self.inner.stats();
        EmitterStats {
            events_emitted: s.events_emitted as f64,
            batches_sent: s.batches_sent as f64,
            events_dropped: s.events_dropped as f64,
            events_refused: s.events_refused as f64,
            events_queued: s.events_queued as f64,
            redis: RedisHealth {
                connected: s.redis.connected,
                last_error: s.redis.last_error,
                outages: s.redis.outages as f64,
                unpublished: s.redis.unpublished as f64,
            },
        }
    }
}
