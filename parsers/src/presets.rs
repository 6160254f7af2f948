//! Named formats: Envoy's default, every historical Istio default, and the JSON
//! encodings of Istio and Envoy Gateway. Each is only a format string, fed to the
//! same [`Format::compile`] as an operator's own (facts in `shared/ENVOY.md`).

use crate::format::{Format, FormatError};

/// Envoy's default format (also Istio 1.0.x releases, which set none).
pub const ENVOY: &str = concat!(
    r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" "#,
    r#"%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "#,
    r#"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "#,
    r#""%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%""#,
    "\n"
);

/// Istio's master between 1.0 and 1.1 (late 2018), as istio.io's multi-cluster pages of
/// that time show it with `:15443` upstreams: Envoy's default plus five fields, or
/// Istio 1.1 without the mixer status.
pub const ISTIO_1_0: &str = concat!(
    r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" "#,
    r#"%RESPONSE_CODE% %RESPONSE_FLAGS% "#,
    r#"%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "#,
    r#""%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "#,
    r#""%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% "#,
    r#"%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%"#,
    "\n"
);

/// Istio 1.1.
pub const ISTIO_1_1: &str = concat!(
    r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" "#,
    r#"%RESPONSE_CODE% %RESPONSE_FLAGS% "%DYNAMIC_METADATA(istio.mixer:status)%" "#,
    r#"%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "#,
    r#""%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "#,
    r#""%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% "#,
    r#"%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%"#,
    "\n"
);

/// Istio 1.2 (and 1.3–1.5 for older proxies): 1.1 plus the transport failure reason.
pub const ISTIO_1_2: &str = concat!(
    r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" "#,
    r#"%RESPONSE_CODE% %RESPONSE_FLAGS% "%DYNAMIC_METADATA(istio.mixer:status)%" "#,
    r#""%UPSTREAM_TRANSPORT_FAILURE_REASON%" "#,
    r#"%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "#,
    r#""%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "#,
    r#""%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% "#,
    r#"%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%"#,
    "\n"
);

/// Istio 1.3–1.7: 1.2 plus the route name.
pub const ISTIO_1_3: &str = concat!(
    r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" "#,
    r#"%RESPONSE_CODE% %RESPONSE_FLAGS% "%DYNAMIC_METADATA(istio.mixer:status)%" "#,
    r#""%UPSTREAM_TRANSPORT_FAILURE_REASON%" "#,
    r#"%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "#,
    r#""%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "#,
    r#""%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% "#,
    r#"%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% "#,
    r#"%ROUTE_NAME%"#,
    "\n"
);

/// Istio 1.8 (1.9–1.10 for older proxies): 1.3 without the mixer status.
pub const ISTIO_1_8: &str = concat!(
    r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" "#,
    r#"%RESPONSE_CODE% %RESPONSE_FLAGS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" "#,
    r#"%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "#,
    r#""%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "#,
    r#""%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% "#,
    r#"%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% "#,
    r#"%ROUTE_NAME%"#,
    "\n"
);

/// Istio 1.9–1.22.
pub const ISTIO_1_9: &str = concat!(
    r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" "#,
    r#"%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% "#,
    r#"%CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" "#,
    r#"%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "#,
    r#""%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "#,
    r#""%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% "#,
    r#"%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% "#,
    r#"%ROUTE_NAME%"#,
    "\n"
);

/// Istio 1.23 and later: 1.9 with `%UPSTREAM_CLUSTER_RAW%` (same printed value).
pub const ISTIO_1_23: &str = concat!(
    r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" "#,
    r#"%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% "#,
    r#"%CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" "#,
    r#"%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "#,
    r#""%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "#,
    r#""%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% "#,
    r#"%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% "#,
    r#"%ROUTE_NAME%"#,
    "\n"
);

/// Istio's JSON encoding: the keys of every version (1.3–1.7 `istio_policy_status`,
/// 1.9+ details); a line of any version reads with it, missing keys being absent.
pub const ISTIO_JSON: &str = r#"{
  "start_time": "%START_TIME%", "route_name": "%ROUTE_NAME%", "method": "%REQ(:METHOD)%",
  "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "protocol": "%PROTOCOL%",
  "response_code": "%RESPONSE_CODE%", "response_flags": "%RESPONSE_FLAGS%",
  "response_code_details": "%RESPONSE_CODE_DETAILS%",
  "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
  "bytes_received": "%BYTES_RECEIVED%", "bytes_sent": "%BYTES_SENT%", "duration": "%DURATION%",
  "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
  "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%", "user_agent": "%REQ(USER-AGENT)%",
  "request_id": "%REQ(X-REQUEST-ID)%", "authority": "%REQ(:AUTHORITY)%",
  "upstream_host": "%UPSTREAM_HOST%", "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
  "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%",
  "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
  "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
  "requested_server_name": "%REQUESTED_SERVER_NAME%",
  "istio_policy_status": "%DYNAMIC_METADATA(istio.mixer:status)%",
  "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%"
}"#;

/// Envoy Gateway's default, a JSON-shaped text format whose values are all strings.
pub const ENVOY_GATEWAY: &str = r#"{
  "start_time": "%START_TIME%", "method": "%REQ(:METHOD)%",
  "x-envoy-origin-path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "protocol": "%PROTOCOL%",
  "response_code": "%RESPONSE_CODE%", "response_flags": "%RESPONSE_FLAGS%",
  "response_code_details": "%RESPONSE_CODE_DETAILS%",
  "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
  "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
  "bytes_received": "%BYTES_RECEIVED%", "bytes_sent": "%BYTES_SENT%", "duration": "%DURATION%",
  "x-envoy-upstream-service-time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
  "x-forwarded-for": "%REQ(X-FORWARDED-FOR)%", "user-agent": "%REQ(USER-AGENT)%",
  "x-request-id": "%REQ(X-REQUEST-ID)%", ":authority": "%REQ(:AUTHORITY)%",
  "upstream_host": "%UPSTREAM_HOST%", "upstream_cluster": "%UPSTREAM_CLUSTER%",
  "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%",
  "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
  "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
  "requested_server_name": "%REQUESTED_SERVER_NAME%", "route_name": "%ROUTE_NAME%"
}"#;

/// Every preset: (name, format string). `istio` is the current Istio default.
pub const PRESETS: &[(&str, &str)] = &[
    ("istio", ISTIO_1_23),
    ("istio-1.23", ISTIO_1_23),
    ("istio-1.9", ISTIO_1_9),
    ("istio-1.8", ISTIO_1_8),
    ("istio-1.3", ISTIO_1_3),
    ("istio-1.2", ISTIO_1_2),
    ("istio-1.1", ISTIO_1_1),
    ("istio-1.0", ISTIO_1_0),
    ("envoy", ENVOY),
    ("istio-json", ISTIO_JSON),
    ("envoy-gateway", ENVOY_GATEWAY),
];

/// The format string of the preset called `name`.
pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(preset, _)| *preset == name).map(|(_, format)| *format)
}

/// The names of all presets, for help texts and errors.
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|(name, _)| *name)
}

/// Compiles the preset called `name`.
pub fn compile(name: &str) -> Option<Result<Format, FormatError>> {
    preset(name).map(Format::compile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_compiles() {
        for (name, format) in PRESETS {
            assert!(Format::compile(format).is_ok(), "{name} does not compile");
        }
    }

    #[test]
    fn istio_1_23_differs_from_1_9_only_in_the_raw_cluster_operator() {
        assert_eq!(ISTIO_1_23.replace("UPSTREAM_CLUSTER_RAW", "UPSTREAM_CLUSTER"), ISTIO_1_9);
    }

    #[test]
    fn versions_derive_from_each_other_as_documented() {
        let mixer = r#""%DYNAMIC_METADATA(istio.mixer:status)%" "#;
        let reason = r#""%UPSTREAM_TRANSPORT_FAILURE_REASON%" "#;
        assert_eq!(ISTIO_1_2.replacen(reason, "", 1), ISTIO_1_1);
        assert_eq!(ISTIO_1_3.replace(" %ROUTE_NAME%\n", "\n"), ISTIO_1_2);
        assert_eq!(ISTIO_1_3.replace(mixer, ""), ISTIO_1_8);
        assert_eq!(ISTIO_1_1.replace(mixer, ""), ISTIO_1_0);
    }

    #[test]
    fn istio_1_0_is_envoys_default_plus_five_fields() {
        let tail = " %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%\n";
        assert_eq!(ENVOY.replace('\n', tail), ISTIO_1_0);
    }
}
