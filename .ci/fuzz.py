#!/usr/bin/env python3
"""Fuzzes the HTTP API from outside with schemathesis (PyPI, pinned in .ci/requirements.txt).

Starts `tenpo demo` (a seeded store, its own private PostgreSQL under a temp directory), signs
in as the demo owner, and runs schemathesis over every operation of the served OpenAPI
document: the staff and storefront operations with the owner's token, the operator operations
(/platform/v1) with the operator token (.ci/fuzz_hooks.py). Fails on any 5xx answer and on any answer that does
not match the document (status code, content type, body schema). Prints the operations
fuzzed, the requests made and the 5xx seen.

    .ci/py/bin/python3 .ci/fuzz.py [--binary target/debug/tenpo] [--max-time SECONDS] [--examples N]

Run by .ci/run after `bash .ci/python-tools` and the build; bounded by --max-time per
credential (default 90 s each).
"""

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMATHESIS = os.path.join(ROOT, ".ci", "py", "bin", "schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
DEMO_STORE, DEMO_LOGIN, DEMO_PASSWORD = "demo", "owner@demo.tenpo.test", "tenpo-demo-password"
# Every operation is fuzzed, sign-in with made-up credentials and the ones that end the fuzzer's
# own session or member included: the hooks sign in again, or as a new owner the operator adds.


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url, body=None, token=None):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode())
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.load(res)


def start(binary, work, port, operator_token):
    # the fuzzer signs in with made-up credentials from one address thousands of times; locking
    # that address would refuse the hooks' own sign-in (429) for the rest of the run
    env = dict(os.environ, TENPO_DATA_DIR=os.path.join(work, "data"), TENPO_OPERATOR_TOKEN=operator_token,
               TENPO_LOG="warn", TENPO_LOGIN_MAX_FAILURES_PER_ADDRESS="1000000000",
               TENPO_LOGIN_MAX_FAILURES_PER_ACCOUNT="1000000000")
    env.pop("DATABASE_URL", None)
    env.pop("TENPO_CONFIG", None)
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([binary, "demo", "--listen", f"127.0.0.1:{port}"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(360):
        if server.poll() is not None:
            sys.exit(f"fuzz: the server exited at start:\n{open(log.name).read()}")
        try:
            urllib.request.urlopen(f"{base}/readyz", timeout=2)
            return server, base
        except OSError:
            time.sleep(0.5)
    server.terminate()
    sys.exit("fuzz: the server did not start")


def run(label, schema, base, auth, operator_token, store, filters, args, reports):
    """One schemathesis run with the credentials `auth` names (.ci/fuzz_hooks.py); answers
    (exit code, its JSON report path, its HAR path)."""
    os.makedirs(reports, exist_ok=True)
    har, report = os.path.join(reports, f"{label}.har"), os.path.join(reports, f"{label}.json")
    cmd = [SCHEMATHESIS, "run", schema, "--url", base,
           "--checks", CHECKS, "--workers", "1", "--max-examples", str(args.examples),
           "--max-time", str(args.max_time), "--phases", "examples,coverage,fuzzing",
           "--seed", str(args.seed), "--request-timeout", "30", "--suppress-health-check", "all",
           "--no-shrink", "--report", "har,json", "--report-har-path", har, "--report-json-path", report,
           "--output-truncate", "true", *filters]
    print(f"fuzz: {label}: {' '.join(cmd[2:])}", flush=True)
    env = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz_hooks", TENPO_FUZZ_AUTH=auth, TENPO_FUZZ_BASE=base,
               TENPO_FUZZ_OPERATOR_TOKEN=operator_token, TENPO_FUZZ_TENANT=store["tenant_id"],
               TENPO_FUZZ_STORE=store["id"], TENPO_FUZZ_TAKEOVERS=os.path.join(reports, f"{label}.owners"),
               PYTHONPATH=os.pathsep.join([os.path.join(ROOT, ".ci"), os.environ.get("PYTHONPATH", "")]))
    started = time.time()
    code = subprocess.run(cmd, cwd=reports, env=env).returncode
    print(f"fuzz: {label}: schemathesis exited {code} after {time.time() - started:.0f} s", flush=True)
    return code, report, har


def tally(har, ops):
    """(requests, 5xx answers, operations never called) from a HAR file; `ops` are the
    (method, path template) pairs of the run."""
    try:
        entries = json.load(open(har))["log"]["entries"]
    except (OSError, ValueError, KeyError):
        entries = []
    fives = [e for e in entries if e["response"]["status"] >= 500]
    for e in fives[:10]:
        print(f"fuzz: 5xx: {e['response']['status']} {e['request']['method']} {e['request']['url']}")
    # a request belongs to the matching template with the fewest parameters
    # (/admin/v1/orders/export before /admin/v1/orders/{order_id})
    patterns = sorted(((m, re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(t)) + "$"), t) for m, t in ops),
                      key=lambda o: o[2].count("{"))
    called = set()
    for e in entries:
        method, path = e["request"]["method"].lower(), urllib.parse.urlsplit(e["request"]["url"]).path
        for m, pattern, template in patterns:
            if m == method and pattern.match(path):
                called.add((m, template))
                break
    return len(entries), len(fives), sorted(set(ops) - called)


def operations(schema_path, platform):
    """The (method, path template) pairs of the staff and storefront run, or the operator's."""
    doc = json.load(open(schema_path))
    return [(m, path) for path, ops in doc["paths"].items() if path.startswith("/platform/") == platform
            for m in ops if m in ("get", "put", "post", "patch", "delete")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "tenpo"))
    p.add_argument("--max-time", type=int, default=90, help="seconds per credential")
    p.add_argument("--examples", type=int, default=25, help="test cases per operation at most")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--keep", action="store_true", help="keep the reports and the server log")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="tenpo-fuzz.")
    os.chmod(work, 0o755)  # the private cluster runs as the postgres user when we are root
    operator_token = secrets.token_hex(24)
    server, base = start(args.binary, work, free_port(), operator_token)
    failed = []
    try:
        schema = os.path.join(work, "openapi.json")
        with urllib.request.urlopen(f"{base}/openapi.json", timeout=10) as res, open(schema, "wb") as out:
            out.write(res.read())
        # the demo owner can sign in (the hooks sign in the same way)
        store = call(f"{base}/admin/v1/auth/login",
                     {"store": DEMO_STORE, "login": DEMO_LOGIN, "password": DEMO_PASSWORD})["store"]
        reports = os.path.join(work, "reports")
        totals = {"operations": 0, "requests": 0, "5xx": 0}
        for label, auth, filters, platform in [
            ("staff+storefront", "staff", ["--exclude-path-regex", "^/platform/"], False),
            ("operator", "operator", ["--include-path-regex", r"^/platform/"], True),
        ]:
            code, _, har = run(label, schema, base, auth, operator_token, store, filters, args, reports)
            ops = operations(schema, platform)
            requests, fives, uncalled = tally(har, ops)
            for m, t in uncalled:
                print(f"fuzz: {label}: never called: {m.upper()} {t}")
            try:
                owners = len(open(os.path.join(reports, f"{label}.owners")).read().split())
            except OSError:
                owners = 0
            print(f"fuzz: {label}: {len(ops) - len(uncalled)} of {len(ops)} operations called, {requests} requests, {fives} answered 5xx"
                  + (f" ({owners} new owners after the fuzzer locked out its own)" if owners else ""), flush=True)
            totals["operations"] += len(ops) - len(uncalled)
            totals["requests"] += requests
            totals["5xx"] += fives
            if code != 0 or fives or uncalled:
                failed.append(label)
        if server.poll() is not None:
            failed.append("the server died")
        print(f"fuzz: total: {totals['operations']} operations fuzzed, {totals['requests']} requests, "
              f"{totals['5xx']} answered 5xx", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if failed or args.keep:
            print(f"fuzz: reports and server log kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit(f"fuzz: FAILED: {', '.join(failed)}")
    print("fuzz: no 5xx, every answer matches the document")


if __name__ == "__main__":
    main()
