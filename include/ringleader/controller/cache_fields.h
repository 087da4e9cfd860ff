#pragma once
// What the operator's informer caches keep of each object. Each cache shape is one
// kube::FieldList, from which both the informer's decode mask and its transform (the trim)
// derive, so the two cannot disagree.
//
// Thread-safety: the lists are built once (function-local statics) and immutable.

#include <memory>

#include "ringleader/kube/field_list.h"
#include "ringleader/kube/client.h"

namespace ringleader::controller {

// What the pod cache keeps of a pod: metadata the reconciler reads (name, namespace, uid,
// resourceVersion, ringleader.dev/ labels, the controller ownerReference, deletionTimestamp),
// the spec fields admission and gate removal need (nodeName, schedulingGates, overhead,
// container requests), and of the status the phase, reason, Ready/DisruptionTarget conditions
// and how containers terminated. Drops managedFields, env, volumes, images and the rest, which
// is most of a pod's bytes (the cache of 10k pods is most of the operator's memory).
const kube::FieldList& PodCacheFields();
// The Service cache only answers "does the job's Service exist": metadata (name, namespace,
// uid, resourceVersion, ownerReferences, deletionTimestamp) is all it keeps.
const kube::FieldList& ServiceCacheFields();

// The informer transforms and decode masks, as the lists give them.
void TrimPodForCache(kube::Json& pod);
std::shared_ptr<const kube::FieldMask> PodCacheMask();
void TrimServiceForCache(kube::Json& service);
std::shared_ptr<const kube::FieldMask> ServiceCacheMask();

// What admission reads of a node: name, uid, resourceVersion, labels, taints,
// unschedulable, allocatable and the Ready condition (a missing status reads as Unknown,
// which a field list cannot say, hence a function of its own).
void TrimNodeForCache(kube::Json& node);

// The TrainingJob cache keeps the whole job but managedFields and kubectl's
// last-applied-configuration annotation (a second copy of the spec): status is written
// through /status, which ignores metadata, so nothing written back depends on them.
void TrimTrainingJobForCache(kube::Json& job);

}  // namespace ringleader::controller
