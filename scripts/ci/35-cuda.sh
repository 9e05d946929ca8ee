#!/usr/bin/env bash
# The CUDA kernels (cuda/), checked without a GPU (docs/cuda.md):
#  1. tests/cuda_reference.rs writes inputs and the CPU backend's outputs to
#     target/cuda-ref/<case>/;
#  2. the reference kernels, built as host C++ (g++, through
#     cuda/host_compat.cuh) with each case's compile-time sizes, are run on
#     them and compared: 1e-12 relative in float64, 1e-5 in float32 (against the
#     CPU's float64), neighbor lists identical;
#  3. every kernel is compiled through NVRTC (the nvidia-cuda-nvrtc wheel, no
#     driver needed) for compute_80 and compute_90 in every specialization,
#     and ptxas -v (nvidia-cuda-nvcc wheel) records registers, spills and
#     shared memory (target/cuda-compile/ptxas.tsv); a spill in a hot kernel fails;
#  4. scripts/gpu_check.py --dry-run: every cubin the GPU check loads exists, every
#     input it reads has its length, every launch passes the kernel's arity.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS

# CUDA 13 (the GPU machines' driver); below 14 so that a new major never
# arrives unannounced.
venv=target/venv-cuda
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q "nvidia-cuda-nvrtc>=13,<14" "nvidia-cuda-nvcc>=13,<14"

echo "== reference cases from the CPU backend (tests/cuda_reference.rs)"
cargo test --release --test cuda_reference -q

echo "== reference kernels as host C++ against the CPU backend (float64, and float32 but for neighbor search)"
CXX=${CXX:-g++}
mkdir -p target/cuda-host
failed=0
jobs=()  # "case real check" triples: built in parallel, then run in order
for dir in target/cuda-ref/*/; do
    case=$(basename "$dir")
    reals="double float"
    case $(cat "$dir/source.txt") in
        edge_stage.cu) check=check_edge_stage ;;
        tensor_product_conv.cu) check=check_conv ;;
        tensor_product_conv_table.cu) check=check_conv_table ;;
        neighbors.cu) check=check_neighbors; reals=double ;;  # float64 coordinates in every precision
        radial_table.cu) check=check_radial_table ;;
        linear.cu) check=check_linear ;;
        gate.cu) check=check_gate ;;
        symmetric_contraction.cu) check=check_symmetric_contraction ;;
        *) echo "FAIL $case: no host check for $(cat "$dir/source.txt")"; failed=1; continue ;;
    esac
    for real in $reals; do jobs+=("$case $real $check"); done
done
build() {  # case real check
    local defines
    mapfile -t defines < <(grep -v '^$' "target/cuda-ref/$1/defines.txt" | sed 's/^/-D/')
    $CXX -O2 -std=c++17 -Wall -Wextra -Werror -Wno-unknown-pragmas "${defines[@]}" -DEQP_REAL=$2 \
        "cuda/host/$3.cpp" -o "target/cuda-host/$1.$2"
}
export -f build
export CXX
printf '%s\n' "${jobs[@]}" | xargs -P "$(nproc)" -L 1 bash -c 'build "$@"' _ || failed=1
for job in "${jobs[@]}"; do
    read -r case real _ <<< "$job"
    "target/cuda-host/$case.$real" "target/cuda-ref/$case/" || failed=1
done
[ "$failed" = 0 ] || { echo "host reference checks failed"; exit 1; }

echo "== NVRTC (compute_80, compute_90) and ptxas -v (sm_80, sm_90)"
"$venv/bin/python" scripts/cuda_compile_check.py --specs target/cuda-ref --out target/cuda-compile

echo "== the GPU check's plumbing, without a GPU (scripts/gpu_check.py --dry-run)"
python3 scripts/gpu_check.py --dry-run --cases target/cuda-ref --cubins target/cuda-compile

echo "== CUDA checks passed in $((SECONDS - start)) s"
