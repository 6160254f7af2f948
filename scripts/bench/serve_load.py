"""Load client of scripts/bench-serve.sh (python 3 standard library only).

    serve_load.py prepare LOG DIR [--batch-lines N]
        Cuts LOG into batches of N lines and writes each batch's request body, gzipped,
        once per mode: DIR/text/NNNNNN.gz (the lines) and DIR/ndjson/NNNNNN.gz (one
        {"message": line} per line); DIR/meta.json holds the counts and the probe's
        template line.

    serve_load.py load DIR MODE --port P --clients C --tag T --result FILE
                  [--probe-gap S] [--meshlog BIN --data-dir D]
        Loads MODE's bodies into memory, waits for the server's /readyz, then C threads,
        each on its own keep-alive connection, post the bodies to /api/v1/logs (each
        batch once: a 503 is retried with the same body after Retry-After). Meanwhile a
        probe thread posts one unique line every S seconds and polls /api/v1/query until
        it is visible. After the load, one more probe is looked up with `meshlog query
        --data-dir D` (the command line, which reads the WAL). Prints one line for
        people and writes "lines/s ack_p50_ms ack_p99_ms fresh_p50_ms fresh_p99_ms
        retries accepted rejected probes client_cpu_s seconds reconnects" to FILE.

Throughput is the load's lines over the time from the first request to the last 200.
Acknowledgement latency is per request, from sending it to reading its 200 (an attempt
answered 503 is counted as a retry, not as a latency). Freshness is the time from a
probe's 200 to the answer of the first query that returns its row.

A probe line is the log's first line with its request id replaced by
"meshlog-bench-probe-TAG-I" and its time moved one day back, so that its lookup can
name a one-hour window that holds no loaded line: the query lists only that hour's
files and filters the rows in memory, and costs the server little while it ingests.
"""
import argparse
import concurrent.futures
import gzip
import http.client
import itertools
import json
import math
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from datetime import datetime, timedelta, timezone

MODES = {"text": "text/plain", "ndjson": "application/x-ndjson"}
PROBE_PREFIX = "meshlog-bench-probe-"
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
START_TIME = re.compile(rb"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\]")
SOURCE_CLUSTER = "cluster1"
READY_TIMEOUT_S = 120
VISIBLE_TIMEOUT_S = 30


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- prepare


def text_body(lines):
    return b"".join(line + b"\n" for line in lines)


def ndjson_body(lines):
    records = (json.dumps({"message": line.decode("utf-8")}) for line in lines)
    return "".join(record + "\n" for record in records).encode("utf-8")


def encode_batch(lines):
    """Both modes' gzipped bodies of one batch (zlib lets go of the GIL: threads help)."""
    return {
        "text": gzip.compress(text_body(lines), compresslevel=6),
        "ndjson": gzip.compress(ndjson_body(lines), compresslevel=6),
    }


def batches(log, batch_lines):
    with open(log, "rb") as file:
        lines = (line.rstrip(b"\n") for line in file)
        while batch := list(itertools.islice(lines, batch_lines)):
            yield batch


def probe_template(log):
    """The first line with one request id (a UUID) and a start time."""
    with open(log, "rb") as file:
        for line in file:
            line = line.rstrip(b"\n")
            if len(UUID.findall(line)) == 1 and START_TIME.match(line):
                return line.decode("utf-8")
    raise BenchError(f"{log}: no line with one request id and a [START_TIME] to copy for probes")


def prepare(args):
    for mode in MODES:
        os.makedirs(os.path.join(args.dir, mode), exist_ok=True)
    workers = os.cpu_count() or 2
    pending = deque()
    lines = count = 0
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for batch in batches(args.log, args.batch_lines):
            lines += len(batch)
            pending.append(pool.submit(encode_batch, batch))
            if len(pending) >= 2 * workers:
                write_bodies(args.dir, count, pending.popleft().result())
                count += 1
        while pending:
            write_bodies(args.dir, count, pending.popleft().result())
            count += 1
    meta = {"lines": lines, "batches": count, "template": probe_template(args.log)}
    with open(os.path.join(args.dir, "meta.json"), "w") as file:
        json.dump(meta, file)
    print(f"request bodies: {count} batches of up to {args.batch_lines} lines, gzip, per mode")


def write_bodies(directory, index, bodies):
    for mode, body in bodies.items():
        with open(os.path.join(directory, mode, f"{index:06d}.gz"), "wb") as file:
            file.write(body)


# ---------------------------------------------------------------- HTTP


class Connection(http.client.HTTPConnection):
    """A keep-alive connection without Nagle's delay between headers and body, which
    counts how often it had to connect."""

    connects = 0

    def connect(self):
        super().connect()
        self.connects += 1
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# What a request on a connection the server has closed raises.
CLOSED = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def exchange(conn, method, path, body=None, headers=None):
    """One request: (status, Retry-After, body). The server may have closed a kept-alive
    connection (it does after a 503 sent before the body was read): then the request
    is sent again once, on a new connection."""
    for attempt in (1, 2):
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.getheader("Retry-After"), response.read()
        except CLOSED:
            conn.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def post_lines(conn, body, headers, stats):
    """Posts one batch until it is stored; returns the 200's JSON. A 503 is retried
    with the same body after Retry-After; its X-Meshlog-Batch-Id makes a body the
    server may have stored before the connection broke stored once."""
    while True:
        started = time.perf_counter()
        stats.first_sent = min(stats.first_sent, started)
        status, retry_after, answer = exchange(conn, "POST", "/api/v1/logs", body, headers)
        if status == 200:
            acked = time.perf_counter()
            stats.latencies.append(acked - started)
            stats.last_acked = max(stats.last_acked, acked)
            return json.loads(answer)
        if status != 503:
            raise BenchError(f"POST /api/v1/logs answered {status}: {answer[:500]!r}")
        stats.retries += 1
        stats.busy[reason(answer)] += 1
        time.sleep(float(retry_after or 1))


def reason(answer):
    """The message of a JSON error body."""
    try:
        return json.loads(answer)["error"]
    except (ValueError, KeyError, TypeError):
        return answer[:100].decode("utf-8", "replace")


def wait_ready(port):
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        conn = Connection("127.0.0.1", port, timeout=5)
        try:
            if exchange(conn, "GET", "/readyz")[0] == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    raise BenchError(f"the server on port {port} was not ready within {READY_TIMEOUT_S} s")


# ---------------------------------------------------------------- load


class Stats:
    """What one client thread saw."""

    def __init__(self):
        self.latencies = []
        self.retries = 0
        self.accepted = 0
        self.rejected = 0
        self.first_sent = math.inf
        self.last_acked = 0.0
        self.reconnects = 0
        self.busy = Counter()


def client(port, bodies, next_index, headers, tag, start):
    stats = Stats()
    conn = Connection("127.0.0.1", port, timeout=600)
    try:
        conn.connect()
    except OSError:
        start.abort()
        raise
    start.wait()
    try:
        while (index := next(next_index)) < len(bodies):
            batch_headers = dict(headers, **{"X-Meshlog-Batch-Id": f"{tag}-{index}"})
            answer = post_lines(conn, bodies[index], batch_headers, stats)
            stats.accepted += answer["accepted"]
            stats.rejected += answer["rejected"]
    finally:
        conn.close()
    stats.reconnects = conn.connects - 1
    return stats


def run_load(args, bodies, prober):
    headers = {
        "Content-Type": MODES[args.mode],
        "Content-Encoding": "gzip",
        "X-Meshlog-Source-Cluster": SOURCE_CLUSTER,
    }
    next_index = itertools.count()
    start = threading.Barrier(args.clients + 1)
    with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
        futures = [
            pool.submit(client, args.port, bodies, next_index, headers, args.tag, start)
            for _ in range(args.clients)
        ]
        try:
            start.wait()
        except threading.BrokenBarrierError:
            for future in futures:
                future.result()  # a client's own error, when it could not connect
            raise
        prober.start()
        try:
            return [future.result() for future in futures]
        finally:
            prober.stop()


# ---------------------------------------------------------------- freshness


class Prober:
    """Posts one unique line every `gap` seconds while the load runs, and measures how
    long after its 200 a query first returns it."""

    def __init__(self, port, template, tag, gap):
        self.port, self.tag, self.gap = port, tag, gap
        self.template = template
        self.freshness = []
        self.accepted = 0
        self.retries = 0
        self.busy = Counter()
        self.error = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.conn = Connection("127.0.0.1", port, timeout=120)

    def start(self):
        self.thread.start()

    def stop(self):
        self.done.set()
        self.thread.join()
        if self.error:
            raise self.error

    def run(self):
        try:
            while not self.done.is_set():
                self.freshness.append(self.probe())
                self.done.wait(self.gap)
        except Exception as error:  # handed to the main thread by stop()
            self.error = error

    def line(self):
        """The next probe: its line, request id and one-hour query window."""
        request_id = f"{PROBE_PREFIX}{self.tag}-{self.accepted}"
        line = UUID.sub(request_id.encode(), self.template.encode(), count=1)
        stamp = START_TIME.match(line).group(1).decode()
        moved = datetime.fromisoformat(stamp.replace("Z", "+00:00")) - timedelta(days=1)
        text = moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}Z"
        line = START_TIME.sub(b"[" + text.encode() + b"]", line, count=1)
        since = moved.replace(minute=0, second=0, microsecond=0)
        return line + b"\n", request_id, (since, since + timedelta(hours=1))

    def post(self):
        line, request_id, window = self.line()
        headers = {
            "Content-Type": "text/plain",
            "X-Meshlog-Source-Cluster": SOURCE_CLUSTER,
            "X-Meshlog-Batch-Id": request_id,
        }
        stats = Stats()
        answer = post_lines(self.conn, line, headers, stats)
        self.retries += stats.retries
        self.busy += stats.busy
        if answer != {"accepted": 1, "rejected": 0}:
            raise BenchError(f"the probe {line!r} was answered {answer}")
        self.accepted += 1
        return request_id, window, time.perf_counter()

    def probe(self):
        request_id, window, acked = self.post()
        while True:
            found = self.count(request_id, window)
            if found == 1:
                return time.perf_counter() - acked
            if found > 1:
                raise BenchError(f"the probe {request_id} is stored {found} times")
            if time.perf_counter() - acked > VISIBLE_TIMEOUT_S:
                raise BenchError(f"the probe {request_id} is not visible {VISIBLE_TIMEOUT_S} s after its 200")
            time.sleep(0.001)

    def count(self, request_id, window):
        query = {
            "sql": f"select count(*) as n from requests where request_id = '{request_id}'",
            "since": rfc3339(window[0]),
            "until": rfc3339(window[1]),
        }
        body = json.dumps(query).encode()
        headers = {"Content-Type": "application/json"}
        status, _, answer = exchange(self.conn, "POST", "/api/v1/query", body, headers)
        if status != 200:
            raise BenchError(f"POST /api/v1/query answered {status}: {answer[:500]!r}")
        return json.loads(answer)[0]["n"]


def rfc3339(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_cli(prober, meshlog, data_dir):
    """Posts one more probe and finds it with `meshlog query` (the WAL, besides the
    server); returns the seconds the command took."""
    request_id, window, _ = prober.post()
    sql = f"select count(*) as n from requests where request_id = '{request_id}'"
    command = [meshlog, "query", "--data-dir", data_dir, "-o", "csv",
               "--since", rfc3339(window[0]), "--until", rfc3339(window[1]), sql]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"meshlog query failed ({done.returncode}): {done.stderr.strip()}")
    if done.stdout.split() != ["n", "1"]:
        raise BenchError(f"meshlog query does not see the acknowledged probe {request_id}: {done.stdout!r}")
    return took


# ---------------------------------------------------------------- report


def percentile(values, fraction):
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load(args):
    with open(os.path.join(args.dir, "meta.json")) as file:
        meta = json.load(file)
    bodies = [read(os.path.join(args.dir, args.mode, f"{index:06d}.gz")) for index in range(meta["batches"])]
    wait_ready(args.port)
    prober = Prober(args.port, meta["template"], args.tag, args.probe_gap)
    cpu = cpu_seconds()
    stats = run_load(args, bodies, prober)
    cpu = cpu_seconds() - cpu
    accepted = sum(one.accepted for one in stats)
    rejected = sum(one.rejected for one in stats)
    if accepted + rejected != meta["lines"]:
        raise BenchError(f"the server accounted for {accepted + rejected} of {meta['lines']} lines")
    cli_s = check_cli(prober, args.meshlog, args.data_dir) if args.meshlog else None
    seconds = max(one.last_acked for one in stats) - min(one.first_sent for one in stats)
    report(args, meta["lines"], seconds, stats, prober, cpu, accepted, rejected, cli_s)


def read(path):
    with open(path, "rb") as file:
        return file.read()


def report(args, lines, seconds, stats, prober, cpu, accepted, rejected, cli_s):
    latencies = [latency for one in stats for latency in one.latencies]
    retries = sum(one.retries for one in stats) + prober.retries
    reconnects = sum(one.reconnects for one in stats) + max(0, prober.conn.connects - 1)
    ms = 1000
    values = [
        f"{lines / seconds:.0f}",
        f"{percentile(latencies, 0.5) * ms:.1f}",
        f"{percentile(latencies, 0.99) * ms:.1f}",
        f"{percentile(prober.freshness, 0.5) * ms:.1f}",
        f"{percentile(prober.freshness, 0.99) * ms:.1f}",
        str(retries),
        str(accepted + prober.accepted),
        str(rejected),
        str(prober.accepted),
        f"{cpu:.2f}",
        f"{seconds:.3f}",
        str(reconnects),
    ]
    with open(args.result, "w") as file:
        file.write(" ".join(values) + "\n")
    cli = f", CLI query saw the last probe in {cli_s:.2f} s" if cli_s is not None else ""
    busy = sum((one.busy for one in stats), prober.busy)
    if busy:
        cli += "; 503s: " + ", ".join(f"{count} {message!r}" for message, count in busy.most_common())
    print(
        f"{lines / seconds:,.0f} lines/s ({seconds:.2f} s, {len(latencies)} requests, {retries} retried after 503, "
        f"{reconnects} reconnects); "
        f"ack p50/p99 {values[1]}/{values[2]} ms; fresh p50/p99 {values[3]}/{values[4]} ms over "
        f"{len(prober.freshness)} probes; client CPU {cpu:.2f} s{cli}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare")
    prep.add_argument("log")
    prep.add_argument("dir")
    prep.add_argument("--batch-lines", type=int, default=5000)
    run = commands.add_parser("load")
    run.add_argument("dir")
    run.add_argument("mode", choices=MODES)
    run.add_argument("--port", type=int, required=True)
    run.add_argument("--clients", type=int, default=4)
    run.add_argument("--tag", required=True)
    run.add_argument("--result", required=True)
    run.add_argument("--probe-gap", type=float, default=0.1)
    run.add_argument("--meshlog")
    run.add_argument("--data-dir")
    args = parser.parse_args()
    try:
        prepare(args) if args.command == "prepare" else load(args)
    except (BenchError, OSError, http.client.HTTPException) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
