//! The set of servers and their definitions: add, edit, enable, roots, remove, import, export,
//! and what a local server runs before it first starts.
//!
//! Every change takes the hub's edit lock (`Inner::edits`), writes the store, then the memory
//! copy and the session, so two at once never undo half of each other. Definitions are held
//! and shown masked; their env and header values are sealed in the store (`definitions.rs`)
//! and come back only through `reveal_server` and to the session that starts the server.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::{Hub, HubError};
use crate::config::{self, Export, LaunchPlan, RootDef, ServerDef};
use crate::definitions;
use crate::vault::Secret;

/// How long a previewed import can still be added.
const IMPORT_KEPT: Duration = Duration::from_secs(60 * 60);
/// Previews kept at once (the oldest goes first).
const IMPORTS_KEPT: usize = 8;

/// An import as the person reviews it before anything is stored: exactly what `apply_import`
/// with the same `id` adds (the file is not read again).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ImportPreview {
    pub id: String,
    pub file: PathBuf,
    pub servers: Vec<ImportedServer>,
    /// Things the person should know (an unresolved `${input:..}`, an ignored field).
    pub warnings: Vec<String>,
}

/// One server of an import.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ImportedServer {
    /// Its definition, values masked unless revealed.
    pub def: ServerDef,
    /// What it runs, for a local server.
    pub launch: Option<LaunchPlan>,
    /// A server of this name is already configured (the import would be refused).
    pub exists: bool,
}

/// What the person chose for the servers of an import: each is added under the name the file
/// gives it, unless renamed here, or left out.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ImportChoices {
    /// The file's name → the name to add the server under.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// The file's names of the servers not to add.
    #[serde(default)]
    pub skip: Vec<String>,
}

impl ImportChoices {
    /// The servers to add, renamed and without the skipped ones; a name used twice (by the
    /// file's servers as renamed) is refused.
    fn apply(&self, servers: Vec<ServerDef>) -> Result<Vec<ServerDef>, HubError> {
        let mut names = HashSet::new();
        let mut out = Vec::with_capacity(servers.len());
        for mut def in servers {
            if self.skip.contains(&def.name) {
                continue;
            }
            if let Some(new) = self.rename.get(&def.name) {
                def.name = new.trim().to_string();
            }
            if !names.insert(def.name.clone()) {
                return Err(HubError::Store(crate::store::StoreError::Duplicate(
                    def.name,
                )));
            }
            out.push(def);
        }
        Ok(out)
    }
}

/// An export written to a file.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SavedExport {
    pub path: PathBuf,
    pub servers: usize,
    /// Env and header values written as "" because they were not asked for.
    pub secrets_left_out: usize,
}

/// Parsed imports waiting for the person's word, by id.
#[derive(Default)]
pub(super) struct PendingImports(std::sync::Mutex<HashMap<String, PendingImport>>);

struct PendingImport {
    at: Instant,
    file: PathBuf,
    servers: Vec<ServerDef>,
    warnings: Vec<String>,
}

impl PendingImports {
    fn keep(&self, import: PendingImport) -> String {
        let mut id = [0u8; 12];
        rand::rng().fill_bytes(&mut id);
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let mut pending = self.0.lock().unwrap();
        pending.retain(|_, p| p.at.elapsed() < IMPORT_KEPT);
        while pending.len() >= IMPORTS_KEPT {
            let oldest = pending
                .iter()
                .min_by_key(|(_, p)| p.at)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            pending.remove(&oldest);
        }
        pending.insert(id.clone(), import);
        id
    }

    fn get(&self, id: &str) -> Option<(PathBuf, Vec<ServerDef>, Vec<String>)> {
        let pending = self.0.lock().unwrap();
        pending
            .get(id)
            .filter(|p| p.at.elapsed() < IMPORT_KEPT)
            .map(|p| (p.file.clone(), p.servers.clone(), p.warnings.clone()))
    }

    fn take(&self, id: &str) -> Option<PendingImport> {
        self.0
            .lock()
            .unwrap()
            .remove(id)
            .filter(|p| p.at.elapsed() < IMPORT_KEPT)
    }
}

/// The origin (scheme, host, port) of a remote server's URL.
fn origin(def: &ServerDef) -> Option<String> {
    def.remote_url()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
}

impl Hub {
    /// The server's definition as stored now (shown form): every change starts from it, not
    /// from what this process remembers (another process may have changed it).
    async fn stored(&self, name: &str) -> Result<ServerDef, HubError> {
        self.inner
            .store
            .get_server(name)
            .await?
            .ok_or_else(|| HubError::UnknownServer(name.into()))
    }

    pub async fn add_server(&self, def: ServerDef) -> Result<(), HubError> {
        self.add_all(vec![def]).await
    }

    /// Adds a remote server with a pre-registered OAuth client's secret: the secret is sealed
    /// first and stored in the same transaction as the server, so neither exists without the
    /// other.
    pub async fn add_server_with_client_secret(
        &self,
        def: ServerDef,
        secret: Secret,
    ) -> Result<(), HubError> {
        def.validate()?;
        if def.oauth_client_id.is_none() {
            return Err(HubError::Invalid(config::InvalidServer {
                server: def.name.clone(),
                field: "client_secret",
                message: "needs a client id too (--client-id)".into(),
            }));
        }
        let refresher = self.coordinator().await;
        let sealed_secret = refresher
            .credentials()
            .seal_client_secret(&def.name, &secret)
            .await?;
        let new = definitions::seal(self.inner.auth.vault(), &def, None).await?;
        let _edit = self.inner.edits.lock().await;
        self.inner
            .store
            .add_servers_with_secret(vec![new.clone()], Some((def.name.clone(), sealed_secret)))
            .await?;
        self.install(new.def);
        Ok(())
    }

    /// [`Hub::add_server`] for several, all or nothing (as an import adds them).
    #[cfg(feature = "testing")]
    pub async fn add_servers(&self, defs: Vec<ServerDef>) -> Result<(), HubError> {
        self.add_all(defs).await
    }

    /// All or nothing: one transaction in the store, then sessions for each. The definitions
    /// carry their env and header values, which are sealed (the vault is asked only if there
    /// are any).
    async fn add_all(&self, defs: Vec<ServerDef>) -> Result<(), HubError> {
        let mut sealed = Vec::with_capacity(defs.len());
        for def in &defs {
            def.validate()?;
            sealed.push(definitions::seal(self.inner.auth.vault(), def, None).await?);
        }
        let _edit = self.inner.edits.lock().await;
        self.inner.store.add_servers(sealed.clone()).await?;
        for new in sealed {
            self.install(new.def);
        }
        Ok(())
    }

    /// Removes the server, its history, and its session (killing its process).
    pub async fn remove_server(&self, name: &str) -> Result<(), HubError> {
        // An edit that finished after this would install the server again, unstored.
        let edit = self.inner.edits.lock().await;
        let session = self.session(name)?;
        self.stop_login(name).await;
        self.inner.store.remove_server(name).await?;
        self.uninstall(name);
        drop(edit);
        session.shutdown().await;
        Ok(())
    }

    /// Replaces a server's definition (same name). An env or header value sent as
    /// [`config::MASK`] keeps its stored value, unless the server moved to another origin: a
    /// header meant for one host is not sent to another without being typed again, and a
    /// pre-registered client secret is forgotten with the saved login. Its session restarts with
    /// the new one, and connects if the server is enabled; a disabled server is disconnected and
    /// stays so. Its roots, and whether it still waits for the person's review, stay as stored:
    /// roots change only through `edit_roots` (so a form opened before a root was added cannot
    /// drop it), and a review only through `confirm_launch`.
    pub async fn update_server(&self, def: ServerDef) -> Result<(), HubError> {
        let name = def.name.clone();
        self.edit_server(&name, def).await
    }

    /// [`Hub::update_server`] for the server now called `name`; a `def` with another name also
    /// renames it, moving everything kept under the old name (see `hub/rename.rs`). A name
    /// that is taken changes nothing.
    pub async fn edit_server(&self, name: &str, mut def: ServerDef) -> Result<(), HubError> {
        let _edit = self.inner.edits.lock().await;
        let old = self.session(name)?;
        let previous = self.stored(name).await?;
        def.roots = previous.roots.clone();
        def.needs_review = previous.needs_review;
        def.validate()?;
        let renamed = def.name != name;
        if renamed && self.inner.store.get_server(&def.name).await?.is_some() {
            return Err(HubError::Store(crate::store::StoreError::Duplicate(
                def.name,
            )));
        }
        let moved = origin(&previous) != origin(&def);
        if moved && def.is_masked() {
            return Err(HubError::Invalid(config::InvalidServer {
                server: def.name.clone(),
                field: "headers",
                message: "are not carried to another address: the server moved, so type each header value again"
                    .into(),
            }));
        }
        let stored = if def.is_masked() {
            definitions::stored_values(&self.inner.store, self.inner.auth.vault(), name).await?
        } else {
            config::SecretValues::default()
        };
        // Sealed for `def.name`: a sealed value opens only under the name it was sealed for.
        let new = definitions::seal(self.inner.auth.vault(), &def, Some(&stored)).await?;
        if renamed {
            let repointed = previous.remote_url() != new.def.remote_url();
            return self.rename(name, new, repointed, moved).await;
        }
        self.inner
            .store
            .replace_server(new.def.clone(), new.sealed)
            .await?;
        // A saved login belongs to the server it was made for: pointed somewhere else, the
        // server must not be sent the old one's tokens. (A login still running goes too.)
        if previous.remote_url() != new.def.remote_url() {
            self.stop_login(&new.def.name).await;
            self.inner.store.delete_credentials(&new.def.name).await?;
        }
        if moved {
            self.inner.store.delete_client_secret(&new.def.name).await?;
        }
        old.shutdown().await;
        let (name, enabled) = (new.def.name.clone(), new.def.enabled);
        self.install(new.def);
        if enabled {
            self.connect(&name)?;
        }
        Ok(())
    }

    /// Enables (and connects) or disables (and disconnects) a server; remembered across starts.
    /// A local server that waits for the person's review is not enabled: see `launch_plan` and
    /// `confirm_launch`.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), HubError> {
        let _edit = self.inner.edits.lock().await;
        self.session(name)?;
        let mut def = self.stored(name).await?;
        if enabled && def.needs_review {
            return Err(HubError::NeedsReview(name.into()));
        }
        def.enabled = enabled;
        self.inner.store.update_server(def.clone()).await?;
        self.show(def);
        if enabled {
            self.connect(name)?;
        } else {
            self.disconnect(name).await?;
        }
        Ok(())
    }

    /// The server's definition with its env and header values, for a person who asked to see
    /// them (or to export them).
    pub async fn reveal_server(&self, name: &str) -> Result<ServerDef, HubError> {
        definitions::reveal(&self.inner.store, self.inner.auth.vault(), name)
            .await?
            .ok_or_else(|| HubError::UnknownServer(name.into()))
    }

    /// What starting a local server runs (values masked unless `reveal`, except those that
    /// change what runs): for the person to see before its first start.
    pub async fn launch_plan(&self, name: &str, reveal: bool) -> Result<LaunchPlan, HubError> {
        let (def, _) = self.as_stored(name).await?;
        def.launch_plan(reveal)
            .ok_or_else(|| HubError::NotLocal(name.into()))
    }

    async fn as_stored(&self, name: &str) -> Result<(ServerDef, i64), HubError> {
        definitions::as_stored(&self.inner.store, self.inner.auth.vault(), name)
            .await
            .map_err(|e| match e {
                definitions::NotStarted::Removed(name) => HubError::UnknownServer(name),
                definitions::NotStarted::Secrets(e) => HubError::Secrets(e),
                other => HubError::Request {
                    server: name.into(),
                    message: other.to_string(),
                },
            })
    }

    /// The person has seen what the server runs (`launch_plan`, whose `digest` they pass back)
    /// and says yes: it is enabled, remembered as reviewed, and connects. If what it runs has
    /// changed since (another process edited it), nothing changes and they are asked to look
    /// again.
    pub async fn confirm_launch(&self, name: &str, digest: &str) -> Result<(), HubError> {
        {
            let _edit = self.inner.edits.lock().await;
            self.session(name)?;
            // The plan is made from the row at one revision, and the yes is written only if the
            // row is still at it: another process's edit in between means "look again".
            let (full, revision) = self.as_stored(name).await?;
            let now = full
                .launch_plan(false)
                .ok_or_else(|| HubError::NotLocal(name.into()))?;
            if now.digest != digest {
                return Err(HubError::PlanChanged(name.into()));
            }
            let mut def = full.masked();
            def.needs_review = false;
            def.enabled = true;
            if !self
                .inner
                .store
                .confirm_reviewed(def.clone(), revision)
                .await?
            {
                return Err(HubError::PlanChanged(name.into()));
            }
            // The session holds the definition it was made with: give it the reviewed one.
            self.session(name)?.shutdown().await;
            self.install(def);
        }
        self.connect(name)
    }

    /// Replaces a server's roots (the folders it may work in). See `edit_roots`.
    #[cfg(feature = "testing")]
    pub async fn set_roots(&self, name: &str, roots: Vec<RootDef>) -> Result<(), HubError> {
        self.edit_roots(name, |r| {
            *r = roots;
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Changes a server's roots with `edit` (read, change and write as one step, so two edits
    /// at once never lose one). Stored first; a connected server is told at once and asks for
    /// the new list, without reconnecting. Returns the new list. An `edit` error, or a list that
    /// does not validate, changes nothing.
    pub async fn edit_roots(
        &self,
        name: &str,
        edit: impl FnOnce(&mut Vec<RootDef>) -> Result<(), String>,
    ) -> Result<Vec<RootDef>, HubError> {
        let _edit = self.inner.edits.lock().await;
        self.session(name)?;
        let mut def = self.stored(name).await?;
        edit(&mut def.roots).map_err(|message| config::InvalidServer {
            server: name.into(),
            field: "roots",
            message,
        })?;
        def.validate()?;
        self.inner.store.update_server(def.clone()).await?;
        let roots = def.roots.clone();
        self.show(def);
        self.session(name)?.set_roots(roots.clone()).await;
        Ok(roots)
    }

    /// The config files of Claude Desktop, VS Code and Cursor on this machine, for a first
    /// run to offer (each then goes through `preview_import`).
    pub async fn found_configs(&self) -> Vec<config::FoundConfig> {
        tokio::task::spawn_blocking(config::found_configs)
            .await
            .unwrap_or_default()
    }

    /// Reads another client's config file and keeps what it would add, for `apply_import`;
    /// stores nothing. Values are masked unless `reveal` (those that change what runs are
    /// always shown).
    pub async fn preview_import(
        &self,
        path: &Path,
        reveal: bool,
    ) -> Result<ImportPreview, HubError> {
        let file = path.to_path_buf();
        let plan = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || config::import_file(&file))
                .await
                .expect("import task")?
        };
        let id = self.inner.imports.keep(PendingImport {
            at: Instant::now(),
            file,
            servers: plan.servers,
            warnings: plan.warnings,
        });
        self.reveal_import(&id, reveal)
    }

    /// A kept import again (`reveal`: with its values shown).
    pub fn reveal_import(&self, id: &str, reveal: bool) -> Result<ImportPreview, HubError> {
        let (file, servers, warnings) = self
            .inner
            .imports
            .get(id)
            .ok_or_else(|| HubError::NoImport(id.into()))?;
        let existing: std::collections::HashSet<String> =
            self.installed().into_iter().map(|i| i.def.name).collect();
        Ok(ImportPreview {
            id: id.into(),
            file,
            servers: servers
                .iter()
                .map(|def| ImportedServer {
                    launch: def.launch_plan(reveal),
                    exists: existing.contains(&def.name),
                    def: if reveal { def.clone() } else { def.masked() },
                })
                .collect(),
            warnings,
        })
    }

    /// Adds exactly what `preview_import` showed under `id` (all or nothing). Without `start`,
    /// every server is added disabled, and local ones wait for the person's review before
    /// they first start (`confirm_launch`); with `start` (the person has seen the plan and said
    /// yes), each is added as the file has it (enabled unless it says disabled) and reviewed.
    /// Returns what was added, masked.
    pub async fn apply_import(&self, id: &str, start: bool) -> Result<Vec<ServerDef>, HubError> {
        self.apply_import_as(id, start, &ImportChoices::default())
            .await
    }

    /// [`Hub::apply_import`] with the person's renames and skips. A name that is taken (here,
    /// or twice in what would be added) or not valid is refused before the import is used, so
    /// the person can change it and try again with the same preview.
    pub async fn apply_import_as(
        &self,
        id: &str,
        start: bool,
        choices: &ImportChoices,
    ) -> Result<Vec<ServerDef>, HubError> {
        let (_, listed, _) = self
            .inner
            .imports
            .get(id)
            .ok_or_else(|| HubError::NoImport(id.into()))?;
        for def in choices.apply(listed)? {
            def.validate()?;
            if self.inner.store.get_server(&def.name).await?.is_some() {
                return Err(HubError::Store(crate::store::StoreError::Duplicate(
                    def.name,
                )));
            }
        }
        let import = self
            .inner
            .imports
            .take(id)
            .ok_or_else(|| HubError::NoImport(id.into()))?;
        let defs: Vec<ServerDef> = choices
            .apply(import.servers)?
            .into_iter()
            .map(|mut def| {
                if !start {
                    def.enabled = false;
                    def.needs_review = def.launch_plan(false).is_some();
                }
                def
            })
            .collect();
        let shown = defs.iter().map(ServerDef::masked).collect();
        self.add_all(defs).await?;
        Ok(shown)
    }

    /// Every server in Claude Desktop's `mcpServers` shape. Env and header values are written
    /// only with `secrets` (else "" under their names).
    pub async fn export_claude(&self, secrets: bool) -> Result<Export, HubError> {
        let mut defs = self.inner.store.list_servers().await?;
        if secrets {
            let mut revealed = Vec::with_capacity(defs.len());
            for def in &defs {
                // A server removed meanwhile is left out.
                revealed.extend(
                    definitions::reveal(&self.inner.store, self.inner.auth.vault(), &def.name)
                        .await?,
                );
            }
            defs = revealed;
        }
        Ok(config::export_claude(&defs, secrets))
    }

    /// [`Hub::export_claude`] written to `path`, whole or not at all, readable only by the
    /// person (0600 on Unix, whatever the umask: it may hold their secrets).
    pub async fn export_claude_to(
        &self,
        path: &Path,
        secrets: bool,
    ) -> Result<SavedExport, HubError> {
        let export = self.export_claude(secrets).await?;
        let servers = export.document["mcpServers"]
            .as_object()
            .map_or(0, |m| m.len());
        let mut bytes = serde_json::to_vec_pretty(&export.document).expect("JSON serialises");
        bytes.push(b'\n');
        let target = path.to_path_buf();
        tokio::task::spawn_blocking(move || crate::files::write_whole(&target, &bytes))
            .await
            .expect("export task")
            .map_err(|e| HubError::Save {
                path: path.into(),
                message: e.to_string(),
            })?;
        Ok(SavedExport {
            path: path.into(),
            servers,
            secrets_left_out: export.secrets_left_out,
        })
    }
}
