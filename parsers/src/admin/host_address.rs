//! Upstream host addresses as the dumps print them, brought to the one form
//! [`HostStatus::address`](super::HostStatus) holds: `ip:port`, `[ipv6]:port`,
//! `unix://<path>` for a pipe (Unix socket), and Envoy internal addresses as
//! `envoy://<listener>/<endpoint id>`.
//!
//! `/clusters` text prints Envoy's `Address::asString()`: `10.112.2.31:9080`,
//! `[fd00::5]:9080`, and a pipe as its bare path (`./etc/istio/proxy/XDS`, or `@name`
//! for an abstract socket). istioctl prints `ip:port` without brackets for IPv6 and
//! `unix://<path>` for pipes; its hidden `eds` command prints the bare path.

use std::borrow::Cow;

/// Whether `text` is a pipe path as Envoy prints it: absolute, relative (`./`, `../`)
/// or an abstract socket (`@name`).
pub(crate) fn is_pipe_path(text: &str) -> bool {
    text.starts_with('/')
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with('@')
}

/// Whether `text` is an `host:port` socket address without brackets: a host without
/// `:` or whitespace, and a decimal port.
pub(crate) fn is_plain_socket(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && !host.contains(':')
        && !host.contains(char::is_whitespace)
        && parse_port(port).is_some()
}

/// An address from Envoy's text form (`Address::asString()`): pipe paths get the
/// `unix://` scheme, everything else is kept as printed.
pub(crate) fn from_envoy_text(address: &str) -> Cow<'_, str> {
    if is_pipe_path(address) {
        Cow::Owned(format!("unix://{address}"))
    } else {
        Cow::Borrowed(address)
    }
}

/// An address from an istioctl table cell: pipe paths get the `unix://` scheme, an IPv6
/// address followed by `:port` gets its brackets, everything else is kept.
///
/// istioctl writes `address + ":" + port`, so `fd00::1:9080` is read as `fd00::1`
/// port 9080 (istioctl prints no port only for pipes, which carry `unix://`).
pub(crate) fn from_istioctl(cell: &str) -> Cow<'_, str> {
    if is_pipe_path(cell) {
        return Cow::Owned(format!("unix://{cell}"));
    }
    if cell.starts_with('[') || cell.contains("://") {
        return Cow::Borrowed(cell);
    }
    match cell.rsplit_once(':') {
        Some((ip, port)) if ip.contains(':') && parse_port(port).is_some() => {
            Cow::Owned(format!("[{ip}]:{port}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// A socket address from its parts: `[ip]:port` for IPv6, else `ip:port`.
pub(crate) fn socket(ip: &str, port: u64) -> String {
    if ip.contains(':') && !ip.starts_with('[') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// A port written as 1–5 decimal digits that fit a `u16`.
pub(crate) fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_paths() {
        for path in ["/etc/istio/proxy/XDS", "./etc/istio/proxy/XDS", "../sock", "@envoy_admin"] {
            assert!(is_pipe_path(path), "{path}");
            assert_eq!(from_envoy_text(path), format!("unix://{path}"));
        }
        assert!(!is_pipe_path("10.112.2.31:9080"));
        assert!(!is_pipe_path("default_priority"));
    }

    #[test]
    fn envoy_text_socket_addresses_are_kept() {
        assert_eq!(from_envoy_text("10.112.2.31:9080"), "10.112.2.31:9080");
        assert_eq!(from_envoy_text("[fd00::5]:9080"), "[fd00::5]:9080");
        assert_eq!(from_envoy_text("envoy://listener/ep"), "envoy://listener/ep");
    }

    #[test]
    fn plain_sockets() {
        assert!(is_plain_socket("10.112.2.31:9080"));
        assert!(is_plain_socket("127.0.0.1:0"));
        assert!(!is_plain_socket("10.112.2.31"));
        assert!(!is_plain_socket("10.112.2.31:http"));
        assert!(!is_plain_socket("10.112.2.31:99999"));
        assert!(!is_plain_socket(":80"));
        assert!(!is_plain_socket("fd00::5:80"));
        assert!(!is_plain_socket("a b:80"));
    }

    #[test]
    fn istioctl_ipv6_gets_brackets() {
        assert_eq!(from_istioctl("fd00::5:9080"), "[fd00::5]:9080");
        assert_eq!(from_istioctl("[fd00::5]:9080"), "[fd00::5]:9080");
        assert_eq!(from_istioctl("10.112.2.31:9080"), "10.112.2.31:9080");
        assert_eq!(from_istioctl("10.112.2.31"), "10.112.2.31");
    }

    #[test]
    fn istioctl_pipes() {
        assert_eq!(from_istioctl("unix://./etc/istio/proxy/XDS"), "unix://./etc/istio/proxy/XDS");
        assert_eq!(
            from_istioctl("./var/run/secrets/workload-spiffe-uds/socket"),
            "unix://./var/run/secrets/workload-spiffe-uds/socket"
        );
        assert_eq!(
            from_istioctl("envoy://main_internal/10.1.2.3:80"),
            "envoy://main_internal/10.1.2.3:80"
        );
    }

    #[test]
    fn sockets_from_parts() {
        assert_eq!(socket("10.112.2.31", 9080), "10.112.2.31:9080");
        assert_eq!(socket("fd00::5", 9080), "[fd00::5]:9080");
        assert_eq!(socket("[fd00::5]", 9080), "[fd00::5]:9080");
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("9080"), Some(9080));
        assert_eq!(parse_port("65535"), Some(65535));
        assert_eq!(parse_port("65536"), None);
        assert_eq!(parse_port("+80"), None);
        assert_eq!(parse_port("000080"), None);
        assert_eq!(parse_port(""), None);
    }
}
