//! How bytes reach a server: rmcp's child-process and Streamable HTTP transports, plus our legacy SSE one.
pub mod sse;
