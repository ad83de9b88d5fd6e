//! The downloader of imported `Image Src` URLs: bounded (at most `images.max_bytes`, read
//! while streaming), timed out (`images.fetch.connect_timeout_secs`, `timeout_secs`), and held
//! to the rule every URL a user gives Tenpo follows (crates/outbound): https only, and never a
//! loopback, private, link-local or metadata address, checked on the URL, on every redirect
//! (followed by hand, at most `max_redirects`) and on every address the client connects to.
//! Hosts in `images.fetch.allow_hosts` (empty by default) are exempt, for tests and private CDNs.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::dns::{Name, Resolve, Resolving};
use reqwest::{StatusCode, Url};

use crate::ImageSettings;
use crate::worker::Failure;

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow_hosts: Arc<Vec<String>>,
    max_redirects: usize,
}

/// Whether `url`'s host (or `host:port`) is in the allow list.
fn allowed(allow_hosts: &[String], url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let with_port = url.port_or_known_default().map(|p| format!("{host}:{p}"));
    allow_hosts.iter().any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == host || Some(&a) == with_port.as_ref()
    })
}

/// Resolves names for the client, keeping only public addresses unless the name is allowed.
struct Resolver {
    allow_hosts: Arc<Vec<String>>,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let allow = self.allow_hosts.iter().any(|a| {
            let a = a.trim().to_ascii_lowercase();
            a == host || a.strip_prefix(&host).is_some_and(|rest| rest.starts_with(':'))
        });
        Box::pin(async move {
            let addrs = outbound::resolve_public(&host, allow).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether a request failed because [`Resolver`] kept no address (its `PermissionDenied`).
fn refused_by_resolver(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied) {
            return true;
        }
        source = s.source();
    }
    format!("{e:?}").contains("PermissionDenied")
}

impl Fetcher {
    pub fn new(settings: &ImageSettings) -> Result<Fetcher, String> {
        storage::install_tls_provider();
        let allow_hosts = Arc::new(settings.fetch.allow_hosts.clone());
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(settings.fetch.connect_timeout_secs))
            .timeout(Duration::from_secs(settings.fetch.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Tenpo-Images/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Resolver { allow_hosts: allow_hosts.clone() }))
            .build()
            .map_err(|e| format!("cannot build the image HTTP client: {e}"))?;
        Ok(Fetcher { client, allow_hosts, max_redirects: settings.fetch.max_redirects })
    }

    /// The bytes at `raw`, at most `limit` of them.
    pub(crate) async fn fetch(&self, raw: &str, limit: u64) -> Result<Vec<u8>, Failure> {
        let mut current = raw.to_string();
        for _ in 0..=self.max_redirects {
            let parsed = Url::parse(current.trim()).map_err(|e| Failure::Permanent(format!("not a URL: {e}")))?;
            let allow = allowed(&self.allow_hosts, &parsed);
            let url = outbound::check(&current, allow).await.map_err(|r| match r {
                outbound::Refusal::Invalid(m) => Failure::Permanent(format!("{current}: {m}")),
                outbound::Refusal::HttpsRequired => {
                    Failure::Permanent(format!("{current}: only https URLs are fetched"))
                }
                outbound::Refusal::Private(m) => {
                    Failure::Permanent(format!("{current}: {m}; private addresses are not fetched"))
                }
            })?;
            let response = self.client.get(url.clone()).send().await.map_err(|e| {
                // refused by the resolver (only private addresses): final; a network failure:
                // another attempt
                if refused_by_resolver(&e) {
                    Failure::Permanent(format!(
                        "{url}: its name resolves only to private addresses, which are not fetched"
                    ))
                } else {
                    Failure::Retry(format!("{url}: {e}"))
                }
            })?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| Failure::Permanent(format!("{url}: {status} without a Location")))?;
                current = url
                    .join(location)
                    .map_err(|e| Failure::Permanent(format!("{url}: bad redirect: {e}")))?
                    .to_string();
                continue;
            }
            if !status.is_success() {
                let why = format!("{url} answered {status}");
                return Err(if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                    Failure::Retry(why)
                } else {
                    Failure::Permanent(why)
                });
            }
            if response.content_length().is_some_and(|n| n > limit) {
                return Err(Failure::Permanent(format!("{url}: larger than the limit of {limit} bytes")));
            }
            let mut body = response.bytes_stream();
            let mut out = Vec::new();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| Failure::Retry(format!("{url}: {e}")))?;
                if (out.len() + chunk.len()) as u64 > limit {
                    return Err(Failure::Permanent(format!("{url}: larger than the limit of {limit} bytes")));
                }
                out.extend_from_slice(&chunk);
            }
            return Ok(out);
        }
        Err(Failure::Permanent(format!("{raw}: more than {} redirects", self.max_redirects)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_names_hosts_or_host_and_port() {
        let list = vec!["127.0.0.1:8080".to_string(), "cdn.internal".to_string()];
        assert!(allowed(&list, &Url::parse("http://127.0.0.1:8080/a.jpg").unwrap()));
        assert!(!allowed(&list, &Url::parse("http://127.0.0.1:9090/a.jpg").unwrap()));
        assert!(allowed(&list, &Url::parse("https://CDN.internal/a.jpg").unwrap()));
        assert!(!allowed(&[], &Url::parse("http://127.0.0.1/a.jpg").unwrap()));
    }
}
