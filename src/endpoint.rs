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
//! `rds-fips` in place of `rds` (FIPS endpoints). The domain is the DNS suffix of an AWS
//! partition, as listed in the partitions data the AWS SDKs ship (botocore's
//! `partitions.json`, the Rust SDK's partition resolver; a copy is in this crate's
//! `tests/data/partitions.json`, which the tests check this module against):
//!
//! | partition | DNS suffix | regions |
//! |---|---|---|
//! | `aws` | `amazonaws.com` | `us-`, `eu-`, `ap-`, `sa-`, `ca-`, `me-`, `af-`, `il-`, `mx-` |
//! | `aws-us-gov` | `amazonaws.com` | `us-gov-` |
//! | `aws-cn` | `amazonaws.com.cn` | `cn-` |
//! | `aws-eusc` | `amazonaws.eu` | `eusc-de-` |
//! | `aws-iso` | `c2s.ic.gov` | `us-iso-` |
//! | `aws-iso-b` | `sc2s.sgov.gov` | `us-isob-` |
//! | `aws-iso-e` | `cloud.adc-e.uk` | `eu-isoe-` |
//! | `aws-iso-f` | `csp.hci.ic.gov` | `us-isof-` |
//!
//! A region that no partition of its domain claims belongs to the domain's first partition
//! (`aws` for `amazonaws.com`), as in the SDKs. Matching ignores case and one trailing dot; the
//! region is reported in lower case.
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
    /// ISO-E (`cloud.adc-e.uk`).
    AwsIsoE,
    /// ISO-F (`csp.hci.ic.gov`).
    AwsIsoF,
    /// AWS European Sovereign Cloud (`amazonaws.eu`).
    AwsEusc,
}

impl Partition {
    /// The partition ID as in ARNs: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`,
    /// `aws-iso-e`, `aws-iso-f`, `aws-eusc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
            Self::AwsIso => "aws-iso",
            Self::AwsIsoB => "aws-iso-b",
            Self::AwsIsoE => "aws-iso-e",
            Self::AwsIsoF => "aws-iso-f",
            Self::AwsEusc => "aws-eusc",
        }
    }

    /// Every partition, in the order of the AWS partitions data.
    pub const ALL: [Partition; 8] = [
        Self::Aws,
        Self::AwsCn,
        Self::AwsEusc,
        Self::AwsIso,
        Self::AwsIsoB,
        Self::AwsIsoE,
        Self::AwsIsoF,
        Self::AwsUsGov,
    ];

    /// The DNS suffix of the partition's endpoint names, such as `amazonaws.com`.
    pub fn dns_suffix(self) -> &'static str {
        data(self).dns_suffix
    }

    /// The partition whose region names `region` has (its `regionRegex` in the AWS partitions
    /// data), if any: `us-gov-west-1` is in `aws-us-gov`, `cn-north-1` in `aws-cn`.
    ///
    /// ```
    /// use rds_iam::endpoint::Partition;
    ///
    /// assert_eq!(Partition::for_region("us-gov-west-1"), Some(Partition::AwsUsGov));
    /// assert_eq!(Partition::for_region("eu-west-1"), Some(Partition::Aws));
    /// assert_eq!(Partition::for_region("moon-base-1"), None);
    /// ```
    pub fn for_region(region: &str) -> Option<Self> {
        PARTITIONS
            .iter()
            .find(|p| p.holds(region))
            .map(|p| p.partition)
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

/// One partition of the AWS partitions data (`tests/data/partitions.json`).
struct PartitionData {
    partition: Partition,
    /// `outputs.dnsSuffix`.
    dns_suffix: &'static str,
    /// What `regionRegex` accepts before `-WORD-DIGITS`.
    region_prefixes: &'static [&'static str],
}

impl PartitionData {
    /// Whether `region` matches `regionRegex`: a prefix, then `-WORD-DIGITS`.
    fn holds(&self, region: &str) -> bool {
        self.region_prefixes.iter().any(|prefix| {
            let rest = region
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('-'));
            rest.and_then(|r| r.split_once('-'))
                .is_some_and(|(word, digits)| {
                    !word.is_empty()
                        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        && !digits.is_empty()
                        && digits.bytes().all(|b| b.is_ascii_digit())
                })
        })
    }
}

/// The partitions, in the order of the data file; for a shared DNS suffix the first is the
/// fallback for regions no partition claims.
const PARTITIONS: [PartitionData; 8] = [
    PartitionData {
        partition: Partition::Aws,
        dns_suffix: "amazonaws.com",
        region_prefixes: &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"],
    },
    PartitionData {
        partition: Partition::AwsCn,
        dns_suffix: "amazonaws.com.cn",
        region_prefixes: &["cn"],
    },
    PartitionData {
        partition: Partition::AwsEusc,
        dns_suffix: "amazonaws.eu",
        region_prefixes: &["eusc-de"],
    },
    PartitionData {
        partition: Partition::AwsIso,
        dns_suffix: "c2s.ic.gov",
        region_prefixes: &["us-iso"],
    },
    PartitionData {
        partition: Partition::AwsIsoB,
        dns_suffix: "sc2s.sgov.gov",
        region_prefixes: &["us-isob"],
    },
    PartitionData {
        partition: Partition::AwsIsoE,
        dns_suffix: "cloud.adc-e.uk",
        region_prefixes: &["eu-isoe"],
    },
    PartitionData {
        partition: Partition::AwsIsoF,
        dns_suffix: "csp.hci.ic.gov",
        region_prefixes: &["us-isof"],
    },
    PartitionData {
        partition: Partition::AwsUsGov,
        dns_suffix: "amazonaws.com",
        region_prefixes: &["us-gov"],
    },
];

fn data(partition: Partition) -> &'static PartitionData {
    PARTITIONS
        .iter()
        .find(|p| p.partition == partition)
        .expect("every partition has its data")
}

/// The labels before `suffix` (dot-separated), if `labels` ends with it.
fn strip_suffix<'a, 'h>(labels: &'a [&'h str], suffix: &str) -> Option<&'a [&'h str]> {
    let suffix: Vec<&str> = suffix.split('.').collect();
    let (rest, tail) = labels.split_at_checked(labels.len().checked_sub(suffix.len())?)?;
    (tail == suffix.as_slice()).then_some(rest)
}

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
    let (rest, dns_suffix) = PARTITIONS
        .iter()
        .find_map(|p| Some((strip_suffix(&labels, p.dns_suffix)?, p.dns_suffix)))?;

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

    let (mut kind, id) = PREFIXES
        .iter()
        .find_map(|(prefix, kind)| id.strip_prefix(prefix).map(|s| (*kind, s)))?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    // A Global writer name is the only one without a region, and always has one.
    if (kind == EndpointKind::GlobalWriter) != region.is_none() {
        return None;
    }
    if kind == EndpointKind::Proxy && names.len() >= 2 && names.last() == Some(&"endpoint") {
        kind = EndpointKind::ProxyEndpoint;
    }
    let mut same_suffix = PARTITIONS.iter().filter(|p| p.dns_suffix == dns_suffix);
    let partition = same_suffix
        .clone()
        .find(|p| region.is_some_and(|r| p.holds(r)))
        .or_else(|| same_suffix.next())?
        .partition;
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
