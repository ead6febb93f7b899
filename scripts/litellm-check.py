#!/usr/bin/env python3
"""Compare a run's verdicts on the LiteLLM target with contracts/litellm-expected.tsv.

usage: scripts/litellm-check.py [REPORT] [--table TSV] [--target NAME]

REPORT is a report.json or a reports directory (its latest/report.json is read); default
reports/latest/report.json. One line per case: `match`, `known` (the harness gives the answer the
table's `harness` column records for a known harness bug) or `MISMATCH` with what was expected and
what came; `MISSING` for a case on one side only. Exit 0 when every case matches (known harness
bugs included), 1 on any mismatch or missing case, 2 when an input cannot be read.

Standard library only.
"""

import argparse
import csv
import json
import os
import sys

VERDICTS = {"pass", "fail", "error", "skip", "unsupported"}
CLASSES = {
    "ok",
    "fix_request",
    "refresh_credentials",
    "configuration_drift",
    "retry",
    "fall_back",
    "quota",
    "contract_drift",
}
COLUMNS = ["case", "status", "verdict", "class", "harness", "note"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InputError(Exception):
    pass


def read_table(path):
    """Rows of the expected table by case id."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [
                (n, line) for n, line in enumerate(f, 1) if line.strip() and not line.startswith("#")
            ]
    except OSError as e:
        raise InputError(f"{path}: {e}") from e
    if not lines:
        raise InputError(f"{path}: no header line")
    reader = csv.reader((line for _, line in lines), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader)
    if header != COLUMNS:
        raise InputError(f"{path}:{lines[0][0]}: the header must be {' '.join(COLUMNS)} (tab-separated), not {header}")
    rows = {}
    for (n, _), fields in zip(lines[1:], reader):
        where = f"{path}:{n}"
        if len(fields) != len(COLUMNS):
            raise InputError(f"{where}: {len(fields)} columns, {len(COLUMNS)} expected (tab-separated)")
        row = dict(zip(COLUMNS, fields))
        if row["case"] in rows:
            raise InputError(f"{where}: case {row['case']} appears twice")
        if row["verdict"] not in VERDICTS:
            raise InputError(f"{where}: verdict {row['verdict']!r} is not one of {sorted(VERDICTS)}")
        if row["class"] not in CLASSES:
            raise InputError(f"{where}: class {row['class']!r} is not one of {sorted(CLASSES)}")
        if row["status"] != "-" and not row["status"].isdigit():
            raise InputError(f"{where}: status {row['status']!r} is not a number or -")
        row["status"] = None if row["status"] == "-" else int(row["status"])
        known = row["harness"]
        if known == "-":
            row["harness"] = None
        else:
            parts = known.split("/")
            if len(parts) != 2 or parts[0] not in VERDICTS or parts[1] not in CLASSES:
                raise InputError(f"{where}: harness {known!r} must be - or verdict/class, e.g. fail/fix_request")
            row["harness"] = tuple(parts)
        rows[row["case"]] = row
    return rows


def read_report(path, target):
    """The target's outcomes of a report, by case id, and the report's mode."""
    if os.path.isdir(path):
        path = os.path.join(path, "latest", "report.json")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: {e}") from e
    cases = {}
    for c in doc.get("cases", []):
        if c.get("target") != target:
            continue
        cases[c.get("case") or c["id"].split("::", 1)[-1]] = c
    return path, doc.get("mode"), cases


def fmt(status, verdict, cls):
    return f"{'-' if status is None else status} {verdict} {cls}"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", nargs="?", default=os.path.join("reports", "latest", "report.json"))
    ap.add_argument("--table", default=os.path.join(ROOT, "contracts", "litellm-expected.tsv"))
    ap.add_argument("--target", default="litellm")
    args = ap.parse_args(argv)
    try:
        table = read_table(args.table)
        path, mode, cases = read_report(args.report, args.target)
    except InputError as e:
        print(f"litellm-check: {e}", file=sys.stderr)
        return 2

    print(f"litellm-check: {path} ({mode or 'unknown'} run, target {args.target}) against {os.path.relpath(args.table)}")
    width = max(len(c) for c in list(table) + list(cases) + ["case"])
    bad = known = 0
    for case in sorted(set(table) | set(cases)):
        row, got = table.get(case), cases.get(case)
        if row is None:
            bad += 1
            print(f"MISSING   {case:<{width}}  in the report ({fmt(got.get('status'), got.get('verdict'), got.get('class'))}), not in the table")
            continue
        if got is None:
            bad += 1
            print(f"MISSING   {case:<{width}}  in the table, not in the report")
            continue
        status, verdict, cls = got.get("status"), got.get("verdict"), got.get("class")
        want = fmt(row["status"], row["verdict"], row["class"])
        came = fmt(status, verdict, cls)
        same_status = status == row["status"]
        if same_status and (verdict, cls) == (row["verdict"], row["class"]):
            note = "  (harness bug fixed: clear this row's harness column)" if row["harness"] else ""
            print(f"match     {case:<{width}}  {came}{note}")
        elif same_status and row["harness"] == (verdict, cls):
            known += 1
            print(f"known     {case:<{width}}  {came}: a known harness bug; correct is {row['verdict']} {row['class']}")
        else:
            bad += 1
            print(f"MISMATCH  {case:<{width}}  expected {want}, got {came}")
            if row["harness"]:
                print(f"          {'':<{width}}  (or {fmt(row['status'], *row['harness'])} while the harness bug in the table stands)")
            for failure in (got.get("failures") or [])[:4]:
                first = failure.splitlines()[0] if failure else ""
                print(f"          {'':<{width}}  - {first}")
    total = len(set(table) | set(cases))
    print(f"litellm-check: {total - bad} of {total} as expected ({known} known harness bug{'s' if known != 1 else ''}), {bad} not")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
