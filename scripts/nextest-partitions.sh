#!/usr/bin/env bash
# Shows that `cargo nextest run --partition count:1/2` and `count:2/2` together run every test
# exactly once: the two partitions' lists are disjoint and add up to the full list, and the two
# runs' JUnit reports (nextest's `ci` profile, .config/nextest.toml) name exactly the same tests.
# The runs are the suite itself, split in two, as two CI machines would run it.
#
# Usage: scripts/nextest-partitions.sh [OUT_DIR]   (keeps junit-1.xml and junit-2.xml there)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "nextest-partitions: cargo-nextest is missing (cargo install cargo-nextest --locked)" >&2
  exit 1
fi
out=${1:-$(mktemp -d)}
mkdir -p "$out"

cargo nextest list --locked --message-format oneline 2>/dev/null | sort >"$out/all.txt"
for k in 1 2; do
  cargo nextest list --locked --partition "count:$k/2" --message-format oneline 2>/dev/null | sort >"$out/part-$k.txt"
done
total=$(wc -l <"$out/all.txt")
n1=$(wc -l <"$out/part-1.txt")
n2=$(wc -l <"$out/part-2.txt")
both=$(comm -12 "$out/part-1.txt" "$out/part-2.txt" | wc -l)
echo "nextest list: $total tests; partition 1/2 has $n1, 2/2 has $n2, in both: $both"
if [[ $total -eq 0 || $n1 -eq 0 || $n2 -eq 0 || $both -ne 0 ]] ||
  ! sort -m "$out/part-1.txt" "$out/part-2.txt" | cmp -s - "$out/all.txt"; then
  echo "nextest-partitions: the partitions' lists are not a split of the full list" >&2
  exit 1
fi

# Run both partitions; each writes target/nextest/ci/junit.xml, kept as junit-K.xml.
junit=target/nextest/ci/junit.xml
for k in 1 2; do
  rm -f "$junit"
  cargo nextest run --locked --profile ci --partition "count:$k/2" --no-fail-fast
  cp "$junit" "$out/junit-$k.xml"
done
python3 - "$out" <<'EOF'
import sys, xml.etree.ElementTree as ET
out = sys.argv[1]
listed = {l.rstrip("\n") for l in open(f"{out}/all.txt") if l.strip()}
ran = []
for k in (1, 2):
    root = ET.parse(f"{out}/junit-{k}.xml").getroot()
    cases = [f'{tc.get("classname")} {tc.get("name")}' for tc in root.iter("testcase")]
    ran.append(cases)
    bad = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None or tc.find("error") is not None]
    if bad:
        sys.exit(f"partition {k}/2: failed: {bad}")
a, b = ran
problems = []
if len(a) != len(set(a)) or len(b) != len(set(b)):
    problems.append("a test ran twice within one partition")
if set(a) & set(b):
    problems.append(f"ran in both partitions: {sorted(set(a) & set(b))[:5]}")
if set(a) | set(b) != listed:
    problems.append(f"not run: {sorted(listed - set(a) - set(b))[:5]}; not listed: {sorted(set(a) | set(b) - listed)[:5]}")
if problems:
    sys.exit("\n".join(problems))
print(f"nextest runs: partition 1/2 ran {len(a)}, 2/2 ran {len(b)}: {len(a) + len(b)} of {len(listed)} tests, each exactly once (JUnit in {out})")
EOF
