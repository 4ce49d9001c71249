//! Runs `tests/data/rds_hosts.json` through `rds_iam::endpoint::classify`.

use rds_iam::endpoint::{Partition, classify};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    origin: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    host: String,
    kind: String,
    region: Option<String>,
    #[serde(default)]
    partition: Option<String>,
    #[serde(default)]
    fips: bool,
    note: String,
}

#[test]
fn rds_host_cases() {
    let file: File = serde_json::from_str(include_str!("../data/rds_hosts.json"))
        .expect("tests/data/rds_hosts.json is valid");
    assert!(file.origin.len() > 100, "the data file states its origin");
    assert!(file.cases.len() >= 50, "{} cases", file.cases.len());

    let mut failures = Vec::new();
    for case in &file.cases {
        assert!(
            !case.note.is_empty(),
            "every case has a note: {}",
            case.host
        );
        let got = classify(&case.host);
        let got = (
            got.kind.as_str(),
            got.region.as_deref(),
            got.partition.map(|p| p.as_str()),
            got.fips,
        );
        let want = (
            case.kind.as_str(),
            case.region.as_deref(),
            case.partition.as_deref(),
            case.fips,
        );
        if got != want {
            failures.push(format!(
                "{:?} ({}): got {got:?}, want {want:?}",
                case.host, case.note
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_kind_is_covered() {
    let file: File = serde_json::from_str(include_str!("../data/rds_hosts.json")).unwrap();
    for kind in [
        "instance",
        "cluster-writer",
        "cluster-reader",
        "cluster-custom",
        "proxy",
        "proxy-endpoint",
        "limitless",
        "global-writer",
        "ip",
        "other",
    ] {
        assert!(
            file.cases.iter().any(|c| c.kind == kind),
            "no case for {kind}"
        );
    }
}

/// `tests/data/partitions.json`: the AWS partitions data the SDKs ship.
#[derive(Deserialize)]
struct PartitionsFile {
    origin: String,
    partitions: Vec<PartitionCase>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartitionCase {
    id: String,
    outputs: PartitionOutputs,
    region_regex: String,
    regions: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartitionOutputs {
    dns_suffix: String,
}

/// The region prefixes a `regionRegex` of the shape the data uses accepts:
/// `^(a|b)\-\w+\-\d+$`, `^a\-\w+\-\d+$`, `^a\-(b)\-\w+\-\d+$`. Any other shape fails the test,
/// so that a new kind of pattern in a newer data file gets looked at.
fn regex_prefixes(regex: &str) -> Vec<String> {
    let body = regex
        .strip_prefix('^')
        .and_then(|r| r.strip_suffix(r"\-\w+\-\d+$"))
        .unwrap_or_else(|| panic!("unexpected regionRegex shape: {regex}"));
    let mut prefixes = vec![String::new()];
    for part in body.split(r"\-") {
        let choices: Vec<&str> = match part.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
            Some(group) => group.split('|').collect(),
            None => vec![part],
        };
        assert!(
            choices
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase())),
            "unexpected regionRegex shape: {regex}"
        );
        prefixes = prefixes
            .iter()
            .flat_map(|p| {
                choices.iter().map(move |c| match p.is_empty() {
                    true => (*c).to_owned(),
                    false => format!("{p}-{c}"),
                })
            })
            .collect();
    }
    prefixes
}

#[test]
fn every_partition_of_the_sdk_data_is_covered() {
    let file: PartitionsFile =
        serde_json::from_str(include_str!("../data/partitions.json")).unwrap();
    assert!(file.origin.len() > 100, "the data file states its origin");
    let ids: Vec<&str> = file.partitions.iter().map(|p| p.id.as_str()).collect();
    let ours: Vec<&str> = Partition::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(ids, ours, "Partition::ALL follows the data file");

    for (data, partition) in file.partitions.iter().zip(Partition::ALL) {
        let suffix = &data.outputs.dns_suffix;
        assert_eq!(partition.dns_suffix(), suffix, "{}", data.id);
        // Every region the pattern admits, and every region listed (but the `-global`
        // pseudo-regions, which have no database endpoints), in both name forms.
        let listed = data.regions.keys().filter(|r| !r.ends_with("-global"));
        let admitted = regex_prefixes(&data.region_regex)
            .into_iter()
            .map(|prefix| format!("{prefix}-example-9"));
        for region in listed.cloned().chain(admitted) {
            assert_eq!(
                Partition::for_region(&region),
                Some(partition),
                "{region} ({})",
                data.id
            );
            for (host, kind) in [
                (
                    format!("db.cluster-abc123.{region}.rds.{suffix}"),
                    "cluster-writer",
                ),
                (format!("db.abc123.rds.{region}.{suffix}"), "instance"),
            ] {
                let got = classify(&host);
                assert_eq!(
                    (got.kind.as_str(), got.region.as_deref(), got.partition),
                    (kind, Some(region.as_str()), Some(partition)),
                    "{host}"
                );
            }
        }
    }
}
