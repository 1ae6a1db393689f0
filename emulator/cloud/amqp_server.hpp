// The emulator's AMQP 1.0 endpoint: the platform's server-side subscription (spec section 7).
//
// A TLS listener in the broker process, run by one proton container on its own thread. A login
// is SASL PLAIN with the signed user name of spec 7, verified against the registry's AccessKeys
// and consumer groups (amqp_sasl.hpp); a connection without TLS or without that login is closed.
// Every device message the broker accepted (after the topic-rights check) is queued for each
// consumer group of the device's product; the consumers attached to a group share its messages
// (round-robin over those with credit). A message leaves the group only when a consumer accepts
// it: released, modified, unsettled at link/connection loss, it goes back in order and is
// delivered again with delivery-count + 1. One receiver link per connection; no sender links.
//
// Threading: publish() is called on the broker thread; it only queues and wakes the AMQP
// thread. Every proton object lives on the AMQP thread.
#pragma once

#include <memory>
#include <string>

namespace aliot::emu {

struct AmqpOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string cert_file, key_file; // the certificate needs a DNS SAN (clients connect by name)
};

// Builds the TLS context, opens the listener and starts the AMQP thread; false with `why`
// when the certificate cannot be loaded or the port cannot be bound.
bool start_amqp(const AmqpOptions& o, std::string& why);

// Broker thread: a device of product `pk` published `payload` on `topic`.
void amqp_publish(const std::string& pk, const std::string& topic, const std::string& payload);
// A device status message: to the product's groups that asked for them (--device-status).
void amqp_publish_status(const std::string& pk,
                         const std::string& topic,
                         const std::string& payload);

// Stops the AMQP thread and releases everything (unsent messages are lost).
void stop_amqp();

} // namespace aliot::emu
