// OpenAPI signature 1.0 against every Set A vector (spec section 10, A.4) and A.6's negatives.
#include "unwrap.hpp"

#include <aliot/openapi.hpp>
#include <aliot/time.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace aliot;
using nlohmann::json;

namespace {

openapi::Params params_of(const json& v) {
  openapi::Params p;
  for (const auto& [k, val] : v["params"].items()) {
    p.emplace_back(k, val.get<std::string>());
  }
  return p;
}

} // namespace

TEST(OpenApiSignature, EverySetAVector) {
  std::ifstream f(std::string(ALIOT_TEST_DATA) + "/vectors-a.json");
  const json all = json::parse(f);
  int n = 0;
  for (const auto& v : all["vectors"]) {
    if (v["scheme"] != "openapi_rpc_signature") {
      continue;
    }
    SCOPED_TRACE(v["action"].dump());
    const auto p = params_of(v);
    EXPECT_EQ(openapi::canonical_query(p), v["canonicalized_query"].get<std::string>());
    const auto sts = openapi::string_to_sign(v["http_method"].get<std::string>(), p);
    EXPECT_EQ(sts, v["string_to_sign"].get<std::string>());
    EXPECT_EQ(
        test::unwrap(openapi::signature(Secret(v["accessKeySecret"].get<std::string>()), sts)),
        v["signature"].get<std::string>());
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(OpenApiSignature, MethodAndEveryParameterAreSigned) {
  openapi::Params p{{"Action", "RRpc"}, {"Timeout", "5000"}};
  const Secret s("k");
  const auto post = test::unwrap(openapi::signature(s, openapi::string_to_sign("POST", p)));
  EXPECT_NE(post, test::unwrap(openapi::signature(s, openapi::string_to_sign("GET", p))));
  p.pop_back();
  EXPECT_NE(post, test::unwrap(openapi::signature(s, openapi::string_to_sign("POST", p))));
}

TEST(OpenApiSignature, Iso8601Timestamp) {
  EXPECT_EQ(utc_iso8601(1704067200), "2024-01-01T00:00:00Z");
}
