//! A lean HTTP/1.1 client for read benchmarks: one keep-alive connection per simulated client,
//! requests sent back to back, bodies drained but not parsed. The load generator shares the
//! machine with the server; the less it spends per request, the more the figures say about
//! the server.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender, host: addr.to_string() })
    }

    /// GETs a path; answers the status and the body length.
    pub async fn get(&mut self, path: &str, if_none_match: Option<&str>) -> Result<(u16, usize), String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let mut req = hyper::Request::get(path).header("host", &self.host);
        if let Some(tag) = if_none_match {
            req = req.header("if-none-match", tag);
        }
        let req = req.body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
        let res = self.sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let body = res.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body.len()))
    }

    /// Sends a request with headers and an optional JSON body; answers the status and body.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        json: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes), String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let mut req = hyper::Request::builder().method(method).uri(path).header("host", &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match json {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Full::new(Bytes::from(b))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body).map_err(|e| e.to_string())?;
        let res = self.sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let body = res.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    }
}
