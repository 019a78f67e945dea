//! The SSRF guard: where a delivery may connect.
//!
//! Targets are typed in by users, so a webhook URL could point at the cloud metadata service,
//! an admin port on localhost or a database in the LAN. The guard refuses every address that is
//! not public unicast, **after DNS resolution** (a public-looking name can resolve to
//! `127.0.0.1`), unless the [`TargetPolicy`] allows it. IPv4 written inside IPv6 (mapped
//! `::ffff:127.0.0.1`, compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by the
//! IPv4 address it carries.
//!
//! The check and the connection use the same addresses: [`GuardedResolver`] is the DNS resolver
//! of the webhook client. A delivery resolves and checks the host once and pins the result in
//! the resolver; the client's connection then asks the resolver and gets exactly those
//! addresses, so a DNS answer that changes between check and connect (rebinding) is never
//! used. A name without a fresh pin (a pin lives [`PIN_TTL`]) is resolved and checked again
//! inside the resolver, so nothing reaches the connector unchecked.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::target::TargetError;

/// How long a checked resolution stays pinned: longer than a delivery with all its retries.
pub const PIN_TTL: Duration = Duration::from_secs(180);

/// The longest a name may take to resolve.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which targets the operator lets deliveries reach besides public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetPolicy {
    /// Allow every non-public address (a home lab whose chat server is in the LAN). Off by
    /// default: with it on, any user who can save a target can probe the internal network.
    #[serde(default)]
    pub allow_private: bool,
    /// Host names (or IP literals, as written in URLs without brackets) that may resolve to
    /// non-public addresses, compared case-insensitively: an internal relay or chat server,
    /// without opening the whole network.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

impl TargetPolicy {
    /// True when `host` may resolve to non-public addresses.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalize_host(host);
        self.allow_private || self.allowed_hosts.iter().any(|allowed| normalize_host(allowed) == host)
    }
}

/// A host as compared: lower case, without IPv6 brackets or a trailing dot.
fn normalize_host(host: &str) -> String {
    host.trim().trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase()
}

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Unspecified,
    Loopback,
    /// RFC 1918.
    Private,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedCgnat,
    /// 169.254.0.0/16 (the cloud metadata service is 169.254.169.254) and fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    Multicast,
    Broadcast,
    /// Other special-purpose blocks: 0/8, 192.0.0/24, 198.18/15 (benchmarking), 240/4,
    /// fec0::/10 (site-local).
    Reserved,
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private (RFC 1918)",
            Self::SharedCgnat => "shared (carrier-grade NAT)",
            Self::LinkLocal => "link-local (incl. cloud metadata)",
            Self::UniqueLocal => "unique local (IPv6)",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
        })
    }
}

/// What is not public about `ip`; `None` for a public unicast address.
pub fn classify(ip: IpAddr) -> Option<AddressKind> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressKind> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => AddressKind::Unspecified,
        _ if ip.is_broadcast() => AddressKind::Broadcast,
        (0, _, _) | (192, 0, 0) | (198, 18..=19, _) | (240..=255, _, _) => AddressKind::Reserved,
        (127, _, _) => AddressKind::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => AddressKind::Private,
        (100, 64..=127, _) => AddressKind::SharedCgnat,
        (169, 254, _) => AddressKind::LinkLocal,
        (224..=239, _, _) => AddressKind::Multicast,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressKind> {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_unspecified() => AddressKind::Unspecified,
        _ if ip.is_loopback() => AddressKind::Loopback,
        _ if first & 0xfe00 == 0xfc00 => AddressKind::UniqueLocal,
        _ if first & 0xffc0 == 0xfe80 => AddressKind::LinkLocal,
        _ if first & 0xffc0 == 0xfec0 => AddressKind::Reserved,
        _ if first & 0xff00 == 0xff00 => AddressKind::Multicast,
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries and would reach: mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`, not `::` or `::1`), NAT64 (`64:ff9b::a.b.c.d`), 6to4
/// (`2002:AABB:CCDD::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_unspecified() && !ip.is_loopback() => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// Refuses `ip` for `host` unless it is public or the policy allows the host.
///
/// # Errors
/// [`TargetError::Blocked`] naming `field`, the host, the address and why.
pub fn check_address(
    field: &'static str,
    host: &str,
    ip: IpAddr,
    policy: &TargetPolicy,
) -> Result<(), TargetError> {
    match classify(ip) {
        Some(kind) if !policy.allows_host(host) => {
            Err(TargetError::Blocked { field, host: host.to_owned(), addr: ip, kind })
        }
        _ => Ok(()),
    }
}

/// The address a host written as an IP literal stands for (`10.0.0.5`, `[::1]` as URLs write
/// IPv6); `None` for a name.
pub(crate) fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Resolves `host` (an IP literal is taken as it is) and checks every address it gives: one
/// non-public address refuses the whole name, since the connector may pick any of them.
///
/// # Errors
/// [`TargetError::Resolve`], [`TargetError::NoAddress`] or [`TargetError::Blocked`], naming
/// `field`.
pub async fn resolve_checked(
    field: &'static str,
    host: &str,
    policy: &TargetPolicy,
) -> Result<Vec<IpAddr>, TargetError> {
    if let Some(ip) = ip_literal(host) {
        check_address(field, host, ip, policy)?;
        return Ok(vec![ip]);
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let resolve_error = |message: String| TargetError::Resolve { field, host: host.to_owned(), message };
    let addrs = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, 0)))
        .await
        .map_err(|_| resolve_error(format!("no answer within {RESOLVE_TIMEOUT:?}")))?
        .map_err(|e| resolve_error(e.to_string()))?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in addrs {
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    if ips.is_empty() {
        return Err(TargetError::NoAddress { field, host: host.to_owned() });
    }
    for ip in &ips {
        check_address(field, host, *ip, policy)?;
    }
    Ok(ips)
}

struct Pin {
    ips: Vec<IpAddr>,
    until: Instant,
}

/// The webhook client's DNS resolver: hands out pinned, checked addresses (see the module
/// docs), or resolves and checks itself.
pub(crate) struct GuardedResolver {
    policy: Arc<TargetPolicy>,
    pins: Mutex<HashMap<String, Pin>>,
}

impl GuardedResolver {
    pub(crate) fn new(policy: TargetPolicy) -> Self {
        Self { policy: Arc::new(policy), pins: Mutex::new(HashMap::new()) }
    }

    /// Records checked addresses of `host` for the connection that follows.
    pub(crate) fn pin(&self, host: &str, ips: Vec<IpAddr>) {
        let now = Instant::now();
        let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        pins.retain(|_, pin| pin.until > now);
        pins.insert(normalize_host(host), Pin { ips, until: now + PIN_TTL });
    }

    fn pinned(&self, host: &str) -> Option<Vec<IpAddr>> {
        let pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        pins.get(&normalize_host(host)).filter(|pin| pin.until > Instant::now()).map(|pin| pin.ips.clone())
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let pinned = self.pinned(&host);
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let ips = match pinned {
                Some(ips) => ips,
                None => resolve_checked("url", &host, &policy).await?,
            };
            // Port 0: the connector puts the URL's port in.
            let addrs: reqwest::dns::Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<AddressKind> {
        classify(ip.parse().unwrap())
    }

    #[test]
    fn non_public_addresses_by_kind() {
        let cases = [
            ("127.0.0.1", Some(AddressKind::Loopback)),
            ("127.255.0.9", Some(AddressKind::Loopback)),
            ("10.0.0.5", Some(AddressKind::Private)),
            ("172.16.0.1", Some(AddressKind::Private)),
            ("172.31.255.255", Some(AddressKind::Private)),
            ("192.168.1.1", Some(AddressKind::Private)),
            ("100.64.0.1", Some(AddressKind::SharedCgnat)),
            ("100.127.255.254", Some(AddressKind::SharedCgnat)),
            ("169.254.169.254", Some(AddressKind::LinkLocal)),
            ("0.0.0.0", Some(AddressKind::Unspecified)),
            ("0.1.2.3", Some(AddressKind::Reserved)),
            ("224.0.0.1", Some(AddressKind::Multicast)),
            ("255.255.255.255", Some(AddressKind::Broadcast)),
            ("240.0.0.1", Some(AddressKind::Reserved)),
            ("198.18.0.1", Some(AddressKind::Reserved)),
            ("::1", Some(AddressKind::Loopback)),
            ("::", Some(AddressKind::Unspecified)),
            ("fc00::1", Some(AddressKind::UniqueLocal)),
            ("fd12:3456::1", Some(AddressKind::UniqueLocal)),
            ("fe80::1", Some(AddressKind::LinkLocal)),
            ("fec0::1", Some(AddressKind::Reserved)),
            ("ff02::1", Some(AddressKind::Multicast)),
            ("::ffff:127.0.0.1", Some(AddressKind::Loopback)),
            ("::ffff:169.254.169.254", Some(AddressKind::LinkLocal)),
            ("::10.0.0.1", Some(AddressKind::Private)),
            ("64:ff9b::7f00:1", Some(AddressKind::Loopback)),
            ("2002:a9fe:a9fe::", Some(AddressKind::LinkLocal)),
            // Public.
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("2606:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("2002:0808:0808::", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }

    #[test]
    fn the_policy_allows_named_hosts_or_everything() {
        let strict = TargetPolicy::default();
        assert!(!strict.allows_host("localhost"));
        let named =
            TargetPolicy { allow_private: false, allowed_hosts: vec!["Chat.Lan".into(), "::1".into()] };
        assert!(named.allows_host("chat.lan."));
        assert!(named.allows_host("[::1]"));
        assert!(!named.allows_host("other.lan"));
        assert!(TargetPolicy { allow_private: true, allowed_hosts: vec![] }.allows_host("anything"));
        let err = check_address("url", "metadata", "169.254.169.254".parse().unwrap(), &strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "url: metadata resolves to 169.254.169.254, a link-local (incl. cloud metadata) address; \
             refused (allow it with allowed_hosts or allow_private)"
        );
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        let strict = TargetPolicy::default();
        let err = resolve_checked("url", "localhost", &strict).await.unwrap_err();
        assert!(matches!(err, TargetError::Blocked { kind: AddressKind::Loopback, .. }), "{err}");
        let allowed = TargetPolicy { allow_private: false, allowed_hosts: vec!["localhost".into()] };
        let ips = resolve_checked("url", "localhost", &allowed).await.unwrap();
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
        assert!(resolve_checked("url", "[::ffff:127.0.0.1]", &strict).await.is_err());
    }

    #[tokio::test]
    async fn the_resolver_hands_out_pinned_addresses_and_checks_the_rest() {
        use reqwest::dns::Resolve;
        let resolver = GuardedResolver::new(TargetPolicy::default());
        // A name no DNS knows: only the pin can answer, so the connection gets what was checked.
        let pinned: IpAddr = "93.184.215.14".parse().unwrap();
        resolver.pin("Hook.Example.", vec![pinned]);
        let addrs: Vec<SocketAddr> =
            resolver.resolve("hook.example".parse().unwrap()).await.unwrap().collect();
        assert_eq!(addrs, [SocketAddr::new(pinned, 0)]);
        // Without a pin the name is resolved and checked here: localhost is refused.
        let err = resolver.resolve("localhost".parse().unwrap()).await.err().expect("refused");
        assert!(err.to_string().contains("a loopback address"), "{err}");
    }
}
