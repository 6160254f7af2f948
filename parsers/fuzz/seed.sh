#!/usr/bin/env bash
# Seeds corpus/<target>/ from the sample logs: one corpus file per sample line, shaped
# as each target reads its input (see README.md). Files are named by their SHA-1, so
# running this again adds only what is new. Usage: parsers/fuzz/seed.sh
set -euo pipefail

cd "$(dirname "$0")"
samples=../../samples

# Envoy's documented default format: a text format to pair with the lines that have no
# `.format` of their own.
envoy_default='[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"'

# Writes stdin to corpus/$1/<sha1>.
put() {
    local tmp
    tmp=$(mktemp)
    cat >"$tmp"
    mv "$tmp" "corpus/$1/$(sha1sum <"$tmp" | cut -c1-40)"
}

# The format a line of $1 was written with: its sibling `.format`, else Envoy's default.
format_of() {
    local format=${1%.log}.format
    if [[ -f $format ]]; then
        printf '%s' "$(cat "$format")"
    else
        printf '%s' "$envoy_default"
    fi
}

seed_line() {
    local log=$1 line=$2
    printf '\x00%s' "$line" | put parse_line # 0x00 selects `auto`
    { format_of "$log"; printf '\x00%s' "$line"; } | put compile_format
    printf '\xff%s' "$line" | put envelope # 0xff: joins up to 255 bytes
    printf '%s' "$line" | put json_line
}

mkdir -p corpus/{parse_line,compile_format,envelope,json_line}
shopt -s globstar nullglob
for log in "$samples"/**/*.log; do
    while IFS= read -r line || [[ -n $line ]]; do
        seed_line "$log" "$line"
    done <"$log"
    # Whole small files too, so the envelope decoder sees split lines being joined.
    if (($(stat -c %s "$log") <= 4096)); then
        { printf '\xff'; cat "$log"; } | put envelope
    fi
done
# The admin dump parsers: 30-line pieces of each dump (under -max_len=4096).
mkdir -p corpus/{stats_text,prometheus}
seed_dump() {
    local dump=$1 target=$2 pieces piece
    pieces=$(mktemp -d)
    split -l 30 "$dump" "$pieces/piece."
    for piece in "$pieces"/piece.*; do
        put "$target" <"$piece"
    done
    rm -r "$pieces"
}
for dump in "$samples"/admin/stats*.txt; do
    case $dump in
    *prometheus*) seed_dump "$dump" prometheus ;;
    *) seed_dump "$dump" stats_text ;;
    esac
done
# Admin dumps: every sample under samples/admin seeds every admin target (each reader
# then also sees the other formats), cut to its first 8 KiB (the -max_len) and 1 KiB.
admin_targets=(clusters_text clusters_json istioctl shardz detect)
for target in "${admin_targets[@]}"; do mkdir -p "corpus/$target"; done
for dump in "$samples"/admin/*; do
    for target in "${admin_targets[@]}"; do
        head -c 8192 "$dump" | put "$target"
        head -c 1024 "$dump" | put "$target"
    done
done
for target in corpus/*/; do
    echo "$target: $(find "$target" -type f | wc -l) files"
done
