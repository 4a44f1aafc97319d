//! In-process tests of the gRPC layers: the server layer (`server.rs`) and the client layer
//! (`client.rs`), sharing `crate::test_helpers`.

mod client;
mod server;
