//! `endpoint`: [`classify`] on arbitrary text.
//!
//! Classifying never panics, and its answers agree with what the `rds_iam::endpoint` docs
//! promise, checked here without its code:
//! - it ignores ASCII case and one trailing dot, and classifying the normalised name (lower
//!   case, without that dot) gives the same answer; a name ending in two dots is `other`;
//! - `ip` exactly for IPv4 and IPv6 literals (brackets allowed);
//! - a region is reported exactly for the RDS kinds other than `global-writer`; it is one of the
//!   name's labels and has the shape of a region (`us-east-1`: at least three hyphen-separated
//!   parts of letters and digits, the first letters, the last digits);
//! - a partition exactly for the RDS kinds, matching the name's domain; FIPS only with an
//!   `rds-fips` label;
//! - the label before the region and service starts with the kind's prefix (`cluster-`,
//!   `cluster-ro-`, ...) followed by letters and digits, with at least one label before it.

use std::net::IpAddr;

use rds_iam::endpoint::{EndpointKind, Partition, RdsEndpoint, classify};

/// Run the checks on `data`; returns the classification of a UTF-8 input.
pub fn check(data: &[u8]) -> Option<RdsEndpoint> {
    let host = std::str::from_utf8(data).ok()?;
    let found = classify(host);
    assert_eq!(classify(host), found, "not deterministic");
    assert_eq!(
        classify(&host.to_ascii_lowercase()),
        found,
        "depends on case"
    );
    assert_eq!(
        classify(&host.to_ascii_uppercase()),
        found,
        "depends on case"
    );
    if host.ends_with("..") {
        assert_eq!(found.kind, EndpointKind::Other, "a name ending in two dots");
        return Some(found);
    }
    if !host.ends_with('.') {
        assert_eq!(
            classify(&format!("{host}.")),
            found,
            "one trailing dot counts"
        );
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    assert_eq!(
        classify(&name),
        found,
        "the normalised name classifies differently"
    );

    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(&name);
    assert_eq!(
        found.kind == EndpointKind::Ip,
        bare.parse::<IpAddr>().is_ok(),
        "ip exactly for IP literals"
    );
    assert_eq!(found.partition.is_some(), found.kind.is_rds(), "partition");
    assert_eq!(
        found.region.is_some(),
        found.kind.is_rds() && found.kind != EndpointKind::GlobalWriter,
        "region"
    );
    if found.kind.is_rds() {
        rds_name_agrees(&name, &found);
    } else {
        assert!(!found.fips, "fips without an RDS name");
    }
    Some(found)
}

/// The domains of the `rds_iam::endpoint` docs and their partitions (GovCloud is told by the
/// region).
const DOMAINS: [(&str, Partition); 7] = [
    (".amazonaws.com.cn", Partition::AwsCn),
    (".amazonaws.com", Partition::Aws),
    (".amazonaws.eu", Partition::AwsEusc),
    (".c2s.ic.gov", Partition::AwsIso),
    (".sc2s.sgov.gov", Partition::AwsIsoB),
    (".cloud.adc-e.uk", Partition::AwsIsoE),
    (".csp.hci.ic.gov", Partition::AwsIsoF),
];

fn rds_name_agrees(name: &str, found: &RdsEndpoint) {
    let (domain, partition) = DOMAINS
        .iter()
        .find(|(domain, _)| name.ends_with(domain))
        .unwrap_or_else(|| panic!("an RDS name outside the documented domains: {name}"));
    let gov = found.region.as_deref().is_some_and(is_gov_region);
    let expected = match partition {
        Partition::Aws if gov => Partition::AwsUsGov,
        other => *other,
    };
    assert_eq!(found.partition, Some(expected), "partition of {name}");

    let labels: Vec<&str> = name[..name.len() - domain.len()].split('.').collect();
    assert!(
        labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
        "an RDS name with an empty label or another character: {name}"
    );
    // `[names..] id region rds`, `[names..] id rds region`, or `[names..] id global rds`.
    let [names @ .., id, a, b] = labels.as_slice() else {
        panic!("an RDS name with too few labels: {name}");
    };
    let service = match &found.region {
        Some(region) => {
            assert!(is_region_shape(region), "region {region:?} of {name}");
            if a == region { b } else { a }
        }
        None => {
            assert_eq!((*a, *b), ("global", "rds"), "global writer {name}");
            b
        }
    };
    if let Some(region) = &found.region {
        assert!(
            (a == region || b == region) && matches!(*service, "rds" | "rds-fips"),
            "the region {region:?} is not next to the service in {name}"
        );
    }
    assert_eq!(found.fips, *service == "rds-fips", "fips of {name}");
    let prefix = match found.kind {
        EndpointKind::ClusterWriter => "cluster-",
        EndpointKind::ClusterReader => "cluster-ro-",
        EndpointKind::ClusterCustom => "cluster-custom-",
        EndpointKind::Proxy | EndpointKind::ProxyEndpoint => "proxy-",
        EndpointKind::Limitless => "shardgrp-",
        EndpointKind::GlobalWriter => "global-",
        _ => "",
    };
    let rest = id
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{:?} but the id label is {id:?}", found.kind));
    assert!(
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{:?} with id label {id:?}",
        found.kind
    );
    assert!(!names.is_empty(), "no name before the id in {name}");
    let endpoint_label = names.len() >= 2 && names.last() == Some(&"endpoint");
    match found.kind {
        EndpointKind::ProxyEndpoint => assert!(endpoint_label, "proxy endpoint {name}"),
        EndpointKind::Proxy => assert!(!endpoint_label, "proxy {name}"),
        _ => {}
    }
}

/// At least three hyphen-separated parts of lower-case letters and digits, the first letters,
/// the last digits.
/// A GovCloud region name as the partitions data defines them (`^us\-gov\-\w+\-\d+$`): one
/// word between `us-gov-` and the number. `us-gov-e-central-1` is not one (it is `aws`).
fn is_gov_region(region: &str) -> bool {
    region.strip_prefix("us-gov-").is_some_and(|rest| {
        rest.split_once('-').is_some_and(|(word, number)| {
            !word.is_empty()
                && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

fn is_region_shape(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}
