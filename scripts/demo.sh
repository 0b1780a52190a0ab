#!/usr/bin/env bash
# The README's main command: the whole serving path on one machine. Builds what is missing, starts the four services
# on free loopback ports (tokenizer sidecar, template, generation, gateway), streams a story (or, for a chat model, a
# chat answer) to the screen through the gateway with the `awqserve` CLI, then stops everything with SIGTERM — gateway
# first — and checks that each process drained and exited 0.
#
#   scripts/demo.sh                                        # ../shared/assets/tiny-stories-awq on the CPU backend
#   scripts/demo.sh --model /models/mistral-7b-instruct-v0.1-awq --backend cuda --prompt "Write a haiku about rain."
#
# Flags: --model DIR (a Hugging Face folder with tokenizer.model), --backend cpu|cuda, --prompt TEXT,
# --max-tokens N. Environment: AWQSERVE_BUILD_DIR (default build/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${AWQSERVE_BUILD_DIR:-$root/build}"
model="$root/../shared/assets/tiny-stories-awq"
backend="cpu"
prompt=""
max_tokens=200
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --prompt) prompt="$2"; shift 2 ;;
    --max-tokens) max_tokens="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$model/config.json" ] || { echo "demo.sh: --model $model: no config.json there" >&2; exit 2; }
model="$(cd "$model" && pwd)"

"$root/scripts/install-deps.sh"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target awqserve-tokenizer awqserve-template awqserve-generation \
  awqserve-gateway awqserve
cli="$build/services/cli/awqserve"

work="$(mktemp -d)"
declare -A pids=()
cleanup() {
  for name in "${!pids[@]}"; do
    kill -KILL "${pids[$name]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME ARGS...: runs awqserve-NAME on a free loopback port, waits for its port file, sets addr[NAME].
declare -A addr=()
start() {
  local name="$1"; shift
  "$build/services/$name/awqserve-$name" --listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 \
    --port_file "$work/$name.port" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids[$name]=$!
  for _ in $(seq 1 600); do
    [ -s "$work/$name.port" ] && break
    if ! kill -0 "${pids[$name]}" 2>/dev/null; then
      echo "awqserve-$name failed to start:" >&2
      cat "$work/$name.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  [ -s "$work/$name.port" ] || { echo "awqserve-$name did not start within 60 s" >&2; exit 1; }
  addr[$name]="127.0.0.1:$(cat "$work/$name.port")"
  echo "   awqserve-$name on ${addr[$name]}"
}

echo "== starting the services ($(basename "$model") on $backend)"
start tokenizer --model_dir "$model"
start template --model_dir "$model"
start generation --model_dir "$model" --backend "$backend"
start gateway --template "${addr[template]}" --tokenizer "${addr[tokenizer]}" --generation "${addr[generation]}"
# The gateway is ready once generation has loaded the weights, warmed up and described the model.
if ! "$cli" health "${addr[gateway]}" --service readiness --wait 900 >/dev/null; then
  echo "the services did not become ready:" >&2
  cat "$work/generation.err" "$work/gateway.err" >&2
  exit 1
fi
grep -h "ready" "$work/generation.out" "$work/gateway.out" | sed 's/^/   /'

# A model with a chat template gets a chat turn; a plain language model (tiny-stories) continues a story.
if [ -f "$model/chat_template.jinja" ] || grep -qs '"chat_template"' "$model/tokenizer_config.json"; then
  prompt="${prompt:-Tell me a short story about a lighthouse keeper.}"
  echo "== awqserve chat --server ${addr[gateway]} \"$prompt\""
  "$cli" chat --server "${addr[gateway]}" --max-tokens "$max_tokens" --temperature 0.7 --seed 1 --usage "$prompt"
else
  prompt="${prompt:-Once upon a time}"
  echo "== awqserve complete --server ${addr[gateway]} \"$prompt\""
  printf '%s' "$prompt"
  "$cli" complete --server "${addr[gateway]}" --max-tokens "$max_tokens" --temperature 0.8 --seed 7 --usage "$prompt"
fi

echo "== stopping (SIGTERM; the gateway first)"
failed=0
for name in gateway generation template tokenizer; do
  status=0
  kill -TERM "${pids[$name]}"
  wait "${pids[$name]}" || status=$?
  unset "pids[$name]"
  echo "   awqserve-$name exited $status"
  [ "$status" -eq 0 ] || failed=1
done
[ "$failed" -eq 0 ] || { echo "a service did not drain cleanly" >&2; exit 1; }
echo "== done: every service drained and exited 0"
