//! The one error type of the library. Every variant maps to a C status code
//! (see `ffi::status`), and its `Display` text becomes `eqp_last_error()`.

/// Errors returned by equipot.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument is out of its valid range (NaN coordinate, bad cutoff, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Two arrays that must agree in length do not.
    #[error("length mismatch: {0}")]
    LengthMismatch(String),
    /// A required pointer was null (C ABI only).
    #[error("null pointer: {0}")]
    NullPointer(String),
    /// The structure holds an element the model does not know.
    #[error("unknown element: {0}")]
    UnknownElement(String),
    /// Reading a file failed.
    #[error("i/o error: {0}")]
    Io(String),
    /// A model file is malformed, truncated, of a newer format or of another architecture.
    #[error("model file error: {0}")]
    ModelFormat(String),
    /// The request is valid but not supported by this build or model.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A host callback reported a failure.
    #[error("callback failed: {0}")]
    Callback(String),
    /// The evaluation produced a non-finite energy, force or virial (the
    /// message names the first bad atom); never returned as a success.
    #[error("non-finite result: {0}")]
    NonFinite(String),
    /// The structure needs more memory than the workspace's limit allows, or
    /// an allocation failed (the message gives the estimate and the limit).
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// A bug: a panic caught at the C boundary, or a broken invariant.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result type of the library.
pub type Result<T> = std::result::Result<T, Error>;

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// Shorthand for `Err(Error::InvalidArgument(format!(...)))`.
#[macro_export]
macro_rules! invalid {
    ($($arg:tt)*) => { Err($crate::Error::InvalidArgument(format!($($arg)*))) };
}
