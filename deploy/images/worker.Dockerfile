# ringleader/worker: the CPU worker runtime (ringleader-worker: train, launch) that every
# worker Pod of examples/cpu-job.yaml and examples/local-mlp.yaml runs.
# Build from the repository root:
#   docker build -f deploy/images/worker.Dockerfile -t ringleader/worker:0.1.0 .
# A full configure (not RINGLEADER_RUNTIME_ONLY), building only ringleader-worker: that way
# the target ringleader_progress exists and the worker links the API progress sink, so rank 0
# writes status.progress (docs/operations.md#progress-reporting). Open MPI from
# scripts/install-deps.sh gives it the `mpi` backend.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DRINGLEADER_BUILD_TESTS=OFF -DRINGLEADER_BUILD_BENCH=OFF -DRINGLEADER_CUDA=OFF \
 && cmake --build /build --target ringleader-worker \
 && install -D -m 0755 /build/src/cmd/ringleader-worker/ringleader-worker /out/ringleader-worker

# The shared libraries ringleader-worker loads (its NEEDED entries, mapped with dpkg -S):
# libmpi/libmpi_cxx (libopenmpi3), libcurl (libcurl4), libcrypto (libssl3), libyaml-cpp
# (libyaml-cpp0.7), libspdlog (libspdlog1.10), libfmt (libfmt9); libstdc++ and libgcc_s are in
# the slim image. No ca-certificates: the progress sink trusts the Pod's service-account CA.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenmpi3 libcurl4 libssl3 libyaml-cpp0.7 \
      libspdlog1.10 libfmt9 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
# Pods set `command:`; the entrypoint makes `docker run ringleader/worker:0.1.0 train ...` work.
ENTRYPOINT ["/usr/local/bin/ringleader-worker"]
