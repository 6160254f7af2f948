//! Checks that JSON access-log parsing never panics: the input is read as a line by the
//! `istio-json` and `envoy-gateway` presets and by a custom JSON format that uses every
//! kind of key (one operator, a template with text around operators, typed and string
//! constants, a `START_TIME` with its own format, extras); a record that reads is
//! rendered with the same format, which must not panic either.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::{Format, presets};

const CUSTOM_JSON: &str = r#"{
  "ts": "%START_TIME(%s.%3f)%", "code": "%RESPONSE_CODE%", "flags": "%RESPONSE_FLAGS%",
  "dur": "%DURATION%ms", "route": "%UPSTREAM_HOST% via %UPSTREAM_CLUSTER_RAW%",
  "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "trace": "%REQ(X-B3-TRACEID):16%",
  "meta": "%DYNAMIC_METADATA(istio.mixer:status)%", "bytes": "%BYTES_SENT%",
  "kind": "access", "version": 3, "sampled": true, "nothing": null
}"#;

static FORMATS: LazyLock<Vec<Format>> = LazyLock::new(|| {
    let preset = |name| presets::compile(name).expect("preset exists").expect("presets compile");
    let custom = Format::compile(CUSTOM_JSON).expect("the custom JSON format compiles");
    assert!(matches!(custom, Format::Json(_)), "the custom format must be JSON");
    vec![preset("istio-json"), preset("envoy-gateway"), custom]
});

fuzz_target!(|data: &[u8]| {
    for format in FORMATS.iter() {
        if let Ok(record) = format.parse(data) {
            let _ = format.render(&record);
        }
    }
});
