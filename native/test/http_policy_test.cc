// SPDX-License-Identifier: Apache-2.0
// The HTTP interceptor's decisions: which requests match, what a faulted one gets, and the
// header edits applied to heads.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../injectors/http_policy.h"

namespace faultd::inj {
namespace {

sockaddr_storage V4(const char* text) {
  sockaddr_storage s{};
  auto* a = reinterpret_cast<sockaddr_in*>(&s);
  a->sin_family = AF_INET;
  inet_pton(AF_INET, text, &a->sin_addr);
  return s;
}

sockaddr_storage V6(const char* text) {
  sockaddr_storage s{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&s);
  a->sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &a->sin6_addr);
  return s;
}

HttpRequestHead Req(std::string method, std::string target, std::vector<HttpHeader> headers = {}) {
  return {std::move(method), std::move(target), "", std::move(headers)};
}

TEST(HttpPolicy, EmptyFiltersMatchEverythingAndBlockAnswersTheStatus) {
  HttpPolicy p;
  p.status = 503;
  const HttpDecision d = Decide(p, Req("GET", "/"), V4("10.0.0.1"), 0.5);
  EXPECT_TRUE(d.matched);
  EXPECT_TRUE(d.faulted);
  EXPECT_TRUE(d.respond_now);
  EXPECT_EQ(d.respond_status, 503);
  EXPECT_EQ(d.respond_body, "faultd: request blocked (HTTP 503)\n");
  EXPECT_EQ(d.replace_status, 0);
}

TEST(HttpPolicy, PathPrefixIgnoresTheQueryAndAbsoluteFormAuthority) {
  HttpPolicy p;
  p.path_prefix = "/api/v1";
  EXPECT_TRUE(Decide(p, Req("GET", "/api/v1/users?x=/api/v1"), V4("1.1.1.1"), 0).faulted);
  EXPECT_TRUE(Decide(p, Req("GET", "http://svc.test:8080/api/v1/x"), V4("1.1.1.1"), 0).faulted);
  EXPECT_FALSE(Decide(p, Req("GET", "/api/v2?p=/api/v1"), V4("1.1.1.1"), 0).matched);
  EXPECT_FALSE(Decide(p, Req("GET", "/ap"), V4("1.1.1.1"), 0).matched);
  EXPECT_FALSE(Decide(p, Req("GET", "http://svc.test"), V4("1.1.1.1"), 0).matched);
}

TEST(HttpPolicy, MethodsAreAnyOfExactUpperCase) {
  HttpPolicy p;
  p.methods = {"POST", "PUT"};
  EXPECT_TRUE(Decide(p, Req("POST", "/"), V4("1.1.1.1"), 0).faulted);
  EXPECT_TRUE(Decide(p, Req("PUT", "/"), V4("1.1.1.1"), 0).faulted);
  EXPECT_FALSE(Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0).matched);
  EXPECT_FALSE(Decide(p, Req("post", "/"), V4("1.1.1.1"), 0).matched);
}

TEST(HttpPolicy, HeadersMustAllBePresentNameCaseInsensitiveValueExact) {
  HttpPolicy p;
  p.match_headers = {{"X-Team", "blue"}, {"x-env", "prod"}};
  EXPECT_TRUE(Decide(p, Req("GET", "/", {{"x-team", "blue"}, {"X-ENV", "prod"}}), V4("1.1.1.1"), 0).faulted);
  EXPECT_FALSE(Decide(p, Req("GET", "/", {{"x-team", "blue"}}), V4("1.1.1.1"), 0).matched);
  EXPECT_FALSE(Decide(p, Req("GET", "/", {{"x-team", "Blue"}, {"x-env", "prod"}}), V4("1.1.1.1"), 0).matched);
  // A repeated field: any of its values may carry the match.
  EXPECT_TRUE(Decide(p, Req("GET", "/", {{"x-team", "red"}, {"x-team", "blue"}, {"x-env", "prod"}}), V4("1.1.1.1"), 0).faulted);
}

TEST(HttpPolicy, QueryParamsArePercentDecoded) {
  HttpPolicy p;
  p.query = {{"user id", "a&b"}, {"flag", ""}};
  EXPECT_TRUE(Decide(p, Req("GET", "/s?x=1&user%20id=a%26b&flag"), V4("1.1.1.1"), 0).faulted);
  EXPECT_TRUE(Decide(p, Req("GET", "/s?user+id=a%26b&flag=#frag"), V4("1.1.1.1"), 0).faulted);
  EXPECT_FALSE(Decide(p, Req("GET", "/s?user%20id=a&flag"), V4("1.1.1.1"), 0).matched);
  EXPECT_FALSE(Decide(p, Req("GET", "/s"), V4("1.1.1.1"), 0).matched);
}

TEST(HttpPolicy, SourcesMatchIpv4Ipv6AndMappedAddresses) {
  HttpPolicy p;
  HttpSourceRange r4, r6;
  ASSERT_TRUE(ParseSourceRange("10.1.0.0/16", &r4));
  ASSERT_TRUE(ParseSourceRange("fd00::/8", &r6));
  p.sources = {r4, r6};
  EXPECT_TRUE(Decide(p, Req("GET", "/"), V4("10.1.200.3"), 0).faulted);
  EXPECT_TRUE(Decide(p, Req("GET", "/"), V6("::ffff:10.1.2.3"), 0).faulted);
  EXPECT_TRUE(Decide(p, Req("GET", "/"), V6("fd12::1"), 0).faulted);
  EXPECT_FALSE(Decide(p, Req("GET", "/"), V4("10.2.0.1"), 0).matched);
  EXPECT_FALSE(Decide(p, Req("GET", "/"), V6("fe80::1"), 0).matched);
  HttpSourceRange odd;
  ASSERT_TRUE(ParseSourceRange("192.168.1.128/25", &odd));
  p.sources = {odd};
  EXPECT_TRUE(Decide(p, Req("GET", "/"), V4("192.168.1.200"), 0).faulted);
  EXPECT_FALSE(Decide(p, Req("GET", "/"), V4("192.168.1.100"), 0).matched);
}

TEST(HttpPolicy, ParseSourceRangeRejectsBadText) {
  HttpSourceRange r;
  EXPECT_FALSE(ParseSourceRange("10.0.0.0/33", &r));
  EXPECT_FALSE(ParseSourceRange("::/129", &r));
  EXPECT_FALSE(ParseSourceRange("10.0.0.0/", &r));
  EXPECT_FALSE(ParseSourceRange("10.0.0.0/x", &r));
  EXPECT_FALSE(ParseSourceRange("host.test", &r));
  ASSERT_TRUE(ParseSourceRange("2001:db8::1", &r));
  EXPECT_EQ(r.family, AF_INET6);
  EXPECT_EQ(r.prefix_len, 128);
}

TEST(HttpPolicy, PercentageSplitsOnTheDraw) {
  HttpPolicy p;
  p.percentage = 30;
  EXPECT_TRUE(Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0.2999).faulted);
  const HttpDecision lost = Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0.30);
  EXPECT_TRUE(lost.matched);
  EXPECT_FALSE(lost.faulted);
  EXPECT_FALSE(lost.respond_now);
  p.percentage = 0;
  EXPECT_FALSE(Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0).faulted);
  p.percentage = 100;
  EXPECT_TRUE(Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0.99999).faulted);
}

TEST(HttpPolicy, DirectionPicksTheSides) {
  HttpPolicy p;
  p.action = HttpAction::kLatency;
  p.latency_ms = 250;
  p.direction = HttpDirection::kRequest;
  HttpDecision d = Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0);
  EXPECT_EQ(d.request_delay_ms, 250u);
  EXPECT_EQ(d.response_delay_ms, 0u);
  p.direction = HttpDirection::kBoth;
  d = Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0);
  EXPECT_EQ(d.request_delay_ms, 250u);
  EXPECT_EQ(d.response_delay_ms, 250u);
  p.action = HttpAction::kBody;
  p.body = "{}";
  p.direction = HttpDirection::kResponse;
  d = Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0);
  EXPECT_FALSE(d.replace_request_body);
  EXPECT_TRUE(d.replace_response_body);
  EXPECT_EQ(d.body, "{}");
  p.action = HttpAction::kHeader;
  p.direction = HttpDirection::kRequest;
  d = Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0);
  EXPECT_TRUE(d.edit_request_headers);
  EXPECT_FALSE(d.edit_response_headers);
}

TEST(HttpPolicy, StatusReplacesTheBodyOnlyWhenGiven) {
  HttpPolicy p;
  p.action = HttpAction::kStatus;
  p.status = 500;
  HttpDecision d = Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0);
  EXPECT_EQ(d.replace_status, 500);
  EXPECT_FALSE(d.replace_response_body);
  EXPECT_FALSE(d.respond_now);
  p.body = "oops";
  p.has_body = true;
  d = Decide(p, Req("GET", "/"), V4("1.1.1.1"), 0);
  EXPECT_TRUE(d.replace_response_body);
  EXPECT_EQ(d.body, "oops");
}

TEST(HttpPolicy, ViewAndOwnedHeadsDecideAlike) {
  HttpPolicy p;
  p.path_prefix = "/x";
  p.match_headers = {{"a", "1"}};
  const HttpHeaderView hv[] = {{"A", "1"}};
  EXPECT_TRUE(Decide(p, HttpRequestView{"GET", "/x/y", hv}, V4("1.1.1.1"), 0).faulted);
  EXPECT_FALSE(Decide(p, HttpRequestView{"GET", "/y", hv}, V4("1.1.1.1"), 0).matched);
  EXPECT_FALSE(Decide(p, HttpRequestView{"GET", "/x", {}}, V4("1.1.1.1"), 0).matched);
}

TEST(HttpPolicy, HeaderEditsRemoveThenSetKeepingPlace) {
  HttpPolicy p;
  p.remove_headers = {"x-drop"};
  p.set_headers = {{"X-Set", "new"}, {"X-Add", "1"}};
  std::vector<HttpHeader> h = {{"Host", "a"}, {"x-set", "old"}, {"X-Drop", "1"}, {"X-SET", "old2"}, {"x-drop", "2"}, {"Accept", "*/*"}};
  ApplyHeaderEdits(p, h);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].name, "Host");
  EXPECT_EQ(h[1].name, "x-set");
  EXPECT_EQ(h[1].value, "new");
  EXPECT_EQ(h[2].name, "Accept");
  EXPECT_EQ(h[3].name, "X-Add");
  EXPECT_EQ(h[3].value, "1");
}

TEST(HttpPolicy, ReframeDropsFramingAndEncoding) {
  std::vector<HttpHeader> h = {{"Content-Type", "text/plain"}, {"transfer-encoding", "chunked"}, {"Content-Encoding", "gzip"},
                               {"Trailer", "X-Sum"}, {"content-length", "99"}};
  ReframeForBody(h, 5);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].name, "Content-Type");
  EXPECT_EQ(h[1].name, "Content-Length");
  EXPECT_EQ(h[1].value, "5");
  EXPECT_EQ(*FindHeader(h, "CONTENT-LENGTH"), "5");
  EXPECT_EQ(FindHeader(h, "trailer"), nullptr);
}

TEST(HttpPolicy, PercentDecodeKeepsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("a%20b+c"), "a b c");
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(PercentDecode("%41%62"), "Ab");
  EXPECT_EQ(ReasonPhrase(404), "Not Found");
  EXPECT_EQ(ReasonPhrase(299), "");
}

}  // namespace
}  // namespace faultd::inj
