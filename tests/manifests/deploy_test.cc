// deploy/ as `kubectl apply -k deploy/` would install it, rendered by the real kubectl's
// kustomize: least-privilege RBAC (no secrets, no wildcards) and a Deployment that meets the
// Pod Security "restricted" profile.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "ringleader/api/yaml_loader.h"

namespace ringleader {
namespace {

using nlohmann::json;

std::vector<json> Kustomize() {
  std::string cmd = "kubectl kustomize " + std::string(RINGLEADER_SOURCE_DIR) + "/deploy 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int rc = pclose(pipe);
  EXPECT_EQ(rc, 0) << out;
  auto docs = api::LoadYamlDocuments(out);
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  return docs.ok() ? *docs : std::vector<json>{};
}

std::vector<json> OfKind(const std::vector<json>& docs, const std::string& kind) {
  std::vector<json> out;
  for (const auto& d : docs) if (d["kind"] == kind) out.push_back(d);
  return out;
}

// kubectl is on every machine of ours but is no Debian package: say so rather than fail.
class DeployTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v kubectl >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "kubectl is not installed: deploy/ cannot be rendered with its kustomize";
    }
  }
};

TEST_F(DeployTest, InstallsEverything) {
  auto docs = Kustomize();
  ASSERT_FALSE(docs.empty());
  std::multiset<std::string> kinds;
  for (const auto& d : docs) kinds.insert(d["kind"].get<std::string>());
  for (const char* kind : {"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
                           "ClusterRoleBinding", "Role", "RoleBinding", "Deployment"}) {
    ASSERT_GE(kinds.count(kind), 1u) << kind;
  }
  EXPECT_EQ(OfKind(docs, "Namespace")[0]["metadata"]["name"], "ringleader-system");
  EXPECT_EQ(OfKind(docs, "CustomResourceDefinition")[0]["metadata"]["name"], "trainingjobs.ringleader.dev");
}

TEST_F(DeployTest, RbacHasNoSecretsNoWildcards) {
  auto docs = Kustomize();
  std::vector<json> roles = OfKind(docs, "ClusterRole");
  for (const auto& r : OfKind(docs, "Role")) roles.push_back(r);
  ASSERT_FALSE(roles.empty());
  for (const auto& role : roles) {
    for (const auto& rule : role["rules"]) {
      for (const char* list : {"apiGroups", "resources", "verbs"}) {
        for (const auto& item : rule[list]) {
          EXPECT_NE(item, "*") << role["metadata"]["name"] << " " << list;
          EXPECT_NE(item, "secrets") << role["metadata"]["name"];
        }
      }
    }
  }
}

// Exactly the verbs the operator's code calls (grep client_. in src/controller, src/kube):
// a missing verb breaks the operator on a real cluster, an extra one is privilege it does
// not need.
TEST_F(DeployTest, OperatorRolesGrantExactlyWhatTheControllerUses) {
  auto docs = Kustomize();
  using Grants = std::map<std::string, std::set<std::string>>;  // "group/resource" → verbs
  auto grants_of = [&](const std::string& kind, const std::string& name) {
    Grants grants;
    for (const auto& r : OfKind(docs, kind)) {
      if (r["metadata"]["name"] != name) continue;
      for (const auto& rule : r["rules"]) {
        for (const auto& group : rule["apiGroups"]) {
          for (const auto& resource : rule["resources"]) {
            for (const auto& verb : rule["verbs"]) {
              grants[group.get<std::string>() + "/" + resource.get<std::string>()].insert(verb);
            }
          }
        }
      }
    }
    return grants;
  };
  Grants want = {
      {"ringleader.dev/trainingjobs", {"list", "watch", "delete"}},
      {"ringleader.dev/trainingjobs/status", {"update"}},
      {"ringleader.dev/trainingjobs/finalizers", {"update"}},
      {"/pods", {"list", "watch", "create", "patch", "delete"}},
      {"/services", {"list", "watch", "create"}},
      {"/events", {"create", "patch"}},
      {"/nodes", {"list", "watch"}},
      {"scheduling.volcano.sh/podgroups", {"create"}},
      {"scheduling.x-k8s.io/podgroups", {"create"}},
      {"kueue.x-k8s.io/workloads", {"list", "watch", "create", "delete"}},
      {"kueue.x-k8s.io/workloads/status", {"update"}},
      {"kueue.x-k8s.io/localqueues", {"get"}},
      {"kueue.x-k8s.io/resourceflavors", {"get"}},
      {"scheduling.k8s.io/priorityclasses", {"get"}},
  };
  EXPECT_EQ(grants_of("ClusterRole", "ringleader-operator"), want);
  Grants lease = {{"coordination.k8s.io/leases", {"get", "create", "update"}}};
  EXPECT_EQ(grants_of("Role", "ringleader-leader-election"), lease);
}

TEST_F(DeployTest, DeploymentMeetsRestrictedProfile) {
  auto deployments = OfKind(Kustomize(), "Deployment");
  ASSERT_EQ(deployments.size(), 1u);
  const json& pod = deployments[0]["spec"]["template"]["spec"];
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(pod["serviceAccountName"], "ringleader-operator");
  for (const auto& c : pod["containers"]) {
    const json& sc = c["securityContext"];
    EXPECT_EQ(sc["allowPrivilegeEscalation"], false);
    EXPECT_EQ(sc["readOnlyRootFilesystem"], true);
    EXPECT_EQ(sc["capabilities"]["drop"], json::array({"ALL"}));
    EXPECT_FALSE(sc.value("privileged", false));
    EXPECT_TRUE(c.contains("livenessProbe"));
    EXPECT_TRUE(c.contains("readinessProbe"));
    EXPECT_TRUE(c["resources"].contains("requests"));
    EXPECT_EQ(c["image"], "ringleader/operator:0.1.0");  // set through kustomize images:
  }
}

}  // namespace
}  // namespace ringleader
