#!/usr/bin/env bash
# Checks the reports of real runs with outside tools:
#   - junit.xml against tests/junit.xsd with xmllint (Debian: libxml2-utils);
#   - index.html in headless Chromium (Debian: chromium): the DOM it builds lists every case of
#     report.json in the table and has one chart mark (data-case) per case and one per target;
#     the per-case chart's axis fits its data (its last tick at or above the slowest case, at
#     most a third beyond); every row has a reason cell holding the start of its case's reason
#     (report.json), one line; a row whose status is not 2xx has no parser outcome;
#     and a screenshot of each page.
# Two runs: the repository's suite edited so that its cases pass, fail, error and skip (10
# cases), and the fault suite (42 cases). Offline; nothing is fetched (the page has no external
# reference, and Chromium runs with its background networking off).
#
# Usage: scripts/check-reports.sh [SCREENSHOT_DIR]   (default: a temporary directory)
# Needs: a built binary (cargo build), python3, xmllint, chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in xmllint chromium python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "check-reports: $tool is missing (apt-get install -y libxml2-utils chromium)" >&2
    exit 1
  fi
done

bin=${LLM_CONTRACT_BIN:-target/debug/llm-contract}
[[ -x $bin ]] || cargo build --locked --quiet
shots=${1:-$(mktemp -d)}
mkdir -p "$shots"
work=$(mktemp -d)
browser_profile=$(mktemp -d)
trap 'rm -rf "$work" "$browser_profile"' EXIT

# The mixed suite: happy_path fails (expects 201), invalid_role errors (its fixture resets the
# connection), missing_model is skipped by the target.
cp -r contracts fixtures "$work/"
sed -i 's/^  status: 200$/  status: 201/' "$work/contracts/chat_completions/happy_path.yaml"
printf 'skip:\n  missing_model: skipped to check the reports\n' >>"$work/contracts/targets/cometapi.yaml"
python3 - "$work/fixtures/cometapi/invalid_role.json" <<'EOF'
import json, sys
p = sys.argv[1]
doc = json.load(open(p))
doc["response"] = {"reset_before_headers": True}
json.dump(doc, open(p, "w"), indent=2)
EOF

run() { # name, expected exit code, run arguments...
  local name=$1 want=$2
  shift 2
  local rc=0
  "$bin" run --time-scale 0 --reports "$work/reports-$name" "$@" >"$work/$name.out" || rc=$?
  if [[ $rc != "$want" ]]; then
    cat "$work/$name.out"
    echo "check-reports: the $name run exited $rc, expected $want" >&2
    exit 1
  fi
}
run mixed 1 --contracts "$work/contracts" --fixtures "$work/fixtures"
run faults 1 --contracts tests/faults/contracts --fixtures tests/faults/fixtures --schemas contracts/schemas

chrome=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --disable-quic --no-first-run
  --user-data-dir="$browser_profile")

for name in mixed faults; do
  latest="$work/reports-$name/latest"
  echo "== $name: junit.xml against tests/junit.xsd"
  xmllint --noout --schema tests/junit.xsd "$latest/junit.xml"

  echo "== $name: index.html in headless Chromium"
  t0=$(date +%s.%N)
  timeout 60 "${chrome[@]}" --dump-dom "file://$latest/index.html" >"$work/$name.dom" 2>"$work/$name.chromium.log" || {
    cat "$work/$name.chromium.log" >&2
    echo "check-reports: chromium failed" >&2
    exit 1
  }
  timeout 60 "${chrome[@]}" --window-size=1280,1800 --hide-scrollbars \
    --screenshot="$shots/index-$name.png" "file://$latest/index.html" >/dev/null 2>>"$work/$name.chromium.log"
  t1=$(date +%s.%N)
  python3 - "$latest/report.json" "$work/$name.dom" <<'EOF'
import json, sys
from html.parser import HTMLParser

report = json.load(open(sys.argv[1]))
ids = [c["id"] for c in report["cases"]]
targets = {c["target"] for c in report["cases"]}

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.marks, self.target_marks, self.rows, self.bars = [], [], [], {}
        self.open_mark = None
        self.svgs, self.ticks, self.in_tick = 0, [], False
        self.cells, self.row_cells, self.cell = {}, None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-case" in a:
            self.marks.append((tag, a["data-case"]))
            self.open_mark = a["data-case"]
        if "data-target" in a:
            self.target_marks.append(a["data-target"])
        if tag == "tr" and "data-id" in a:
            self.rows.append(a["data-id"])
            self.row_cells = self.cells.setdefault(a["data-id"], [])
        if tag == "td" and self.row_cells is not None:
            self.cell = [a.get("class", ""), ""]
            self.row_cells.append(self.cell)
        if tag == "svg":
            self.svgs += 1
        if tag == "text" and "tick" in a.get("class", "") and self.svgs == 1:
            self.in_tick = True
        if tag == "rect" and self.open_mark is not None:
            self.bars.setdefault(self.open_mark, []).append(float(a.get("width", "0")))
    def handle_data(self, data):
        if self.in_tick:
            self.ticks.append(float(data.replace(" ms", "")))
        if self.cell is not None:
            self.cell[1] += data
    def handle_endtag(self, tag):
        if tag == "g":
            self.open_mark = None
        if tag == "text":
            self.in_tick = False
        if tag == "td":
            self.cell = None
        if tag == "tr":
            self.row_cells = None
    handle_startendtag = handle_starttag

dom = Dom()
dom.feed(open(sys.argv[2]).read())
problems = []
if sorted(dom.rows) != sorted(ids):
    problems.append(f"table rows {len(dom.rows)} != cases {len(ids)}")
if sorted(m for _, m in dom.marks) != sorted(ids):
    problems.append(f"chart marks {len(dom.marks)} != cases {len(ids)}")
if any(tag != "g" for tag, _ in dom.marks):
    problems.append("a data-case mark is not an SVG group")
for i in ids:
    if not dom.bars.get(i) or max(dom.bars[i]) <= 0:
        problems.append(f"{i}: no visible bar")
slowest = max([c["latency_ms"] for c in report["cases"]] + [c.get("ttfb_ms") or 0 for c in report["cases"]])
axis = max(dom.ticks) if dom.ticks else 0
if slowest > 0 and not (slowest <= axis * 1.000001 and axis <= max(slowest * 4 / 3 * 1.001, 1)):
    problems.append(f"the latency axis runs to {axis} ms for a slowest case of {slowest:.1f} ms")
headers = None
for c in report["cases"]:
    cells = dom.cells.get(c["id"], [])
    reasons = [t for cls, t in cells if "reason" in cls.split()]
    if len(reasons) != 1:
        problems.append(f"{c['id']}: {len(reasons)} reason cells")
        continue
    shown = reasons[0]
    want = c["reason"].replace("\n", "\\n")
    if "\n" in shown or not want.startswith(shown.rstrip("…")[:60]) or len(shown) > 141:
        problems.append(f"{c['id']}: reason cell {shown!r} is not the start of {c['reason']!r}")
    status = c.get("status")
    parser = next((t for cls, t in cells if cls == "parser"), None)
    if status is not None and not (200 <= status < 300) and parser != "—":
        problems.append(f"{c['id']}: status {status} but the parser column says {parser!r}")
if sorted(dom.target_marks) != sorted(targets):
    problems.append(f"target marks {dom.target_marks} != targets {sorted(targets)}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"DOM: {len(ids)} cases in the table, {len(dom.marks)} case marks, {len(dom.target_marks)} target mark(s); axis {axis:g} ms for a slowest case of {slowest:.1f} ms; a reason cell per row")
EOF
  printf 'Chromium: dump and screenshot in %.1f s; screenshot %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$shots/index-$name.png"
done
echo "check-reports: ok"
