//! Helpers for live tests: a test CA, throw-away database servers, and a loopback HTTP server
//! (ECS container credentials, STS).
//!
//! Each test module uses the part it needs; the rest is used by other modules.
#![allow(dead_code)] // reason: shared helpers, not every test module uses every item

pub mod aws_env;
pub mod ca;
pub mod cargo_example;
#[cfg(any(feature = "_postgres", feature = "_mysql"))]
pub mod engine;
pub mod example;
#[cfg(any(feature = "_postgres", feature = "_mysql"))]
pub mod hostile;
pub mod http;
pub mod iam;
pub mod logs;
#[cfg(feature = "_mysql")]
pub mod mariadb;
#[cfg(feature = "_postgres")]
pub mod postgres;
pub mod server;
