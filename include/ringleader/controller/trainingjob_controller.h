#pragma once
// How the TrainingJob controller is wired to its informers, owned by the reconciler as
// sample-controller's NewController owns its handlers: which informers it needs, what each
// cache keeps (transform and decode mask), and which events requeue which job. The operator
// process (src/operator) creates the informers from these options and calls Register.
//
// Thread-safety: Register is called once, before the informers start; the handlers it adds
// run on the informers' threads and only enqueue keys.

#include <string>
#include <vector>

#include "ringleader/kube/informer.h"

namespace ringleader::controller {

// The informers of one operator: one TrainingJob, Pod and Service informer per watched
// namespace, and the node informer (nullptr when nodes may not be listed). Not owned.
struct TrainingJobInformers {
  std::vector<kube::Informer*> jobs;
  std::vector<kube::Informer*> pods;
  std::vector<kube::Informer*> services;
  kube::Informer* nodes = nullptr;
};

kube::InformerOptions JobInformerOptions(const std::string& ns);
kube::InformerOptions PodInformerOptions(const std::string& ns);
kube::InformerOptions ServiceInformerOptions(const std::string& ns);
kube::InformerOptions NodeInformerOptions();

}  // namespace ringleader::controller
