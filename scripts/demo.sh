#!/usr/bin/env bash
# The README's main command. For now: builds the tokenizer sidecar and the CLI, starts the sidecar with the real
# Mistral-7B-Instruct-v0.1 tokenizer on a free loopback port, tokenizes a sentence through it with the CLI (and
# decodes the ids back), then stops the sidecar with SIGTERM and checks that it drained and exited 0.
#
# Environment: AWQSERVE_BUILD_DIR (default build/), AWQSERVE_TOKENIZER_DIR (default ../shared/assets/
# mistral-7b-instruct-v0.1), AWQSERVE_DEMO_TEXT (the sentence).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${AWQSERVE_BUILD_DIR:-$root/build}"
model_dir="${AWQSERVE_TOKENIZER_DIR:-$root/../shared/assets/mistral-7b-instruct-v0.1}"
text="${AWQSERVE_DEMO_TEXT:-Hello! Tokenize me through the sidecar, please: naïve café, 東京, 🌊.}"

"$root/scripts/install-deps.sh"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target awqserve-tokenizer awqserve
cli="$build/services/cli/awqserve"
sidecar="$build/services/tokenizer/awqserve-tokenizer"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting awqserve-tokenizer ($model_dir)"
"$sidecar" --model_dir "$model_dir" --listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 \
  --port_file "$work/port" >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 300); do
  [ -s "$work/port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "awqserve-tokenizer failed to start:" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$work/port" ] || { echo "awqserve-tokenizer did not start within 30 s" >&2; exit 1; }
addr="127.0.0.1:$(cat "$work/port")"
sed 's/^/   /' "$work/stdout"
echo "   readiness: $("$cli" health "$addr" --service readiness --wait 10)"

echo "== awqserve tokenize --server $addr \"$text\""
ids_line="$("$cli" tokenize --server "$addr" "$text")"
echo "   $ids_line"
echo "== awqserve detokenize --server $addr --skip-special   (the ids back to text)"
echo "   $(echo "$ids_line" | "$cli" detokenize --server "$addr" --skip-special)"

echo "== stopping the sidecar (SIGTERM)"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
sed 's/^/   /' "$work/stderr"
if [ "$status" -ne 0 ]; then
  echo "awqserve-tokenizer exited with status $status" >&2
  exit 1
fi
echo "== done: the sidecar drained and exited 0"
