#!/usr/bin/env python3
"""Golden vectors for rds_iam::token, made by botocore (an independent SigV4 implementation).

Pinned: botocore 1.43.11 (the version these JSON files were generated with).

How to run (from this directory):

    pip install botocore==1.43.11
    python3 generate.py rds > rds_tokens.json
    python3 generate.py dsql > dsql_tokens.json

What it calls: botocore's real token generators, unchanged:
  * RDS:  client("rds").generate_db_auth_token(DBHostname, Port, DBUsername, Region)
  * DSQL: client("dsql").generate_db_connect_auth_token(Hostname, Region, ExpiresIn)
          client("dsql").generate_db_connect_admin_auth_token(Hostname, Region, ExpiresIn)
with fixed, made-up credentials (no network access, no real account).

How the time is frozen: botocore's SigV4 signer (botocore.auth.SigV4Auth.add_auth and
SigV4QueryAuth, which the presigners use) reads the clock through the name
`get_current_datetime` imported into the `botocore.auth` module (defined in botocore.compat,
it returns a naive UTC datetime). We patch `botocore.auth.get_current_datetime` with
unittest.mock to return the case's instant, and check that the token's X-Amz-Date matches it,
so the script fails loudly if a future botocore reads the clock elsewhere.

Output: one JSON object with an "origin" note, the botocore version and a list of cases.
Each case has its inputs (host, port or action/expires_in, user, region, credentials, the
signing instant as RFC 3339 text, Unix seconds and sub-second nanoseconds) and the expected
token, byte for byte.
"""

import datetime
import json
import sys
from unittest import mock

import botocore
import botocore.auth
import botocore.session

PINNED_BOTOCORE = "1.43.11"

# Made-up credentials. The secret is AWS's documented example secret; nothing here is real.
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
AKID_2 = "ASIAQEXAMPLE7TEMPKEY"
SECRET_2 = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
# A session token with '/', '+' and '=' (all of which must be percent-encoded).
SESSION_SLASH_PLUS_EQ = "FwoGZXIvYXdzEBYaDH/example+session/token+with/slashes==plus=eq"
SESSION_PLAIN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENabc123"

CREDS = {
    "static": (AKID, SECRET, None),
    "session_slash_plus_eq": (AKID_2, SECRET_2, SESSION_SLASH_PLUS_EQ),
    "session_plain": (AKID_2, SECRET_2, SESSION_PLAIN),
}


def instant(text):
    """Parse 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z' into an aware UTC datetime."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)


def frozen(at):
    naive_utc = at.replace(tzinfo=None)
    return mock.patch("botocore.auth.get_current_datetime", return_value=naive_utc)


def time_fields(at_text):
    at = instant(at_text)
    delta = at - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    seconds = delta.days * 86400 + delta.seconds
    return at, {"at": at_text, "at_unix": seconds, "at_nanos": delta.microseconds * 1000}


def check_date(token, at):
    expected = "X-Amz-Date=" + at.strftime("%Y%m%dT%H%M%SZ")
    if expected not in token:
        sys.exit(f"clock patch did not take effect: {expected} not in {token}")


def client(session, service, creds):
    akid, secret, session_token = CREDS[creds]
    return session.create_client(
        service,
        region_name="us-east-1",
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        aws_session_token=session_token,
    )


def cred_fields(creds):
    akid, secret, session_token = CREDS[creds]
    return {
        "access_key_id": akid,
        "secret_access_key": secret,
        "session_token": session_token,
    }


# (name, host, port, user, region, credentials, at)
RDS_CASES = [
    ("basic_postgres", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("basic_mysql", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 3306,
     "harness_iam_user", "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("session_token_slash_plus_eq", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
     5432, "harness_iam_user", "us-east-1", "session_slash_plus_eq", "2024-02-29T12:34:56Z"),
    ("session_token_plain", "instance-1.c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com", 3306,
     "app_user", "eu-west-1", "session_plain", "2025-06-30T08:00:00Z"),
    ("user_with_space", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "name with space", "us-east-1", "static", "2024-03-01T00:00:00Z"),
    ("user_with_plus", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "a+b", "us-east-1", "static", "2024-03-01T00:00:00Z"),
    ("user_with_at", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 3306,
     "user@corp", "us-east-1", "session_plain", "2024-03-01T00:00:00Z"),
    ("user_non_ascii", "mydb.cluster-c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com", 5432,
     "ünï", "eu-west-1", "static", "2024-03-01T00:00:00Z"),
    ("user_slash_semi_amp_eq", "mydb.cluster-c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com", 5432,
     "sl/ash;semi&amp=eq", "eu-west-1", "session_slash_plus_eq", "2024-03-01T00:00:00Z"),
    ("user_unreserved_kept", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "Az09-_.~", "us-east-1", "static", "2024-03-01T00:00:00Z"),
    ("user_cjk", "mydb.cluster-c1a2b3c4d5e6.ap-northeast-1.rds.amazonaws.com", 5432,
     "日本語ユーザー", "ap-northeast-1", "static", "2024-03-01T00:00:00Z"),
    ("user_emoji", "mydb.cluster-c1a2b3c4d5e6.us-west-2.rds.amazonaws.com", 3306,
     "db😀user", "us-west-2", "static", "2024-03-01T00:00:00Z"),
    ("user_percent_and_quotes", "mydb.cluster-c1a2b3c4d5e6.us-west-2.rds.amazonaws.com", 5432,
     "p%41ct'\"q", "us-west-2", "static", "2024-03-01T00:00:00Z"),
    ("user_reserved_gen_delims", "mydb.cluster-c1a2b3c4d5e6.us-west-2.rds.amazonaws.com", 5432,
     ":/?#[]@!$&'()*+,;=", "us-west-2", "static", "2024-03-01T00:00:00Z"),
    ("user_tab_and_newline", "mydb.cluster-c1a2b3c4d5e6.us-west-2.rds.amazonaws.com", 5432,
     "tab\there\nnl", "us-west-2", "static", "2024-03-01T00:00:00Z"),
    ("user_long", "mydb.cluster-c1a2b3c4d5e6.us-west-2.rds.amazonaws.com", 5432,
     "u" * 63, "us-west-2", "static", "2024-03-01T00:00:00Z"),
    ("user_uppercase", "mydb.cluster-c1a2b3c4d5e6.us-west-2.rds.amazonaws.com", 3306,
     "IAM_Admin", "us-west-2", "static", "2024-03-01T00:00:00Z"),
    ("region_ap_southeast_2", "prod.cluster-ro-c1a2b3c4d5e6.ap-southeast-2.rds.amazonaws.com",
     5432, "harness_iam_user", "ap-southeast-2", "static", "2024-07-15T09:10:11Z"),
    ("region_cn_north_1", "mydb.cluster-c1a2b3c4d5e6.rds.cn-north-1.amazonaws.com.cn", 5432,
     "harness_iam_user", "cn-north-1", "static", "2024-07-15T09:10:11Z"),
    ("region_cn_northwest_1_mysql", "mydb.c1a2b3c4d5e6.rds.cn-northwest-1.amazonaws.com.cn",
     3306, "app_user", "cn-northwest-1", "session_slash_plus_eq", "2024-07-15T09:10:11Z"),
    ("region_us_gov_west_1", "mydb.cluster-c1a2b3c4d5e6.us-gov-west-1.rds.amazonaws.com",
     5432, "harness_iam_user", "us-gov-west-1", "static", "2024-07-15T09:10:11Z"),
    ("region_us_gov_east_1", "mydb.c1a2b3c4d5e6.us-gov-east-1.rds.amazonaws.com", 3306,
     "gov user", "us-gov-east-1", "session_plain", "2024-07-15T09:10:11Z"),
    ("region_eu_central_1_proxy", "myproxy.proxy-c1a2b3c4d5e6.eu-central-1.rds.amazonaws.com",
     5432, "harness_iam_user", "eu-central-1", "static", "2024-07-15T09:10:11Z"),
    ("region_sa_east_1", "mydb.c1a2b3c4d5e6.sa-east-1.rds.amazonaws.com", 3306,
     "harness_iam_user", "sa-east-1", "static", "2024-07-15T09:10:11Z"),
    ("region_me_central_1", "mydb.c1a2b3c4d5e6.me-central-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "me-central-1", "static", "2024-07-15T09:10:11Z"),
    ("region_il_central_1_custom_endpoint",
     "analytics.cluster-custom-c1a2b3c4d5e6.il-central-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "il-central-1", "static", "2024-07-15T09:10:11Z"),
    ("port_443", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 443,
     "harness_iam_user", "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("port_443_session_token", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 443,
     "name with space", "us-east-1", "session_slash_plus_eq", "2024-02-29T12:34:56Z"),
    ("port_65535", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 65535,
     "harness_iam_user", "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("port_1", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 1,
     "harness_iam_user", "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("port_80", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 80,
     "harness_iam_user", "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("host_mixed_case", "MyDB.Cluster-C1A2B3C4D5E6.US-EAST-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("host_ipv4", "10.0.12.34", 5432, "harness_iam_user", "us-east-1", "static",
     "2024-02-29T12:34:56Z"),
    ("host_ipv6", "[fd00:ec2::254]", 3306, "harness_iam_user", "us-east-1", "static",
     "2024-02-29T12:34:56Z"),
    ("host_localhost", "localhost", 15432, "harness_iam_user", "us-east-1", "session_plain",
     "2024-02-29T12:34:56Z"),
    ("time_epoch", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "1970-01-01T00:00:00Z"),
    ("time_midnight_new_year", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "2025-01-01T00:00:00Z"),
    ("time_leap_day_midnight", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "2024-02-29T00:00:00Z"),
    ("time_leap_day_last_second", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
     3306, "harness_iam_user", "us-east-1", "session_slash_plus_eq", "2024-02-29T23:59:59Z"),
    ("time_leap_century_2000", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "2000-02-29T06:07:08Z"),
    ("time_y2k_eve", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "1999-12-31T23:59:59Z"),
    ("time_after_i32_overflow", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "2038-01-19T03:14:08Z"),
    ("time_2040", "mydb.cluster-c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "eu-west-1", "session_slash_plus_eq", "2040-07-04T18:30:00Z"),
    ("time_2100_not_leap", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 3306,
     "harness_iam_user", "us-east-1", "static", "2100-03-01T00:00:00Z"),
    ("time_year_9999", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", 5432,
     "harness_iam_user", "us-east-1", "static", "9999-12-31T23:59:59Z"),
    ("time_subsecond_truncated", "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
     5432, "harness_iam_user", "us-east-1", "static", "2024-05-05T05:05:05.999999Z"),
]

# (name, host, action, expires_in, region, credentials, at)
DSQL_CASES = [
    ("connect_default_expiry", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", "DbConnect",
     900, "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("admin_default_expiry", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws",
     "DbConnectAdmin", 900, "us-east-1", "static", "2024-02-29T12:34:56Z"),
    ("connect_one_hour_session", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-2.on.aws",
     "DbConnect", 3600, "us-east-2", "session_slash_plus_eq", "2025-01-01T00:00:00Z"),
    ("admin_one_week", "abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws", "DbConnectAdmin",
     604800, "eu-west-1", "session_plain", "2040-07-04T18:30:00Z"),
    ("connect_one_week", "abcdefghijklmnopqrstuvwxyz.dsql.ap-northeast-1.on.aws", "DbConnect",
     604800, "ap-northeast-1", "static", "2024-02-29T00:00:00Z"),
    ("admin_one_second", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", "DbConnectAdmin",
     1, "us-east-1", "static", "2024-02-29T23:59:59Z"),
    ("connect_mixed_case_host", "ABCdefghijklmnopqrstuvwxyz.DSQL.us-east-1.on.aws", "DbConnect",
     900, "us-east-1", "session_plain", "2038-01-19T03:14:08Z"),
    ("admin_eu_central_1", "abcdefghijklmnopqrstuvwxyz.dsql.eu-central-1.on.aws",
     "DbConnectAdmin", 3600, "eu-central-1", "static", "2030-12-31T23:59:59Z"),
]


def rds_vectors(session):
    cases = []
    for name, host, port, user, region, creds, at_text in RDS_CASES:
        at, times = time_fields(at_text)
        rds = client(session, "rds", creds)
        with frozen(at):
            token = rds.generate_db_auth_token(host, port, user, Region=region)
        check_date(token, at)
        cases.append({"name": name, "host": host, "port": port, "user": user,
                      "region": region, **cred_fields(creds), **times, "token": token})
    return cases


def dsql_vectors(session):
    cases = []
    for name, host, action, expires_in, region, creds, at_text in DSQL_CASES:
        at, times = time_fields(at_text)
        dsql = client(session, "dsql", creds)
        with frozen(at):
            if action == "DbConnect":
                token = dsql.generate_db_connect_auth_token(host, region, expires_in)
            else:
                token = dsql.generate_db_connect_admin_auth_token(host, region, expires_in)
        check_date(token, at)
        cases.append({"name": name, "host": host, "action": action, "expires_in": expires_in,
                      "region": region, **cred_fields(creds), **times, "token": token})
    return cases


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("rds", "dsql"):
        sys.exit("usage: python3 generate.py rds|dsql > FILE.json")
    kind = sys.argv[1]
    if botocore.__version__ != PINNED_BOTOCORE:
        sys.exit(f"botocore {botocore.__version__} installed; run "
                 f"`pip install botocore=={PINNED_BOTOCORE}` first")
    session = botocore.session.get_session()
    if kind == "rds":
        call = "rds client generate_db_auth_token"
        cases = rds_vectors(session)
    else:
        call = ("dsql client generate_db_connect_auth_token / "
                "generate_db_connect_admin_auth_token")
        cases = dsql_vectors(session)
    doc = {
        "origin": (f"Generated by tests/data/token_vectors/generate.py with botocore "
                   f"{botocore.__version__} ({call}), clock frozen by patching "
                   "botocore.auth.get_current_datetime; fixed made-up credentials. "
                   "Do not edit by hand: change generate.py and rerun it."),
        "botocore_version": botocore.__version__,
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
