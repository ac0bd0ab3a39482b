#!/usr/bin/env python3
"""Summarise a py-spy raw (collapsed) profile of `defib serve`: share per thread, per
category (inclusive) and the hottest leaf frames. Usage: hotspots.py PROFILE.txt [N]"""

from __future__ import annotations

import re
import sys
from collections import Counter

IDLE = (
    "Condition.wait",
    "EpollSelector.select",
    "_worker (concurrent",
    "SimpleQueue.get",
    "_notification_listener_polling",
    "Event.wait",
    "sleep",
)
# First matching category wins, checked from the leaf outwards (the innermost owner).
CATEGORIES = [
    ("SQL driver execute (sqlite3/psycopg)", ("do_execute (", "do_executemany", "cursor.py:")),
    ("SQL commit", ("do_commit", "_commit_impl")),
    ("SQLAlchemy Core (build/compile/cache key/result)", ("sqlalchemy/",)),
    (
        "classification (defib/classify, rules)",
        ("defib/classify", "defib/rules", "defib/intake/correlate"),
    ),
    ("payload parsing/validation (defib/intake/formats)", ("defib/intake/formats/",)),
    ("JSON decode (orjson in _json_body)", ("_json_body",)),
    ("auth (token check)", ("defib/auth", "TokenCache", "defib/api/deps")),
    (
        "response model/serialisation (pydantic, fastapi encode)",
        ("pydantic", "serialize_response", "jsonable_encoder", "AlertResultOut", "render ("),
    ),
    (
        "defib service logic (python, outside SQL)",
        (
            "defib/incidents/lifecycle",
            "defib/store",
            "defib/intake/group_commit",
            "defib/intake/pipeline",
        ),
    ),
    (
        "playbook engine / DBOS background",
        (
            "dbos",
            "defib/playbooks",
            "defib/playbooks/engine/worker",
            "defib/playbooks/engine/janitor",
        ),
    ),
    (
        "uvicorn/starlette/fastapi/asyncio plumbing",
        ("uvicorn", "starlette", "fastapi", "anyio", "asyncio"),
    ),
]


def main() -> None:
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    threads: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = idle = 0
    for line in open(path):
        stack, _, n_s = line.rstrip("\n").rpartition(" ")
        n = int(n_s)
        frames = stack.split(";")
        if any(x in frames[-1] for x in IDLE):
            idle += n
            continue
        thread = re.sub(r" ?\(\d+\)", "", frames[0]).replace("thread :", "").strip()
        total += n
        threads[thread] += n
        leaves[frames[-1]] += n
        cat = "other"
        for frame in reversed(frames[1:]):
            hit = next((c for c, keys in CATEGORIES if any(k in frame for k in keys)), None)
            if hit:
                cat = hit
                break
        if frames[-1].startswith("Runner.run") or frames[-1].startswith("run (uvloop"):
            cat = "event loop in C (uvloop/httptools; idle unless --gil)"
        cats[cat] += n
    print(f"{total} busy samples ({idle} idle samples left out)\n")
    print("| thread | share |\n|---|---:|")
    for k, v in threads.most_common(8):
        print(f"| {k} | {100 * v / total:.1f}% |")
    print("\n| where (innermost owner) | share |\n|---|---:|")
    for k, v in cats.most_common():
        print(f"| {k} | {100 * v / total:.1f}% |")
    print("\n| hottest leaf frames | share |\n|---|---:|")
    for k, v in leaves.most_common(top):
        print(f"| `{k}` | {100 * v / total:.1f}% |")


if __name__ == "__main__":
    main()
