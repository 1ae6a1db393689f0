#include "commands/register_render.hpp"

#include "commands/device_session.hpp"

#include <aliot/identity.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <variant>

namespace aliot::cli {

Result<void> print_dry_run(Context& ctx, const dynreg::Settings& s, const std::string& dn) {
  auto unsent = dynreg::unsent_request(s, dn);
  if (!unsent) {
    return std::move(unsent).error();
  }
  if (const auto* cred = std::get_if<sign::MqttCredentials>(&*unsent)) {
    print_mqtt_login(ctx, s.mqtt.endpoint, *cred);
    return ok();
  }
  const auto& req = std::get<dynreg::HttpsRequest>(*unsent);
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
                     const std::optional<std::string>& out)
    : m_ctx(ctx)
    , m_product_key(std::move(product_key))
    , m_many(report_opened(ctx, batch, out))
    , m_progress(ctx.out, m_many, batch.names().size() - batch.skipped()) {}

void BatchView::result(const dynreg::DeviceResult& r, const dynreg::BatchProgress& p) {
  auto& out = m_ctx.out;
  m_progress.clear();
  if (r.triplet) {
    out.line(!m_many && !out.json() ? triplet_json(*r.triplet, true) : r.line);
  } else if (m_many && out.json() && r.error && r.error->code() != Errc::interrupted) {
    out.line(dynreg::failed_device_line(m_product_key, r.device_name, *r.error));
  }
  if (r.error && (r.triplet || (m_many && r.error->code() != Errc::interrupted))) {
    out.error(*r.error); // a device of a batch, or a secret not saved
  }
  m_progress.update(p.ok, p.failed, !r.triplet);
}

void BatchView::finish(const dynreg::BatchSummary& s) {
  m_progress.clear();
  if (!m_many) {
    return;
  }
  const auto& c = s.counts;
  const double secs = s.elapsed.count();
  m_ctx.out.note(fmt::format("registered {}, failed {}, skipped {} (already in the --out file) of "
                             "{} in {:.1f} s ({:.1f}/s)",
                             c.ok, c.failed, c.skipped, c.total, secs,
                             secs > 0 ? static_cast<double>(c.ok + c.failed) / secs : 0.0));
}

} // namespace aliot::cli
