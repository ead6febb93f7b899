#!/usr/bin/env bash
# Proves that two builds of llm-contract behave the same: runs the same offline runs with OLD_BIN
# and NEW_BIN and fails (exit 1, with a unified diff) when any output differs once normalised.
#
# Runs (each against the recorded endpoint the binary starts itself on 127.0.0.1, --time-scale 0):
#   suite    the repository's suite (contracts/, fixtures/): exit 0
#   faults   the fault catalogue (tests/faults/): exit 1 by design
#   litellm  the LiteLLM replay (fixtures/litellm/): exit 1 (its deviations fail their cases);
#            scripts/litellm-check.py must accept each side's report (it really replays)
#   mixed    the suite edited as scripts/check-reports.sh edits it (happy_path fails, invalid_role
#            errors, missing_model is skipped), in a temporary copy per side: exit 1
# Compared per run: the four files of reports/latest/ (junit.xml, report.json, summary.md,
# index.html), the exit code, stdout and stderr. The expected exit codes and, for litellm and
# mixed, the verdicts are checked too: a baseline that does not behave as expected exits 2.
#
# Normalised (run-to-run noise, not behaviour): run ids (20261121T223501Z-3fa9c1), RFC 3339
# timestamps and dates (and fixture ages in days), the recorded endpoint's port, the temporary
# directory, the <n> of client request ids (llmc-<run-id>-<n>: cases run concurrently, so n
# follows arrival), every timing figure (latency_ms, ttfb_ms, first_token_ms, max_gap_ms, case_ms,
# the task's counted_ms, the jittered retry_waits_ms, "x.y ms" in texts, a remaining deadline,
# JUnit time= attributes and timing properties, HTML table cells, chart bar widths, label
# positions and axis ticks, which scale with the slowest case), and stdout's order of cases (a
# case line and its indented details are one block; blocks are sorted). report.json is normalised
# as parsed JSON by key name and printed with sorted keys; the others by regular expressions.
# Kept: verdicts, classes, statuses, reasons, failure texts, notes, counts, retries, drift labels,
# configured limits ("the idle limit of 300 ms"), which timing fields are null, the cases' order.
#
# Usage: scripts/compare-reports.sh OLD_BIN NEW_BIN
#   COMPARE_REPORTS_SELFTEST=1: perturbs the NEW side's mixed suite (missing_auth expects 403),
#   so the comparison must fail. COMPARE_REPORTS_KEEP=1 keeps the outputs (raw and normalised).
#   Needs bash, python3 and diff; builds nothing.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 OLD_BIN NEW_BIN" >&2; exit 2; }
abs() { if [[ $1 == /* ]]; then echo "$1"; else echo "$PWD/$1"; fi; }
declare -A bin=([old]=$(abs "$1") [new]=$(abs "$2"))
for b in "${bin[@]}"; do [[ -x $b ]] || { echo "compare-reports: $b is not an executable" >&2; exit 2; }; done
cd "$(dirname "$0")/.."
start=${EPOCHREALTIME/,/.}
work=$(mktemp -d)
trap 'if [[ ${COMPARE_REPORTS_KEEP:-0} == 1 ]]; then echo "compare-reports: kept $work" >&2; else rm -rf "$work"; fi' EXIT

cat >"$work/norm.py" <<'EOF'
import json, re, sys
RUN_ID = r"\d{8}T\d{6}Z-[0-9a-f]{6}"
TEXT = [
    (RUN_ID, "{RUN-ID}"),
    (r"llmc-\{RUN-ID\}-\d+", "llmc-{RUN-ID}-{N}"),
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "{TIME}"),
    (r"\b\d{4}-\d{2}-\d{2}\b", "{DATE}"),
    (r"\b\d+ days old", "{N} days old"),
    (r"127\.0\.0\.1:\d+", "127.0.0.1:{PORT}"),
    (r" *\b\d+\.\d+ ms\b", " {T} ms"),
    (r"remaining deadline \(\d+ ms\)", "remaining deadline ({T} ms)"),
    (r"with \d+ ms counted", "with {T} ms counted"),
]
PER_FILE = {
    "junit.xml": [
        (r'\btime="[0-9.]+"', 'time="{T}"'),
        (r'(<property name="(?:latency|ttfb|first_token|case)_ms" value=")[0-9.]+"', r'\1{T}"'),
    ],
    "index.html": [
        (r'<td class="num">\d+\.\d+</td>', '<td class="num">{T}</td>'),
        (r'(<rect class="bar-[a-z]+"[^>]*? width=")[0-9.]+"', r'\1{W}"'),
        (r'(<text class="val" x=")[0-9.]+"', r'\1{X}"'),
        (r'(<text class="tick"[^>]*>)[^<]*(</text>)', r"\1{T} ms\2"),
    ],
    "summary.md": [(r"\| \d+\.\d+ \|$", "| {T} |")],
}
TIMING = {"latency_ms", "ttfb_ms", "first_token_ms", "max_gap_ms", "case_ms", "counted_ms", "retry_waits_ms"}

def text(s, root, extra=()):
    s = s.replace(root, "{TMP}")
    for pat, rep in list(extra) + TEXT:
        s = re.sub(pat, rep, s, flags=re.M)
    return s

def walk(v, root):
    if isinstance(v, dict):
        return {k: (timing(x) if k in TIMING else walk(x, root)) for k, x in v.items()}
    if isinstance(v, list):
        return [walk(x, root) for x in v]
    return text(v, root) if isinstance(v, str) else v

def timing(v):  # keep null and the length of a list, not the figures
    if isinstance(v, list):
        return ["{T}" for _ in v]
    return "{T}" if isinstance(v, (int, float)) and not isinstance(v, bool) else v

def blocks(s):  # stdout: a case line and its indented details are one block; blocks sorted
    head, cases, tail = [], [], []
    for line in s.splitlines():
        if re.match(r"(PASS|FAIL|ERROR|SKIP) ", line):
            cases.append([line])
        elif line.startswith("      ") and cases and not tail:
            cases[-1].append(line)
        else:
            (tail if cases else head).append(line)
    return "\n".join(head + ["\n".join(b) for b in sorted(cases)] + tail) + "\n"

def main(out, root, want):
    for name in ["junit.xml", "report.json", "summary.md", "index.html", "stdout", "stderr"]:
        src = f"{out}/{name}" if name in ("stdout", "stderr") else f"{out}/reports/latest/{name}"
        try:
            raw = open(src, encoding="utf-8").read()
        except FileNotFoundError:
            raw = f"<{name} missing>\n"
        if name == "report.json" and not raw.startswith("<"):
            raw = json.dumps(walk(json.loads(raw), root), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        else:
            raw = text(raw, root, PER_FILE.get(name, ()))
        if name == "index.html":  # an element a line: a readable diff
            raw = raw.replace("><", ">\n<")
        if name == "stdout":
            raw = blocks(raw)
        open(f"{out}/norm/{name}", "w", encoding="utf-8").write(raw)
    # Sanity: a recorded run of at least one case, with the verdicts the run is made for.
    problems = []
    try:
        r = json.load(open(f"{out}/reports/latest/report.json"))
        verdicts = {c["verdict"] for c in r["cases"]}
        if r.get("mode") != "recorded" or not r["cases"]:
            problems.append(f"mode {r.get('mode')}, {len(r['cases'])} case(s)")
        if want and not set(want.split(",")) <= verdicts:
            problems.append(f"verdicts {sorted(verdicts)}, expected at least {want}")
        print(f"{len(r['cases'])} cases")
    except (OSError, ValueError, KeyError) as e:
        problems.append(f"no readable report.json ({e})")
    if problems:
        print("; ".join(problems), file=sys.stderr)
        sys.exit(1)

main(*sys.argv[1:])
EOF

# The mixed suite, as scripts/check-reports.sh makes it; $2=1 perturbs it (the self-test).
make_mixed() {
  mkdir -p "$1"
  cp -r contracts fixtures "$1/"
  sed -i 's/^  status: 200$/  status: 201/' "$1/contracts/chat_completions/happy_path.yaml"
  printf 'skip:\n  missing_model: skipped to check the reports\n' >>"$1/contracts/targets/cometapi.yaml"
  python3 -c 'import json, sys; p = sys.argv[1]; doc = json.load(open(p)); doc["response"] = {"reset_before_headers": True}
json.dump(doc, open(p, "w"), indent=2)' "$1/fixtures/cometapi/invalid_role.json"
  if [[ $2 == 1 ]]; then sed -i 's/^  status: 401$/  status: 403/' "$1/contracts/chat_completions/missing_auth.yaml"; fi
}

bad=0     # 1: a difference; 2: a side did not behave as the run expects
sanity() { # side, run, message
  echo "compare-reports: $2 ($1 side): $3" >&2
  if [[ $1 == old && $bad -lt 2 ]]; then bad=2; elif [[ $bad == 0 ]]; then bad=1; fi
}

# One run on one side: side, binary, run name, expected exit code, verdicts wanted, run arguments.
run_side() {
  local side=$1 bin=$2 name=$3 want=$4 verdicts=$5 rc=0 cases
  shift 5
  local out="$work/$side/$name"
  mkdir -p "$out/norm"
  "$bin" run "$@" --reports "$out/reports" >"$out/stdout" 2>"$out/stderr" || rc=$?
  echo "exit code $rc" >"$out/norm/exit_code"
  cases=$(python3 "$work/norm.py" "$out" "$work/$side" "$verdicts" 2>"$out/sanity") ||
    sanity "$side" "$name" "$(cat "$out/sanity")"
  [[ $rc == "$want" ]] || sanity "$side" "$name" "exited $rc, expected $want"
  if [[ $name == litellm ]] && ! python3 scripts/litellm-check.py "$out/reports/latest/report.json" >"$out/litellm-check" 2>&1; then
    sanity "$side" "$name" "scripts/litellm-check.py: $(tail -n 1 "$out/litellm-check")"
  fi
  echo "${cases:-? cases}, exit code $rc" >"$out/what"
}

make_mixed "$work/old/mixed-suite" 0
make_mixed "$work/new/mixed-suite" "${COMPARE_REPORTS_SELFTEST:-0}"
if [[ ${COMPARE_REPORTS_SELFTEST:-0} == 1 ]]; then
  echo "compare-reports: self-test: the new side's mixed suite expects 403 from missing_auth"
fi

faults=(--contracts tests/faults/contracts --fixtures tests/faults/fixtures --schemas contracts/schemas)
for side in old new; do
  b=${bin[$side]} mixed="$work/$side/mixed-suite"
  run_side "$side" "$b" suite 0 "" --time-scale 0
  run_side "$side" "$b" faults 1 "" "${faults[@]}" --time-scale 0
  run_side "$side" "$b" litellm 1 "" --target litellm --time-scale 0
  run_side "$side" "$b" mixed 1 pass,fail,error,skip --contracts "$mixed/contracts" --fixtures "$mixed/fixtures" --time-scale 0
done

for name in suite faults litellm mixed; do
  a="$work/old/$name/norm" b="$work/new/$name/norm" differ=()
  for f in exit_code stdout stderr junit.xml report.json summary.md index.html; do
    if ! diff -q "$a/$f" "$b/$f" >/dev/null; then differ+=("$f"); fi
  done
  if [[ ${#differ[@]} == 0 ]]; then
    echo "identical: $name ($(cat "$work/old/$name/what"); exit code, stdout, stderr and the four reports)"
    continue
  fi
  echo "DIFFERENT: $name (old: $(cat "$work/old/$name/what"); new: $(cat "$work/new/$name/what")): ${differ[*]}"
  for f in "${differ[@]}"; do
    diff -u --label "old/$name/$f" --label "new/$name/$f" "$a/$f" "$b/$f" || true
  done
  if [[ $bad == 0 ]]; then bad=1; fi
done
secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "${EPOCHREALTIME/,/.}")
case $bad in
  0) echo "compare-reports: identical, 4 runs, ${secs} s" ;;
  1) echo "compare-reports: the two binaries' outputs differ (${secs} s)" ;;
  *) echo "compare-reports: the old binary did not behave as the runs expect (${secs} s)" ;;
esac
exit "$bad"
