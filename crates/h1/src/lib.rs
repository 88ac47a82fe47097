//! A strict HTTP/1.1 codec (placeholder; being written).
#![forbid(unsafe_code)]
