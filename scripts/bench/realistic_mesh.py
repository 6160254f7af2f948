"""The mesh behind realistic_log.py: three clusters (cluster1 reports; cluster2 on another
network, reached through its east-west gateway; cluster3 on cluster1's network, its pods
called directly), their services and pods (replaced by rollouts as time passes), the
clients, paths and user agents, and the proxies of cluster1 that write lines: ingress
gateway pods, the east-west gateway (TCP passthrough) and sidecars, outbound and inbound.

Each proxy kind is a function of the random generator returning one request's fields
(everything but the outcome, the time and the request id, which realistic_log.py adds).
"""

import random

# (name, pod CIDR as "10.A.0.0/14", network, east-west gateway IPs, region, zone)
CLUSTERS = [("cluster1", 112, "network1", ["34.168.157.2", "34.168.157.3"], "us-west1", "us-west1-a"),
            ("cluster2", 96, "network2", ["35.200.10.5", "35.200.10.6"], "us-central1", "us-central1-c"),
            ("cluster3", 128, "network1", ["34.23.45.6"], "us-east1", "us-east1-b")]
REMOTE_GATEWAYS = ["35.200.10.5:15443", "35.200.10.6:15443"]
PUBLIC_FIRST_OCTETS = [23, 24, 31, 37, 45, 49, 52, 66, 71, 73, 78, 81, 86, 92, 98, 104, 109, 131, 151, 176, 188, 203]
INGRESS_PODS = ["10.112.0.50", "10.112.0.51", "10.112.1.52", "10.112.2.53"]
EASTWEST_PODS = ["10.112.0.60", "10.112.3.61"]

# (service, namespace, port, pods per cluster, subsets (comma-separated, "" the default),
# path templates); {n} in a template is an id below n, drawn once: each template with ids
# gives IDS_PER_TEMPLATE paths (hundreds of paths in all).
IDS_PER_TEMPLATE = 12
SERVICES = [
    ("frontend", "shop", 8080, 60, "", "/ /cart /cart/checkout /product/{900} /category/{120} /favicon.ico "
                                       "/static/js/app.{40}.js /static/css/main.{40}.css /search?q=item{3000} "
                                       "/account/orders/{50000}"),
    ("orders", "shop", 8080, 40, ",v2", "/api/v1/orders/{90000} /api/v1/orders /api/v1/orders/{90000}/items "
                                        "/api/v1/orders/{90000}/status /api/v2/orders/{90000}"),
    ("checkout", "shop", 8080, 24, "", "/api/checkout /api/checkout/{20000}/confirm /api/v1/payments/{40000}"),
    ("catalog", "shop", 8080, 50, ",v1,v2", "/api/v1/products/{12000} /api/v1/products /api/v1/categories/{120} "
                                            "/api/v1/products/{12000}/reviews /api/v1/inventory/{12000}"),
    ("users", "identity", 8080, 30, "", "/api/v1/users/{70000} /api/v1/users/me /api/v1/users/{70000}/preferences "
                                        "/api/v1/sessions /oauth2/token /oauth2/authorize"),
    ("auth", "identity", 8080, 20, "", "/auth/login /auth/logout /auth/refresh /.well-known/jwks.json"),
    ("cart", "shop", 8080, 36, "", "/api/v1/carts/{60000} /api/v1/carts/{60000}/items "
                                   "/api/v1/carts/{60000}/items/{12000}"),
    ("recommendations", "ml", 8080, 28, ",canary", "/api/v1/recommendations/{70000} /api/v1/recommendations/trending"),
    ("search", "shop", 8080, 32, "", "/api/v1/search /api/v1/search/suggest /api/v1/search?page={20}"),
    ("shipping", "logistics", 8080, 16, "", "/api/v1/shipments/{40000} /api/v1/quotes /api/v1/tracking/{40000}"),
    ("inventory", "logistics", 8080, 22, "", "/api/v1/stock/{12000} /api/v1/warehouses/{30}/stock"),
    ("reviews", "default", 9080, 18, "v1,v2,v3", "/reviews/{400} /ratings/{400}"),
    ("details", "default", 9080, 12, "", "/details/{400}"),
    ("productpage", "default", 9080, 14, "", "/productpage /api/v1/products/{400} /login /logout"),
    ("notifications", "messaging", 8080, 20, "", "/api/v1/notifications/{70000} /api/v1/notifications"),
    ("pricing", "shop", 8080, 26, ",v2", "/api/v1/prices/{12000} /api/v1/prices/batch /api/v1/discounts/{500}"),
    ("media", "content", 8080, 30, "", "/images/{12000}/thumb.jpg /images/{12000}/large.webp "
                                       "/video/{300}/manifest.m3u8"),
    ("graphql", "api", 8080, 34, "", "/graphql"),
    ("grpc-ledger", "finance", 50051, 18, "", "/ledger.v1.Ledger/GetBalance /ledger.v1.Ledger/Post "
                                              "/ledger.v1.Ledger/ListEntries"),
    ("fraud", "finance", 8080, 14, "", "/api/v1/score /api/v1/cases/{9000}"),
    ("loyalty", "shop", 8080, 12, "", "/api/v1/points/{70000} /api/v1/rewards"),
    ("cms", "content", 8080, 10, "", "/pages/{200} /banners /api/v1/content/{2000}"),
    ("health", "platform", 8080, 8, "", "/healthz /readyz /status"),
    ("ratings", "default", 9080, 10, "", "/ratings/{400}"),
    ("tax", "finance", 8080, 12, "", "/api/v1/tax/quote /api/v1/tax/regions/{60}"),
    ("currency", "shop", 8080, 16, "", "/api/v1/rates /api/v1/convert?to=cur{30}"),
    ("wishlist", "shop", 8080, 14, "", "/api/v1/wishlists/{70000} /api/v1/wishlists/{70000}/items/{12000}"),
    ("gateway-api", "api", 8080, 40, ",v2", "/v1/accounts/{70000} /v1/accounts/{70000}/orders /v1/events "
                                            "/v1/webhooks/{800}"),
]
# The host names of the services the ingress gateway exposes; the others are reached as api.example.com.
HOSTS = {"frontend": ["shop.example.com", "www.example.com", "m.example.com"], "productpage": ["bookinfo.example.com"],
         "graphql": ["api.example.com"], "gateway-api": ["api.example.com", "partners.example.com"],
         "media": ["cdn-origin.example.com"], "auth": ["login.example.com"], "cms": ["www.example.com"]}
CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0"
SAFARI = "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1"
# Browsers, each in four versions.
BROWSERS = [
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {CHROME} Safari/537.36",
    f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {CHROME} Safari/537.36",
    f"Mozilla/5.0 (X11; Linux x86_64) {CHROME} Safari/537.36",
    f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {CHROME} Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {CHROME} Safari/537.36 Edg/{{v}}.0.0.0",
]
AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) " + SAFARI.format(v="18.1"),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) " + SAFARI.format(v="17.6"),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
    "ShopApp/5.12.0 (iPhone; iOS 18.1; Scale/3.00)", "ShopApp/5.11.2 (iPhone; iOS 17.6; Scale/3.00)",
    "ShopApp/5.12.0 (Android 14; SM-S921B)", "okhttp/4.12.0", "okhttp/4.9.3", "curl/8.5.0", "curl/7.81.0",
    "python-requests/2.31.0", "Go-http-client/2.0", "PostmanRuntime/7.39.0", "axios/1.7.2",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Datadog/Synthetics", "kube-probe/1.30", "Apache-HttpClient/4.5.14 (Java/17.0.11)", "-",
]
INTERNAL_AGENTS = ["Go-http-client/1.1", "grpc-go/1.64.0", "grpc-java-netty/1.62.2", "okhttp/4.12.0",
                   "Java-http-client/17.0.11", "python-requests/2.31.0",
                   "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "envoy", "ReactorNetty/1.1.19",
                   "Apache-HttpClient/4.5.14 (Java/17.0.11)"]
# Methods, statuses: a pick from a list of 100 entries is a weighted pick.
METHODS = ["GET"] * 72 + ["POST"] * 16 + ["PUT"] * 4 + ["DELETE"] * 2 + ["PATCH"] * 2 + ["HEAD"] * 2 + ["OPTIONS"] * 2
CODES = [200] * 86 + [201, 204, 301, 302, 304, 304, 400, 401, 403, 404, 404, 404, 429, 500]
SERVED = [f'{code} - via_upstream - "-"' for code in CODES]
NO_BODY = ("GET", "HEAD", "OPTIONS", "DELETE")


def lognormal(mu, sigma):
    """4 096 whole numbers from a lognormal distribution, drawn once: a pick from a table is
    faster than a draw."""
    rnd = random.Random(f"{mu} {sigma}")
    return [int(rnd.lognormvariate(mu, sigma)) for _ in range(4096)]


REQUEST_BYTES = lognormal(6.0, 1.2)


def user_agents():
    """Dozens of user agents: browsers in a few versions, apps, bots, tools."""
    return [b.format(v=v) for b in BROWSERS for v in (128, 129, 130, 131)] + AGENTS


class Service:
    """A service: its Istio names, its pods in each cluster, its paths and how often it is served remotely."""

    def __init__(self, rnd, spec):
        self.name, self.namespace, self.port, self.pods_per_cluster, subsets, templates = spec
        self.subsets = subsets.split(",")
        self.paths = [render_paths(rnd, t) for t in templates.split()]
        self.fqdn = f"{self.name}.{self.namespace}.svc.cluster.local"
        self.cluster_ip = f"10.116.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        self.remote_share = rnd.uniform(0.1, 0.5)
        self.direct_share = rnd.uniform(0.0, 0.15)
        self.grpc = self.port == 50051
        self.hosts = HOSTS.get(self.name, ["api.example.com"])
        self.routes = [f"{self.name}-route", f"{self.name}.{self.namespace}"] if self.name in HOSTS else ["default"]
        self.pods = {}
        self.clusters = [f"outbound|{self.port}|{subset}|{self.fqdn}" for subset in self.subsets]
        # As a client names the service: short name, FQDN (outbound), name.namespace (inbound).
        self.authorities = [f"{name}:{self.port}" for name in (self.name, self.fqdn, f"{self.name}.{self.namespace}")]
        self.sni = f"outbound_.{self.port}_._.{self.fqdn}"

    def status(self, random):
        """The response code of a served request with its flags and details."""
        return SERVED[0] if self.grpc else SERVED[int(random() * 100)]

    def path(self, random):
        paths = self.paths[int(random() * len(self.paths))]
        return paths[int(random() * len(paths))]

    def upstream_cluster(self, random):
        return self.clusters[int(random() * len(self.clusters))]


class Mesh:
    """The clusters' pods, replaced by rollouts as time passes, and the proxies of cluster1."""

    ROLLOUT_EVERY = 1200.0  # seconds between rollouts; each replaces a sixth of every service's pods

    def __init__(self, rnd):
        self.rnd = rnd
        self.random = rnd.random
        self.services = [Service(rnd, spec) for spec in SERVICES]
        self.exposed = [s for s in self.services if s.name in HOSTS] * 3 + self.services
        self.clients = [self.public_ip() for _ in range(40000)]
        self.agents = user_agents()
        self.partner_paths = render_paths(rnd, "/v1/events/{100000}")
        # cluster2's pods are never seen from cluster1 (another network): only its gateways.
        for cluster in (112, 128):
            for service in self.services:
                service.pods[cluster] = [self.pod_ip(cluster) for _ in range(service.pods_per_cluster)]
        self.rollouts = 0

    def public_ip(self):
        """A client on the internet."""
        rnd = self.rnd
        return f"{rnd.choice(PUBLIC_FIRST_OCTETS)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"

    def pod_ip(self, cluster):
        """A pod of a cluster: its /14 is 10.{cluster}.0.0 to 10.{cluster + 3}.255.255."""
        rnd = self.rnd
        return f"10.{cluster + rnd.randrange(4)}.{rnd.randrange(256)}.{rnd.randrange(2, 255)}"

    def roll_pods(self, elapsed):
        """Replaces a sixth of each service's pods with new ones (new IPs) every ROLLOUT_EVERY seconds."""
        while elapsed >= (self.rollouts + 1) * self.ROLLOUT_EVERY:
            self.rollouts += 1
            for service in self.services:
                for cluster, pods in service.pods.items():
                    for i in self.rnd.sample(range(len(pods)), max(1, len(pods) // 6)):
                        pods[i] = self.pod_ip(cluster)

    def proxy_kinds(self):
        """The proxies of cluster1 as a weighted list of line makers (1 024 entries). A maker
        returns (service or None for TCP, '"request line"', bytes received, '"xff" "agent"',
        authority, upstream host, upstream cluster, upstream local address, the last four fields)."""
        weights = [(self.ingress, 560), (self.outbound, 220), (self.inbound, 214), (self.eastwest, 20),
                   (self.passthrough, 10)]
        return [maker for maker, weight in weights for _ in range(weight)]

    def pick(self, items):
        return items[int(self.random() * len(items))]

    def serving(self, service):
        """Where a call of cluster1 to the service goes: a cluster1 pod, a cluster3 pod, or cluster2's gateway."""
        roll = self.random()
        if roll < service.remote_share:
            return self.pick(REMOTE_GATEWAYS)
        cluster = 128 if roll < service.remote_share + service.direct_share else 112
        return f"{self.pick(service.pods[cluster])}:{service.port}"

    def request(self, service, agents):
        """A request to the service: ('"METHOD PATH PROTOCOL"', bytes received, user agent,
        upstream cluster)."""
        random = self.random
        method = "POST" if service.grpc else METHODS[int(random() * 100)]
        received = 0 if method in NO_BODY else REQUEST_BYTES[int(random() * 4096)]
        protocol = "HTTP/2" if service.grpc or random() < 0.4 else "HTTP/1.1"
        return (f'"{method} {service.path(random)} {protocol}"', received, self.pick(agents),
                service.upstream_cluster(random))

    def ingress(self):
        """A line of an ingress gateway pod: a client on the internet calling an exposed service."""
        random = self.random
        service = self.pick(self.exposed)
        request, received, agent, upstream_cluster = self.request(service, self.agents)
        pod = self.pick(INGRESS_PODS)
        client = self.clients[int(random() ** 2 * 40000)]  # a few clients send much of the traffic
        host = self.pick(service.hosts)
        tls = random() < 0.7
        xff = client if random() < 0.8 else f"{client}, {self.pick(self.clients)}"
        sni = host if tls else "-"
        tail = f"{pod}:{8443 if tls else 8080} {client}:{ephemeral(random)} {sni} {self.pick(service.routes)}"
        return (service, request, received, f'"{xff}" "{agent}"', host, self.serving(service), upstream_cluster,
                f"{pod}:{ephemeral(random)}", tail)

    def caller_pod(self):
        return self.pick(self.pick(self.services).pods[112])

    def outbound(self):
        """A line of a client's sidecar calling a service."""
        random = self.random
        service = self.pick(self.services)
        request, received, agent, upstream_cluster = self.request(service, INTERNAL_AGENTS)
        pod = self.caller_pod()
        authority = service.authorities[int(random() * 2)]
        tail = f"{service.cluster_ip}:{service.port} {pod}:{ephemeral(random)} - default"
        return (service, request, received, f'"-" "{agent}"', authority, self.serving(service), upstream_cluster,
                f"{pod}:{ephemeral(random)}", tail)

    def inbound(self):
        """A line of a server's sidecar: a call from a cluster1 pod, from cluster2 through cluster1's
        east-west gateway, or from a cluster3 pod."""
        random = self.random
        service = self.pick(self.services)
        request, received, agent, _ = self.request(service, INTERNAL_AGENTS)
        pod = f"{self.pick(service.pods[112])}:{service.port}"
        roll = random()
        if roll < 0.7:
            caller = self.caller_pod()
        else:
            caller = self.pick(EASTWEST_PODS if roll < 0.9 else self.pick(self.services).pods[128])
        xff = self.pick(self.clients) if random() < 0.5 else "-"
        tail = f"{pod} {caller}:{ephemeral(random)} {service.sni} default"
        return (service, request, received, f'"{xff}" "{agent}"', service.authorities[2], pod,
                f"inbound|{service.port}||", f"127.0.0.6:{ephemeral(random)}", tail)

    def eastwest(self):
        """A TCP line of cluster1's east-west gateway (AUTO_PASSTHROUGH): cluster2 calling a cluster1 pod."""
        random = self.random
        service = self.pick(self.services)
        pod = self.pick(EASTWEST_PODS)
        tail = f"{pod}:15443 {self.pick(CLUSTERS[1][3])}:{ephemeral(random)} {service.sni} -"
        return (None, '"- - -"', REQUEST_BYTES[int(random() * 4096)] * 4, '"-" "-"', "-",
                f"{self.pick(service.pods[112])}:{service.port}", service.sni, f"{pod}:{ephemeral(random)}", tail)

    def passthrough(self):
        """A sidecar's call to a host outside the mesh (PassthroughCluster)."""
        random = self.random
        service = self.services[0]
        pod = self.caller_pod()
        _, received, agent, _ = self.request(service, INTERNAL_AGENTS)
        partner = f"52.{int(random() * 256)}.{int(random() * 256)}.{int(random() * 254) + 1}:80"
        request = f'"POST {self.pick(self.partner_paths)} HTTP/1.1"'
        received = REQUEST_BYTES[int(random() * 4096)]
        tail = f"{partner} {pod}:{ephemeral(random)} - allow_any"
        return (service, request, received, f'"-" "{agent}"', "hooks.partner.example", partner,
                "PassthroughCluster", f"{pod}:{ephemeral(random)}", tail)


def render_paths(rnd, template):
    """The paths of a template: itself without ids, else IDS_PER_TEMPLATE paths with random
    ids ("/a/{900}/b" -> "/a/417/b", ...)."""
    if "{" not in template:
        return [template]
    return [render_path(rnd, template) for _ in range(IDS_PER_TEMPLATE)]


def render_path(rnd, template):
    path = ""
    while "{" in template:
        head, _, rest = template.partition("{")
        bound, _, template = rest.partition("}")
        path += f"{head}{rnd.randrange(int(bound))}"
    return path + template


def ephemeral(random):
    """A Linux ephemeral port (32768-60999)."""
    return 32768 + int(random() * 28232)


def mesh_toml():
    """The mesh's config: each cluster's network, region, pod CIDR and east-west gateways."""
    out = ["# The mesh of scripts/bench/realistic_log.py: cluster1 reports; cluster2 is reached through",
           "# its east-west gateways, cluster3 (same network as cluster1) pod to pod.", ""]
    for name, octet, network, gateways, region, zone in CLUSTERS:
        out += ["[[clusters]]", f'name = "{name}"', f'network = "{network}"', f'region = "{region}"',
                f'zone = "{zone}"',
                f'pod_cidrs = ["10.{octet}.0.0/14"]',
                "eastwest_gateways = [" + ", ".join(f'"{ip}:15443"' for ip in gateways) + "]", ""]
    return "\n".join(out)
