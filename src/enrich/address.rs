//! Reading an IP address (and port) out of an upstream host as Envoy logs it:
//! `10.1.2.3:8080`, `[fd00::1]:80`, `tcp://10.1.2.3:8080`, or a bare address.

use std::net::{IpAddr, SocketAddr};

/// The IP and port of an upstream host, or `None` when it holds no IP address
/// (a redacted `X.X.X.X`, a hostname, a unix socket path).
pub fn upstream_ip(host: &str) -> Option<(IpAddr, Option<u16>)> {
    let host = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("udp://")).unwrap_or(host);
    if let Ok(socket) = host.parse::<SocketAddr>() {
        return Some((socket.ip(), Some(socket.port())));
    }
    let bare = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(host);
    bare.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

/// A private (RFC 1918 or IPv6 unique-local) address: a pod, when no topology says
/// otherwise.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form_envoy_writes() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(upstream_ip("10.1.2.3:8080"), Some((v4, Some(8080))));
        assert_eq!(upstream_ip("tcp://10.1.2.3:8080"), Some((v4, Some(8080))));
        assert_eq!(upstream_ip("10.1.2.3"), Some((v4, None)));
        let v6: IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(upstream_ip("[fd00::1]:80"), Some((v6, Some(80))));
        assert_eq!(upstream_ip("fd00::1"), Some((v6, None)));
    }

    #[test]
    fn non_addresses_are_none() {
        for host in ["X.X.X.X:0", "-", "reviews:9080", "/var/run/sock", ""] {
            assert_eq!(upstream_ip(host), None, "{host}");
        }
    }
}
