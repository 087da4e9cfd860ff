#pragma once
// operator_bench's recovery case (only when --cases names it): how fast a Running gang's next
// attempt runs after a worker fails or its node dies.

#include "measurement.h"
#include "options.h"

namespace ringleader::bench {

// The recovery case: a gang Running on the simulator (8 pods per node, one spare node), then
// worker 3 fails with exit 137 (`node_loss` false; the status a kubelet writes) or its node's
// kubelet dies (`node_loss`). Seconds from that to every pod of attempt 1 Running. Operator
// with its default restart backoff and flags but --workers/--qps/--burst (as the gang case).
Measurement RunRecovery(const Options& options, bool node_loss);

}  // namespace ringleader::bench
