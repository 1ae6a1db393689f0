// The device's upgrade flow over a connected MQTT session (ota.hpp): wait for the push (asking
// with firmware/get), download and check each file, report progress, apply, report the version.
#include "util/subprocess.hpp"

#include <aliot/ota.hpp>
#include <aliot/thing.hpp>

#include <algorithm>
#include <filesystem>
#include <thread>

namespace aliot::ota {

namespace {

constexpr std::chrono::seconds k_publish_wait{10};

class Reporter {
public:
  Reporter(mqtt::Session& s, std::string_view pk, std::string_view dn, const WatchOptions& o)
      : m_session(s)
      , m_topic(progress_topic(pk, dn))
      , m_options(o) {}

  // Queues a progress message (sent by the session's loop) and tells the caller.
  void step(int step, std::string_view desc, const Upgrade& u) {
    auto payload = progress_payload(thing::new_id(), step, desc, u.module);
    if (payload) {
      (void)m_session.publish_async(m_topic, *payload, 1);
      (void)m_session.step(std::chrono::milliseconds(0));
    }
    if (m_options.report) {
      WatchEvent e;
      e.kind = WatchEvent::Kind::progress;
      e.upgrade = &u;
      e.step = step;
      e.detail = std::string(desc);
      m_options.report(e);
    }
  }

  Result<void> flush() { return m_session.flush(mqtt::after(k_publish_wait)); }

private:
  mqtt::Session& m_session;
  std::string m_topic;
  const WatchOptions& m_options;
};

void tell(const WatchOptions& o, WatchEvent::Kind kind, const Upgrade* u, std::string detail) {
  if (o.report) {
    WatchEvent e;
    e.kind = kind;
    e.upgrade = u;
    e.detail = std::move(detail);
    o.report(e);
  }
}

int failure_step(Errc code) {
  switch (code) {
  case Errc::verify: return static_cast<int>(Failure::verify);
  case Errc::device: return static_cast<int>(Failure::flash);
  default: return static_cast<int>(Failure::download);
  }
}

// Where file i of the push goes: its fileName, or firmware-VERSION.bin.
std::string local_path(const WatchOptions& o, const Upgrade& u, const File& f) {
  std::string name = f.name;
  if (name.empty()) {
    name = "firmware-" + u.version + (u.module.empty() ? "" : "-" + u.module) + ".bin";
  }
  return (std::filesystem::path(o.dir) / name).string();
}

// The push to act on: the next one on the upgrade topic or in a firmware/get reply.
Result<Upgrade> wait_push(mqtt::Session& s,
                          const std::string& upgrade,
                          const std::string& get_reply,
                          const WatchOptions& o) {
  std::string skipped;
  for (;;) {
    auto m = s.next_message(o.deadline);
    if (!m) {
      if (m.error().code() == Errc::timeout) {
        return Error(Errc::timeout,
                     "no firmware push arrived" + (skipped.empty() ? "" : "; " + skipped),
                     "check that a job targets this device (aliot cloud ota push)");
      }
      return std::move(m).error();
    }
    Result<std::optional<Upgrade>> got = std::optional<Upgrade>();
    if (m->topic == upgrade) {
      auto u = parse_upgrade(m->payload);
      got = u ? Result<std::optional<Upgrade>>(std::optional<Upgrade>(std::move(*u)))
              : Result<std::optional<Upgrade>>(std::move(u).error());
    } else if (m->topic == get_reply) {
      got = parse_firmware_get_reply(m->payload);
    } else {
      continue;
    }
    if (!got) {
      skipped = "ignored " + got.error().message();
      tell(o, WatchEvent::Kind::skipped, nullptr, got.error().message());
      continue;
    }
    if (!*got) {
      continue; // firmware/get: nothing to upgrade to yet; a push may still come
    }
    Upgrade u = std::move(**got);
    if (u.module != o.module) {
      tell(o, WatchEvent::Kind::skipped, nullptr,
           "a push for module '" + u.module + "', not '" + o.module + "'");
      continue;
    }
    if (!o.current_version.empty() && u.version == o.current_version) {
      tell(o, WatchEvent::Kind::skipped, nullptr, "a push to the current version " + u.version);
      continue;
    }
    return u;
  }
}

} // namespace

Result<void> exec_apply(const std::string& command,
                        const Upgrade& upgrade,
                        const std::vector<std::string>& files,
                        const config::Env& env,
                        std::chrono::milliseconds limit) {
  proc::Options o;
  o.argv = {"/bin/sh", "-c", command + " \"$@\"", "aliot-ota"};
  o.argv.insert(o.argv.end(), files.begin(), files.end());
  o.env.emplace();
  for (const auto& [name, value] : env) {
    if (!name.starts_with("ALIOT_OTA_") && !config::is_secret_env(name)) {
      o.env->push_back(name + "=" + value);
    }
  }
  o.env->push_back("ALIOT_OTA_VERSION=" + upgrade.version);
  o.env->push_back("ALIOT_OTA_MODULE=" + upgrade.module);
  o.in = proc::Stdio::null();
  // Its output is not aliot's result: stdout (JSON Lines under -o json) stays aliot's.
  o.out = proc::Stdio::file("/dev/stderr", true);
  o.err = proc::Stdio::inherit();
  o.own_group = true;
  ALIOT_TRY_ASSIGN(auto child, proc::Child::spawn(o));
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (auto e = child.poll()) {
      if (e->ok()) {
        return ok();
      }
      return Error(Errc::device, "the --exec command failed: " + e->describe(),
                   "the firmware was downloaded and verified; the command that applies it failed");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      child.stop(std::chrono::seconds(2));
      return Error(Errc::device, "the --exec command ran past its limit and was killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<WatchResult> watch_once(mqtt::Session& session,
                               std::string_view pk,
                               std::string_view dn,
                               const WatchOptions& o) {
  const std::string upgrade = upgrade_topic(pk, dn);
  const std::string get_reply = firmware_get_reply_topic(pk, dn);
  ALIOT_TRY(session.subscribe({upgrade, get_reply}, 1, o.subscribe_deadline));
  tell(o, WatchEvent::Kind::ready, nullptr, upgrade + "," + get_reply);
  if (!o.current_version.empty()) {
    ALIOT_TRY(session.publish(inform_topic(pk, dn),
                              inform_payload(thing::new_id(), o.current_version, o.module), 1,
                              mqtt::after(k_publish_wait)));
  }
  ALIOT_TRY(session.publish(firmware_get_topic(pk, dn),
                            firmware_get_payload(thing::new_id(), o.module), 1,
                            mqtt::after(k_publish_wait)));
  ALIOT_TRY_ASSIGN(auto u, wait_push(session, upgrade, get_reply, o));
  tell(o, WatchEvent::Kind::push, &u, {});

  Reporter rep(session, pk, dn, o);
  const std::uint64_t total = std::max<std::uint64_t>(u.total_size(), 1);
  const int every = std::clamp(o.progress_every, 1, 100);
  std::uint64_t done_before = 0; // bytes of the files already downloaded
  int last = 0;
  bool simulated_failure = false;
  auto fail = [&](Error e) -> Error {
    rep.step(failure_step(e.code()), e.message(), u);
    (void)rep.flush();
    return e;
  };

  WatchResult result;
  for (const auto& f : u.files) {
    const std::string path = local_path(o, u, f);
    DownloadOptions d = o.download;
    d.progress = [&](std::uint64_t got, std::uint64_t) {
      const int pct = static_cast<int>((done_before + got) * 100 / total);
      if (o.fail_at && pct >= *o.fail_at) {
        simulated_failure = true;
        return;
      }
      if (pct >= last + every && pct < 100) {
        last = pct - pct % every;
        rep.step(last, "downloading", u);
      }
    };
    auto r = download(f, u.sign_method, path, d);
    if (simulated_failure) {
      rep.step(static_cast<int>(Failure::upgrade),
               "simulated failure at " + std::to_string(*o.fail_at) + " %", u);
      (void)rep.flush();
      return Error(Errc::device, "the upgrade to " + u.version + " failed as asked (--fail-at "
                                     + std::to_string(*o.fail_at) + "): reported step -1");
    }
    if (!r) {
      return fail(std::move(r).error());
    }
    done_before += f.size;
    WatchEvent e;
    e.kind = WatchEvent::Kind::downloaded;
    e.upgrade = &u;
    e.detail = path;
    e.bytes = r->bytes;
    e.resumes = r->resumes;
    if (o.report) {
      o.report(e);
    }
    result.files.push_back(path);
  }
  if (o.fail_at && *o.fail_at >= 100) {
    rep.step(static_cast<int>(Failure::upgrade), "simulated failure at 100 %", u);
    (void)rep.flush();
    return Error(Errc::device, "the upgrade to " + u.version
                                   + " failed as asked (--fail-at 100): reported step -1");
  }
  rep.step(100, "downloaded and verified", u);
  tell(o, WatchEvent::Kind::applying, &u, {});
  if (o.apply) {
    if (auto a = o.apply(u, result.files); !a) {
      return fail(std::move(a).error());
    }
  }
  ALIOT_TRY(rep.flush());
  ALIOT_TRY(session.publish(inform_topic(pk, dn),
                            inform_payload(thing::new_id(), u.version, u.module), 1,
                            mqtt::after(k_publish_wait)));
  tell(o, WatchEvent::Kind::reported, &u, u.version);
  result.upgrade = std::move(u);
  return result;
}

} // namespace aliot::ota
