//! # rds-iam-wire
//!
//! The PostgreSQL and MySQL wire messages that rds-iam's two machines in the middle share: the
//! emulator (`rds-iam-emulator`, an IAM-enabled RDS endpoint in front of a real database) and
//! the login proxy (`rds_iam::proxy`, feature `proxy`, a local endpoint in front of RDS). They
//! are the same machine facing opposite ways: each reads a client's start-up, logs in to a
//! server, then relays, so the message layouts are written once, here.
//!
//! This crate frames and encodes; it has no policy (what is accepted, which password is sent,
//! what is logged): that stays with its users.
//!
//! Why a crate of its own: the proxy lives in the `rds-iam` library (feature `proxy`) because
//! it must use the library's one plan, TLS set-up and login loop, which are internal; the
//! emulator builds on the library's lean core and must not pull the proxy or a TLS client.
//! The layouts both need sit below both, here, with only `bytes`, `tokio`'s I/O traits,
//! `postgres-protocol` (feature `postgres`) and `mysql_common` (feature `mysql`), which the
//! drivers already bring.
//!
//! | module | what it has |
//! |---|---|
//! | [`postgres`] | the client-facing side (initial packet, password message, authentication request, error response) and the server-facing login ([`postgres::client`]: start-up, cleartext, MD5 and SCRAM-SHA-256, up to `ReadyForQuery`; cancel requests) |
//! | [`mysql`] | packet framing with sequence ids, handshake packets, ERR packets, `KILL` parsing |
//!
//! ```
//! # #[cfg(feature = "postgres")] {
//! use bytes::BytesMut;
//! use rds_iam_wire::postgres::{self, Initial};
//!
//! let mut out = BytesMut::new();
//! postgres::error_response(&mut out, "FATAL", "28000", "no password is needed here");
//! assert_eq!(out[0], b'E');
//! // An SSLRequest, as a client sends it first.
//! let initial = postgres::parse_initial(&[0x04, 0xd2, 0x16, 0x2f]);
//! assert_eq!(initial, Initial::SslRequest);
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "mysql")]
pub mod mysql;
/// The `mysql_common` this crate's MySQL packets are made with (for its packet types).
#[cfg(feature = "mysql")]
pub use mysql_common;
#[cfg(feature = "postgres")]
pub mod postgres;
