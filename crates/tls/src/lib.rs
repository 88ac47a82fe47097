//! TLS for Fulcrum (placeholder; being written).
#![forbid(unsafe_code)]
