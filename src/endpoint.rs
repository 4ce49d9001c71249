//! The RDS host classifier: what kind of endpoint a host name is, and in which region.
//!
//! Pure string matching on the documented endpoint name shapes (no DNS look-up):
//!
//! | kind | shape |
//! |---|---|
//! | `instance` | `name.ID.region.rds.amazonaws.com` |
//! | `cluster-writer` | `name.cluster-ID.region.rds.amazonaws.com` |
//! | `cluster-reader` | `name.cluster-ro-ID.region.rds.amazonaws.com` |
//! | `cluster-custom` | `name.cluster-custom-ID.region.rds.amazonaws.com` |
//! | `proxy` | `name.proxy-ID.region.rds.amazonaws.com` |
//! | `proxy-endpoint` | `name.endpoint.proxy-ID.region.rds.amazonaws.com` |
//! | `limitless` | `name.shardgrp-ID.region.rds.amazonaws.com` |
//! | `global-writer` | `name.global-ID.global.rds.amazonaws.com` (no region in the name) |
//! | `ip` | an IPv4 or IPv6 literal (brackets allowed) |
//! | `other` | anything else: a custom DNS name, `localhost`, a tunnel |
//!
//! The `region.rds` part may also be written `rds.region` (China since 2023, GovCloud, ISO), and
//! `rds-fips` in place of `rds` (FIPS endpoints). The domain may be `amazonaws.com`
//! (commercial, GovCloud), `amazonaws.com.cn` (China), `c2s.ic.gov` (ISO),
//! `sc2s.sgov.gov` (ISO-B) or `amazonaws.eu` (European Sovereign Cloud). Matching ignores case
//! and one trailing dot; the region is reported in lower case.
//!
//! ```
//! use rds_iam::endpoint::{classify, EndpointKind, Partition};
//!
//! let e = classify("my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com");
//! assert_eq!(e.kind, EndpointKind::ClusterWriter);
//! assert_eq!(e.region.as_deref(), Some("us-east-1"));
//! assert_eq!(e.kind.as_str(), "cluster-writer");
//!
//! let e = classify("DB.ABC123.RDS.CN-NORTH-1.AMAZONAWS.COM.CN.");
//! assert_eq!((e.kind, e.region.as_deref()), (EndpointKind::Instance, Some("cn-north-1")));
//! assert_eq!(e.partition, Some(Partition::AwsCn));
//!
//! assert_eq!(classify("localhost").kind, EndpointKind::Other);
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The kind of endpoint a host name designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndpointKind {
    /// A DB instance endpoint (RDS instance, or one Aurora instance).
    Instance,
    /// An Aurora cluster (writer) endpoint, `cluster-`.
    ClusterWriter,
    /// An Aurora cluster reader endpoint, `cluster-ro-`.
    ClusterReader,
    /// An Aurora custom endpoint, `cluster-custom-`.
    ClusterCustom,
    /// An RDS Proxy default endpoint, `proxy-`.
    Proxy,
    /// An RDS Proxy custom endpoint, `name.endpoint.proxy-` (the AWS JDBC wrapper reports it
    /// as a plain proxy).
    ProxyEndpoint,
    /// An Aurora Limitless Database shard group endpoint, `shardgrp-`.
    Limitless,
    /// An Aurora Global Database writer endpoint, `global-` (carries no region).
    GlobalWriter,
    /// An IPv4 or IPv6 address.
    Ip,
    /// Not an RDS endpoint name (custom DNS name, `localhost`, ...).
    Other,
}

impl EndpointKind {
    /// The kebab-case name: `instance`, `cluster-writer`, `cluster-reader`, `cluster-custom`,
    /// `proxy`, `proxy-endpoint`, `limitless`, `global-writer`, `ip`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::ClusterWriter => "cluster-writer",
            Self::ClusterReader => "cluster-reader",
            Self::ClusterCustom => "cluster-custom",
            Self::Proxy => "proxy",
            Self::ProxyEndpoint => "proxy-endpoint",
            Self::Limitless => "limitless",
            Self::GlobalWriter => "global-writer",
            Self::Ip => "ip",
            Self::Other => "other",
        }
    }

    /// Whether this is an RDS/Aurora endpoint name (not `ip` or `other`).
    pub fn is_rds(self) -> bool {
        !matches!(self, Self::Ip | Self::Other)
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The AWS partition an RDS endpoint name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Partition {
    /// Commercial regions (`amazonaws.com`).
    Aws,
    /// China (`amazonaws.com.cn`).
    AwsCn,
    /// AWS GovCloud (US) (`us-gov-*` regions under `amazonaws.com`).
    AwsUsGov,
    /// ISO (`c2s.ic.gov`).
    AwsIso,
    /// ISO-B (`sc2s.sgov.gov`).
    AwsIsoB,
    /// AWS European Sovereign Cloud (`amazonaws.eu`).
    AwsEusc,
}

impl Partition {
    /// The partition ID as in ARNs: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`,
    /// `aws-eusc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
            Self::AwsIso => "aws-iso",
            Self::AwsIsoB => "aws-iso-b",
            Self::AwsEusc => "aws-eusc",
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`classify`] found out about a host name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RdsEndpoint {
    /// The endpoint kind.
    pub kind: EndpointKind,
    /// The region in the name, lower case; `None` for `global-writer`, `ip` and `other`.
    pub region: Option<String>,
    /// The partition, for RDS endpoint names.
    pub partition: Option<Partition>,
    /// Whether the name uses `rds-fips`.
    pub fips: bool,
}

impl RdsEndpoint {
    fn unrecognised(kind: EndpointKind) -> Self {
        Self {
            kind,
            region: None,
            partition: None,
            fips: false,
        }
    }
}

/// The domains RDS endpoint names end with, as labels.
const DOMAINS: [(&[&str], Partition); 5] = [
    (&["amazonaws", "com", "cn"], Partition::AwsCn),
    (&["amazonaws", "com"], Partition::Aws),
    (&["amazonaws", "eu"], Partition::AwsEusc),
    (&["c2s", "ic", "gov"], Partition::AwsIso),
    (&["sc2s", "sgov", "gov"], Partition::AwsIsoB),
];

/// The endpoint-kind prefixes of the label before the region, longest match first.
const PREFIXES: [(&str, EndpointKind); 7] = [
    ("cluster-custom-", EndpointKind::ClusterCustom),
    ("cluster-ro-", EndpointKind::ClusterReader),
    ("cluster-", EndpointKind::ClusterWriter),
    ("proxy-", EndpointKind::Proxy),
    ("shardgrp-", EndpointKind::Limitless),
    ("global-", EndpointKind::GlobalWriter),
    ("", EndpointKind::Instance),
];

/// Classify a host name (case-insensitive, one trailing dot allowed). Never fails: anything
/// unrecognised is [`EndpointKind::Other`].
pub fn classify(host: &str) -> RdsEndpoint {
    let host = host.strip_suffix('.').unwrap_or(host);
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<Ipv4Addr>().is_ok() || bare.parse::<Ipv6Addr>().is_ok() {
        return RdsEndpoint::unrecognised(EndpointKind::Ip);
    }
    classify_name(&host.to_ascii_lowercase())
        .unwrap_or_else(|| RdsEndpoint::unrecognised(EndpointKind::Other))
}

fn classify_name(host: &str) -> Option<RdsEndpoint> {
    let labels: Vec<&str> = host.split('.').collect();
    if !labels.iter().all(|l| is_dns_label(l)) {
        return None;
    }
    let (rest, mut partition) = DOMAINS.iter().find_map(|(domain, partition)| {
        let cut = labels.len().checked_sub(domain.len())?;
        let (rest, tail) = labels.split_at_checked(cut)?;
        (tail == *domain).then_some((rest, *partition))
    })?;

    // `region.rds`, `rds.region` (either with `rds-fips`), or `global.rds`.
    let [names @ .., id, a, b] = rest else {
        return None;
    };
    let is_service = |s: &str| s == "rds" || s == "rds-fips";
    let (region, fips) = if (*a, *b) == ("global", "rds") {
        (None, false)
    } else if is_service(b) && is_region(a) {
        (Some(*a), *b == "rds-fips")
    } else if is_service(a) && is_region(b) {
        (Some(*b), *a == "rds-fips")
    } else {
        return None;
    };
    if names.is_empty() {
        return None;
    }

    let (mut kind, suffix) = PREFIXES
        .iter()
        .find_map(|(prefix, kind)| id.strip_prefix(prefix).map(|s| (*kind, s)))?;
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    // A Global writer name is the only one without a region, and always has one.
    if (kind == EndpointKind::GlobalWriter) != region.is_none() {
        return None;
    }
    if kind == EndpointKind::Proxy && names.len() >= 2 && names.last() == Some(&"endpoint") {
        kind = EndpointKind::ProxyEndpoint;
    }
    if partition == Partition::Aws && region.is_some_and(|r| r.starts_with("us-gov-")) {
        partition = Partition::AwsUsGov;
    }
    Some(RdsEndpoint {
        kind,
        region: region.map(str::to_owned),
        partition: Some(partition),
        fips,
    })
}

/// A non-empty run of letters, digits and inner hyphens.
fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The shape of an AWS region name: at least three hyphen-separated parts, the first letters,
/// the last digits (`us-east-1`, `us-gov-west-1`, `eusc-de-east-1`).
pub(crate) fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts
            .first()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_region(host: &str) -> (EndpointKind, Option<String>) {
        let e = classify(host);
        (e.kind, e.region)
    }

    #[test]
    fn aurora_kinds() {
        use EndpointKind::*;
        for (host, kind) in [
            ("db.abc123.us-east-2.rds.amazonaws.com", Instance),
            (
                "db.cluster-abc123.us-east-2.rds.amazonaws.com",
                ClusterWriter,
            ),
            (
                "db.cluster-ro-abc123.us-east-2.rds.amazonaws.com",
                ClusterReader,
            ),
            (
                "db.cluster-custom-abc123.us-east-2.rds.amazonaws.com",
                ClusterCustom,
            ),
            ("db.proxy-abc123.us-east-2.rds.amazonaws.com", Proxy),
            (
                "ro.endpoint.proxy-abc123.us-east-2.rds.amazonaws.com",
                ProxyEndpoint,
            ),
            ("db.shardgrp-abc123.us-east-2.rds.amazonaws.com", Limitless),
        ] {
            assert_eq!(
                kind_region(host),
                (kind, Some("us-east-2".into())),
                "{host}"
            );
        }
        let g = classify("app.global-abc123.global.rds.amazonaws.com");
        assert_eq!((g.kind, g.region), (GlobalWriter, None));
    }

    #[test]
    fn near_misses_are_other() {
        for host in [
            "",
            ".",
            "localhost",
            "db.example.com",
            "abc123.us-east-1.rds.amazonaws.com",
            "db.cluster-.us-east-1.rds.amazonaws.com",
            "db.cluster-ab-c.us-east-1.rds.amazonaws.com",
            "db.abc123.rds.amazonaws.com",
            "db..abc123.us-east-1.rds.amazonaws.com",
            "db.global-abc.us-east-1.rds.amazonaws.com",
            "db.abc123.global.rds.amazonaws.com",
            "db.abc123.us-east-1.rds.amazonaws.com.evil.example",
        ] {
            assert_eq!(classify(host).kind, EndpointKind::Other, "{host:?}");
        }
    }

    #[test]
    fn ip_literals() {
        for host in ["10.0.0.1", "::1", "[::1]", "2001:db8::1", "127.0.0.1."] {
            assert_eq!(classify(host).kind, EndpointKind::Ip, "{host}");
        }
    }
}
