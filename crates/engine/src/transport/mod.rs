//! How bytes reach a server: rmcp's child-process and Streamable HTTP transports, the HTTP
//! client that adds the saved login to each request, and our legacy SSE transport.
pub mod authorized;
pub mod common_stream;
pub mod sse;
