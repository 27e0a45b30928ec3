//! `doctor` and `vault reset`: where Patchbay keeps its data and the key that seals its
//! secrets, and starting over when that key is gone for good.

use clap::Subcommand;
use patchbay_engine::{Hub, HubError, KeyBackend};

use crate::exit::{OK, USAGE};
use crate::output::{Out, tagged};

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Where Patchbay keeps its data, and whether secrets are in the OS keyring or a key file.
    Doctor,
    /// The key that seals saved logins and env and header values.
    #[command(subcommand)]
    Vault(VaultCommand),
}

#[derive(Subcommand)]
pub enum VaultCommand {
    /// Start over when the key is gone for good (its keyring entry deleted, its key file
    /// lost): every saved login and every env and header value is forgotten (servers stay).
    /// Not for a keyring that is only locked or out of reach: unlock it instead.
    Reset {
        /// Yes, forget them.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(hub: &Hub, out: Out, command: SecretsCommand) -> Result<u8, HubError> {
    match command {
        SecretsCommand::Doctor => doctor(hub, out).await,
        SecretsCommand::Vault(VaultCommand::Reset { yes }) => reset(hub, out, yes).await,
    }
}

async fn reset(hub: &Hub, out: Out, yes: bool) -> Result<u8, HubError> {
    if !yes {
        out.error(
            "this forgets every saved login and every server's env and header values (the servers stay, and show which values to type in again). Only for a key that is gone for good; a locked or unreachable keyring needs unlocking, not this. Run again with --yes to go ahead",
        );
        return Ok(USAGE);
    }
    let reset = hub.reset_vault().await?;
    out.emit(tagged("vault_reset", &reset), || {
        format!(
            "started over: {} saved logins forgotten, {} servers need their env or header values typed in again (`servers list` shows which)",
            reset.logins, reset.servers
        )
    });
    Ok(OK)
}

async fn doctor(hub: &Hub, out: Out) -> Result<u8, HubError> {
    let report = hub.doctor(true).await;
    out.emit(tagged("doctor", &report), || {
        let secrets = match &report.key_backend {
            KeyBackend::Keyring => {
                "sealed under a key in the OS keyring".to_string()
            }
            KeyBackend::KeyFile { path, reason } => format!(
                "sealed under a key in {} (readable only by you), because {reason}",
                path.display()
            ),
            KeyBackend::Locked { reason } => {
                format!("LOCKED: {reason}")
            }
            KeyBackend::NoKeyYet => {
                "nothing sealed yet; the key is made (in the OS keyring when it can be) when the first secret is kept".to_string()
            }
        };
        let mut text = format!(
            "data dir: {}\ndatabase: {}\nsecrets:  {secrets}\nservers:  {}",
            report.data_dir.display(),
            report.database.display(),
            if report.peers.is_empty() {
                "none yet (add one with `servers add`)"
            } else {
                ""
            }
        );
        for peer in &report.peers {
            let login = match &peer.auth {
                None => String::new(),
                Some(a) if a.logged_in => {
                    format!(", logged in at {}", a.issuer.as_deref().unwrap_or("?"))
                }
                Some(a) => match &a.problem {
                    Some(problem) => format!(", not logged in ({problem})"),
                    None => ", not logged in".to_string(),
                },
            };
            let disabled = if peer.enabled { "" } else { ", disabled" };
            text.push_str(&format!(
                "\n  {} [{}] {}{disabled}{login}",
                peer.name, peer.transport, peer.target
            ));
        }
        text
    });
    Ok(OK)
}
