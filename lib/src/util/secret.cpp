#include <aliot/crypto.hpp>
#include <aliot/secret.hpp>

#include <openssl/crypto.h>

namespace aliot {

void Secret::wipe() {
  if (!m_value.empty()) {
    OPENSSL_cleanse(m_value.data(), m_value.size());
  }
  m_value.clear();
}

Secret& Secret::operator=(const Secret& other) {
  if (this != &other) {
    wipe();
    m_value = other.m_value;
  }
  return *this;
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    m_value = std::move(other.m_value);
  }
  return *this;
}

Secret::~Secret() {
  wipe();
}

bool operator==(const Secret& a, const Secret& b) {
  return crypto::equal_ct(a.m_value, b.m_value);
}

} // namespace aliot
