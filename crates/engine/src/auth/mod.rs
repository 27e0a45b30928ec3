//! OAuth for remote servers. This slice: sealed credentials with compare-and-swap versions
//! (`credentials`), token-endpoint requests through the `oauth2` crate (`token`), and the
//! single-flight refresh coordinator (`refresh`). Discovery, registration and the loopback
//! login come next (see DESIGN.md, "Credentials").

mod account;
mod credentials;
mod refresh;
mod token;

pub use account::{AuthStatus, LogoutReport, logout, status};
pub use credentials::{Credential, CredentialMeta, Credentials, CredentialsError, TokenAuthMethod};
pub use refresh::{DEFAULT_REFRESH_TIMEOUT, RefreshCoordinator, RefreshError};
pub use token::{TokenError, TokenGrant};
