//! Which URLs may reach the system browser, and how the authorization URL reaches a person.
//!
//! A URL from a server (an `authorization_endpoint`, later an elicitation URL) is opened only
//! if it is https, or http on a loopback host. Anything else — a `file:` URL, `javascript:`, a
//! string with shell metacharacters, a non-URL — is refused. This closes the hole where a
//! malicious `authorization_endpoint` ran commands through another client's URL opener.

use serde::{Deserialize, Serialize};

/// How a login's authorization URL reaches the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum BrowserMode {
    /// Open the system browser (default).
    #[default]
    System,
    /// Only publish the URL (an event; the CLI prints it) and wait for the callback.
    Print,
    /// For automation: Patchbay requests the URL itself and, if the authorization server
    /// redirects to the loopback callback without asking a person, delivers that redirect.
    Follow,
}

impl std::str::FromStr for BrowserMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "system" => Ok(BrowserMode::System),
            "print" => Ok(BrowserMode::Print),
            "follow" => Ok(BrowserMode::Follow),
            other => Err(format!(
                "unknown browser mode '{other}': use system, print or follow"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeUrl {
    #[error("refusing to open '{0}': it is not a URL")]
    NotAUrl(String),
    #[error("refusing to open a URL that contains the shell character '{0}'")]
    ShellCharacter(char),
    #[error(
        "refusing to open a '{scheme}:' URL from the server; only https (or http on this machine) is opened"
    )]
    Scheme { scheme: String },
    #[error(
        "refusing to open {0}: plain http is only allowed to this machine (127.0.0.1, ::1, localhost); the server should use https"
    )]
    RemoteHttp(String),
    #[error(
        "refusing to open a URL with a user name before its host ('{0}@…'): it hides where the link really goes"
    )]
    UserInfo(String),
}

/// Shell metacharacters (`&` is absent: it separates query parameters).
const SHELL_CHARS: &[char] = &[
    '`', '$', '|', ';', '<', '>', '\\', '"', '\'', '(', ')', '{', '}', '^', '!', '*',
];

pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The URL, parsed and re-serialized, if it may be opened in a browser.
pub fn check_url(text: &str) -> Result<url::Url, UnsafeUrl> {
    let trimmed = text.trim();
    // A URL parser is lenient with whitespace and control characters; a browser opener (or a
    // shell behind it) may not be. Refuse them outright.
    if trimmed.is_empty() || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UnsafeUrl::NotAUrl(text.into()));
    }
    let url = url::Url::parse(trimmed).map_err(|_| UnsafeUrl::NotAUrl(text.into()))?;
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(UnsafeUrl::RemoteHttp(url.to_string())),
        "https" => return Err(UnsafeUrl::NotAUrl(text.into())),
        other => {
            return Err(UnsafeUrl::Scheme {
                scheme: other.into(),
            });
        }
    }
    // `https://accounts.example.com@evil.example/` goes to evil.example: a lure, never needed
    // by an authorization or elicitation URL.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UnsafeUrl::UserInfo(url.username().into()));
    }
    // The opener gets the URL as one argument, no shell; still, characters that only a shell
    // would care about have no business in an authorization URL, so a URL that keeps any of
    // them after encoding is refused rather than trusted to every platform's opener.
    if let Some(c) = url.as_str().chars().find(|c| SHELL_CHARS.contains(c)) {
        return Err(UnsafeUrl::ShellCharacter(c));
    }
    Ok(url)
}

/// Opens a checked URL in the system browser. The URL goes to the opener as one argument,
/// never through a shell.
pub fn open_in_system_browser(url: &url::Url) -> Result<(), String> {
    open::that_detached(url.as_str()).map_err(|e| format!("could not start a browser: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_allowed() {
        for ok in [
            "https://auth.example.com/authorize?client_id=x&state=y",
            "http://127.0.0.1:4010/auth?x=1",
            "http://localhost:8080/authorize",
            "http://[::1]:9000/a",
            "  https://as.example/authorize  ",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn everything_else_is_refused_with_a_reason() {
        let cases = [
            ("file:///etc/passwd", "'file:'"),
            ("javascript:alert(1)", "'javascript:'"),
            ("calc.exe", "not a URL"),
            ("$(touch /tmp/pwned)", "not a URL"),
            ("https://a.example/x; rm -rf ~", "not a URL"),
            ("https://a.example/x\n`id`", "not a URL"),
            (
                "http://evil.example/authorize",
                "plain http is only allowed",
            ),
            ("http://10.0.0.1/authorize", "plain http is only allowed"),
            ("ms-settings:", "'ms-settings:'"),
            (
                "https://accounts.example.com@evil.example/login",
                "user name before its host",
            ),
            ("https://:secret@evil.example/", "user name before its host"),
            ("", "not a URL"),
        ];
        for (input, says) in cases {
            let err = check_url(input).expect_err(input);
            assert!(err.to_string().contains(says), "{input}: {err}");
        }
    }

    #[test]
    fn what_reaches_the_opener_is_the_encoded_url() {
        // Backticks and quotes are percent-encoded by the URL parser; what is left is refused.
        let url = check_url("https://a.example/`id`?q=\"x\"").unwrap();
        assert_eq!(url.as_str(), "https://a.example/%60id%60?q=%22x%22");
        for bad in [
            "https://a.example/$(id)",
            "https://a.example/?q=a|b",
            "https://a.example/?q=a;b",
        ] {
            let err = check_url(bad).unwrap_err();
            assert!(matches!(err, UnsafeUrl::ShellCharacter(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn browser_modes_parse() {
        assert_eq!("follow".parse::<BrowserMode>(), Ok(BrowserMode::Follow));
        assert!(
            "chrome"
                .parse::<BrowserMode>()
                .unwrap_err()
                .contains("system, print or follow")
        );
    }
}
