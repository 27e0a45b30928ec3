//! Where a secret may travel. A bearer token, a refresh token, a client secret or an
//! authorization code goes only over https, or to this machine (a local server or
//! authorization server, RFC 8252); and a server on another machine cannot send them to an
//! endpoint on this one (where whatever listens there, not the server, would get them).

use url::Url;

use super::browser::is_loopback;

/// Whether a bearer token may be sent to `url`: https, or http to this machine.
pub fn check_bearer_destination(url: &str) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        _ => Err(format!(
            "{url} is plain http on another machine: a login token sent there could be read on the way, so Patchbay does not log in to it. Use the server's https:// URL"
        )),
    }
}

/// Whether an OAuth endpoint (`what`: "token endpoint", ...) may be used for the MCP server at
/// `mcp_url` (or the resource its login was made for): https or loopback http, and not on this
/// machine unless the server is too. A server URL that cannot be read counts as another
/// machine's.
pub fn check_endpoint(what: &str, endpoint: &str, mcp_url: &str) -> Result<(), String> {
    let parsed =
        Url::parse(endpoint).map_err(|e| format!("the {what} {endpoint:?} is not a URL ({e})"))?;
    let loopback = is_loopback(&parsed);
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(format!(
                "the {what} {endpoint} is neither https nor on this machine; refusing to send secrets there"
            ));
        }
    }
    let server_is_local = Url::parse(mcp_url).is_ok_and(|u| is_loopback(&u));
    if loopback && !server_is_local {
        return Err(format!(
            "the server is on another machine but names an {what} on this one ({endpoint}); refused, as whatever listens there would get the login"
        ));
    }
    Ok(())
}

/// Whether a credential issued for `resource` (RFC 8707) may be sent to `url`: the same
/// origin, and `url` at or under the resource's path. A login is never sent to a server it
/// was not made for, even by a process that still holds an old definition.
pub fn resource_covers(resource: &str, url: &str) -> bool {
    let (Ok(resource), Ok(url)) = (Url::parse(resource), Url::parse(url)) else {
        return false;
    };
    if resource.origin() != url.origin() {
        return false;
    }
    let base = resource.path().trim_end_matches('/');
    let path = url.path().trim_end_matches('/');
    base.is_empty() || path == base || path.starts_with(&format!("{base}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_go_over_https_or_to_this_machine() {
        assert!(check_bearer_destination("https://mcp.example.com/mcp").is_ok());
        assert!(check_bearer_destination("http://127.0.0.1:8080/mcp").is_ok());
        assert!(check_bearer_destination("http://localhost/mcp").is_ok());
        let err = check_bearer_destination("http://mcp.example.com/mcp").unwrap_err();
        assert!(err.contains("https://"), "{err}");
        assert!(check_bearer_destination("http://10.0.0.5/mcp").is_err());
    }

    #[test]
    fn endpoints_must_be_https_or_local_and_local_only_for_a_local_server() {
        let remote = "https://mcp.example.com/mcp";
        assert!(check_endpoint("token endpoint", "https://as.example.com/token", remote).is_ok());
        let err =
            check_endpoint("token endpoint", "http://as.example.com/token", remote).unwrap_err();
        assert!(err.contains("neither https"), "{err}");
        let err = check_endpoint(
            "authorization endpoint",
            "http://127.0.0.1:9/authorize",
            remote,
        )
        .unwrap_err();
        assert!(err.contains("on this one"), "{err}");
        assert!(
            check_endpoint(
                "authorization endpoint",
                "https://localhost/authorize",
                remote
            )
            .is_err()
        );
        let local = "http://127.0.0.1:3000/mcp";
        assert!(check_endpoint("token endpoint", "http://127.0.0.1:4000/token", local).is_ok());
        assert!(check_endpoint("token endpoint", "file:///etc/passwd", local).is_err());
        // A server that cannot be read is not trusted to be local.
        assert!(check_endpoint("revocation endpoint", "http://127.0.0.1:4000/revoke", "").is_err());
    }

    #[test]
    fn a_login_covers_its_resource_and_what_is_under_it_on_the_same_origin() {
        let r = "https://mcp.example.com/mcp";
        assert!(resource_covers(r, "https://mcp.example.com/mcp"));
        assert!(resource_covers(r, "https://mcp.example.com/mcp/"));
        assert!(resource_covers(r, "https://mcp.example.com/mcp/sub?x=1"));
        assert!(!resource_covers(r, "https://mcp.example.com/mcpx"));
        assert!(!resource_covers(r, "https://mcp.example.com/other"));
        assert!(!resource_covers(r, "https://evil.example.com/mcp"));
        assert!(!resource_covers(r, "http://mcp.example.com/mcp"));
        assert!(resource_covers(
            "https://mcp.example.com",
            "https://mcp.example.com/anything"
        ));
        assert!(resource_covers(
            "https://mcp.example.com/",
            "https://mcp.example.com/mcp"
        ));
        assert!(!resource_covers("not a url", "https://mcp.example.com/mcp"));
    }
}
