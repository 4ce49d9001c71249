//! Every fuzz target's body over its seeds, on the stable toolchain: the targets cannot rot
//! between fuzzing runs, and the seeds reach past the first checks.

use rds_iam_fuzz::seeds::{self, TARGETS};
use rds_iam_fuzz::sign_verify::{self, Outcome};
use rds_iam_fuzz::{endpoint, jdbc_url, mysql_wire, pg_wire};

#[test]
fn every_target_passes_its_seeds() {
    for target in TARGETS {
        let seeds = (target.seeds)();
        assert!(!seeds.is_empty(), "{} has no seeds", target.name);
        for seed in &seeds {
            (target.check)(seed);
        }
    }
}

#[test]
fn jdbc_url_seeds_parse_and_fail() {
    let parsed = seeds::jdbc_url()
        .iter()
        .map(|seed| jdbc_url::check(seed))
        .collect::<Vec<_>>();
    assert!(parsed.iter().filter(|&&p| p).count() >= 50, "{parsed:?}");
    assert!(parsed.iter().any(|&p| !p), "no invalid URL among the seeds");
}

#[test]
fn endpoint_seeds_cover_every_kind() {
    let mut kinds: Vec<&str> = seeds::endpoint()
        .iter()
        .filter_map(|seed| endpoint::check(seed))
        .map(|e| e.kind.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), 10, "{kinds:?}");
}

/// Found by fuzzing (a fault of the target, not of `classify`): without its one trailing dot,
/// a name that ends in two is an RDS name again.
#[test]
fn endpoint_names_ending_in_two_dots() {
    let found = endpoint::check(b"db.cluster-ro-abc123.rds.us-iso-east-1.c2s.ic.gov..");
    assert_eq!(found.map(|e| e.kind.as_str()), Some("other"));
}

/// Found by fuzzing (a fault of the target's oracle, not of `classify`): a region that starts
/// with `us-gov-` but has two words before its number is outside GovCloud's region pattern.
#[test]
fn endpoint_gov_prefix_outside_the_gov_pattern() {
    let found = endpoint::check(b"mydb.c120.us-gov-e-central-1.rds.amazonaws.com");
    assert_eq!(
        found.and_then(|e| e.partition).map(|p| p.as_str()),
        Some("aws")
    );
    let found = endpoint::check(b"mydb.c120.us-gov-west-1.rds.amazonaws.com");
    assert_eq!(
        found.and_then(|e| e.partition).map(|p| p.as_str()),
        Some("aws-us-gov")
    );
}

#[test]
fn sign_verify_seeds_are_verified() {
    for vector in seeds::token_vectors() {
        let outcome = sign_verify::check(&vector.request().encode());
        assert_eq!(
            outcome,
            Outcome::Verified,
            "{}:{}",
            vector.host,
            vector.port
        );
        assert_eq!(
            sign_verify::check(vector.token.as_bytes()),
            Outcome::Refused
        );
    }
}

#[test]
fn sign_verify_requests_round_trip() {
    for vector in seeds::token_vectors() {
        let request = vector.request();
        let bytes = request.encode();
        assert_eq!(sign_verify::Request::decode(&bytes), Some(request));
    }
}

#[test]
fn wire_seeds_reach_the_password() {
    for seed in &seeds::pg_wire()[..3] {
        let decoded = pg_wire::check(seed);
        assert!(decoded[0] == "Ok(Some(SslRequest))", "{decoded:?}");
        assert!(decoded[1].starts_with("Ok(Some(Startup("), "{decoded:?}");
        assert!(decoded[2].starts_with("password: Ok(Some(["), "{decoded:?}");
    }
    for seed in &seeds::mysql_wire()[..3] {
        let decoded = mysql_wire::check(seed);
        assert_eq!(decoded.len(), 4, "{decoded:?}");
        assert!(decoded[0].starts_with("ssl_request: true"), "{decoded:?}");
        assert!(decoded[1].contains("response: Some("), "{decoded:?}");
        assert_eq!(decoded[3], "end: Ok(None)", "{decoded:?}");
    }
}
