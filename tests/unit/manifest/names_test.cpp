#include "runtime/manifest/names.h"

#include <gtest/gtest.h>

namespace ticketctl::manifest {
namespace {

TEST(Names, Dns1123Label) {
  EXPECT_FALSE(check_dns1123_label("posts"));
  EXPECT_FALSE(check_dns1123_label("123-abc"));
  EXPECT_TRUE(check_dns1123_label("Posts"));
  EXPECT_TRUE(check_dns1123_label("posts_depl"));
  EXPECT_TRUE(check_dns1123_label("-posts"));
  EXPECT_TRUE(check_dns1123_label("a.b"));
  EXPECT_TRUE(check_dns1123_label(""));
  EXPECT_EQ(check_dns1123_label(std::string(64, 'a')), "must be no more than 63 characters");
}

TEST(Names, Dns1123Subdomain) {
  EXPECT_FALSE(check_dns1123_subdomain("posts-depl"));
  EXPECT_FALSE(check_dns1123_subdomain("a.b.c"));
  EXPECT_TRUE(check_dns1123_subdomain("a..b"));
  EXPECT_TRUE(check_dns1123_subdomain("posts."));
  EXPECT_TRUE(check_dns1123_subdomain("Posts"));
}

TEST(Names, Dns1035LabelMustStartWithALetter) {
  EXPECT_FALSE(check_dns1035_label("query-srv"));
  EXPECT_TRUE(check_dns1035_label("4query"));
}

TEST(Names, LabelKeysAndValues) {
  EXPECT_FALSE(check_label_key("app"));
  EXPECT_FALSE(check_label_key("app.kubernetes.io/name"));
  EXPECT_FALSE(check_label_key("nginx.ingress.kubernetes.io/use-regex"));
  EXPECT_TRUE(check_label_key("/name"));
  EXPECT_TRUE(check_label_key("Example.com/name"));
  EXPECT_TRUE(check_label_key("my app"));
  EXPECT_FALSE(check_label_value(""));
  EXPECT_FALSE(check_label_value("v1.2_x-Y"));
  EXPECT_TRUE(check_label_value("-x"));
  EXPECT_TRUE(check_label_value(std::string(64, 'a')));
}

TEST(Names, EnvVarNamesAndConfigKeys) {
  EXPECT_FALSE(check_env_var_name("JWT_KEY"));
  EXPECT_FALSE(check_env_var_name("my.env-name"));
  // Kubernetes 1.32's relaxed rule: printable ASCII but '='.
  EXPECT_FALSE(check_env_var_name("1KEY"));
  EXPECT_FALSE(check_env_var_name("my var"));
  EXPECT_TRUE(check_env_var_name("JWT_KEY=asdf"));
  EXPECT_TRUE(check_env_var_name(""));
  EXPECT_TRUE(check_env_var_name("caf\xc3\xa9"));
  EXPECT_FALSE(check_config_key("nginx.conf"));
  EXPECT_TRUE(check_config_key("a/b"));
  EXPECT_TRUE(check_config_key(".."));
}

TEST(Names, PortNames) {
  EXPECT_FALSE(check_port_name("http"));
  EXPECT_FALSE(check_port_name("posts-4000"));
  EXPECT_TRUE(check_port_name("4000"));
  EXPECT_TRUE(check_port_name("HTTP"));
  EXPECT_TRUE(check_port_name("a--b"));
  EXPECT_TRUE(check_port_name("-http"));
  EXPECT_TRUE(check_port_name("a-very-long-port-name"));
}

TEST(Names, Quantities) {
  for (const char* ok : {"100m", "1Gi", "0.5", "1", "128974848", "129e6", "123Mi", "1E3", "+1k"})
    EXPECT_FALSE(check_quantity(ok)) << ok;
  for (const char* bad : {"", "1GB", "abc", "1.2.3", "Gi", "1 Gi"})
    EXPECT_TRUE(check_quantity(bad)) << bad;
}

TEST(Names, IngressHosts) {
  EXPECT_FALSE(check_ingress_host("posts.com"));
  EXPECT_FALSE(check_ingress_host("*.ticketing.dev"));
  EXPECT_TRUE(check_ingress_host("foo.*.dev"));
  EXPECT_TRUE(check_ingress_host("127.0.0.1"));
  EXPECT_TRUE(check_ingress_host("Posts.com"));
}

}  // namespace
}  // namespace ticketctl::manifest
