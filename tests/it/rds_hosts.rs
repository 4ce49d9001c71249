//! Runs `tests/data/rds_hosts.json` through `rds_iam::endpoint::classify`.

use rds_iam::endpoint::classify;
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
