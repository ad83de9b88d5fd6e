"""schemathesis hooks for .ci/fuzz.py: the credentials of a fuzzing run.

TENPO_FUZZ_AUTH=operator sends TENPO_FUZZ_OPERATOR_TOKEN. TENPO_FUZZ_AUTH=staff signs in as the
demo owner (TENPO_FUZZ_BASE) and signs in again whenever an answer is 401: every operation is
fuzzed, so the fuzzer ends its own session (logout, logout-all, revoke-sessions with its own id)
and may also disable, demote or delete its own member or change its password. When signing in
as the current member fails (or it is no longer an owner), the operator API adds a new owner to
the demo store (TENPO_FUZZ_TENANT, TENPO_FUZZ_STORE) and the run goes on as that one; each new
owner is listed in the file TENPO_FUZZ_TAKEOVERS, so the run can report them.

Storefront routes go without (their shopper-secured operations answer 401, as documented), and so
does sign-in itself: its 401s are wrong credentials, which signing in again would only retry
forever.
"""

import json
import os
import secrets
import threading
import urllib.error
import urllib.request

import schemathesis

_lock = threading.Lock()
_member = {"login": "owner@demo.tenpo.test", "password": "tenpo-demo-password"}


def _post(path, body, token=None):
    req = urllib.request.Request(f"{os.environ['TENPO_FUZZ_BASE']}{path}", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.load(res)


def _sign_in():
    """A token of the current member while it is still an owner (None once it is not)."""
    login = _post("/admin/v1/auth/login", {"store": "demo", **_member})
    return login["token"] if login["staff"]["role"] == "owner" else None


def _new_owner():
    """A new owner of the demo store, added by the operator; the fuzzer goes on as that one."""
    login = f"fuzz-{secrets.token_hex(4)}@demo.tenpo.test"
    password = secrets.token_hex(12)
    _post(f"/platform/v1/tenants/{os.environ['TENPO_FUZZ_TENANT']}/stores/{os.environ['TENPO_FUZZ_STORE']}/staff",
          {"email": login, "password": password, "role": "owner"}, os.environ["TENPO_FUZZ_OPERATOR_TOKEN"])
    _member.update(login=login, password=password)
    with open(os.environ["TENPO_FUZZ_TAKEOVERS"], "a") as f:
        f.write(f"{login}\n")


@schemathesis.auth(refresh_interval=60, retry_on=[401]).apply_to(path_regex="^/(admin|platform)/").skip_for(
    path_regex="^/admin/v1/auth/login$"
)
class TenpoAuth:
    def get(self, case, context):
        if os.environ["TENPO_FUZZ_AUTH"] == "operator":
            return os.environ["TENPO_FUZZ_OPERATOR_TOKEN"]
        with _lock:
            try:
                token = _sign_in()
                if token:
                    return token
            except urllib.error.HTTPError as e:
                if e.code != 401:
                    raise
            # the fuzzer disabled, deleted, demoted or re-passworded its own member
            _new_owner()
            return _sign_in()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"

