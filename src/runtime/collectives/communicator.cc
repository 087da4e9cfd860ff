#include "ringleader/runtime/collectives/communicator.h"

#include <cstdint>

#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "ringleader/runtime/collectives/tcp_ring_communicator.h"
#include "ringleader/runtime/collectives/shm_communicator.h"
#ifdef RINGLEADER_HAVE_MPI
#include "ringleader/runtime/collectives/mpi_communicator.h"
#endif
#ifdef RINGLEADER_HAVE_NCCL
#include "ringleader/runtime/collectives/nccl_communicator.h"
#endif

namespace ringleader::runtime {

StatusOr<Backend> ParseBackend(std::string_view name) {
  for (Backend b : {Backend::kAuto, Backend::kNccl, Backend::kTcp, Backend::kShm, Backend::kMpi}) {
    if (name == BackendName(b)) return b;
  }
  return InvalidArgumentError("unknown backend '" + std::string(name) +
                              "' (want auto, nccl, tcp, shm or mpi)");
}

const char* BackendName(Backend backend) {
  switch (backend) {
    case Backend::kAuto: return "auto";
    case Backend::kNccl: return "nccl";
    case Backend::kTcp: return "tcp";
    case Backend::kShm: return "shm";
    case Backend::kMpi: return "mpi";
  }
  return "unknown";
}

bool BackendCompiledIn(Backend backend) {
  switch (backend) {
    case Backend::kNccl:
#ifdef RINGLEADER_HAVE_NCCL
      return true;
#else
      return false;
#endif
    case Backend::kMpi:
#ifdef RINGLEADER_HAVE_MPI
      return true;
#else
      return false;
#endif
    default:
      return true;
  }
}

Status Communicator::Barrier() {
  int32_t token = 1;
  return AllReduce(&token, 1, DataType::kInt32, ReduceOp::kSum);
}

StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(Rendezvous& rendezvous,
                                                           const CommunicatorOptions& options) {
  Backend backend = options.backend;
  if (backend == Backend::kAuto) {
    if (BackendCompiledIn(Backend::kNccl) && rendezvous.AllHaveGpus()) {
      backend = Backend::kNccl;
    } else if (rendezvous.AllOnOneHost()) {
      backend = Backend::kShm;
    } else {
      backend = Backend::kTcp;
    }
  }
  if (!BackendCompiledIn(backend)) {
    return InvalidArgumentError(std::string("backend '") + BackendName(backend) +
                                "' is not compiled into this binary");
  }
  switch (backend) {
    case Backend::kTcp: {
      ASSIGN_OR_RETURN(auto comm, TcpRingCommunicator::Create(rendezvous, options));
      return std::unique_ptr<Communicator>(std::move(comm));
    }
    case Backend::kShm: {
      ASSIGN_OR_RETURN(auto comm, ShmCommunicator::Create(rendezvous, options));
      return std::unique_ptr<Communicator>(std::move(comm));
    }
    case Backend::kNccl: {
#ifdef RINGLEADER_HAVE_NCCL
      ASSIGN_OR_RETURN(auto comm, NcclCommunicator::Create(rendezvous, options));
      return std::unique_ptr<Communicator>(std::move(comm));
#else
      break;
#endif
    }
    case Backend::kMpi:
      return InvalidArgumentError(
          "the mpi backend is created with CreateMpiCommunicator (mpirun does the rendezvous)");
    case Backend::kAuto:
      break;
  }
  return InternalError("unreachable backend");
}

}  // namespace ringleader::runtime
