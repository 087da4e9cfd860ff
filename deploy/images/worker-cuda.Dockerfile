# ringleader/worker (CUDA variant): the worker runtime with the NCCL backend, for GPU
# TrainingJobs (examples/gpu-job.yaml, examples/volcano-job.yaml). Build from the repository root:
#   docker build -f deploy/images/worker-cuda.Dockerfile -t ringleader/worker:0.1.0-cuda .
# The CUDA devel image brings nvcc and NCCL but none of the -dev packages a full configure
# needs; scripts/install-deps.sh installs them with apt (the image is Ubuntu 24.04, where all
# of its packages exist), as in worker.Dockerfile. A full configure (not
# RINGLEADER_RUNTIME_ONLY) makes the target ringleader_progress exist, so the worker links the
# API progress sink and rank 0 writes status.progress; Open MPI from install-deps.sh also
# gives it the `mpi` backend. The runtime stage is the matching CUDA runtime image (libcudart,
# libcublas, libnccl2); the driver comes from the node via the NVIDIA container toolkit.
FROM nvidia/cuda:13.0.1-devel-ubuntu24.04 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DRINGLEADER_BUILD_TESTS=OFF -DRINGLEADER_BUILD_BENCH=OFF -DRINGLEADER_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES="80;90" \
 && cmake --build /build --target ringleader-worker \
 && install -D -m 0755 /build/src/cmd/ringleader-worker/ringleader-worker /out/ringleader-worker
# The runtime packages to install: the owner (dpkg -S) of each library the binary loads
# directly (its NEEDED entries), leaving out the CUDA libraries (already in the runtime image)
# and the C/C++ base libraries. Derived here rather than listed because Ubuntu 24.04's names
# differ from Debian bookworm's (64-bit time_t renames, newer sonames); expect libopenmpi3t64,
# libcurl4t64, libssl3t64 and the yaml-cpp, spdlog and fmt libraries. A library no package
# owns fails the build instead of the Pod.
RUN triplet="$(gcc -print-multiarch)" && : > /runtime-packages.raw \
 && for lib in $(objdump -p /out/ringleader-worker | awk '$1 == "NEEDED" {print $2}'); do \
      case "$lib" in \
        libcudart.*|libcublas*|libnccl.*|libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*) continue ;; \
      esac; \
      dpkg -S "*/$triplet/$lib" >> /runtime-packages.raw || exit 1; \
    done \
 && cut -d: -f1 /runtime-packages.raw | sort -u > /runtime-packages.txt \
 && cat /runtime-packages.txt

FROM nvidia/cuda:13.0.1-runtime-ubuntu24.04
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ringleader-worker"]
