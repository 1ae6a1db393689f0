// AMQP 1.0 server-side subscription (spec section 7): the backend receives every message a
// product's devices publish, through a consumer group, over TLS with a signed SASL PLAIN login.
//
// Two parts:
//  - credentials: the SASL user name and password of a consumer (pure; the time is an input,
//    so the spec's vectors are reproducible), and the parser the emulator verifies them with;
//  - consume(): the consumer flow (connect, credit, accept each message only after the handler
//    has written it, release the ones it does not want back to the group, drop duplicate
//    messageIds, reconnect with backoff and freshly signed
//    credentials, stop flag, deadline).
// No AMQP library type appears here; the flow is built on Qpid Proton C++ in lib/src/amqp.
#pragma once

#include <aliot/error.hpp>
#include <aliot/secret.hpp>
#include <aliot/sign.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace aliot::amqp {

// ---- credentials (spec 7) ----

struct CredentialParams {
  std::string client_id; // <= 64 characters
  std::string access_key_id;
  sign::Method method = sign::Method::hmacsha256;
  std::string timestamp; // milliseconds as text
  std::string consumer_group;
  std::optional<std::string> instance_id; // iotInstanceId, only for instances that have one
};

struct Credentials {
  std::string username; // `clientId|authMode=aksign,...|`
  std::string string_to_sign;
  Secret password; // Base64(HMAC(secret, string_to_sign))
};

// "authId=<id>&timestamp=<ms>"
std::string string_to_sign(std::string_view access_key_id, std::string_view timestamp);
// Base64 of the HMAC of string_to_sign with the AccessKey secret.
Result<std::string> password(sign::Method method,
                             std::string_view access_key_secret,
                             std::string_view access_key_id,
                             std::string_view timestamp);
Result<Credentials> credentials(const CredentialParams& p, const Secret& access_key_secret);

// A parsed user name: the client id and the unordered key=value options between the bars
// (keys as sent; lookups through option() ignore case).
struct UserName {
  std::string client_id;
  std::map<std::string, std::string> options;
  std::optional<std::string> option(std::string_view key) const;
};
// Errc::auth for anything that is not `id|k=v,...|`.
Result<UserName> parse_username(std::string_view username);

// A client id for a consumer started without one: this host's name (at most 40 characters) and
// the process id, with the characters the user name reserves ('|', ',', '=', ' ') as '_'.
std::string default_client_id();

// Checks client id length and characters, consumer group and instance id (Errc::usage).
Result<void> validate_params(const CredentialParams& p);

// ---- endpoint ----

struct Endpoint {
  std::string host;
  int port = 5671;
  bool tls = true; // amqps:// (the platform's only scheme); amqp:// is plain, for tests
};
// `amqps://HOST[:PORT]`, `amqp://HOST[:PORT]` or `HOST[:PORT]` (TLS, port 5671).
Result<Endpoint> parse_endpoint(std::string_view text);
// ${uid}.iot-amqp.${region}.aliyuncs.com is the platform's host; the console shows it.

// ---- consumer ----

struct Message {
  std::string topic;
  std::string message_id;
  std::optional<std::int64_t> generate_time; // ms since the epoch, as the platform sent it
  std::string payload;
  std::uint32_t delivery_count = 0; // > 0: a redelivery
};

using Clock = std::chrono::steady_clock;

struct ConsumerOptions {
  Endpoint endpoint;
  CredentialParams params; // timestamp is ignored: each connect signs with the current time
  Secret access_key_secret;
  std::string ca_file;     // added to the system trust store; empty = system store only
  int idle_timeout_s = 60; // advertised in the Open frame (30-300 s on the platform)
  // Stop after this many handled messages; the receiver never holds more credit than the
  // messages still wanted, so nothing extra is taken from the group.
  std::optional<long> count;
  std::optional<Clock::time_point> deadline; // Errc::timeout when it passes
  // A consumer group hands its backlog over first. Messages whose platform generateTime (ms since
  // the epoch) is before this are accepted (taken from the group) without reaching the handler,
  // and counted in ConsumeStats::skipped; a message without a generateTime is new. `cloud sub
  // --from-now` sets it to the start of the command (the cut compares the platform's clock with
  // this host's).
  std::optional<std::int64_t> skip_generated_before;
  // Reconnect with backoff (1 s doubling to 30 s) after a lost connection; a first connection
  // that fails is always reported (Errc::network).
  bool reconnect = true;
  const std::atomic<bool>* stop = nullptr; // set from a signal handler: Errc::interrupted
  // Progress lines (connected, reconnecting); never carries a secret.
  std::function<void(const std::string&)> log;
  // Called on the consumer's thread each time the server has attached the receiver link (the
  // consumer is ready: messages published from now on come to the group), before any message of
  // that link is handed over.
  std::function<void()> on_attached;
};

// What the handler did with a message: `next` (counted, accepted, go on), `release` (not wanted,
// e.g. a client-side topic filter: settled as AMQP `released`, never accepted, so the platform
// hands it to another consumer of the group; not counted), `skip` (accepted, so consumed from the
// group, but not counted: backlog a consumer drains without wanting it), `stop` (counted,
// accepted, then stop).
// An error stops without accepting the message (it is redelivered). Called once per messageId
// not handled yet (a released message that comes back is offered to the handler again), on the
// consumer's thread.
enum class Step { next, release, skip, stop };
using Handler = std::function<Result<Step>(const Message&)>;

struct ConsumeStats {
  long handled = 0;    // messages the handler counted (next or stop) and accepted
  long released = 0;   // messages the handler did not want (released to the group, not counted)
  long skipped = 0;    // messages the handler drained (accepted, not counted)
  long duplicates = 0; // messages dropped (and accepted) because their messageId was seen
  int connects = 0;    // successful connections
};

// Runs until the handler says done, `count` messages were handled, the deadline passes,
// the stop flag is set, or an error: Errc::auth (credentials refused: never retried),
// Errc::network (connection failed or lost and reconnect is off), Errc::timeout,
// Errc::interrupted.
Result<ConsumeStats> consume(const ConsumerOptions& o, const Handler& handler);

} // namespace aliot::amqp
