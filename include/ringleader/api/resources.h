#pragma once
// The REST collections of the custom resources Ringleader uses: its own TrainingJobs and the
// PodGroups of the gang schedulers it can hand a job to. The generic client (kube/resource.h)
// declares only core and built-in resources; these are the app's, declared by the app.
// Header-only, so that code naming a collection needs kube's headers but not its library.
//
// They keep the kube:: namespace for now so that callers' spelling (kube::TrainingJobsResource())
// stays as it was.
//
// Thread-safety: pure functions.

#include "ringleader/kube/resource.h"

namespace ringleader::kube {

inline GroupVersionResource TrainingJobsResource() {  // ringleader.dev/v1alpha1
  return {"ringleader.dev", "v1alpha1", "trainingjobs", true};
}
inline GroupVersionResource VolcanoPodGroupsResource() {  // scheduling.volcano.sh/v1beta1
  return {"scheduling.volcano.sh", "v1beta1", "podgroups", true};
}
inline GroupVersionResource CoschedulingPodGroupsResource() {  // scheduling.x-k8s.io/v1alpha1
  return {"scheduling.x-k8s.io", "v1alpha1", "podgroups", true};
}

}  // namespace ringleader::kube
