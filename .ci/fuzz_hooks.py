"""schemathesis hooks for .ci/fuzz.py: the credentials of a fuzzing run.

TENPO_FUZZ_AUTH=staff signs in as the demo owner (TENPO_FUZZ_BASE) and signs in again whenever
an answer is 401, since the fuzzer may end its own session (revoke-sessions with its own id);
TENPO_FUZZ_AUTH=operator sends TENPO_FUZZ_OPERATOR_TOKEN. Storefront routes go without (their shopper-secured
operations answer 401, as documented), and so does sign-in itself: its 401s are wrong
credentials, which signing in again would only retry forever.
"""

import json
import os
import urllib.request

import schemathesis


@schemathesis.auth(refresh_interval=60, retry_on=[401]).apply_to(path_regex="^/(admin|platform)/").skip_for(
    path_regex="^/admin/v1/auth/login$"
)
class TenpoAuth:
    def get(self, case, context):
        if os.environ["TENPO_FUZZ_AUTH"] == "operator":
            return os.environ["TENPO_FUZZ_OPERATOR_TOKEN"]
        body = json.dumps({"store": "demo", "login": "owner@demo.tenpo.test", "password": "tenpo-demo-password"})
        req = urllib.request.Request(f"{os.environ['TENPO_FUZZ_BASE']}/admin/v1/auth/login", data=body.encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.load(res)["token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
