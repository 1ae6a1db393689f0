#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/openapi.hpp>

#include <algorithm>

namespace aliot::openapi {

std::string canonical_query(const Params& params) {
  std::vector<std::pair<std::string, std::string>> enc_pairs;
  enc_pairs.reserve(params.size());
  for (const auto& [k, v] : params) {
    if (k == "Signature") {
      continue;
    }
    enc_pairs.emplace_back(enc::percent_encode(k), enc::percent_encode(v));
  }
  std::sort(enc_pairs.begin(), enc_pairs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [k, v] : enc_pairs) {
    if (!out.empty()) {
      out.push_back('&');
    }
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::string string_to_sign(std::string_view http_method, const Params& params) {
  return std::string(http_method) + "&" + enc::percent_encode("/") + "&"
         + enc::percent_encode(canonical_query(params));
}

Result<std::string> signature(const Secret& access_key_secret, std::string_view sts) {
  ALIOT_TRY_ASSIGN(auto mac,
                   crypto::hmac(crypto::Hmac::sha1, access_key_secret.reveal() + "&", sts));
  return enc::base64_encode(mac);
}

} // namespace aliot::openapi
