// See amqp_sasl.hpp. Proton stores the user name given to pnx_sasl_set_succeeded() without
// copying it, so it lives in the transport's SASL context until proton calls `free`.
#include "amqp_sasl.hpp"

#include <proton/sasl_plugin.h>

#include <cstdio>
#include <cstring>
#include <string_view>

namespace aliot::emu {

namespace {

PlainVerifier& verifier() {
  static PlainVerifier* v = new PlainVerifier(); // lives as long as proton's transports
  return *v;
}

void sasl_free(pn_transport_t* t) {
  delete static_cast<std::string*>(pnx_sasl_get_context(t));
  pnx_sasl_set_context(t, nullptr);
}

const char* sasl_list_mechanisms(pn_transport_t* /*t*/) {
  return "PLAIN";
}

bool sasl_init_server(pn_transport_t* t) {
  pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
  return true;
}

bool sasl_init_client(pn_transport_t* /*t*/) {
  return false; // the emulator is never an AMQP client
}

void sasl_prepare_write(pn_transport_t* /*t*/) {}

void refuse(pn_transport_t* t, const std::string& why) {
  std::fprintf(stderr, "aliot-emu: AMQP login refused: %s\n", why.c_str());
  pnx_sasl_set_failed(t);
  pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

void sasl_process_init(pn_transport_t* t, const char* mechanism, const pn_bytes_t* recv) {
  if (mechanism == nullptr || std::strcmp(mechanism, "PLAIN") != 0) {
    refuse(t, std::string("mechanism ") + (mechanism != nullptr ? mechanism : "(none)"));
    return;
  }
  if (!pnx_sasl_is_transport_encrypted(t)) {
    refuse(t, "PLAIN over an unencrypted connection");
    return;
  }
  // authzid NUL user NUL password
  const std::string_view raw(recv->start, recv->size);
  const auto a = raw.find('\0');
  const auto b = a == std::string_view::npos ? a : raw.find('\0', a + 1);
  if (b == std::string_view::npos) {
    refuse(t, "malformed PLAIN response");
    return;
  }
  auto* user = new std::string(raw.substr(a + 1, b - a - 1));
  const std::string password(raw.substr(b + 1));
  std::string why;
  const bool good = verifier() && verifier()(*user, password, why);
  if (!good) {
    delete user;
    refuse(t, why);
    return;
  }
  sasl_free(t);
  pnx_sasl_set_context(t, user);
  pnx_sasl_set_succeeded(t, user->c_str(), nullptr);
  pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

void sasl_process_response(pn_transport_t* t, const pn_bytes_t* /*recv*/) {
  refuse(t, "unexpected SASL response");
}

bool sasl_process_mechanisms(pn_transport_t* /*t*/, const char* /*mechs*/) {
  return false;
}

void sasl_process_challenge(pn_transport_t* /*t*/, const pn_bytes_t* /*recv*/) {}

void sasl_process_outcome(pn_transport_t* /*t*/, const pn_bytes_t* /*recv*/) {}

bool sasl_can_encrypt(pn_transport_t* /*t*/) {
  return false;
}

ssize_t sasl_max_encrypt_size(pn_transport_t* /*t*/) {
  return 0;
}

ssize_t sasl_encode(pn_transport_t* /*t*/, pn_bytes_t /*in*/, pn_bytes_t* /*out*/) {
  return 0;
}

ssize_t sasl_decode(pn_transport_t* /*t*/, pn_bytes_t /*in*/, pn_bytes_t* /*out*/) {
  return 0;
}

const pnx_sasl_implementation k_impl = {sasl_free,
                                        sasl_list_mechanisms,
                                        sasl_init_server,
                                        sasl_init_client,
                                        sasl_prepare_write,
                                        sasl_process_init,
                                        sasl_process_response,
                                        sasl_process_mechanisms,
                                        sasl_process_challenge,
                                        sasl_process_outcome,
                                        sasl_can_encrypt,
                                        sasl_max_encrypt_size,
                                        sasl_encode,
                                        sasl_decode};

} // namespace

void install_plain_sasl(PlainVerifier verify) {
  verifier() = std::move(verify);
  pnx_sasl_set_default_implementation(&k_impl);
}

} // namespace aliot::emu
