#include "runtime/supervisor/volumes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace ticketctl::supervisor {
namespace {
namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

class VolumesUnitTest : public ::testing::Test {
 protected:
  VolumeInputs inputs(const Json& container) {
    VolumeInputs in;
    in.pod = &pod_;
    in.container = &container_;
    container_ = container;
    in.pod_dir = tmp_.path() / "pod";
    in.claims_dir = tmp_.path() / "claims";
    in.lookup = [this](const std::string& resource, const std::string&,
                       const std::string& name) -> std::optional<Json> {
      auto it = objects_.find(resource + "/" + name);
      if (it == objects_.end()) return std::nullopt;
      return it->second;
    };
    return in;
  }
  testing::TempDir tmp_{"ticketctl-volumes-unit"};
  Json pod_ =
      Json::parse(R"({"metadata": {"namespace": "default", "name": "p"}, "spec": {"volumes": [
      {"name": "scratch", "emptyDir": {}},
      {"name": "creds", "secret": {"secretName": "creds"}},
      {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}})");
  Json container_;
  std::map<std::string, Json> objects_ = {
      {"secrets/creds", Json::parse(R"({"data": {"password": "czNjcmV0"}})")},
      {"persistentvolumeclaims/data",
       Json::parse(R"({"metadata": {"namespace": "default", "name": "data", "uid": "u1"}})")}};
};

TEST_F(VolumesUnitTest, MountsBecomeHostDirectoriesAndSecretsPrivateFiles) {
  VolumeInputs in = inputs(Json::parse(R"({"name": "main", "volumeMounts": [
      {"name": "scratch", "mountPath": "/scratch"},
      {"name": "creds", "mountPath": "/etc/creds/"},
      {"name": "data", "mountPath": "/var/lib/postgresql/data", "subPath": "pg"}]})"));
  in.image_volume = "/var/lib/postgresql/data";
  in.first_start = true;
  Result<PreparedVolumes> v = prepare_volumes(in);
  ASSERT_TRUE(v.ok()) << v.error().message;
  const fs::path secret = tmp_.path() / "pod/volumes/creds/password";
  EXPECT_EQ(read(secret), "s3cret");
  struct stat st {};
  ASSERT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The claim's subdirectory holds the image's data.
  EXPECT_EQ(v.value().data_dir, tmp_.path() / "claims/default_data_u1/pg");
  EXPECT_EQ(mounts_env(v.value().mounts),
            "rw /var/lib/postgresql/data=" + (tmp_.path() / "claims/default_data_u1/pg").string() +
                "\nro /etc/creds=" + (tmp_.path() / "pod/volumes/creds").string() +
                "\nrw /scratch=" + (tmp_.path() / "pod/volumes/scratch").string() + "\n");

  // A later start keeps the emptyDir; a first start (a new pod, or after down/up) empties it.
  std::ofstream(tmp_.path() / "pod/volumes/scratch/f") << "x";
  in.first_start = false;
  ASSERT_TRUE(prepare_volumes(in).ok());
  EXPECT_TRUE(fs::exists(tmp_.path() / "pod/volumes/scratch/f"));
  in.first_start = true;
  ASSERT_TRUE(prepare_volumes(in).ok());
  EXPECT_FALSE(fs::exists(tmp_.path() / "pod/volumes/scratch/f"));

  // The Secret changes: the file follows; a claim no longer stored loses its directory.
  objects_["secrets/creds"] = Json::parse(R"({"stringData": {"password": "new"}})");
  EXPECT_TRUE(refresh_projected_volumes(pod_, in.pod_dir, in));
  EXPECT_EQ(read(secret), "new");
  EXPECT_FALSE(refresh_projected_volumes(pod_, in.pod_dir, in));
  collect_claim_dirs(in.claims_dir, {"u2"});
  EXPECT_FALSE(fs::exists(tmp_.path() / "claims/default_data_u1"));
}

TEST_F(VolumesUnitTest, AHostPathOutsideTheProjectIsMountedWithAWarning) {
  pod_["spec"]["volumes"].push_back(
      {{"name", "host"},
       {"hostPath",
        {{"path", (tmp_.path() / "elsewhere").string()}, {"type", "DirectoryOrCreate"}}}});
  VolumeInputs in = inputs(Json::parse(
      R"({"name": "main", "volumeMounts": [{"name": "host", "mountPath": "/host", "readOnly": true}]})"));
  in.project_dir = tmp_.path() / "project";
  Result<PreparedVolumes> v = prepare_volumes(in);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(fs::is_directory(tmp_.path() / "elsewhere"));
  EXPECT_EQ(mounts_env(v.value().mounts),
            "ro /host=" + (tmp_.path() / "elsewhere").string() + "\n");
  ASSERT_EQ(v.value().warnings.size(), 1u);
  EXPECT_NE(v.value().warnings[0].find("is outside the project"), std::string::npos);
  in.project_dir = tmp_.path();
  EXPECT_TRUE(prepare_volumes(in).value().warnings.empty());
}

TEST_F(VolumesUnitTest, WhatCannotBeMountedSaysWhy) {
  VolumeInputs in = inputs(Json::parse(
      R"({"name": "main", "volumeMounts": [{"name": "scratch", "mountPath": "/s", "subPath": "../x"}]})"));
  Result<PreparedVolumes> v = prepare_volumes(in);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message, "volumeMount /s: subPath ../x leaves the volume");
  objects_.erase("secrets/creds");
  in = inputs(
      Json::parse(R"({"name": "main", "volumeMounts": [{"name": "creds", "mountPath": "/c"}]})"));
  v = prepare_volumes(in);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message, "volume creds: secret \"creds\" not found");
}

}  // namespace
}  // namespace ticketctl::supervisor
