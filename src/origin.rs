//! Which browser origins may talk to the hub (`allowedOrigins`), so that a page on another site
//! cannot open a WebSocket or a polling session with the user's cookies (cross-site WebSocket
//! hijacking). Pure logic: [`crate::server`] applies it to every request that has an `Origin`.

/// The `allowedOrigins` policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// The default: the hub's own host (Origin host:port == Host header), and `localhost`,
    /// `127.0.0.1` and `[::1]` on any port and scheme.
    SameHostOrLocal,
    /// `'*'`: every origin (explicit opt-in; logs a warning at start).
    Any,
    /// Exactly these origins, normalised (`https://app.example.com`, `http://host:8080`).
    List(Vec<String>),
}

/// An origin: scheme, lower-case host (IPv6 in brackets) and port (`None`: the scheme's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
}

impl Origin {
    /// `scheme://host[:port]`, with the scheme's default port left out.
    pub fn normalized(&self) -> String {
        match self.port {
            Some(p) if Some(p) != default_port(&self.scheme) => {
                format!("{}://{}:{p}", self.scheme, self.host)
            }
            _ => format!("{}://{}", self.scheme, self.host),
        }
    }

    fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(&self.scheme))
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Parses an `Origin` header or an `allowedOrigins` entry: `scheme://host[:port]` and nothing
/// else (no path, user info, query). `null` and anything malformed give `None`.
pub fn parse_origin(s: &str) -> Option<Origin> {
    if s.len() > 512 {
        return None;
    }
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = parse_authority(rest)?;
    Some(Origin { scheme, host, port })
}

/// `host[:port]` (a `Host` header or the authority of an origin).
fn parse_authority(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{}]", v6.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return None;
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

fn is_local(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Whether a request with this `Origin` header (and `Host` header) may go on.
pub fn allowed(policy: &OriginPolicy, origin: &str, host_header: Option<&str>) -> bool {
    if *policy == OriginPolicy::Any {
        return true;
    }
    let Some(o) = parse_origin(origin) else {
        return false;
    };
    match policy {
        OriginPolicy::Any => true,
        OriginPolicy::List(list) => {
            let n = o.normalized();
            list.contains(&n)
        }
        OriginPolicy::SameHostOrLocal => {
            if !matches!(o.scheme.as_str(), "http" | "https") {
                return false;
            }
            if is_local(&o.host) {
                return true;
            }
            let Some((host, port)) = host_header.and_then(parse_authority) else {
                return false;
            };
            // The Host header carries no scheme: its port defaults to the origin's scheme's.
            host == o.host && port.or_else(|| default_port(&o.scheme)) == o.effective_port()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn origins_normalise() {
        let o = parse_origin("HTTPS://App.Example.com:443").unwrap();
        assert_eq!(o.normalized(), "https://app.example.com");
        assert_eq!(
            parse_origin("http://localhost:3000/").unwrap().normalized(),
            "http://localhost:3000"
        );
        assert_eq!(
            parse_origin("http://[::1]:8080").unwrap().normalized(),
            "http://[::1]:8080"
        );
        for bad in [
            "null",
            "",
            "example.com",
            "http://",
            "http://a b",
            "http://a:99999",
            "http://a:",
            "http://a/path",
            "http://u@a",
            "http://[zz]",
            "://a",
        ] {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_default_allows_its_own_host_and_localhost() {
        let p = OriginPolicy::SameHostOrLocal;
        assert!(allowed(
            &p,
            "http://localhost:3000",
            Some("hub.example.com")
        ));
        assert!(allowed(&p, "https://127.0.0.1:9", None));
        assert!(allowed(&p, "http://[::1]:5173", None));
        assert!(allowed(
            &p,
            "https://hub.example.com",
            Some("hub.example.com")
        ));
        assert!(allowed(
            &p,
            "https://hub.example.com",
            Some("hub.example.com:443")
        ));
        assert!(allowed(
            &p,
            "http://hub.example.com:8080",
            Some("HUB.example.com:8080")
        ));
        assert!(!allowed(
            &p,
            "https://evil.example",
            Some("hub.example.com")
        ));
        assert!(!allowed(
            &p,
            "https://hub.example.com:444",
            Some("hub.example.com")
        ));
        assert!(!allowed(
            &p,
            "http://hub.example.com",
            Some("hub.example.com:8080")
        ));
        assert!(!allowed(&p, "null", Some("hub.example.com")));
        assert!(!allowed(&p, "file://localhost", None));
        assert!(!allowed(&p, "https://localhost.evil.example", None));
    }

    #[test]
    fn a_list_allows_exactly_its_origins() {
        let p = OriginPolicy::List(vec!["https://admin.example.com".into()]);
        assert!(allowed(&p, "https://admin.example.com", None));
        assert!(allowed(&p, "https://ADMIN.example.com:443", None));
        assert!(!allowed(&p, "http://admin.example.com", None));
        assert!(!allowed(&p, "http://localhost:3000", None));
        assert!(allowed(&OriginPolicy::Any, "null", None));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn never_panics(o in ".{0,80}", h in ".{0,40}") {
            let _ = parse_origin(&o);
            let _ = allowed(&OriginPolicy::SameHostOrLocal, &o, Some(&h));
        }

        #[test]
        fn normalising_is_stable(host in "[a-z0-9-]{1,20}(\\.[a-z]{2,5})?", port in proptest::option::of(1u16..), https in any::<bool>()) {
            let scheme = if https { "https" } else { "http" };
            let s = match port { Some(p) => format!("{scheme}://{host}:{p}"), None => format!("{scheme}://{host}") };
            let n = parse_origin(&s).unwrap().normalized();
            prop_assert_eq!(parse_origin(&n).unwrap().normalized(), n.clone());
            prop_assert!(allowed(&OriginPolicy::List(vec![n]), &s, None));
        }

        #[test]
        fn foreign_hosts_are_refused_by_default(host in "[a-z]{1,10}\\.example") {
            let origin = format!("https://{host}");
            prop_assert!(!allowed(&OriginPolicy::SameHostOrLocal, &origin, Some("hub.test")));
        }
    }
}
