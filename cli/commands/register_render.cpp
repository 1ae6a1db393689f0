#include "commands/register_render.hpp"

#include "commands/device_session.hpp"

#include <aliot/identity.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <variant>

namespace aliot::cli {

Result<void> print_dry_run(Context& ctx, const dynreg::Settings& s, const std::string& dn) {
  ALIOT_TRY_ASSIGN(auto unsent, dynreg::unsent_request(s, dn));
  if (const auto* cred = std::get_if<sign::MqttCredentials>(&unsent)) {
    print_mqtt_login(ctx, s.mqtt.endpoint, *cred);
    return ok();
  }
  const auto& req = std::get<dynreg::HttpsRequest>(unsent);
  if (!ctx.out.json()) {
    ctx.out.line("POST " + req.url + "\nContent-Type: application/x-www-form-urlencoded\n\n"
                 + req.body);
    return ok();
  }
  const nlohmann::ordered_json j = {{"method", "POST"},
                                    {"url", req.url},
                                    {"content_type", "application/x-www-form-urlencoded"},
                                    {"body", req.body}};
  ctx.out.line(j.dump());
  return ok();
}

namespace {

// Warns about what the results file held; says whether the batch has more than one device.
bool report_opened(Context& ctx,
                   const dynreg::Batch& batch,
                   const std::optional<std::string>& out) {
  if (batch.repaired()) {
    ctx.out.warn("--out " + *out
                 + ": the last line was incomplete (an interrupted write) and was repaired");
  }
  const std::size_t total = batch.names().size();
  const std::size_t skipped = batch.skipped();
  const bool many = total > 1;
  if (skipped > 0) {
    ctx.out.info("skipping " + std::to_string(skipped) + " device(s) already in " + *out);
    if (!many || skipped == total) {
      ctx.out.warn(std::to_string(skipped) + " device(s) already registered in " + *out
                   + ": skipped");
    }
  }
  return many;
}

} // namespace

BatchView::BatchView(Context& ctx,
                     const dynreg::Batch& batch,
                     std::string product_key,
                     const std::optional<std::string>& out,
                     bool show_secrets)
    : m_ctx(ctx)
    , m_product_key(std::move(product_key))
    , m_saving(out.has_value())
    , m_out_path(out.value_or(""))
    , m_redact(out.has_value() && !show_secrets)
    , m_many(report_opened(ctx, batch, out))
    , m_progress(ctx.out, m_many, batch.names().size() - batch.skipped()) {}

bool BatchView::result(const dynreg::DeviceResult& r, const dynreg::BatchProgress& p) {
  auto& out = m_ctx.out;
  m_progress.clear();
  bool shown = false;
  if (r.triplet && r.saved && !r.error && m_redact) {
    // The outcome only: the credentials are in --out, and a CI log must not hold them.
    const nlohmann::ordered_json j = {{"ProductKey", r.triplet->product_key},
                                      {"DeviceName", r.triplet->device_name},
                                      {"ok", true},
                                      {"saved_in", m_out_path}};
    out.line(j.dump(!m_many && !out.json() ? 2 : -1));
  } else if (r.triplet) {
    shown = out.line(!m_many && !out.json() ? triplet_json(*r.triplet, true) : r.line);
  } else if (m_many && out.json() && r.error && r.error->code() != Errc::interrupted) {
    out.line(dynreg::failed_device_line(m_product_key, r.device_name, *r.error));
  }
  if (r.error && r.triplet) { // a secret not saved: say whether it is at least printed
    out.error(Error(r.error->code(), r.error->message(),
                    shown ? "the new secret is printed on standard output: keep it, the platform "
                            "will not send it again"
                          : "standard output failed too: the secret of " + r.device_name
                                + " reached neither"));
  } else if (r.error && m_many && r.error->code() != Errc::interrupted) {
    out.error(*r.error); // a device of a batch
  }
  m_progress.update(p.ok, p.failed, !r.triplet);
  return shown;
}

void BatchView::stopping(std::size_t in_flight) {
  m_progress.clear();
  m_ctx.out.note("stopping: finishing " + std::to_string(in_flight)
                 + " request(s) in flight (a second signal abandons them)");
}

void BatchView::abandoning(std::size_t in_flight) {
  m_progress.clear();
  m_ctx.out.note("abandoning " + std::to_string(in_flight)
                 + " request(s) in flight: their devices are named at the end");
}

void BatchView::finish(const dynreg::BatchSummary& s) {
  m_progress.clear();
  // Saved and not printed is the rule with --out (unless --show-secrets), a fault otherwise.
  const bool all_fine =
      s.issued == s.saved_and_shown + s.shown_only + (m_redact ? s.saved_only : 0);
  if (m_many) {
    const auto& c = s.counts;
    const double secs = s.elapsed.count();
    m_ctx.out.note(fmt::format(
        "registered {}, failed {}, skipped {} (already in the --out file) of {} in {:.1f} s "
        "({:.1f}/s){}",
        c.ok, c.failed, c.skipped, c.total, secs,
        secs > 0 ? static_cast<double>(c.ok + c.failed) / secs : 0.0,
        s.not_started > 0 ? fmt::format("; {} not started", s.not_started) : std::string()));
  }
  if (!all_fine) { // exactly where each issued secret is
    std::string where = std::to_string(s.issued) + " secret(s) issued: ";
    if (m_saving) {
      where += fmt::format("{} in --out and on standard output, {} only in --out, {} only on "
                           "standard output, ",
                           s.saved_and_shown, s.saved_only, s.unsaved);
    } else {
      where += fmt::format("{} on standard output, ", s.shown_only);
    }
    where += fmt::format("{} nowhere", s.lost.size());
    m_ctx.out.note(where);
  }
}

} // namespace aliot::cli
