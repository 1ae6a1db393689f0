// The boundary between libaliot and the AMQP module (libaliot-amqp.so): the consumer over Qpid
// Proton C++ is built as a module loaded on first use (module_loader.cpp), so only `aliot cloud
// sub` loads proton and its libraries. Both sides are built from the same tree by the same
// compiler, so the entry point hands over a C++ function; the version in its name changes when
// the signature or a type it takes does (v2: ConsumerOptions::on_attached, Step::skip).
#pragma once

#include <aliot/amqp.hpp>

namespace aliot::amqp::module {

using ConsumeFn = Result<ConsumeStats> (*)(const ConsumerOptions&, const Handler&);

// Defined in consumer.cpp (inside the module).
Result<ConsumeStats> consume_proton(const ConsumerOptions& o, const Handler& handler);

} // namespace aliot::amqp::module

// The module's one exported symbol (the module is built with hidden visibility).
extern "C" __attribute__((visibility("default"))) aliot::amqp::module::ConsumeFn
aliot_amqp_module_v2();
