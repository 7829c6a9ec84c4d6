#include "runtime/api/selector.h"

#include <gtest/gtest.h>

namespace ticketctl::api {
namespace {

const Json kLabels = Json::parse(R"({"app": "posts", "tier": "api", "replicas": "3"})");

bool selects(std::string_view selector) {
  Result<Selector> s = parse_label_selector(selector);
  EXPECT_TRUE(s.ok()) << selector << ": " << (s.ok() ? "" : s.error().message);
  return s.ok() && matches(s.value(), kLabels);
}

std::string refusal(std::string_view selector) {
  Result<Selector> s = parse_label_selector(selector);
  EXPECT_FALSE(s.ok()) << selector;
  return s.ok() ? std::string() : s.error().message;
}

TEST(LabelSelector, KubernetesForms) {
  EXPECT_TRUE(selects(""));
  EXPECT_TRUE(selects("app=posts"));
  EXPECT_TRUE(selects("app==posts, tier = api"));
  EXPECT_FALSE(selects("app!=posts"));
  EXPECT_TRUE(selects("app!="));  // an empty value is a value: app is not ""
  EXPECT_TRUE(selects("tier in (web,api)"));
  EXPECT_FALSE(selects("tier notin (web, api)"));
  EXPECT_TRUE(selects("app,!canary"));
  EXPECT_FALSE(selects("!app"));
  EXPECT_TRUE(
      selects("example.com/team"
              "!=x"));
  EXPECT_TRUE(selects("replicas>2,replicas<4"));
  EXPECT_FALSE(selects("replicas>3"));
  EXPECT_FALSE(selects("app>1"));  // not a number: no match, as Kubernetes does
}

TEST(LabelSelector, GarbageIsRefusedNamingTheSelectorAndWhere) {
  EXPECT_EQ(refusal("a!=,,,!b"),
            "unable to parse label selector \"a!=,,,!b\": found \",\" at position 5, expected a "
            "label key");
  EXPECT_EQ(refusal("app=posts,"),
            "unable to parse label selector \"app=posts,\": found the end, expected a label key");
  EXPECT_EQ(refusal("a b"),
            "unable to parse label selector \"a b\": found \"b\" at position 3, expected an "
            "operator (=, ==, !=, in, notin, >, <), ',' or the end");
  EXPECT_EQ(refusal("tier in web"),
            "unable to parse label selector \"tier in web\": found \"w\" at position 9, expected "
            "'('");
  EXPECT_EQ(refusal("tier in (a,"),
            "unable to parse label selector \"tier in (a,\": found the end, expected a label "
            "value");
  EXPECT_NE(refusal("bad key!=x").find("expected an operator"), std::string::npos);
  EXPECT_NE(refusal("-x=y").find("invalid label selector \"-x=y\": key \"-x\""), std::string::npos);
  EXPECT_NE(refusal("a=" + std::string(64, 'v')).find("value \"vvvv"), std::string::npos);
  EXPECT_NE(refusal("n>two").find("value \"two\": must be an integer"), std::string::npos);
  EXPECT_NE(refusal("a=(b)").find("found \"(\""), std::string::npos);
}

TEST(FieldSelector, TermsAndEscapes) {
  Result<Selector> s = parse_field_selector("metadata.name=a\\,b,,status.phase!=Running");
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s.value().size(), 2u);
  EXPECT_EQ(s.value()[0].values[0], "a,b");
  EXPECT_EQ(s.value()[1].op, Requirement::Op::NotEquals);
  EXPECT_TRUE(matches_fields(s.value(), Json::parse(R"({"metadata": {"name": "a,b"}})")));

  Result<Selector> bad = parse_field_selector("metadata.name");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "invalid field selector \"metadata.name\": cannot understand \"metadata.name\" (write "
            "field=value, field==value or field!=value)");
  EXPECT_FALSE(parse_field_selector("=x").ok());
  EXPECT_FALSE(parse_field_selector("spec.secret=x").ok());
}

}  // namespace
}  // namespace ticketctl::api
