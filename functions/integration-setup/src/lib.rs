//! integration-setup's handler as a library: the binary (main.rs) runs it, the tests call it
//! directly.

pub mod handler;
