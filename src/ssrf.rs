//! Which addresses scripts' outbound HTTP may reach (the SSRF rules).
//! Pure: no Postgres here. The HTTP client resolves a host first, checks
//! every address with `check`, and connects only to an address that passed.
//!
//! Refused: loopback, private, link-local, carrier-grade NAT, cloud
//! metadata, multicast, broadcast, unspecified and reserved addresses, in
//! IPv4, IPv6, and IPv4 embedded in IPv6 (mapped, compatible, translated,
//! NAT64, 6to4 and Teredo: see `embedded_v4`).
//! `jsrt.http_allow` opens chosen hosts and networks.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The rule an address falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Loopback,
    Private,
    LinkLocal,
    CarrierNat,
    CloudMetadata,
    Multicast,
    Broadcast,
    Unspecified,
    Reserved,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Loopback => "loopback",
            Rule::Private => "private network",
            Rule::LinkLocal => "link-local",
            Rule::CarrierNat => "carrier-grade NAT",
            Rule::CloudMetadata => "cloud metadata",
            Rule::Multicast => "multicast",
            Rule::Broadcast => "broadcast",
            Rule::Unspecified => "unspecified",
            Rule::Reserved => "reserved",
        })
    }
}

/// The rule that refuses `ip`, or None for a public address.
pub fn classify(ip: IpAddr) -> Option<Rule> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Rule> {
    let [a, b, c, d] = ip.octets();
    let in_net = |net: [u8; 4], bits: u32| {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        u32::from(ip) & mask == u32::from_be_bytes(net) & mask
    };
    Some(match () {
        _ if [a, b, c, d] == [169, 254, 169, 254]
            || [a, b, c, d] == [169, 254, 170, 2]
            || [a, b, c, d] == [100, 100, 100, 200] =>
        {
            Rule::CloudMetadata
        }
        _ if ip.is_broadcast() => Rule::Broadcast,
        _ if in_net([0, 0, 0, 0], 8) => Rule::Unspecified,
        _ if in_net([127, 0, 0, 0], 8) => Rule::Loopback,
        _ if in_net([10, 0, 0, 0], 8)
            || in_net([172, 16, 0, 0], 12)
            || in_net([192, 168, 0, 0], 16) =>
        {
            Rule::Private
        }
        _ if in_net([100, 64, 0, 0], 10) => Rule::CarrierNat,
        _ if in_net([169, 254, 0, 0], 16) => Rule::LinkLocal,
        _ if in_net([224, 0, 0, 0], 4) => Rule::Multicast,
        // protocol assignments, documentation, benchmarking, future use
        _ if in_net([192, 0, 0, 0], 24)
            || in_net([192, 0, 2, 0], 24)
            || in_net([198, 51, 100, 0], 24)
            || in_net([203, 0, 113, 0], 24)
            || in_net([198, 18, 0, 0], 15)
            || in_net([240, 0, 0, 0], 4) =>
        {
            Rule::Reserved
        }
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Rule> {
    let seg = ip.segments();
    // An address that carries an IPv4 address reaches that address: refused if any it carries is.
    if let Some(rule) = embedded_v4(ip).into_iter().flatten().find_map(classify_v4) {
        return Some(rule);
    }
    Some(match () {
        _ if ip.is_unspecified() => Rule::Unspecified,
        _ if ip.is_loopback() => Rule::Loopback,
        _ if seg == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] => Rule::CloudMetadata,
        _ if seg[0] & 0xfe00 == 0xfc00 => Rule::Private,
        _ if seg[0] & 0xffc0 == 0xfe80 || seg[0] & 0xffc0 == 0xfec0 => Rule::LinkLocal,
        _ if seg[0] & 0xff00 == 0xff00 => Rule::Multicast,
        // documentation and discard-only
        _ if (seg[0] == 0x2001 && seg[1] == 0x0db8) || seg[..4] == [0x0100, 0, 0, 0] => {
            Rule::Reserved
        }
        _ => return None,
    })
}

/// The IPv4 addresses `ip` carries, in the forms that reach them through a
/// translator, a tunnel or the host's own stack:
/// - mapped `::ffff:a.b.c.d` and compatible `::a.b.c.d` (not `::` and `::1`);
/// - translated `::ffff:0:a.b.c.d` (RFC 2765);
/// - NAT64 `64:ff9b::a.b.c.d` and the local-use `64:ff9b:1::/48` (RFC 8215),
///   both read in the last 32 bits, the /96 form translators use;
/// - 6to4 `2002:AABB:CCDD::/48`, the relay's IPv4 in bits 16..48;
/// - Teredo `2001:0::/32`: its server in bits 32..64 and its client in the
///   last 32 bits, inverted. Both are returned: either may be reached.
///
/// A public IPv4 leaves the IPv6 rules to decide, which do not refuse 2002::/16
/// or 2001::/32 as such.
fn embedded_v4(ip: Ipv6Addr) -> [Option<Ipv4Addr>; 2] {
    let seg = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let last = v4(seg[6], seg[7]);
    let one = match seg {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0xffff, 0, ..] => last,
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) > (0, 1) => last,
        [0x64, 0xff9b, 0, 0, 0, 0, ..] | [0x64, 0xff9b, 1, ..] => last,
        [0x2002, hi, lo, ..] => v4(hi, lo),
        [0x2001, 0, hi, lo, ..] => return [Some(v4(hi, lo)), Some(v4(!seg[6], !seg[7]))],
        _ => return [None, None],
    };
    [Some(one), None]
}

/// What `jsrt.http_allow` opens: host names, and networks in CIDR form.
#[derive(Debug, Default, PartialEq)]
pub struct Allow {
    hosts: Vec<String>,
    nets: Vec<(IpAddr, u8)>,
}

impl Allow {
    /// Parses a comma-separated list such as `api.example.com, 10.1.0.0/16, ::1/128, 127.0.0.1`.
    pub fn parse(list: &str) -> Result<Allow, String> {
        let mut allow = Allow::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            match addr.parse::<IpAddr>() {
                Ok(ip) => {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    let bits = match bits {
                        None => max,
                        Some(b) => b.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(|| {
                            format!("jsrt.http_allow: \"{item}\" has a bad prefix length")
                        })?,
                    };
                    allow.nets.push((ip, bits));
                }
                Err(_) if bits.is_none() && is_host_name(item) => {
                    allow.hosts.push(item.to_ascii_lowercase())
                }
                Err(_) => {
                    return Err(format!(
                        "jsrt.http_allow: \"{item}\" is neither a host name nor an address or CIDR"
                    ))
                }
            }
        }
        Ok(allow)
    }

    pub fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|&(net, bits)| in_cidr(ip, net, bits))
    }
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
        })
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Err names the rule when `host`, resolved to `ip`, may not be reached.
pub fn check(host: &str, ip: IpAddr, allow: &Allow) -> Result<(), Rule> {
    if allow.allows_host(host) || allow.allows_ip(ip) {
        return Ok(());
    }
    classify(ip).map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Option<Rule> {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_classes() {
        assert_eq!(rule("127.0.0.1"), Some(Rule::Loopback));
        assert_eq!(rule("127.255.0.9"), Some(Rule::Loopback));
        assert_eq!(rule("10.1.2.3"), Some(Rule::Private));
        assert_eq!(rule("172.31.255.255"), Some(Rule::Private));
        assert_eq!(rule("192.168.0.1"), Some(Rule::Private));
        assert_eq!(rule("100.64.0.1"), Some(Rule::CarrierNat));
        assert_eq!(rule("169.254.1.1"), Some(Rule::LinkLocal));
        assert_eq!(rule("169.254.169.254"), Some(Rule::CloudMetadata));
        assert_eq!(rule("224.0.0.1"), Some(Rule::Multicast));
        assert_eq!(rule("255.255.255.255"), Some(Rule::Broadcast));
        assert_eq!(rule("0.0.0.0"), Some(Rule::Unspecified));
        assert_eq!(rule("240.0.0.1"), Some(Rule::Reserved));
        assert_eq!(rule("172.32.0.1"), None);
        assert_eq!(rule("8.8.8.8"), None);
        assert_eq!(rule("100.128.0.1"), None);
    }

    #[test]
    fn ipv6_classes_and_embedded_ipv4() {
        assert_eq!(rule("::1"), Some(Rule::Loopback));
        assert_eq!(rule("::"), Some(Rule::Unspecified));
        assert_eq!(rule("::ffff:127.0.0.1"), Some(Rule::Loopback));
        assert_eq!(rule("::ffff:169.254.169.254"), Some(Rule::CloudMetadata));
        assert_eq!(rule("::ffff:10.0.0.1"), Some(Rule::Private));
        assert_eq!(rule("::127.0.0.1"), Some(Rule::Loopback));
        assert_eq!(rule("64:ff9b::a00:1"), Some(Rule::Private));
        assert_eq!(rule("fd00:ec2::254"), Some(Rule::CloudMetadata));
        assert_eq!(rule("fc00::1"), Some(Rule::Private));
        assert_eq!(rule("fe80::1"), Some(Rule::LinkLocal));
        assert_eq!(rule("ff02::1"), Some(Rule::Multicast));
        assert_eq!(rule("2001:db8::1"), Some(Rule::Reserved));
        assert_eq!(rule("::ffff:8.8.8.8"), None);
        assert_eq!(rule("2606:4700:4700::1111"), None);
    }

    #[test]
    fn ipv6_forms_that_carry_ipv4_are_classified_by_it() {
        // translated, RFC 2765
        assert_eq!(rule("::ffff:0:7f00:1"), Some(Rule::Loopback));
        assert_eq!(rule("::ffff:0:a9fe:a9fe"), Some(Rule::CloudMetadata));
        assert_eq!(rule("::ffff:0:808:808"), None);
        // NAT64, well-known and local-use
        assert_eq!(rule("64:ff9b::7f00:1"), Some(Rule::Loopback));
        assert_eq!(rule("64:ff9b::808:808"), None);
        assert_eq!(rule("64:ff9b:1::a9fe:a9fe"), Some(Rule::CloudMetadata));
        assert_eq!(rule("64:ff9b:1:abcd::c0a8:101"), Some(Rule::Private));
        assert_eq!(rule("64:ff9b:1::808:808"), None);
        // 6to4: the IPv4 in bits 16..48, whatever follows
        assert_eq!(rule("2002:7f00:1::"), Some(Rule::Loopback));
        assert_eq!(rule("2002:a9fe:a9fe:1::1"), Some(Rule::CloudMetadata));
        assert_eq!(rule("2002:c0a8:101::1"), Some(Rule::Private));
        assert_eq!(rule("2002:6440:1::1"), Some(Rule::CarrierNat));
        assert_eq!(rule("2002:808:808::1"), None);
        // Teredo: server 8.8.8.8 and client 127.0.0.1 (inverted: 80ff:fffe)
        assert_eq!(rule("2001:0:808:808::80ff:fffe"), Some(Rule::Loopback));
        // server 10.0.0.1, client 8.8.8.8 (inverted: f7f7:f7f7)
        assert_eq!(rule("2001:0:a00:1::f7f7:f7f7"), Some(Rule::Private));
        // the RFC 4380 example: client 192.0.2.45, a documentation address
        assert_eq!(
            rule("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            Some(Rule::Reserved)
        );
        assert_eq!(rule("2001:0:808:808::f7f7:f7f7"), None);
        // the prefixes themselves, outside Teredo, stay public
        assert_eq!(rule("2001:4860:4860::8888"), None);
        assert_eq!(rule("2001:db8::1"), Some(Rule::Reserved));
    }

    #[test]
    fn allow_list_opens_hosts_and_networks() {
        let allow = Allow::parse(" api.example.com, 127.0.0.1, 10.1.0.0/16 ,::1/128").unwrap();
        assert_eq!(
            check("API.example.com", "10.9.9.9".parse().unwrap(), &allow),
            Ok(())
        );
        assert_eq!(check("x", "127.0.0.1".parse().unwrap(), &allow), Ok(()));
        assert_eq!(
            check("x", "127.0.0.2".parse().unwrap(), &allow),
            Err(Rule::Loopback)
        );
        assert_eq!(check("x", "10.1.200.3".parse().unwrap(), &allow), Ok(()));
        assert_eq!(
            check("x", "10.2.0.1".parse().unwrap(), &allow),
            Err(Rule::Private)
        );
        assert_eq!(check("x", "::1".parse().unwrap(), &allow), Ok(()));
        assert_eq!(
            check("x", "::ffff:127.0.0.1".parse().unwrap(), &Allow::default()),
            Err(Rule::Loopback)
        );
        assert!(Allow::parse("10.0.0.0/33")
            .unwrap_err()
            .contains("prefix length"));
        assert!(Allow::parse("not a host!").unwrap_err().contains("neither"));
        assert_eq!(Allow::parse("").unwrap(), Allow::default());
    }
}
