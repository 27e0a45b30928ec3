//! Renaming a server (an edit that changes its name): its row, call history, saved logins and
//! client secret move to the new name in one store transaction, and its entry in `installed`
//! with them.
//!
//! What meets a rename (it runs under the edit lock, so another edit of the same server runs
//! wholly before or after it): the server's running calls are cancelled and have written their
//! history before it moves; a login under way is cancelled (a saved one moves); a login being
//! refreshed right now (in any process) makes it refuse with "try again", so no refresh lands
//! on a row that has moved. If the move fails, the server goes on under its old name.

use std::time::Duration;

use super::{Hub, HubError};
use crate::store::{NewServer, Rename};

/// How long a cancelled call may take to say so to its server and write its history before
/// the session is shut down under it.
const CALLS_END: Duration = Duration::from_secs(5);

impl Hub {
    /// Moves the server `from` to `new.def.name` (checked free by the caller, who holds the edit
    /// lock). `repointed`: its URL changed, so its saved login is forgotten rather than moved;
    /// `moved`: its origin changed, so its client secret is forgotten too.
    pub(super) async fn rename(
        &self,
        from: &str,
        new: NewServer,
        repointed: bool,
        moved: bool,
    ) -> Result<(), HubError> {
        let to = new.def.name.clone();
        // What can fail without harm comes first: sealed values bound to the old name are
        // opened and sealed for the new one (the vault is asked only if there are any).
        let (logins, client_secret) = self
            .coordinator()
            .await
            .credentials()
            .resealed_for(from, &to)
            .await?;
        // Out of `installed` first: no call or login can start under the old name from here.
        let entry = self
            .uninstall_entry(from)
            .ok_or_else(|| HubError::UnknownServer(from.into()))?;
        self.stop_login(from).await;
        entry.calls.stop.cancel();
        // A cancelled call tells its server and writes its history; one that cannot within
        // the bound fails when the session goes, and writes it then.
        let ended = tokio::time::timeout(CALLS_END, entry.calls.open.clone().write_owned()).await;
        entry.session.shutdown().await;
        let _ended = match ended {
            Ok(guard) => guard,
            Err(_) => entry.calls.open.clone().write_owned().await,
        };
        let renamed = self
            .inner
            .store
            .rename_server(Rename {
                from: from.into(),
                server: new.clone(),
                logins,
                keep_logins: !repointed,
                client_secret,
                keep_client_secret: !moved,
            })
            .await;
        // Moved, or (another process took the name, or changed the login meanwhile) not: either
        // way the server gets a session under the name it now has.
        let def = match renamed {
            Ok(()) => new.def,
            Err(e) => {
                self.install(entry.def.clone());
                if entry.def.enabled {
                    self.connect(from)?;
                }
                return Err(e.into());
            }
        };
        let enabled = def.enabled;
        self.install(def);
        if enabled {
            self.connect(&to)?;
        }
        Ok(())
    }
}
