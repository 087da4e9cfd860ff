# ringleader/worker: the CPU worker runtime (ringleader-worker: train, launch) that every
# worker Pod of examples/cpu-job.yaml and examples/local-mlp.yaml runs.
# Build from the repository root:
#   docker build -f deploy/images/worker.Dockerfile -t ringleader/worker:0.1.0 .
# The worker needs only the runtime area (RINGLEADER_RUNTIME_ONLY); Open MPI from
# scripts/install-deps.sh gives it the `mpi` backend, so the runtime stage carries libopenmpi3.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRINGLEADER_RUNTIME_ONLY=ON \
      -DRINGLEADER_BUILD_TESTS=OFF -DRINGLEADER_BUILD_BENCH=OFF -DRINGLEADER_CUDA=OFF \
 && cmake --build /build --target ringleader-worker \
 && install -D -m 0755 /build/src/cmd/ringleader-worker/ringleader-worker /out/ringleader-worker

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenmpi3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
# Pods set `command:`; the entrypoint makes `docker run ringleader/worker:0.1.0 train ...` work.
ENTRYPOINT ["/usr/local/bin/ringleader-worker"]
