#!/usr/bin/env bash
# The GPU checks in one prepared run: the CUDA-marked tests, a short `linkc train`
# with AMP and torch.compile, and `linkc bench` on ResNet-110 and DenseNet-BC-100 with
# their bf16 autocast twins. Results go to $OUT (default gpu_out/).
#
#   benchmarks/gpu_check.sh [tests|train|bench|all]     (default all)
#
# Stages run in that order of need, each under its own limit (tests 220 s, train 50 s,
# bench 2 x 140 s), so `all` ends within 10 minutes (one device call) and a stage can be
# rerun alone. A stage cut off by its limit leaves its output so far in $OUT.
#
# The GPU machine has PyTorch but may lack pydantic. Fetch its wheels beside the
# checkout first (ignored by git, installed into /tmp/site by this script):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_17_x86_64 -d .whl \
#     pydantic==2.13.4 pydantic_core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
if [ -d .whl ] && ! $PY -c "import pydantic" 2>/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
stage=${1:-all}
status=0

run() {  # run LIMIT NAME COMMAND...: COMMAND's output in $OUT/NAME.txt, its status kept
    local limit=$1 name=$2
    shift 2
    echo "== $name ($(date -u +%H:%M:%S), limit ${limit}s)"
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    tail -n 25 "$OUT/$name.txt"
    echo "== $name: exit $rc"
    [ "$rc" -eq 0 ] || status=1
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'bf16', torch.cuda.is_bf16_supported())"
} >"$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

if [ "$stage" = tests ] || [ "$stage" = all ]; then
    run 220 tests $PY -m pytest -p no:cacheprovider -q -rs -m cuda tests/cuda
fi
if [ "$stage" = train ] || [ "$stage" = all ]; then
    rm -rf /tmp/gpu_check_train
    run 50 train $PY -m linkc train specs/resnet_20.yaml --device cuda --amp --compile \
        --data synthetic --synthetic-size 8192 --epochs 3 --batch-size 128 --no-progress \
        --no-plot --no-tensorboard --run-dir /tmp/gpu_check_train
    cp /tmp/gpu_check_train/epochs.jsonl "$OUT/train_epochs.jsonl" 2>/dev/null
fi
if [ "$stage" = bench ] || [ "$stage" = all ]; then
    for spec in resnet_110 densenet_bc_100; do
        run 140 "bench_$spec" $PY -m linkc bench "specs/$spec.yaml" --device cuda \
            --batch 64 --reps 10 --warmup 2 --amp
    done
fi
exit $status
