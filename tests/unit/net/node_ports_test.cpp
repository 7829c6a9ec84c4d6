// The nodePort registry shared by control planes: another live control plane's ports are never
// handed out, a dead one's are free again, and the directory must be private.
#include "runtime/net/node_ports.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "runtime/net/allocator.h"
#include "tests/support/temp_dir.h"

namespace ticketctl::net {
namespace {
namespace fs = std::filesystem;

// Another control plane: a child process that claims `port` in the registry at `dir` and stays
// alive until killed.
class OtherControlPlane {
 public:
  OtherControlPlane(const fs::path& dir, int port) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      auto registry = NodePortRegistry::open(dir, "/other/project");
      const bool claimed = registry.ok() && registry.value()->claim(port, "default/other").ok();
      const char byte = claimed ? '1' : '0';
      if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
      ::pause();
      ::_exit(0);
    }
    ::close(ready[1]);
    char byte = 0;
    EXPECT_EQ(::read(ready[0], &byte, 1), 1);
    EXPECT_EQ(byte, '1') << "the other control plane could not claim its port";
    ::close(ready[0]);
  }
  ~OtherControlPlane() { stop(); }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

class NodePortRegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodePortRegistry> open() {
    auto r = NodePortRegistry::open(dir(), "/this/project");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  fs::path dir() const { return tmp_.path() / "registry"; }
  testing::TempDir tmp_{"ticketctl-nodeports"};
};

TEST_F(NodePortRegistryTest, AnotherLiveControlPlanesPortIsRefusedAndFreeOnceItIsGone) {
  auto registry = open();
  ASSERT_TRUE(registry);
  OtherControlPlane other(dir(), 30100);
  auto held = registry->held_by_others();
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held.value(), (std::map<int, std::string>{{30100, "/other/project"}}));
  auto claim = registry->claim(30100, "default/mine");
  ASSERT_FALSE(claim.ok());
  EXPECT_EQ(claim.error().code, ErrorCode::AlreadyExists);
  EXPECT_NE(claim.error().message.find("/other/project"), std::string::npos);
  // A sync that wants the other's port reports it instead of taking it.
  auto conflicts = registry->sync({{30100, "default/mine"}, {30101, "default/mine2"}});
  ASSERT_TRUE(conflicts.ok());
  EXPECT_EQ(conflicts.value(), (std::map<int, std::string>{{30100, "/other/project"}}));

  other.stop();  // killed: its entry is stale now
  held = registry->held_by_others();
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(held.value().empty());
  EXPECT_TRUE(registry->claim(30100, "default/mine").ok());
}

TEST_F(NodePortRegistryTest, SyncFreesThePortsOfDeletedServicesAndReleaseAllFreesEverything) {
  auto mine = open();
  ASSERT_TRUE(mine);
  ASSERT_TRUE(mine->claim(30200, "default/a").ok());
  ASSERT_TRUE(mine->claim(30201, "default/b").ok());
  ASSERT_TRUE(mine->sync({{30200, "default/a"}}).ok());  // b was deleted
  std::ifstream in(mine->file());
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("30200"), std::string::npos);
  EXPECT_EQ(text.find("30201"), std::string::npos);
  mine->release_all();
  std::ifstream again(mine->file());
  const std::string after((std::istreambuf_iterator<char>(again)), {});
  EXPECT_EQ(after.find("30200"), std::string::npos);
}

TEST_F(NodePortRegistryTest, FilesArePrivateAndADirectoryOthersCanWriteIsRefused) {
  auto registry = open();
  ASSERT_TRUE(registry);
  ASSERT_TRUE(registry->claim(30300, "default/a").ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(registry->file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const fs::path open_dir = tmp_.path() / "open";
  fs::create_directories(open_dir);
  ::chmod(open_dir.c_str(), 0777);
  auto refused = NodePortRegistry::open(open_dir, "/this/project");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("writable by nobody else"), std::string::npos);

  const fs::path link = tmp_.path() / "link";
  fs::create_directory_symlink(dir(), link);
  auto through_link = NodePortRegistry::open(link, "/this/project");
  ASSERT_FALSE(through_link.ok());
  EXPECT_NE(through_link.error().message.find("symlink"), std::string::npos);
}

TEST_F(NodePortRegistryTest, AnUnreadableRegistryIsStartedAfresh) {
  fs::create_directories(dir());
  ::chmod(dir().c_str(), 0700);
  std::ofstream(dir() / "nodeports.json") << "{not json";
  auto registry = open();
  ASSERT_TRUE(registry);
  EXPECT_TRUE(registry->claim(30400, "default/a").ok());
  auto held = registry->held_by_others();
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(held.value().empty());
}

TEST(ProcessStartTime, NamesALiveProcessAndNothingForAGoneOne) {
  EXPECT_GT(process_start_time(::getpid()), 0u);
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(process_start_time(child), 0u);
}

// Admission with the registry: the allocator never hands out another project's port.
class SharedNodePorts : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = NodePortRegistry::open(tmp_.path() / "registry", "/this/project");
    ASSERT_TRUE(r.ok()) << r.error().message;
    registry_ = std::move(r.value());
    store_ = std::move(store::Store::open(tmp_.path() / "state.db").value());
    store_->set_admission([this](store::Store& s, const std::string& resource, Json& object,
                                 const Json* old) -> Result<bool> {
      if (resource != "services") return true;
      ServiceRange range;
      range.node_ports = registry_.get();
      range.ports_listening = [this] { return listening_; };
      return admit_service(s, range, object, old);
    });
  }
  static Json node_port_service(const std::string& name, int node_port = 0) {
    Json port = {{"port", 80}};
    if (node_port) port["nodePort"] = node_port;
    return {{"apiVersion", "v1"},
            {"kind", "Service"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", {{"type", "NodePort"}, {"selector", {{"app", name}}}, {"ports", {port}}}}};
  }
  int node_port(const std::string& name) {
    return store_->get({"services", "default", name}).value()["spec"]["ports"][0]["nodePort"];
  }
  testing::TempDir tmp_{"ticketctl-shared-nodeports"};
  std::unique_ptr<NodePortRegistry> registry_;
  std::unique_ptr<store::Store> store_;
  std::set<int> listening_;
};

TEST_F(SharedNodePorts, AllocationSkipsPortsOtherProjectsHoldOrOtherProgramsListenOn) {
  // The port this name would get first, found by allocating it once and deleting it again.
  ASSERT_TRUE(store_->create("services", node_port_service("web")).ok());
  const int first = node_port("web");
  ASSERT_TRUE(store_->remove({"services", "default", "web"}).ok());
  ASSERT_TRUE(registry_->sync({}).ok());

  OtherControlPlane other(tmp_.path() / "registry", first);
  listening_ = {first + 1};
  ASSERT_TRUE(store_->create("services", node_port_service("web")).ok());
  EXPECT_NE(node_port("web"), first);
  EXPECT_NE(node_port("web"), first + 1);

  // Asking for the other project's port by number is refused, naming the project.
  auto asked = store_->create("services", node_port_service("api", first));
  ASSERT_FALSE(asked.ok());
  EXPECT_EQ(asked.error().code, ErrorCode::Invalid);
  EXPECT_NE(asked.error().message.find("another ticketctl project"), std::string::npos);
  EXPECT_NE(asked.error().message.find("/other/project"), std::string::npos);
}

TEST_F(SharedNodePorts, AKeptPortAnotherProjectTookMeanwhileIsReplacedOnTheNextApply) {
  ASSERT_TRUE(store_->create("services", node_port_service("web")).ok());
  const int before = node_port("web");
  ASSERT_TRUE(registry_->sync({}).ok());  // as if this control plane had been down
  OtherControlPlane other(tmp_.path() / "registry", before);
  auto applied = store_->apply({{"services", node_port_service("web")}});
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied.value()[0].outcome, store::Outcome::Configured);
  EXPECT_NE(node_port("web"), before);
}

}  // namespace
}  // namespace ticketctl::net
