#!/usr/bin/env bash
# Run the stages of `make test` one after another, every one of them even when an earlier
# one fails, then print one summary. Exits 1 when any stage failed.
#
#   scripts/stages.sh "name" "command" ["name" "command" ...]
set -uo pipefail

names=()
results=()
times=()
failed=0
while [ $# -ge 2 ]; do
  name=$1
  command=$2
  shift 2
  echo
  echo "==== ${name}: ${command}"
  start=$(date +%s)
  if bash -c "${command}"; then
    result=passed
  else
    result="FAILED (exit $?)"
    failed=1
  fi
  names+=("${name}")
  results+=("${result}")
  times+=("$(($(date +%s) - start))")
done

echo
echo "==== summary"
for i in "${!names[@]}"; do
  printf '  %-12s %-18s %5ss\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
done
if [ "${failed}" -ne 0 ]; then
  echo "==== make test: some stages FAILED"
  exit 1
fi
echo "==== make test: all stages passed"
