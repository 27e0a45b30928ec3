//! What each sealed value is bound to (the AEAD's associated data): the identity of its row.
//! A sealed blob copied into another row, or another kind of row, does not open. One place,
//! so the code that seals, the code that opens and the vault's own key check agree.

use crate::store::{CredentialKey, SealedRow};

/// A credential's tokens: its whole identity.
pub fn credential(key: &CredentialKey) -> String {
    serde_json::to_string(&[&key.server, &key.issuer, &key.client_id, &key.resource])
        .expect("strings serialize")
}

/// The secret of a client registered by hand, kept with its server.
pub fn client_secret(server: &str) -> String {
    format!("client-secret:{}", quoted(server))
}

/// The secret of a client Patchbay registered itself at an authorization server.
pub fn registered_client(issuer: &str) -> String {
    format!("registered-client:{}", quoted(issuer))
}

/// A server's env and header values.
pub fn server_secrets(server: &str) -> String {
    format!("server-secrets:{}", quoted(server))
}

/// The vault's own check value.
pub(super) const KEY_CHECK: &str = "vault-key-check";
pub(super) const KEY_CHECK_PLAIN: &[u8] = b"patchbay vault key check, v1";

/// A stored sealed value with the context it was sealed under.
pub(super) fn of_row(row: &SealedRow) -> (&[u8], String) {
    match row {
        SealedRow::Credential { key, sealed } => (sealed, credential(key)),
        SealedRow::ClientSecret { server, sealed } => (sealed, client_secret(server)),
        SealedRow::RegisteredClient { issuer, sealed } => (sealed, registered_client(issuer)),
        SealedRow::ServerSecrets { server, sealed } => (sealed, server_secrets(server)),
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}
