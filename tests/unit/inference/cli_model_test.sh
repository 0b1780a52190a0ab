#!/bin/sh
# `awqserve model inspect|synth|quantize` end to end: synth a tiny config and inspect it (valid, exit 0); quantize
# tiny-stories with group 64 and get tiny-stories-awq's model.safetensors byte for byte; a truncated copy inspects
# as INVALID with exit 1; bad flags exit non-zero with the flag named.
#   cli_model_test.sh AWQSERVE SHARED_DIR
set -eu
AWQSERVE=$1
SHARED=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$AWQSERVE" model synth --config "$SHARED/assets/awq-tiny-mistral/config.json" --out "$TMP/synth" --seed 5 \
  --qk-scale 4 2>"$TMP/progress" >/dev/null || fail "synth"
grep -q "100%\] 49/49 tensors" "$TMP/progress" || fail "synth progress: $(cat "$TMP/progress")"
"$AWQSERVE" model inspect "$TMP/synth" >"$TMP/inspect" || fail "inspect of the synth checkpoint: $(tail -1 "$TMP/inspect")"
grep -q "^verdict: valid$" "$TMP/inspect" || fail "verdict"
grep -q "quantization: AWQ GEMM, 4 bit, group 128, zero point" "$TMP/inspect" || fail "quantization line"

"$AWQSERVE" model quantize --in "$SHARED/assets/tiny-stories" --out "$TMP/q" --group 64 2>/dev/null >/dev/null \
  || fail "quantize"
cmp "$TMP/q/model.safetensors" "$SHARED/assets/tiny-stories-awq/model.safetensors" || fail "quantized bytes differ"

mkdir "$TMP/bad"
cp "$SHARED/assets/tiny-stories-awq/config.json" "$TMP/bad/"
head -c 100000 "$SHARED/assets/tiny-stories-awq/model.safetensors" >"$TMP/bad/model.safetensors"
if "$AWQSERVE" model inspect "$TMP/bad" >"$TMP/bad_inspect"; then fail "truncated checkpoint inspected as valid"; fi
grep -q "^verdict: INVALID: .*model.safetensors: tensor '.*': data_offsets end at" "$TMP/bad_inspect" \
  || fail "truncation verdict: $(tail -1 "$TMP/bad_inspect")"

if "$AWQSERVE" model quantize --in "$SHARED/assets/tiny-stories" --out "$TMP/q2" --group x 2>"$TMP/err"; then
  fail "bad --group accepted"
fi
grep -q -- "--group: expected an integer" "$TMP/err" || fail "bad --group message: $(cat "$TMP/err")"
echo PASS
