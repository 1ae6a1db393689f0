// Registering a batch: workers over a shared cursor, durable results before they are shown,
// resume from the results file.
#include <aliot/dynreg_batch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>

namespace aliot::dynreg {

Result<Request> request_for(const Settings& s, std::string_view device_name) {
  Request r;
  r.product_key = s.product_key;
  r.device_name = std::string(device_name);
  r.method = s.method;
  if (s.random) {
    r.random = *s.random;
  } else {
    auto fresh = new_random();
    if (!fresh) {
      return std::move(fresh).error();
    }
    r.random = std::move(*fresh);
  }
  return r;
}

Result<Unsent> unsent_request(const Settings& s, std::string_view device_name) {
  auto r = request_for(s, device_name);
  if (!r) {
    return std::move(r).error();
  }
  if (s.via == Via::https) {
    auto req = https_request(s.auth_endpoint, *r, s.product_secret);
    if (!req) {
      return std::move(req).error();
    }
    return Unsent(std::move(*req));
  }
  auto cred = mqtt_credentials(s.mqtt, *r, s.product_secret);
  if (!cred) {
    return std::move(cred).error();
  }
  return Unsent(std::move(*cred));
}

Registrar make_registrar(const Settings& s, const Logger& log) {
  if (s.via == Via::https) {
    auto client = std::make_shared<http::Client>(s.http, log);
    return [s, client](std::string_view dn) {
      auto r = request_for(s, dn);
      if (!r) {
        return Result<Triplet>(std::move(r).error());
      }
      return register_https(*client, s.auth_endpoint, *r, s.product_secret);
    };
  }
  return [s, log](std::string_view dn) {
    auto r = request_for(s, dn);
    if (!r) {
      return Result<Triplet>(std::move(r).error());
    }
    return register_mqtt(s.mqtt, *r, s.product_secret, log);
  };
}

Result<Batch> Batch::open(std::string product_key,
                          std::vector<std::string> names,
                          std::optional<std::string> out_path) {
  Batch b;
  b.m_product_key = std::move(product_key);
  b.m_names = std::move(names);
  b.m_skipped.assign(b.m_names.size(), false);
  if (out_path) {
    auto f = OutFile::open(*out_path);
    if (!f) {
      return std::move(f).error();
    }
    b.m_out.emplace(std::move(*f));
    for (std::size_t i = 0; i < b.m_names.size(); ++i) {
      if (b.m_out->contains(b.m_product_key, b.m_names[i])) {
        b.m_skipped[i] = true;
        ++b.m_skip_count;
      }
    }
  }
  return b;
}

BatchSummary
Batch::run(const RegistrarFactory& make, const BatchOptions& opts, const OnResult& on_result) {
  const std::size_t total = m_names.size();
  std::vector<std::optional<Error>> errors(total);
  std::mutex mu; // guards `errors`, the counts and on_result
  BatchProgress counts;
  counts.total = total;
  counts.skipped = m_skip_count;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::size_t unsaved = 0;         // guarded by mu
  std::optional<Error> save_error; // guarded by mu
  const auto started = std::chrono::steady_clock::now();

  // Hands a result over: counted and shown under the lock, one at a time.
  auto deliver = [&](DeviceResult&& r) {
    std::lock_guard lock(mu);
    if (r.error) {
      errors[r.index] = r.error;
      ++counts.failed;
      if (r.error->code() == Errc::interrupted) {
        stop = true;
      }
      if (r.triplet) { // issued, but not saved: no new device may meet the same fate
        ++unsaved;
        stop = true;
        if (!save_error) {
          save_error = r.error;
        }
      }
    } else {
      ++counts.ok;
    }
    if (on_result) {
      on_result(r, counts);
    }
  };

  auto worker = [&] {
    const Registrar reg = make();
    while (!stop.load()) {
      if (opts.stop != nullptr && opts.stop->load()) {
        stop = true;
        break;
      }
      const std::size_t i = next.fetch_add(1);
      if (i >= total) {
        break;
      }
      if (m_skipped[i]) {
        continue;
      }
      DeviceResult r;
      r.index = i;
      r.device_name = m_names[i];
      auto t = reg(m_names[i]);
      if (!t) {
        r.error = std::move(t).error();
        deliver(std::move(r));
        continue;
      }
      r.line = triplet_json(*t, false);
      if (m_out) {
        // Durable before it is shown.
        if (auto a = m_out->append(t->product_key, t->device_name, r.line); !a) {
          r.error = std::move(a).error().with_hint(
              "the new secret is printed on standard output: keep it, the platform will not "
              "send it again");
        }
      }
      r.triplet = std::move(*t);
      deliver(std::move(r));
    }
  };

  const std::size_t todo = total - m_skip_count;
  const auto threads = std::min<std::size_t>(static_cast<std::size_t>(std::max(opts.jobs, 1)),
                                             std::max<std::size_t>(todo, 1));
  if (todo > 0) {
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) {
      pool.emplace_back(worker);
    }
    worker();
    for (auto& t : pool) {
      t.join();
    }
  }

  BatchSummary s;
  s.counts = counts;
  s.elapsed = std::chrono::steady_clock::now() - started;
  s.unsaved = unsaved;
  s.save_error = std::move(save_error);
  for (auto& e : errors) {
    if (e) {
      s.first_error = std::move(e);
      break;
    }
  }
  return s;
}

Result<void>
batch_outcome(const BatchSummary& s, bool interrupted, const std::optional<std::string>& out_path) {
  const bool many = s.counts.total > 1;
  if (s.unsaved > 0) { // the secrets are on stdout only: that outranks every other failure
    const std::string out = out_path.value_or("");
    return Error(Errc::io,
                 "register: " + std::to_string(s.unsaved)
                     + " secret(s) reached only standard output: saving in --out " + out
                     + " failed (" + (s.save_error ? s.save_error->message() : std::string())
                     + "); the batch stopped taking new devices",
                 "keep the secrets printed above: the platform will not send them again; make "
                 "room, then re-run the same command: devices already in "
                     + out + " are skipped");
  }
  if (interrupted) {
    return Error(Errc::interrupted, "register: interrupted",
                 out_path ? "run the same command again: devices already in " + *out_path
                                + " are skipped"
                          : std::string());
  }
  if (s.first_error && many) { // already reported: exit with the first failure's code
    return Error(s.first_error->code(),
                 "register: " + std::to_string(s.counts.failed) + " of "
                     + std::to_string(s.counts.total)
                     + " device(s) failed; the first: " + s.first_error->message());
  }
  return s.first_error ? Result<void>(*s.first_error) : ok();
}

std::string
failed_device_line(std::string_view product_key, std::string_view device_name, const Error& e) {
  nlohmann::ordered_json j{{"ProductKey", product_key},
                           {"DeviceName", device_name},
                           {"ok", false},
                           {"error",
                            {{"code", std::string(errc_name(e.code()))},
                             {"exit_status", exit_status(e.code())},
                             {"message", e.message()}}}};
  if (!e.hint().empty()) {
    j["error"]["hint"] = e.hint();
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

} // namespace aliot::dynreg
