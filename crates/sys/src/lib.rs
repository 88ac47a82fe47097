//! The one crate that talks to the kernel directly.
//!
//! Every raw syscall Fulcrum makes (socket options, splice, pipes, CPU affinity, resource
//! limits, memory policy) lives here behind a safe function, so the rest of the tree can say
//! `#![forbid(unsafe_code)]`. This crate must never hold policy: it does what it is asked and
//! reports the kernel's answer as an `io::Error`. Where a wrapper crate (rustix, socket2)
//! already offers a safe call we use it; an `unsafe` block here carries a `// SAFETY:` line.

pub mod affinity;
pub mod limits;
pub mod memory;
pub mod pipe;
pub mod socket;
