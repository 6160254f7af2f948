//! Reading an IP address (and port) out of an upstream host as Envoy logs it:
//! `10.1.2.3:8080`, `[fd00::1]:80`, `tcp://10.1.2.3:8080`, or a bare address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The IP and port of an upstream host, or `None` when it holds no IP address
/// (a redacted `X.X.X.X`, a hostname, a unix socket path).
pub fn upstream_ip(host: &str) -> Option<(IpAddr, Option<u16>)> {
    let host = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("udp://")).unwrap_or(host);
    if let Some(found) = ipv4_and_port(host.as_bytes()) {
        return Some(found);
    }
    if let Ok(socket) = host.parse::<SocketAddr>() {
        return Some((socket.ip(), Some(socket.port())));
    }
    let bare = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(host);
    bare.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

/// The usual `a.b.c.d:port` (or bare `a.b.c.d`), read byte by byte; `None` for
/// anything else, which std's parsers then read. It accepts exactly what they
/// accept for these forms (no leading zero in an octet; any zeros before a port).
/// std's `SocketAddr` parser, which tries every form in turn, took 3 % of the
/// reading thread's instructions.
fn ipv4_and_port(bytes: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    let (address, port) = match memchr::memrchr(b':', bytes) {
        Some(colon) => (&bytes[..colon], Some(&bytes[colon + 1..])),
        None => (bytes, None),
    };
    let mut octets = [0u8; 4];
    let mut parts = address.split(|&byte| byte == b'.');
    for octet in &mut octets {
        let digits = parts.next().filter(|digits| digits.len() <= 3)?;
        if digits.len() > 1 && digits[0] == b'0' {
            return None;
        }
        *octet = u8::try_from(decimal(digits)?).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    let port = match port {
        Some(digits) => Some(u16::try_from(decimal(digits)?).ok()?),
        None => None,
    };
    Some((IpAddr::V4(Ipv4Addr::from(octets)), port))
}

/// A non-empty run of ASCII digits as a number, `None` past `u32`.
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |number, &byte| {
        let digit = u32::from(byte.wrapping_sub(b'0'));
        (digit < 10).then_some(())?;
        number.checked_mul(10)?.checked_add(digit)
    })
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

    /// What std's parsers alone make of a host.
    fn std_reading(host: &str) -> Option<(IpAddr, Option<u16>)> {
        if let Ok(socket) = host.parse::<SocketAddr>() {
            return Some((socket.ip(), Some(socket.port())));
        }
        host.parse::<IpAddr>().ok().map(|ip| (ip, None))
    }

    #[test]
    fn the_ipv4_fast_path_agrees_with_std() {
        let hosts = [
            "10.1.2.3:8080",
            "10.1.2.3",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "256.1.1.1:80",
            "01.2.3.4:80",
            "1.2.3.04",
            "1.2.3.0:080",
            "1.2.3.4:65536",
            "1.2.3.4:",
            "1.2.3:80",
            "1.2.3.4.5:80",
            "1..3.4:80",
            ":80",
            "1.2.3.4:8a",
            "1.2.3.4:+80",
            "+1.2.3.4",
            "1.2.3.4:99999999999",
            "1.2.3.4:1:2",
            "1.2.3.4 :80",
            "1.2.3.4:000000080",
            "",
        ];
        for host in hosts {
            if let Some(fast) = ipv4_and_port(host.as_bytes()) {
                assert_eq!(Some(fast), std_reading(host), "{host}");
            }
            assert_eq!(upstream_ip(host), std_reading(host), "{host}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_reads_dotted_quads_as_std_does(
            host in "[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{0,4}\\.[0-9]{1,4}(:[0-9]{0,7})?"
        ) {
            proptest::prop_assert_eq!(upstream_ip(&host), std_reading(&host));
        }

        #[test]
        fn the_fast_path_never_reads_what_std_does_not(host in "[0-9.:a]{0,24}") {
            if let Some(fast) = ipv4_and_port(host.as_bytes()) {
                proptest::prop_assert_eq!(Some(fast), std_reading(&host));
            }
        }
    }

    #[test]
    fn non_addresses_are_none() {
        for host in ["X.X.X.X:0", "-", "reviews:9080", "/var/run/sock", ""] {
            assert_eq!(upstream_ip(host), None, "{host}");
        }
    }
}
