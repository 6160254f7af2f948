//! The traffic mix: every kind of line a proxy of the simulated mesh writes, as a
//! [`Route`] with its share of all lines, the endpoints it reaches in each cluster, its
//! baseline locality spill and its requests. The episodes (`timeline`) refer to routes
//! by index; everything else about a line is decided in `generate`.

use super::mesh::{
    C2, C3, CHECKOUT, CHECKOUT_PODS, CHECKOUT_SELF, DETAILS_PODS, FRONTEND_PODS, GW1, GW2,
    MYSQL_PODS, PAYMENTS_API, PRODUCTPAGE, PRODUCTPAGE_PODS, PRODUCTPAGE_SELF, Pods, RATES_API,
    RATINGS_PODS, REVIEWS, REVIEWS_SELF, REVIEWS_V1_PODS, REVIEWS_V2_PODS, REVIEWS_V3_PODS,
};

/// What kind of line a route produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An ingress gateway routing a client's request to a service.
    Gateway,
    /// A sidecar calling another service.
    Outbound,
    /// A sidecar handing a request to its own application.
    Inbound,
    /// A plain TCP connection (`"- - -"`).
    Tcp,
    /// A TLS connection to an external host through `PassthroughCluster`.
    ExternalTcp,
    /// An HTTP request to an external host through `PassthroughCluster`.
    ExternalHttp,
    /// A request no route matched (404 `NR`, no upstream).
    NoRoute,
}

/// One request a route serves: method, path, the sizes of both bodies (ranges) and
/// the status code when it succeeds.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub method: &'static str,
    pub path: &'static str,
    pub received: (u64, u64),
    pub sent: (u64, u64),
    pub code: u16,
}

const fn get(path: &'static str, sent_low: u64, sent_high: u64) -> Call {
    Call { method: "GET", path, received: (0, 0), sent: (sent_low, sent_high), code: 200 }
}

const fn post(path: &'static str, received: (u64, u64), sent: (u64, u64)) -> Call {
    Call { method: "POST", path, received, sent, code: 200 }
}

/// A form post answered with a redirect.
const fn redirect(path: &'static str, received: (u64, u64)) -> Call {
    Call { method: "POST", path, received, sent: (0, 0), code: 302 }
}

/// A share of local traffic sent to another cluster in normal times.
#[derive(Debug, Clone, Copy)]
pub struct Spill {
    pub cluster: usize,
    pub per_million: u32,
}

/// One kind of line of one proxy.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub proxy: usize,
    /// Share of all lines, relative to the other routes' weights.
    pub weight: u32,
    pub kind: Kind,
    /// `%UPSTREAM_CLUSTER%`, `None` when no cluster was chosen.
    pub upstream_cluster: Option<&'static str>,
    pub pods: Pods,
    pub spill: Option<Spill>,
    /// A local endpoint failing [`FAULTY_PER_MILLION`] of its requests.
    pub faulty: Option<&'static str>,
    pub calls: &'static [Call],
    pub authorities: &'static [&'static str],
    pub agents: &'static [&'static str],
    /// `%DOWNSTREAM_LOCAL_ADDRESS%`.
    pub downstream_local: &'static str,
    /// Callers (`%DOWNSTREAM_REMOTE_ADDRESS%` IPs); clients of a gateway.
    pub callers: &'static [&'static str],
    /// Whether the request carries the client's `x-forwarded-for`.
    pub forwarded: bool,
    pub sni: Option<&'static str>,
    pub route_name: Option<&'static str>,
}

/// How often the faulty endpoint fails: 30 %.
pub const FAULTY_PER_MILLION: u32 = 300_000;

const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "okhttp/4.12.0",
];
const SCANNERS: &[&str] =
    &["Mozilla/5.0 zgrab/0.x", "python-requests/2.32.3", "Go-http-client/1.1"];
const PYTHON: &[&str] = &["python-requests/2.31.0"];
const JAVA: &[&str] = &["Apache-CXF/3.1.18"];
const GO: &[&str] = &["Go-http-client/1.1"];
const NONE: &[&str] = &[];

const FRONTEND_CALLS: &[Call] = &[
    get("/", 10_800, 11_200),
    get("/product/OLJCESPC7Z", 7_900, 8_400),
    get("/product/66VCHSJNUP", 7_900, 8_400),
    get("/static/css/styles.css", 4_100, 4_100),
    get("/static/img/products/sunglasses.jpg", 41_000, 43_000),
    redirect("/cart", (60, 90)),
    get("/cart", 6_100, 6_900),
];
const PRODUCTPAGE_CALLS: &[Call] = &[
    get("/productpage", 4_200, 5_400),
    get("/productpage?u=normal", 4_200, 5_400),
    get("/api/v1/products/0/reviews", 350, 420),
    get("/static/bootstrap/css/bootstrap.min.css", 121_200, 121_200),
    redirect("/login", (30, 45)),
];
const CHECKOUT_CALLS: &[Call] = &[
    post("/api/checkout", (900, 1_600), (240, 320)),
    post("/api/checkout/quote", (400, 700), (180, 220)),
    get("/api/orders/1842", 500, 900),
];
const REVIEWS_CALLS: &[Call] = &[get("/reviews/0", 295, 379)];
const DETAILS_CALLS: &[Call] = &[get("/details/0", 178, 178)];
const RATINGS_CALLS: &[Call] = &[get("/ratings/0", 48, 48)];
const RATES_CALLS: &[Call] = &[get("/v6/latest/USD", 1_400, 1_600)];
const SCAN_CALLS: &[Call] = &[
    get("/wp-login.php", 0, 0),
    get("/.env", 0, 0),
    get("/actuator/health", 0, 0),
    get("/cgi-bin/luci/;stok=/locale", 0, 0),
];
/// A TCP connection's bytes: `received` from the client, `sent` back.
const TCP_CALLS: &[Call] =
    &[Call { method: "", path: "", received: (300, 4_000), sent: (900, 40_000), code: 0 }];

const SHOP: &[&str] = &["shop.example.com"];
const BOOKINFO: &[&str] = &["bookinfo.example.com"];

/// A gateway route of `cluster1`'s ingress gateway; the others start from it.
const GATEWAY: Route = Route {
    proxy: GW1,
    weight: 0,
    kind: Kind::Gateway,
    upstream_cluster: None,
    pods: [&[], &[], &[]],
    spill: None,
    faulty: None,
    calls: FRONTEND_CALLS,
    authorities: SHOP,
    agents: BROWSERS,
    downstream_local: "10.112.0.50:8080",
    callers: super::mesh::CLIENTS,
    forwarded: true,
    sni: None,
    route_name: None,
};

/// An outbound route of the productpage sidecar; the others start from it.
const SIDECAR: Route = Route {
    proxy: PRODUCTPAGE,
    kind: Kind::Outbound,
    agents: PYTHON,
    callers: &["10.112.1.23"],
    forwarded: false,
    route_name: Some("default"),
    ..GATEWAY
};

/// Index in [`ROUTES`] of `cluster1`'s ingress gateway → `frontend` (episode 1).
pub const FRONTEND_GW1: usize = 0;
/// Index in [`ROUTES`] of the reviews sidecar → `ratings` (episode 2).
pub const RATINGS: usize = 10;

/// Every route; weights add up to 1 023.
pub const ROUTES: [Route; 17] = [
    Route {
        weight: 240,
        upstream_cluster: Some("outbound|80||frontend.shop.svc.cluster.local"),
        pods: FRONTEND_PODS,
        spill: Some(Spill { cluster: C2, per_million: 100_000 }),
        route_name: Some("frontend"),
        ..GATEWAY
    },
    Route {
        weight: 120,
        upstream_cluster: Some("outbound|9080||productpage.default.svc.cluster.local"),
        pods: PRODUCTPAGE_PODS,
        calls: PRODUCTPAGE_CALLS,
        authorities: BOOKINFO,
        route_name: Some("productpage"),
        ..GATEWAY
    },
    Route {
        weight: 50,
        upstream_cluster: Some("outbound|80||checkout.shop.svc.cluster.local"),
        pods: CHECKOUT_PODS,
        calls: CHECKOUT_CALLS,
        downstream_local: "10.112.0.50:8443",
        sni: Some("shop.example.com"),
        route_name: Some("checkout"),
        ..GATEWAY
    },
    Route {
        weight: 5,
        kind: Kind::NoRoute,
        calls: SCAN_CALLS,
        authorities: &["34.82.10.11"],
        agents: SCANNERS,
        ..GATEWAY
    },
    Route {
        proxy: GW2,
        weight: 110,
        upstream_cluster: Some("outbound|80||frontend.shop.svc.cluster.local"),
        pods: FRONTEND_PODS,
        downstream_local: "10.96.0.31:8080",
        route_name: Some("frontend"),
        ..GATEWAY
    },
    Route {
        proxy: GW2,
        weight: 30,
        upstream_cluster: Some("outbound|80||checkout.shop.svc.cluster.local"),
        pods: CHECKOUT_PODS,
        calls: CHECKOUT_CALLS,
        downstream_local: "10.96.0.31:8443",
        sni: Some("shop.example.com"),
        route_name: Some("checkout"),
        ..GATEWAY
    },
    Route {
        weight: 110,
        kind: Kind::Inbound,
        upstream_cluster: Some("inbound|9080||"),
        pods: PRODUCTPAGE_SELF,
        calls: PRODUCTPAGE_CALLS,
        authorities: BOOKINFO,
        agents: BROWSERS,
        downstream_local: "10.112.1.23:9080",
        callers: &["10.112.0.50"],
        forwarded: true,
        sni: Some("outbound_.9080_._.productpage.default.svc.cluster.local"),
        ..SIDECAR
    },
    reviews(55, "outbound|9080|v1|reviews.default.svc.cluster.local", REVIEWS_V1_PODS),
    reviews(33, "outbound|9080|v2|reviews.default.svc.cluster.local", REVIEWS_V2_PODS),
    reviews(22, "outbound|9080|v3|reviews.default.svc.cluster.local", REVIEWS_V3_PODS),
    Route {
        proxy: REVIEWS,
        weight: 60,
        upstream_cluster: Some("outbound|9080||ratings.default.svc.cluster.local"),
        pods: RATINGS_PODS,
        calls: RATINGS_CALLS,
        agents: JAVA,
        authorities: &["ratings:9080"],
        downstream_local: "10.116.9.140:9080",
        callers: &["10.112.2.41"],
        ..SIDECAR
    },
    Route {
        weight: 90,
        upstream_cluster: Some("outbound|9080||details.default.svc.cluster.local"),
        pods: DETAILS_PODS,
        faulty: Some(DETAILS_PODS[0][0]),
        calls: DETAILS_CALLS,
        authorities: &["details:9080"],
        downstream_local: "10.116.3.77:9080",
        ..SIDECAR
    },
    Route {
        proxy: REVIEWS,
        weight: 40,
        kind: Kind::Inbound,
        upstream_cluster: Some("inbound|9080||"),
        pods: REVIEWS_SELF,
        calls: REVIEWS_CALLS,
        authorities: &["reviews:9080"],
        downstream_local: "10.112.2.41:9080",
        callers: &["10.112.1.23", "10.112.2.18"],
        sni: Some("outbound_.9080_.v2_.reviews.default.svc.cluster.local"),
        ..SIDECAR
    },
    Route {
        proxy: CHECKOUT,
        weight: 15,
        kind: Kind::Tcp,
        upstream_cluster: Some("outbound|3306||mysql.shop.svc.cluster.local"),
        pods: MYSQL_PODS,
        calls: TCP_CALLS,
        agents: NONE,
        downstream_local: "10.100.12.7:3306",
        callers: &["10.96.4.12"],
        route_name: None,
        ..SIDECAR
    },
    Route {
        proxy: CHECKOUT,
        weight: 10,
        kind: Kind::ExternalTcp,
        upstream_cluster: Some("PassthroughCluster"),
        pods: PAYMENTS_API,
        calls: TCP_CALLS,
        agents: NONE,
        downstream_local: "52.84.150.39:443",
        callers: &["10.96.4.12"],
        sni: Some("api.payments.example.com"),
        route_name: None,
        ..SIDECAR
    },
    Route {
        proxy: CHECKOUT,
        weight: 30,
        kind: Kind::Inbound,
        upstream_cluster: Some("inbound|8080||"),
        pods: CHECKOUT_SELF,
        calls: CHECKOUT_CALLS,
        authorities: SHOP,
        agents: BROWSERS,
        downstream_local: "10.96.4.12:8080",
        callers: &["10.96.0.31"],
        forwarded: true,
        sni: Some("outbound_.80_._.checkout.shop.svc.cluster.local"),
        ..SIDECAR
    },
    Route {
        proxy: CHECKOUT,
        weight: 3,
        kind: Kind::ExternalHttp,
        upstream_cluster: Some("PassthroughCluster"),
        pods: RATES_API,
        calls: RATES_CALLS,
        authorities: &["api.exchangerate.example.com"],
        agents: GO,
        downstream_local: "93.184.216.34:80",
        callers: &["10.96.4.12"],
        route_name: Some("allow_any"),
        ..SIDECAR
    },
];

/// A route of the productpage sidecar to one subset of `reviews`, a quarter of it
/// sent straight to `cluster3`'s pods over the flat network.
const fn reviews(weight: u32, upstream_cluster: &'static str, pods: Pods) -> Route {
    Route {
        weight,
        upstream_cluster: Some(upstream_cluster),
        pods,
        spill: Some(Spill { cluster: C3, per_million: 250_000 }),
        calls: REVIEWS_CALLS,
        authorities: &["reviews:9080"],
        downstream_local: "10.116.7.202:9080",
        ..SIDECAR
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::mesh::{PROXIES, same_network};
    use crate::simulate::timeline::Timeline;

    /// Whether a line of `route` may go to `target` (straight to a pod on a flat network).
    fn reachable(route: &Route, target: usize) -> bool {
        !same_network(PROXIES[route.proxy].cluster, target) || !route.pods[target].is_empty()
    }

    #[test]
    fn every_table_a_route_picks_from_is_non_empty() {
        for (index, route) in ROUTES.iter().enumerate() {
            let local = route.pods[PROXIES[route.proxy].cluster];
            assert!(!route.calls.is_empty() && !route.callers.is_empty(), "route {index}");
            assert!(route.kind == Kind::NoRoute || !local.is_empty(), "route {index}");
            let http = !matches!(route.kind, Kind::Tcp | Kind::ExternalTcp);
            assert!(!http || !(route.agents.is_empty() || route.authorities.is_empty()));
            assert!(route.spill.is_none_or(|spill| reachable(route, spill.cluster)));
        }
    }

    #[test]
    fn episodes_fail_over_to_reachable_clusters() {
        for episode in Timeline::new(0, 10).episodes {
            assert!(reachable(&ROUTES[episode.route], episode.target));
        }
        assert!(ROUTES[FRONTEND_GW1].upstream_cluster.is_some_and(|c| c.contains("frontend")));
        assert!(ROUTES[RATINGS].upstream_cluster.is_some_and(|c| c.contains("ratings")));
    }
}
