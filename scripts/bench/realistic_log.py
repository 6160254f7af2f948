"""A realistic Istio access log for the ingest benchmark: cluster1's ingress gateway pods,
its east-west gateway and its sidecars over several hours, written in Istio's default
TEXT format, and the mesh.toml of its three clusters.

What makes it realistic, unlike `meshlog simulate`'s few dozen distinct values per
column: a new downstream `ip:port` on nearly every line (tens of thousands of client
IPs at the gateway, pods at the sidecars, random ephemeral ports), thousands of pod IPs
across the clusters' pod CIDRs (pods replaced by rollouts as the hours pass), about a
quarter of the requests served through cluster2's east-west gateway (`:15443`) and some
by cluster3's pods directly (same network), hundreds of paths with ids in them, dozens
of user agents and authorities, UUID request ids, 503s with UF / UH / URX, and start
times slightly out of order (a proxy writes a line when the request ends, stamped with
its start).

    python3 realistic_log.py LINES LOG MESH_TOML [--seed N] [--hours H]

The same seed and arguments write the same bytes.
"""
import argparse
import math
import random
import time

from realistic_mesh import Mesh, lognormal, mesh_toml

START = 1793512800  # 2026-11-01T06:00:00Z

RESPONSE_BYTES, TCP_BYTES = lognormal(7.0, 1.6), lognormal(8.0, 1.5)
DURATIONS, FAILED_DURATIONS, TCP_DURATIONS = lognormal(2.6, 1.0), lognormal(0.5, 0.8), lognormal(6.5, 1.2)
# Failed requests: (share of all requests, status fields, bytes sent, what is left of the
# upstream: HOST and LOCAL address, HOST alone (no connection was made), or NONE (no host).
HOST_AND_LOCAL, HOST, NONE = 2, 1, 0
FAILURES = [(0.004, '503 UH no_healthy_upstream - "-"', 19, NONE),
            (0.008, '503 UF upstream_reset_before_response_started{connection_failure} - '
                    '"delayed connect error: 111"', 91, HOST),
            (0.004, '503 URX upstream_reset_before_response_started{connection_termination} - "-"', 95,
             HOST_AND_LOCAL),
            (0.002, '0 DC downstream_remote_disconnect - "-"', 0, HOST_AND_LOCAL),
            (0.002, '504 UT response_timeout - "-"', 24, HOST_AND_LOCAL)]


class Clock:
    """START_TIME strings: ends of requests advance in order, a line is stamped with its start."""

    def __init__(self, random_, lines, hours):
        self.random = random_
        self.gap = hours * 3600.0 / lines
        self.end = float(START)
        self.seconds = {}

    def advance(self):
        """The end of the next request: exponential gaps (Poisson arrivals)."""
        self.end -= math.log(1.0 - self.random()) * self.gap
        return self.end

    def stamp(self, at):
        second = int(at)
        prefix = self.seconds.get(second)
        if prefix is None:
            prefix = time.strftime("[%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.seconds[second] = prefix
        return f"{prefix}.{int((at - second) * 1000):03d}Z]"


def request_id(rnd):
    """A random (version 4) UUID, as Envoy generates x-request-id."""
    h = f"{rnd.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def outcome(random_, service):
    """(status fields, bytes sent, duration ms, upstream service time, what is left of the
    upstream) of a request to the service (None: a TCP connection)."""
    if service is None:
        return '0 - - - "-"', TCP_BYTES[int(random_() * 4096)], TCP_DURATIONS[int(random_() * 4096)], "-", \
            HOST_AND_LOCAL
    roll = random_()
    for share, status, sent, kept in FAILURES:
        if roll < share:
            return status, sent, FAILED_DURATIONS[int(random_() * 4096)], "-", kept
        roll -= share
    duration = DURATIONS[int(random_() * 4096)]
    service_time = duration - int(random_() * 3)
    return (service.status(random_), RESPONSE_BYTES[int(random_() * 4096)], duration,
            str(service_time if service_time > 0 else 0), HOST_AND_LOCAL)


def write_log(out, lines, seed, hours):
    """Writes the lines: each from a proxy drawn by weight, its outcome, its start time and id."""
    rnd = random.Random(seed)
    random_ = rnd.random
    clock = Clock(random_, lines, hours)
    mesh = Mesh(rnd)
    proxies = mesh.proxy_kinds()
    for _ in range(lines):
        end = clock.advance()
        mesh.roll_pods(end - START)
        line = proxies[int(random_() * 1024)]()
        service, request, received, agents, authority, upstream, cluster, local, tail = line
        status, sent, duration, service_time, left = outcome(random_, service)
        upstream = upstream if left >= HOST else "-"
        local = local if left == HOST_AND_LOCAL else "-"
        # Started duration ms (and up to 3 ms of the proxy's own time) before it ended.
        ts = clock.stamp(end - duration / 1000.0 - random_() * 0.003)
        rid = request_id(rnd) if service else "-"
        out.write(f'{ts} {request} {status} {received} {sent} {duration} {service_time} {agents} '
                  f'"{rid}" "{authority}" "{upstream}" {cluster} {local} {tail}\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lines", type=int)
    parser.add_argument("log")
    parser.add_argument("mesh_toml")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=6.0)
    args = parser.parse_args()
    with open(args.mesh_toml, "w") as f:
        f.write(mesh_toml())
    with open(args.log, "w", buffering=1 << 20) as out:
        write_log(out, args.lines, args.seed, args.hours)


if __name__ == "__main__":
    main()
