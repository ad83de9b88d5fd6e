//! The `tenpo` binary's library half: configuration, the composition root that wires domains,
//! HTTP and worker together, and the commands. Integration tests drive the same wiring.

pub mod app;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod logging;
