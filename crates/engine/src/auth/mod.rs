//! OAuth for remote servers: sealed credentials with compare-and-swap versions
//! (`credentials`), the interactive login (`login`, with the URL allow-list in `browser` and
//! the loopback listener in `callback`), token-endpoint requests through the `oauth2` crate
//! (`token`), the single-flight refresh coordinator (`refresh`), status and logout
//! (`account`). The tokens reach the wire through `transport::authorized::Bearer`, only where
//! `destinations` allows (docs/DESIGN.md, "Credentials").

mod account;
pub mod browser;
mod callback;
mod context;
mod credentials;
pub mod destinations;
mod login;
mod refresh;
mod token;

pub use account::{AuthStatus, LogoutReport, logout, status};
pub use context::AuthContext;
pub use credentials::{Credential, CredentialMeta, Credentials, CredentialsError, TokenAuthMethod};
pub use login::{
    DEFAULT_LOGIN_TIMEOUT, LoginError, LoginObserver, LoginRequest, PreRegisteredClient, login,
    step_up_scopes,
};
pub(crate) use refresh::refused_reason;
pub use refresh::{DEFAULT_REFRESH_TIMEOUT, RefreshCoordinator, RefreshError};
pub use token::{TokenError, TokenGrant};
