// FieldList: one list yields the decode mask and the trim, and they agree.

#include "ringleader/kube/field_list.h"

#include <gtest/gtest.h>

#include "ringleader/common/json_fields.h"

namespace ringleader::kube {
namespace {

using nlohmann::json;

// The operator's pod cache list, as the controller spells it.
FieldList PodFields() {
  FieldList list = FieldList::Parse(
                       "metadata(name,namespace,uid,resourceVersion,deletionTimestamp,labels,"
                       "ownerReferences(apiVersion,kind,name,uid,controller)),"
                       "spec(nodeName,schedulingGates,overhead,containers(resources(requests),restartPolicy),"
                       "initContainers(resources(requests),restartPolicy)),"
                       "status(phase,reason,message,conditions(type,status,reason),"
                       "containerStatuses(state(terminated(exitCode,reason,finishedAt))))")
                       .value();
  list.KeepMembersWhere("metadata.labels", [](std::string_view key) { return key.rfind("ringleader.dev/", 0) == 0; })
      .DropWhenEmpty("metadata.labels")
      .KeepFirstElementWhere("metadata.ownerReferences",
                             [](const json& ref) { return ref.is_object() && json_fields::BoolField(ref, "controller"); })
      .DropWhenEmpty("spec.containers.resources")
      .DropWhenEmpty("spec.initContainers.resources")
      .KeepElementsWhere("status.conditions",
                         [](const json& c) {
                           if (!c.is_object()) return false;
                           const std::string type = json_fields::StringField(c, "type");
                           return type == "Ready" || type == "DisruptionTarget";
                         })
      .KeepElementsWhere("status.containerStatuses",
                         [](const json& cs) {
                           return cs.is_object() && cs.contains("state") && cs["state"].is_object() &&
                                  cs["state"].contains("terminated") && cs["state"]["terminated"].is_object();
                         })
      .DropWhenEmpty("status.containerStatuses");
  return list;
}

json RichPod() {
  return json::parse(R"({
    "metadata": {"name": "p", "namespace": "ml", "uid": "u", "resourceVersion": "7",
      "labels": {"a": "b", "ringleader.dev/rank": "3"}, "creationTimestamp": "2026-11-22T10:00:00Z",
      "ownerReferences": [{"uid": "x", "kind": "ReplicaSet"},
        {"apiVersion": "ringleader.dev/v1alpha1", "kind": "TrainingJob", "name": "job", "uid": "o",
         "controller": true, "blockOwnerDeletion": true}],
      "managedFields": [{"manager": "kubectl"}], "annotations": {"big": "xxxx"}},
    "spec": {"nodeName": "n1",
      "containers": [{"name": "c", "image": "img", "env": [{"name": "X", "value": "1"}],
                      "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "4"}}},
                     {"name": "side", "resources": {"limits": {"cpu": "1"}}}],
      "volumes": [{"name": "v"}]},
    "status": {"phase": "Failed", "hostIP": "10.0.0.1",
      "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "t"},
                     {"type": "PodScheduled", "status": "True"}, 7],
      "containerStatuses": [
        {"name": "c", "image": "img",
         "state": {"terminated": {"exitCode": 3, "reason": "Error", "finishedAt": "f", "containerID": "id"}}},
        {"name": "sidecar", "state": {"running": {"startedAt": "s"}}}]}})");
}

TEST(FieldListTest, TrimKeepsExactlyTheListedFieldsAfterTheRefinements) {
  json pod = RichPod();
  PodFields().Trim(pod);
  EXPECT_EQ(pod, json::parse(R"({
    "metadata": {"name": "p", "namespace": "ml", "uid": "u", "resourceVersion": "7",
      "labels": {"ringleader.dev/rank": "3"},
      "ownerReferences": [{"apiVersion": "ringleader.dev/v1alpha1", "kind": "TrainingJob", "name": "job",
                           "uid": "o", "controller": true}]},
    "spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "2"}}}, {}]},
    "status": {"phase": "Failed", "conditions": [{"type": "Ready", "status": "False"}],
      "containerStatuses": [{"state": {"terminated": {"exitCode": 3, "reason": "Error", "finishedAt": "f"}}}]}})"))
      << pod.dump(2);
}

TEST(FieldListTest, EmptiedMembersMarkedDropWhenEmptyGo) {
  json pod = json::parse(R"({"metadata": {"name": "p", "labels": {"app": "x"}},
                             "status": {"containerStatuses": [{"state": {"running": {}}}], "conditions": []}})");
  PodFields().Trim(pod);
  EXPECT_EQ(pod, json::parse(R"({"metadata": {"name": "p"}, "status": {"conditions": []}})")) << pod.dump();
}

TEST(FieldListTest, TrimOfTheMaskedDecodeEqualsTrimOfTheWholeObject) {
  const FieldList list = PodFields();
  for (json pod : {RichPod(), json::parse(R"({"metadata": 3, "spec": {"containers": ["odd", 1]}})"),
                   json::parse(R"({"status": {"conditions": {"not": "an array"}}})")}) {
    const std::string text = pod.dump();
    StatusOr<json> masked = DecodeMasked(text, *list.mask());
    ASSERT_TRUE(masked.ok()) << masked.status().ToString();
    json from_mask = *masked;
    list.Trim(from_mask);
    list.Trim(pod);
    EXPECT_EQ(from_mask, pod) << text;
  }
}

TEST(FieldListTest, ApplyMaskMatchesDecodeMasked) {
  FieldMask mask = FieldMask::Parse("a(b,c(d)),e").value();
  json doc = json::parse(R"({"a": [{"b": 1, "x": 2, "c": {"d": 3, "y": 4}}, 5], "e": {"z": 1}, "f": 6})");
  json applied = doc;
  ApplyMask(applied, mask);
  EXPECT_EQ(applied, DecodeMasked(doc.dump(), mask).value());
  EXPECT_EQ(applied, json::parse(R"({"a": [{"b": 1, "c": {"d": 3}}, 5], "e": {"z": 1}})"));
}

TEST(FieldListTest, MalformedSpellingIsInvalidArgument) {
  StatusOr<FieldList> list = FieldList::Parse("metadata(name");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ringleader::kube
