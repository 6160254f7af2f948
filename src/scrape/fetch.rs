//! One GET of one admin endpoint: plain HTTP through no proxy, bounded by the
//! target's timeout (connect, headers and body together) and by [`MAX_BODY_BYTES`],
//! with a failure reason short enough for one log line.

use std::time::Duration;

use super::ScrapeError;

/// The largest response read; a bigger one is a failure, not an unbounded buffer.
/// Big meshes' `/stats/prometheus` runs to tens of MB.
pub const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// A response's body and when it arrived.
#[derive(Debug)]
pub struct Fetched {
    pub text: String,
    /// When the whole body had arrived, µs since the epoch.
    pub ts: i64,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no complete answer within {}", seconds(*.0))]
    Timeout(Duration),
    #[error("answered HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("answer larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("{}", describe(.0))]
    Request(#[source] reqwest::Error),
}

/// The HTTP client; cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A client that ignores `HTTP_PROXY`: admin ports are reached directly.
    pub fn new() -> Result<Fetcher, ScrapeError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .user_agent(concat!("meshlog/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ScrapeError::Client)?;
        Ok(Fetcher { client })
    }

    /// GETs `url`, giving up after `timeout`.
    pub async fn fetch(&self, url: &str, timeout: Duration) -> Result<Fetched, FetchError> {
        tokio::time::timeout(timeout, self.get(url))
            .await
            .unwrap_or(Err(FetchError::Timeout(timeout)))
    }

    async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        let mut response = self.client.get(url).send().await.map_err(FetchError::Request)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FetchError::Request)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let ts = chrono::Utc::now().timestamp_micros();
        let text = String::from_utf8(body)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
        Ok(Fetched { text, ts })
    }
}

/// `5s`, `1.5s`.
fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

/// What went wrong, from the innermost cause (`Connection refused (os error 111)`),
/// which reqwest's own message (`error sending request for url …`) hides.
fn describe(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let stage = if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "cannot read the answer"
    } else {
        "request failed"
    };
    format!("{stage}: {cause}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_a_connect_failure_with_its_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/stats/prometheus");
        let error = Fetcher::new().unwrap().fetch(&url, Duration::from_secs(5)).await.unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("cannot connect: "), "{message}");
        assert!(message.to_lowercase().contains("refused"), "{message}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/clusters?format=json", listener.local_addr().unwrap());
        let timeout = Duration::from_millis(200);
        let error = Fetcher::new().unwrap().fetch(&url, timeout).await.unwrap_err();
        assert_eq!(error.to_string(), "no complete answer within 0.2s");
    }

    #[tokio::test]
    async fn a_non_2xx_answer_is_a_failure_with_its_status() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/stats/prometheus", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0; 1024];
            let _ = stream.read(&mut request).unwrap();
            let answer = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            stream.write_all(answer.as_bytes()).unwrap();
        });
        let error = Fetcher::new().unwrap().fetch(&url, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(error.to_string(), "answered HTTP 503 Service Unavailable");
    }
}
