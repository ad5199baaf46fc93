"""Check pip's --dry-run --report of a plain `pip install .`: it resolved, ppdata is in it,
and the mirror's test server (moto and what it drags in) is not."""

from __future__ import annotations

import json
import sys

MIRROR_ONLY = {"moto", "werkzeug", "flask", "docker", "cfn-lint", "sympy", "boto3"}

report = json.load(open(sys.argv[1]))
names = {item["metadata"]["name"].lower() for item in report["install"]}
if "ppdata" not in names:
    sys.exit("plain install: ppdata itself is not in pip's report")
leaked = sorted(names & MIRROR_ONLY)
if leaked:
    sys.exit(f"plain install pulls in the mirror's dependencies: {', '.join(leaked)}")
print(f"plain install resolves: {len(names)} packages, none of {sorted(MIRROR_ONLY)}")
