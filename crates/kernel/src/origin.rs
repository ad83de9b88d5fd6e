//! Web origins (`scheme://host[:port]`), as browsers send them in the `Origin` header: the
//! allowed origins of CORS are compared with what a browser sends, so they are normalised the
//! way a browser writes them.

/// Normalises an origin: lower-case scheme and host, the default port left out, no path.
///
/// ```
/// use tenpo_kernel::origin::normalize_origin;
/// assert_eq!(normalize_origin(" https://Shop.Example.JP/ ").unwrap(), "https://shop.example.jp");
/// assert_eq!(normalize_origin("http://localhost:5173").unwrap(), "http://localhost:5173");
/// assert_eq!(normalize_origin("https://shop.example.jp:443").unwrap(), "https://shop.example.jp");
/// assert!(normalize_origin("shop.example.jp").is_err());
/// assert!(normalize_origin("https://shop.example.jp/cart").is_err());
/// assert!(normalize_origin("*").is_err());
/// ```
pub fn normalize_origin(raw: &str) -> Result<String, &'static str> {
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once("://").ok_or("must look like https://shop.example.jp")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err("the scheme must be http or https");
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) {
        return Err("an origin has no path, query or user: scheme://host[:port] only");
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h, Some(p)),
            Err(_) if rest.starts_with('[') && rest.ends_with(']') => (rest, None),
            Err(_) => return Err("the port must be a number up to 65535"),
        },
        _ => (rest, None),
    };
    let host = host.to_ascii_lowercase();
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    if !host_ok {
        return Err("the host must be a domain name or an IP address");
    }
    let default = if scheme == "https" { 443 } else { 80 };
    Ok(match port {
        Some(p) if p != default => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Reads a comma-separated list of origins (`TENPO_CORS_ORIGINS`), each normalised.
pub fn parse_origin_list(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let o = normalize_origin(part).map_err(|e| format!("{part:?}: {e}"))?;
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        for (raw, want) in [
            ("HTTPS://SHOP.EXAMPLE.JP", "https://shop.example.jp"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("http://example.jp:80", "http://example.jp"),
            ("https://[::1]:3000", "https://[::1]:3000"),
            ("https://[::1]", "https://[::1]"),
        ] {
            assert_eq!(normalize_origin(raw).as_deref(), Ok(want), "{raw}");
        }
        for bad in ["", "ftp://x.jp", "https://", "https://a b.jp", "https://x.jp:99999", "https://x.jp:abc", "null"] {
            assert!(normalize_origin(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_origin_list(" https://a.jp, http://localhost:3000 ,,https://A.jp").unwrap(),
            ["https://a.jp", "http://localhost:3000"]
        );
        assert!(parse_origin_list("https://a.jp,nope").is_err());
    }
}
