//! sdtui: Heroku-style addons on your own machines. The engine is a library
//! so the CLI, the console, the tests and the benchmarks share one code path.

pub mod backup;
pub mod catalog;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connect;
pub mod contract;
pub mod crash;
pub mod credentials;
pub mod deploy;
pub mod docker;
pub mod engine;
pub mod env;
pub mod error;
pub mod pg;
pub mod ssh;
pub mod template;
pub mod tui;
pub mod watch;
pub mod yamlout;
