//! `subscriptions/listen` (2026-07-28): where a server without sessions sends its list changes
//! and the updates of resources the person subscribed to. One stream per connected server,
//! opened for what the server says can change plus the subscribed URIs, opened again (with a
//! backoff) when it drops, and again when the person's subscriptions change.
//!
//! The transport tap (`Observed`) journals what arrives on it like any notification; the list
//! changes and resource updates become events here, as they come out of the stream: rmcp drops
//! its cached copy of a list before it hands the notification over, so a window that lists again
//! on the event gets the new list (told from the tap, it could get the cached old one).

use std::collections::BTreeSet;
use std::time::Duration;

use rmcp::model::SubscriptionFilter;
use rmcp::service::SubscriptionEnd;
use rmcp::{Peer, RoleClient};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::events::EventBus;

/// The longest wait before opening a dropped stream again.
const MOST: Duration = Duration::from_secs(30);
/// How long a server has to acknowledge a stream.
const OPEN_WITHIN: Duration = Duration::from_secs(30);
/// A stream that stayed up this long worked: its end starts the backoff afresh. One that ends
/// sooner counts as a failure, so a server that acknowledges and hangs up at once is not asked
/// again twice a second.
const WORKED: Duration = Duration::from_secs(30);

/// What to listen for: the lists the server says can change, and `uris`.
fn filter(peer: &Peer<RoleClient>, uris: &BTreeSet<String>) -> SubscriptionFilter {
    let caps = peer
        .peer_info()
        .map(|i| i.capabilities.clone())
        .unwrap_or_default();
    let mut wanted = SubscriptionFilter::builder();
    if caps.tools.as_ref().and_then(|t| t.list_changed) == Some(true) {
        wanted = wanted.tools_list_changed();
    }
    if caps.prompts.as_ref().and_then(|p| p.list_changed) == Some(true) {
        wanted = wanted.prompts_list_changed();
    }
    if caps.resources.as_ref().and_then(|r| r.list_changed) == Some(true) {
        wanted = wanted.resources_list_changed();
    }
    if !uris.is_empty() {
        wanted = wanted.resource_subscriptions(uris.iter().cloned());
    }
    wanted.build()
}

/// Keeps `server`'s listen stream open until `stop`; `uris` are the resources the person
/// subscribed to (a change opens a new stream before the old one is let go, so nothing is
/// missed in between).
pub(super) async fn listen(
    server: String,
    bus: EventBus,
    peer: Peer<RoleClient>,
    mut uris: watch::Receiver<BTreeSet<String>>,
    stop: CancellationToken,
) {
    let mut failures = 0u32;
    // The stream being replaced: kept until its successor is acknowledged.
    let mut previous = None;
    loop {
        let wanted = filter(&peer, &uris.borrow_and_update());
        if wanted == SubscriptionFilter::default() {
            // Nothing can change and nothing is subscribed: wait for a subscription.
            drop(previous.take());
            tokio::select! {
                r = uris.changed() => if r.is_err() { return },
                _ = stop.cancelled() => return,
            }
            continue;
        }
        // A server that never acknowledges must not hold up the next change of subscriptions.
        let opened = tokio::select! {
            r = tokio::time::timeout(OPEN_WITHIN, peer.listen(wanted)) => match r {
                Ok(r) => r,
                Err(_) => Err(rmcp::ServiceError::Timeout { timeout: OPEN_WITHIN }),
            },
            _ = stop.cancelled() => return,
        };
        drop(previous.take());
        let mut stream = match opened {
            Ok(stream) => stream,
            // The server refused (it does not offer the method, or not for this filter):
            // asking again in a moment would be refused again.
            Err(rmcp::ServiceError::McpError(e)) => {
                let why = crate::causes::bounded(&e.message, crate::causes::SERVER_TEXT);
                tracing::warn!(%server, "the server refused subscriptions/listen: {why}");
                tokio::select! {
                    r = uris.changed() => if r.is_err() { return },
                    _ = stop.cancelled() => return,
                }
                continue;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(%server, "could not open subscriptions/listen: {e}");
                if !pause(failures, &mut uris, &stop).await {
                    return;
                }
                continue;
            }
        };
        let opened_at = tokio::time::Instant::now();
        let ended = loop {
            tokio::select! {
                next = stream.next() => match next {
                    Ok(Some(notification)) => {
                        if let Some(changed) = super::inbox::change_event(&server, &notification) {
                            bus.publish(changed);
                        }
                    }
                    // How it ended, not what the server wrote in its final answer.
                    Ok(None) => break match stream.end() {
                        Some(SubscriptionEnd::Graceful(_)) => "the server closed it",
                        Some(SubscriptionEnd::Cancelled) => "cancelled",
                        Some(SubscriptionEnd::Lagged { .. }) => "too many notifications at once",
                        _ => "the connection dropped it",
                    }
                    .to_string(),
                    Err(e) => break crate::causes::bounded(&e.to_string(), crate::causes::SERVER_TEXT),
                },
                r = uris.changed() => {
                    if r.is_err() {
                        return;
                    }
                    break String::new();
                }
                _ = stop.cancelled() => {
                    let _ = stream.cancel().await;
                    return;
                }
            }
        };
        if ended.is_empty() {
            // The person's subscriptions changed: listen anew, then let this one go.
            previous = Some(stream);
            continue;
        }
        failures = if opened_at.elapsed() >= WORKED {
            1
        } else {
            failures + 1
        };
        tracing::info!(%server, "subscriptions/listen ended ({ended}); opening it again");
        if !pause(failures, &mut uris, &stop).await {
            return;
        }
    }
}

/// Waits before the next try (longer after each failure in a row), or until the person's
/// subscriptions change; false once `stop` is cancelled.
async fn pause(
    failures: u32,
    uris: &mut watch::Receiver<BTreeSet<String>>,
    stop: &CancellationToken,
) -> bool {
    let wait = (Duration::from_millis(250) * 2u32.saturating_pow(failures.min(8))).min(MOST);
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        r = uris.changed() => r.is_ok(),
        _ = stop.cancelled() => false,
    }
}
