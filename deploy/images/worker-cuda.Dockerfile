# ringleader/worker-cuda: the worker runtime with the NCCL backend, for GPU TrainingJobs
# (examples/gpu-job.yaml). Build from the repository root:
#   docker build -f deploy/images/worker-cuda.Dockerfile -t ringleader/worker-cuda:0.1.0 .
# The CUDA devel image brings nvcc and NCCL; the runtime-only build needs nothing else from
# scripts/install-deps.sh but the build tools. The runtime stage is the matching CUDA runtime
# image (libcudart, libnccl2); the driver comes from the node via the NVIDIA container toolkit.
FROM nvidia/cuda:13.0.1-devel-ubuntu24.04 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRINGLEADER_RUNTIME_ONLY=ON \
      -DRINGLEADER_BUILD_TESTS=OFF -DRINGLEADER_BUILD_BENCH=OFF -DRINGLEADER_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES="80;90" \
 && cmake --build /build --target ringleader-worker \
 && install -D -m 0755 /build/src/cmd/ringleader-worker/ringleader-worker /out/ringleader-worker

FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ringleader-worker"]
