// How `aliot register` shows what it does: a dry run's request, and a batch as it goes (what the
// results file held, each device, the progress bar, the closing summary).
#pragma once

#include "context.hpp"
#include "progress.hpp"

#include <aliot/dynreg_batch.hpp>

#include <optional>
#include <string>

namespace aliot::cli {

// The request registering `dn` would send: `POST URL`, its content type and form body (under
// -o json one line {"method","url","content_type","body"}), or over MQTT the login.
Result<void> print_dry_run(Context& ctx, const dynreg::Settings& s, const std::string& dn);

// A batch on the terminal. One device: its triplet, pretty unless -o json. Many: one compact
// line per device (under -o json a failed one too, as dynreg::failed_device_line), each failure
// on stderr as it comes, a progress bar, and a summary note at the end.
class BatchView {
public:
  // Says what opening the results file `out` found: a repaired last line, devices skipped.
  // With `out` and without `show_secrets`, a device whose credentials are durable in `out` is
  // shown without them: {"ProductKey","DeviceName","ok":true,"saved_in":FILE}; a secret that
  // could not be saved there is printed whole all the same (it is nowhere else).
  BatchView(Context& ctx,
            const dynreg::Batch& batch,
            std::string product_key,
            const std::optional<std::string>& out,
            bool show_secrets);

  // One device's result (the batch serializes the calls); whether its credentials reached
  // standard output.
  bool result(const dynreg::DeviceResult& r, const dynreg::BatchProgress& p);
  // The first signal, and the second, with requests in flight.
  void stopping(std::size_t in_flight);
  void abandoning(std::size_t in_flight);
  // After the run: the progress bar cleared, for many devices the summary, and where the
  // issued secrets are when they are not all both saved and printed.
  void finish(const dynreg::BatchSummary& s);

private:
  Context& m_ctx;
  std::string m_product_key;
  bool m_saving; // --out given
  std::string m_out_path;
  bool m_redact; // --out without --show-secrets: saved credentials stay off stdout
  bool m_many;
  Progress m_progress;
};

} // namespace aliot::cli
