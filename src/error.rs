//! The error every public hub operation returns. The `code` is stable and documented (SPEC §3);
//! the message says what was expected and what came.

use std::fmt;

/// Stable error codes, as `err.code` in JS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// An emitter or presence call with no running hub.
    HubNotRunning,
    /// `startHub` with options that differ from the running hub's.
    HubRunning,
    /// A bad option; the message names it.
    InvalidOptions,
    /// A payload that breaks SPEC §4; the message names the field.
    InvalidEvent,
    /// A room name that breaks SPEC §5.
    InvalidRoom,
    /// An emitted payload over `maxPayloadBytes`.
    PayloadTooLarge,
    /// The address is taken (as Node's `EADDRINUSE`).
    AddrInUse,
    /// Binding is not allowed (as Node's `EACCES`).
    AddrAccess,
    /// The address does not exist on this machine (as Node's `EADDRNOTAVAIL`).
    AddrNotAvailable,
    /// The host name could not be resolved (as Node's `ENOTFOUND`).
    HostNotFound,
    /// Any other failure while binding or serving.
    Io,
    /// `emitToSocket`: no connected socket has that id.
    UnknownSocket,
    /// `emitToSocket`: the client did not acknowledge within the timeout, retries included.
    AckTimeout,
    /// `createEmitter`: Redis does not answer, so the event could reach no hub (nothing sent).
    RedisUnavailable,
    /// `createEmitter`: an emitter used after `close()`.
    EmitterClosed,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::HubNotRunning => "ERR_HUB_NOT_RUNNING",
            ErrorCode::HubRunning => "ERR_HUB_RUNNING",
            ErrorCode::InvalidOptions => "ERR_INVALID_OPTIONS",
            ErrorCode::InvalidEvent => "ERR_INVALID_EVENT",
            ErrorCode::InvalidRoom => "ERR_INVALID_ROOM",
            ErrorCode::PayloadTooLarge => "ERR_PAYLOAD_TOO_LARGE",
            ErrorCode::AddrInUse => "EADDRINUSE",
            ErrorCode::AddrAccess => "EACCES",
            ErrorCode::AddrNotAvailable => "EADDRNOTAVAIL",
            ErrorCode::HostNotFound => "ENOTFOUND",
            ErrorCode::Io => "ERR_HUB_IO",
            ErrorCode::UnknownSocket => "ERR_UNKNOWN_SOCKET",
            ErrorCode::AckTimeout => "ERR_ACK_TIMEOUT",
            ErrorCode::RedisUnavailable => "ERR_REDIS_UNAVAILABLE",
            ErrorCode::EmitterClosed => "ERR_EMITTER_CLOSED",
        }
    }
}

/// An error with a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubError {
    pub code: ErrorCode,
    pub message: String,
}

impl HubError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        HubError {
            code,
            message: message.into(),
        }
    }

    pub fn not_running() -> Self {
        HubError::new(
            ErrorCode::HubNotRunning,
            "no hub is running: call startHub() first (nothing was sent)",
        )
    }

    pub fn options(message: impl Into<String>) -> Self {
        HubError::new(ErrorCode::InvalidOptions, message)
    }

    pub fn event(message: impl Into<String>) -> Self {
        HubError::new(ErrorCode::InvalidEvent, message)
    }

    pub fn room(message: impl Into<String>) -> Self {
        HubError::new(ErrorCode::InvalidRoom, message)
    }

    /// Maps a bind error the way Node's `net.Server#listen` reports it.
    pub fn bind(err: &std::io::Error, addr: &str) -> Self {
        use std::io::ErrorKind;
        let (code, what) = match err.kind() {
            ErrorKind::AddrInUse => (ErrorCode::AddrInUse, "address already in use"),
            ErrorKind::PermissionDenied => (ErrorCode::AddrAccess, "permission denied"),
            ErrorKind::AddrNotAvailable => (ErrorCode::AddrNotAvailable, "address not available"),
            _ => (ErrorCode::Io, "could not listen"),
        };
        HubError::new(
            code,
            format!("listen {} {addr}: {what} ({err})", code.as_str()),
        )
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for HubError {}

pub type HubResult<T> = Result<T, HubError>;
