// Server-side SASL PLAIN for the emulator's AMQP endpoint, through proton's SASL plugin API.
// Debian's proton is built without Cyrus, and its built-in SASL offers a server only ANONYMOUS
// and EXTERNAL; the plugin API (proton/sasl_plugin.h) hands us the raw PLAIN response instead.
#pragma once

#include <functional>
#include <string>

namespace aliot::emu {

// Decides a PLAIN login; false refuses it (`why` goes to the broker log).
using PlainVerifier =
    std::function<bool(const std::string& user, const std::string& password, std::string& why)>;

// Installs the process-wide SASL implementation (before any AMQP transport exists). It offers
// PLAIN only, refuses PLAIN on an unencrypted transport, and acts as no client.
void install_plain_sasl(PlainVerifier verify);

} // namespace aliot::emu
