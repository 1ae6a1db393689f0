// Load on the platform with a fleet of real identities (`aliot bench`): each device logs in with
// its own signed credentials, the whole fleet in one process over libmosquitto's external loop
// (one epoll per worker thread), latencies in log-linear histograms.
#pragma once

#include <aliot/endpoint.hpp>
#include <aliot/error.hpp>
#include <aliot/secret.hpp>
#include <aliot/sign.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace aliot::bench {

// A log-linear histogram of non-negative integers (HdrHistogram's layout): values below 128 are
// counted exactly, above it each power of two is cut into 64 equal buckets, so a reported value
// is within 1/64 (1.6 %) above the true one. The counts are a fixed array: memory does not grow
// with the number of samples. Mergeable (the workers' histograms add up); no samples are kept.
class Histogram {
public:
  static constexpr int k_sub_bits = 6;                    // 64 buckets per power of two
  static constexpr std::size_t k_buckets = 128 + 57 * 64; // up to 2^63
  void record(std::uint64_t value);
  void merge(const Histogram& other);
  void reset();
  std::uint64_t count() const { return m_count; }
  std::uint64_t max() const { return m_max; }
  std::uint64_t min() const { return m_count == 0 ? 0 : m_min; }
  double mean() const;
  // The value at `percent` (0-100]: the highest value of the bucket that holds the sample of
  // that rank, never above max(); 0 when empty.
  std::uint64_t percentile(double percent) const;

  // The bucket of a value and the range of values a bucket holds (for tests).
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_low(std::size_t bucket);
  static std::uint64_t bucket_high(std::size_t bucket);

private:
  std::array<std::uint64_t, k_buckets> m_counts{};
  std::uint64_t m_count = 0;
  std::uint64_t m_min = UINT64_MAX;
  std::uint64_t m_max = 0;
  long double m_sum = 0;
};

// ---- the fleet ----

struct FleetDevice {
  std::string product_key;
  std::string device_name;
  Secret device_secret;
};

// Reads a fleet file: the JSON Lines `aliot register --out` writes (one triplet a line) or the
// console's batch CSV (DeviceName/DeviceSecret columns, ProductKey per row or per file). At most
// 64 MiB are read. A missing or unreadable file is Errc::io; a malformed row, an invalid value or
// a device listed twice is Errc::config naming the file and line. Secrets are never in messages.
Result<std::vector<FleetDevice>> load_fleet(const std::string& path);

// ---- the run ----

enum class Mode { conn, pub, sub, rrpc };
// Why a login failed: TCP refused or the server unavailable (CONNACK 1/3), refused identity
// (CONNACK 2/4/5), no CONNACK in time, anything else on the way (DNS, TLS, connection lost).
enum class Cause { refused = 0, auth, timeout, network };
inline constexpr std::size_t k_causes = 4;
std::string_view cause_name(Cause c);

struct Options {
  Mode mode = Mode::conn;
  std::vector<FleetDevice> devices; // the N devices to run
  // Where a ProductKey's devices connect (resolved once per ProductKey).
  std::function<Result<MqttEndpoint>(const std::string& product_key)> endpoint_for;
  sign::Method method = sign::Method::hmacsha256;
  bool timestamp = true; // sign and send a timestamp
  int keepalive = 300;
  int threads = 2;
  double rate = 0;              // logins started per second, 0 = as fast as the server answers
  std::size_t max_pending = 64; // logins waiting for their CONNACK at most (all workers)
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds hold{0}; // conn: stay online this long once all are in
  // pub
  std::string topic;               // pub: relative (`user/update`) or absolute, ${deviceName}...
  std::vector<std::string> topics; // sub: filters (relative or absolute)
  int qos = 0;
  std::chrono::milliseconds interval{1000};
  long count = 0;                         // pub: messages per device (0: until duration/interrupt)
  std::chrono::milliseconds duration{0};  // pub/sub/rrpc: run this long once ready (0: no limit)
  std::size_t size = 0;                   // pub: payload bytes (when no template)
  std::string payload_template;           // pub: {dn} {seq} {ts} (ms since the epoch)
  std::chrono::milliseconds drain{10000}; // pub: wait for PUBACKs after the last publish
  long stop_after = 0; // sub: stop after this many messages in all; rrpc: requests answered
  // rrpc
  std::optional<std::string> reply; // fixed reply; empty optional = echo
  std::chrono::milliseconds reply_delay{0};
  bool tls_resume = true; // offer the endpoint's last TLS session on every login
  const std::atomic<bool>* interrupt = nullptr;
};

// A snapshot of the run so far (cumulative), taken once a second and at the end.
struct Snapshot {
  double elapsed_s = 0;
  std::uint64_t devices = 0;
  std::uint64_t online = 0;
  std::uint64_t connected = 0;                    // CONNACK 0 received, reconnects included
  std::uint64_t reconnects = 0;                   // logins after a loss
  std::uint64_t lost = 0;                         // connections lost while online
  std::uint64_t failed = 0;                       // devices whose first login failed
  std::array<std::uint64_t, k_causes> failures{}; // every failed login attempt, by cause
  std::optional<Cause> first_failure;
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;       // QoS 1: PUBACKs; QoS 0: written
  std::uint64_t received = 0;    // sub: messages; rrpc: requests
  std::uint64_t answered = 0;    // rrpc: replies sent
  std::uint64_t tls_resumed = 0; // logins whose TLS session was resumed
  bool ready = false;            // every device has had its first login answered
  Histogram connect_us;          // TCP+TLS+CONNECT to CONNACK
  Histogram latency_us;          // pub: PUBACK; sub/rrpc: from the payload's "ts" (ms)
};

// Runs the load. `on_tick` is called on the calling thread about once a second and once when
// every device has had its first login answered (snapshot.ready turns true), and returns the
// final snapshot when the run ends: pub after the last message's PUBACK (or the drain time), conn
// after the hold, sub/rrpc after the duration or stop_after, any mode when the interrupt flag is
// set. Every connection is closed with a DISCONNECT. Errc::usage for bad options, Errc::config when
// the file-descriptor limit cannot hold the fleet (3 a device, with the limit in the message).
Result<Snapshot> run(const Options& options, const std::function<void(const Snapshot&)>& on_tick);

// Raises RLIMIT_NOFILE to `wanted` where the process may (past the hard limit only with
// CAP_SYS_RESOURCE), else the soft limit to the hard one; returns the soft limit now in force.
std::uint64_t raise_fd_limit(std::uint64_t wanted);

} // namespace aliot::bench
