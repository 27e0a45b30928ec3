//! Requests to a connected server, on the person's behalf: tools and their calls, the catalog
//! (resources, prompts, completions), the server controls (log level, ping), answers to the
//! server's questions, and saving a call's result or a resource to a file.

use std::path::Path;
use std::time::Duration;

use rmcp::model::Tool;

use super::{Hub, HubError};
use crate::calls::{CallContext, CallReport, CallRequest, new_call_id, run_call};
use crate::catalog::{self, CatalogError, CompletionTarget, Listing, Page};
use crate::server_controls::{self, LogLevel};
use crate::session::Round;
use crate::store::CallRecord;

/// A call that has been started; `finish` waits for its end.
pub struct StartedCall {
    pub call_id: String,
    join: tokio::task::JoinHandle<CallReport>,
}

impl StartedCall {
    pub async fn finish(self) -> CallReport {
        self.join.await.expect("call task panicked")
    }
}

/// Writes a file whole or not at all (see `files::write_whole`); the bytes written.
async fn write_whole(path: &Path, bytes: Vec<u8>) -> Result<u64, HubError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        crate::files::write_whole(&path, &bytes)
            .map(|()| bytes.len() as u64)
            .map_err(|e| HubError::Save {
                path: path.clone(),
                message: e.to_string(),
            })
    })
    .await
    .expect("save task")
}

fn no_answer(wait: Duration) -> CatalogError {
    CatalogError::Invalid(format!("no answer within {}s", wait.as_secs()))
}

/// A request to `session`'s server failed while `what`: the error names both (what the server
/// wrote bounded), and a transport failure tells the session, which checks the connection.
fn request_failed(session: &crate::session::Session, what: &str, e: CatalogError) -> HubError {
    let message = match e {
        CatalogError::Service(e) => {
            session.request_failed(&e);
            crate::causes::bounded(&e.to_string(), crate::causes::SERVER_TEXT)
        }
        CatalogError::Invalid(message) => message,
    };
    HubError::Request {
        server: session.name().into(),
        message: format!("{what} failed: {message}"),
    }
}

impl Hub {
    /// The server's tools. rmcp caches the list and drops the cache on `tools/list_changed`.
    pub async fn tools(&self, name: &str) -> Result<Vec<Tool>, HubError> {
        self.on_peer(name, "listing its tools", |peer| async move {
            Ok(peer.list_all_tools().await?)
        })
        .await
    }

    /// Runs one request on the server's connection (its rmcp peer), bounded by the server's
    /// request timeout; errors name the request (`what`). A transport failure tells the
    /// session, which checks the connection.
    async fn on_peer<T, F, Fut>(&self, name: &str, what: &str, request: F) -> Result<T, HubError>
    where
        F: FnOnce(rmcp::service::Peer<rmcp::service::RoleClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, CatalogError>>,
    {
        let session = self.session(name)?;
        let wait = Duration::from_secs(self.server(name)?.request_timeout_secs);
        let peer = session.ready_peer(wait).await?;
        match tokio::time::timeout(wait, request(peer)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(request_failed(&session, what, e)),
            Err(_) => Err(request_failed(&session, what, no_answer(wait))),
        }
    }

    /// One page of the server's resources, resource templates or prompts.
    pub async fn list(
        &self,
        name: &str,
        what: Listing,
        cursor: Option<String>,
    ) -> Result<Page, HubError> {
        let doing = match what {
            Listing::Resources => "listing its resources",
            Listing::ResourceTemplates => "listing its resource templates",
            Listing::Prompts => "listing its prompts",
        };
        self.on_peer(name, doing, |peer| async move {
            catalog::list(&peer, what, cursor).await
        })
        .await
    }

    /// `resources/read`.
    pub async fn read_resource(
        &self,
        name: &str,
        uri: &str,
    ) -> Result<serde_json::Value, HubError> {
        self.on_peer_with_input(name, "reading the resource", |peer, responses, state| async move {
            catalog::read(&peer, uri, responses, state).await
        })
        .await
    }

    /// `prompts/get`.
    pub async fn get_prompt(
        &self,
        name: &str,
        prompt: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, HubError> {
        let arguments = &arguments;
        self.on_peer_with_input(
            name,
            "getting the prompt",
            |peer, responses, state| async move {
                catalog::get_prompt(&peer, prompt, arguments.clone(), responses, state).await
            },
        )
        .await
    }

    /// `on_peer` for a request a 2026-07-28 server may answer with `input_required`: each
    /// round is bounded by the request timeout; the person's time to answer is not.
    async fn on_peer_with_input<Fut>(
        &self,
        name: &str,
        what: &str,
        round: impl Fn(
            rmcp::service::Peer<rmcp::service::RoleClient>,
            Option<rmcp::model::InputResponses>,
            Option<String>,
        ) -> Fut,
    ) -> Result<serde_json::Value, HubError>
    where
        Fut: Future<Output = Result<Round<serde_json::Value>, CatalogError>>,
    {
        let session = self.session(name)?;
        let wait = Duration::from_secs(self.server(name)?.request_timeout_secs);
        let peer = session.ready_peer(wait).await?;
        // Nothing cancels these requests but their end; the token only closes open questions.
        let cancel = tokio_util::sync::CancellationToken::new();
        let ended = session
            .with_input(&cancel, |responses, state| {
                let asked = round(peer.clone(), responses, state);
                async move {
                    match tokio::time::timeout(wait, asked).await {
                        Ok(Ok(Round::Input(asked))) => Round::Input(asked),
                        Ok(Ok(Round::Done(value))) => Round::Done(Ok(value)),
                        Ok(Err(e)) => Round::Done(Err(e)),
                        Err(_) => Round::Done(Err(no_answer(wait))),
                    }
                }
            })
            .await;
        match ended {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(request_failed(&session, what, e)),
            Err(stopped) => Err(request_failed(
                &session,
                what,
                CatalogError::Invalid(stopped.to_string()),
            )),
        }
    }

    /// `completion/complete`: suggestions for an argument as typed so far.
    pub async fn complete(
        &self,
        name: &str,
        target: CompletionTarget,
        argument: &str,
        typed: &str,
    ) -> Result<Vec<String>, HubError> {
        let (argument, typed) = (argument.to_string(), typed.to_string());
        self.on_peer(name, "completing the argument", |peer| async move {
            catalog::complete(&peer, &target, &argument, &typed).await
        })
        .await
    }

    /// `logging/setLevel`.
    pub async fn set_log_level(&self, name: &str, level: LogLevel) -> Result<(), HubError> {
        self.on_peer(name, "setting the log level", |peer| async move {
            server_controls::set_level(&peer, level).await
        })
        .await
    }

    /// `resources/subscribe` (`on`) or `unsubscribe`.
    pub async fn subscribe_resource(
        &self,
        name: &str,
        uri: &str,
        on: bool,
    ) -> Result<(), HubError> {
        let uri = uri.to_string();
        let doing = if on {
            "subscribing to the resource"
        } else {
            "unsubscribing from the resource"
        };
        let session = self.session(name)?;
        if session.snapshot().spoke().map(|s| s.era) == Some(crate::session::Era::Stateless) {
            // No `resources/subscribe` in this era: the listen stream carries the updates.
            session.listen_to_resource(&uri, on);
            return Ok(());
        }
        self.on_peer(name, doing, |peer| async move {
            catalog::subscribe(&peer, &uri, on).await
        })
        .await
    }

    /// Answers a server's `elicitation/create`; `false` when it is no longer waiting (answered
    /// already, or the server gave up).
    pub fn answer_elicitation(
        &self,
        server: &str,
        id: &str,
        answer: crate::elicitation::Answer,
    ) -> Result<bool, HubError> {
        Ok(self.session(server)?.elicitations().answer(id, answer))
    }

    /// The link a pending URL-mode question asks the person to open (already checked: https, or
    /// http to this machine); whoever answers `accept` opens it.
    pub fn elicitation_link(&self, server: &str, id: &str) -> Result<Option<String>, HubError> {
        Ok(self.session(server)?.elicitations().link(id))
    }

    /// Answers a server's `sampling/createMessage` with the person's reply, or rejects it;
    /// `false` when it is no longer waiting.
    pub fn answer_sampling(
        &self,
        server: &str,
        id: &str,
        answer: crate::sampling::SamplingAnswer,
    ) -> Result<bool, HubError> {
        Ok(self.session(server)?.samplings().answer(id, answer))
    }

    /// Refresh: the server's tools, prompts and resources are asked for again, whatever their
    /// `ttlMs` allowed keeping (the connection's response cache is emptied), and every view of
    /// them lists them again (the same events as the server's own list changes).
    pub async fn refresh_lists(&self, name: &str) -> Result<(), HubError> {
        let session = self.session(name)?;
        // Nothing is kept for a connection that is not there: a new one starts empty.
        if let Some(peer) = session.snapshot().peer {
            peer.clear_response_cache().await;
        }
        let bus = &self.inner.bus;
        bus.publish(crate::events::Event::ToolsChanged {
            server: name.into(),
        });
        for list in ["prompts", "resources"] {
            bus.publish(crate::events::Event::ListChanged {
                server: name.into(),
                list: list.into(),
            });
        }
        Ok(())
    }

    /// `ping`: the round trip.
    pub async fn ping(&self, name: &str) -> Result<Duration, HubError> {
        self.on_peer(name, "ping", |peer| async move {
            server_controls::ping(&peer).await
        })
        .await
    }

    /// Starts a call; its progress and logs arrive as events tagged with the returned id.
    pub fn start_call(&self, req: CallRequest) -> Result<StartedCall, HubError> {
        let entry = self.entry(&req.server)?;
        // Held until the call's history is written; refused only while a rename ends the
        // server's calls (the server is then gone under this name).
        let Ok(held) = entry.calls.open.clone().try_read_owned() else {
            return Err(HubError::UnknownServer(req.server));
        };
        let call_id = new_call_id();
        let ctx = CallContext {
            session: entry.session,
            bus: self.inner.bus.clone(),
            store: self.inner.store.clone(),
            running: self.inner.running.clone(),
            default_timeout: Duration::from_secs(entry.def.request_timeout_secs),
        };
        let (stop, running, id) = (
            entry.calls.stop.clone(),
            self.inner.running.clone(),
            call_id.clone(),
        );
        let join = tokio::spawn(async move {
            let _held = held;
            let call = run_call(ctx, id.clone(), req);
            tokio::pin!(call);
            // Biased: the call is polled first, so it is registered before a stop cancels it.
            tokio::select! {
                biased;
                report = &mut call => report,
                _ = stop.cancelled() => {
                    running.cancel(&id);
                    call.await
                }
            }
        });
        Ok(StartedCall { call_id, join })
    }

    pub async fn call_tool(&self, req: CallRequest) -> Result<CallReport, HubError> {
        Ok(self.start_call(req)?.finish().await)
    }

    /// Cancels a running call (sends `notifications/cancelled`). False if it already ended.
    pub fn cancel_call(&self, call_id: &str) -> bool {
        self.inner.running.cancel(call_id)
    }

    pub async fn history(&self, name: &str, limit: usize) -> Result<Vec<CallRecord>, HubError> {
        self.server(name)?;
        Ok(self.inner.store.history(name, limit).await?)
    }

    /// One past call, whole, as the history keeps it; `None` when it is not there (pruned, or
    /// another data dir's).
    pub async fn past_call(&self, call_id: &str) -> Result<Option<CallRecord>, HubError> {
        Ok(self.inner.store.call(call_id).await?)
    }

    /// Writes a past call's whole result (MCP's `CallToolResult`, as JSON) to `path`; returns
    /// the bytes written.
    pub async fn save_call_result(&self, call_id: &str, path: &Path) -> Result<u64, HubError> {
        let record = self
            .inner
            .store
            .call(call_id)
            .await?
            .ok_or_else(|| HubError::Save {
                path: path.into(),
                message: format!("call {call_id} is not in the history"),
            })?;
        let Some(result) = record.result else {
            return Err(HubError::Save {
                path: path.into(),
                message: format!(
                    "the call to '{}' has no result to save ({})",
                    record.tool,
                    record.error.as_deref().unwrap_or("it ended without one")
                ),
            });
        };
        let bytes = serde_json::to_vec_pretty(&result).expect("JSON values serialise");
        write_whole(path, bytes).await
    }

    /// Reads a resource afresh and writes its contents to `path` (texts as UTF-8, blobs
    /// decoded); returns the bytes written.
    pub async fn save_resource(&self, name: &str, uri: &str, path: &Path) -> Result<u64, HubError> {
        let read = self.read_resource(name, uri).await?;
        let bytes = crate::preview::resource_bytes(&read).map_err(|message| HubError::Save {
            path: path.into(),
            message: format!("server '{name}': {message}"),
        })?;
        write_whole(path, bytes).await
    }
}

#[cfg(test)]
mod tests {
    /// A form lists a tool's fields in the order its server wrote them (serde_json's
    /// `preserve_order`); re-sorted keys put `b` before `a` whatever the schema said.
    #[test]
    fn a_tools_schema_keeps_the_servers_key_order() {
        let listed = r#"{"name":"t","inputSchema":{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"string"},"mid":{"type":"number"}}}}"#;
        let tool: rmcp::model::Tool = serde_json::from_str(listed).unwrap();
        let relayed = serde_json::to_value(&tool).unwrap();
        let keys: Vec<&str> = relayed["inputSchema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["zeta", "alpha", "mid"]);
    }
}
