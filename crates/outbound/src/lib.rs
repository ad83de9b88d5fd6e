//! Where Tenpo may reach when a user gives it a URL (a webhook endpoint, a CSV's `Image Src`).
//!
//! Unless the caller allows private targets (`webhooks.allow_private_targets`, or a host in
//! `images.fetch.allow_hosts`), a URL must be `https` and must not reach loopback, private,
//! link-local (the cloud metadata service at 169.254.169.254 among them), shared, multicast or
//! unspecified addresses. URLs are checked on their text ([`check_syntax`]), on what their name
//! resolves to now ([`check`]), and every connection again on the addresses its name resolves
//! to then ([`resolve_public`], for the HTTP client's resolver), so a name that later points
//! inside is refused when it is used.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a URL we can send to (field error on `url`).
    Invalid(String),
    HttpsRequired,
    Private(String),
}

/// Names that are private whatever they resolve to.
fn private_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost") || h == "metadata.google.internal" || h.ends_with(".internal")
}

/// Whether an address is one Tenpo must not reach for a user (unless allowed).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_v4(v4);
            }
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254, AWS's metadata, among them)
                || (seg0 & 0xffc0) == 0xfe80 // link-local
                || (seg0 == 0x64 && v6.segments()[1] == 0xff9b && v6.segments()[2..6] == [0, 0, 0, 0]) // NAT64 of v4
        }
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space (carrier NAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || o[0] >= 240
}

/// Checks a URL as a user gives it; resolves its name (briefly) to refuse one that points
/// inside. A name that does not resolve now is accepted: each connection is checked again.
pub async fn check(raw: &str, allow_private: bool) -> Result<Url, Refusal> {
    let url = check_syntax(raw, allow_private)?;
    if allow_private {
        return Ok(url);
    }
    let name = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    if name.parse::<IpAddr>().is_err() {
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::time::timeout(Duration::from_secs(2), tokio::net::lookup_host((name, port))).await;
        if let Ok(Ok(addrs)) = lookup {
            for a in addrs {
                if is_private(a.ip()) {
                    return Err(Refusal::Private(format!("{name} resolves to {}, a private address", a.ip())));
                }
            }
        }
    }
    Ok(url)
}

/// What can be told from the text alone.
pub fn check_syntax(raw: &str, allow_private: bool) -> Result<Url, Refusal> {
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err(Refusal::Invalid("must be at most 2048 characters".into()));
    }
    let url = Url::parse(raw).map_err(|e| Refusal::Invalid(format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(Refusal::HttpsRequired),
        other => return Err(Refusal::Invalid(format!("the scheme is https, not {other}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Invalid("must not carry a user name or password".into()));
    }
    if url.fragment().is_some() {
        return Err(Refusal::Invalid("must not have a #fragment".into()));
    }
    let Some(host) = url.host_str() else { return Err(Refusal::Invalid("has no host".into())) };
    if allow_private {
        return Ok(url);
    }
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    match ip {
        Some(ip) if is_private(ip) => Err(Refusal::Private(format!("{ip} is a private address"))),
        None if private_name(host) => Err(Refusal::Private(format!("{host} names this machine or a private network"))),
        _ => Ok(url),
    }
}

/// Resolves a name for the HTTP client and keeps only addresses Tenpo may reach.
pub async fn resolve_public(host: &str, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
    if allow_private {
        return Ok(found);
    }
    let kept: Vec<SocketAddr> = found.into_iter().filter(|a| !is_private(a.ip())).collect();
    if kept.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{host} resolves only to private addresses, which are not allowed"),
        ));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_refused() {
        for bad in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost:8443/",
            "https://api.localhost/",
            "https://metadata.google.internal/",
        ] {
            assert!(matches!(check_syntax(bad, false), Err(Refusal::Private(_))), "{bad}");
            assert!(check_syntax(bad, true).is_ok(), "{bad} when allowed");
        }
        assert_eq!(check_syntax("http://93.184.215.14/", false), Err(Refusal::HttpsRequired));
        assert!(check_syntax("http://127.0.0.1:9/", true).is_ok());
        assert!(check_syntax("https://93.184.215.14/hooks", false).is_ok());
        assert!(check_syntax("https://hooks.example.com/tenpo?x=1", false).is_ok());
        for invalid in ["ftp://x.test/", "not a url", "https://u:p@x.test/", "https://x.test/#f"] {
            assert!(matches!(check_syntax(invalid, false), Err(Refusal::Invalid(_))), "{invalid}");
        }
    }
}
