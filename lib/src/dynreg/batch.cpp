// Registering a batch: workers over a shared cursor, durable results before they are shown,
// resume from the results file.
#include <aliot/dynreg_batch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
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
    ALIOT_TRY_ASSIGN(auto fresh, new_random());
    r.random = std::move(fresh);
  }
  return r;
}

Result<Unsent> unsent_request(const Settings& s, std::string_view device_name) {
  ALIOT_TRY_ASSIGN(auto r, request_for(s, device_name));
  if (s.via == Via::https) {
    ALIOT_TRY_ASSIGN(auto req, https_request(s.auth_endpoint, r, s.product_secret));
    return Unsent(std::move(req));
  }
  ALIOT_TRY_ASSIGN(auto cred, mqtt_credentials(s.mqtt, r, s.product_secret));
  return Unsent(std::move(cred));
}

Registrar make_registrar(const Settings& s, const Logger& log) {
  if (s.via == Via::https) {
    auto client = std::make_shared<http::Client>(s.http, log);
    return [s, client](std::string_view dn) {
      auto r = request_for(s, dn);
      if (!r) {
        return Result<Triplet>(std::move(r).error());
      }
      return register_https(*client, s.auth_endpoint, *r, s.product_secret, s.quarantine_dir);
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
    ALIOT_TRY_ASSIGN(auto f, OutFile::open(*out_path));
    b.m_out.emplace(std::move(f));
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
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::optional<Error>> errors(total);
  // Guards everything below, and serializes on_result and the stop callbacks.
  std::mutex mu;
  std::condition_variable cv; // a worker ended
  BatchSummary sum;
  sum.counts.total = total;
  sum.counts.skipped = m_skip_count;
  std::size_t next = 0;
  bool stopping = false; // no new device starts
  std::set<std::size_t> in_flight;
  std::size_t workers_left = 0;

  // The next device to register, or none: the batch is stopping (seen under the lock, so once
  // a stop is seen no request is sent after it) or done.
  auto take = [&]() -> std::optional<std::size_t> {
    std::lock_guard lock(mu);
    if (opts.stop != nullptr && opts.stop->load()) {
      stopping = true;
    }
    while (!stopping && next < total) {
      const std::size_t i = next++;
      if (!m_skipped[i]) {
        in_flight.insert(i);
        return i;
      }
    }
    return std::nullopt;
  };

  // Hands a result over, one at a time, and records where its secret landed.
  auto deliver = [&](DeviceResult&& r) {
    std::lock_guard lock(mu);
    in_flight.erase(r.index);
    if (r.error) {
      errors[r.index] = r.error;
      ++sum.counts.failed;
      if (!r.triplet && r.error->code() == Errc::interrupted) {
        stopping = true; // abandoned: sent, its answer not read
        sum.abandoned.push_back(r.device_name);
      }
      if (!r.triplet && r.error->code() == Errc::timeout) {
        sum.timed_out.push_back(r.device_name);
      }
      if (r.triplet && !sum.save_error) {
        sum.save_error = r.error;
      }
    } else {
      ++sum.counts.ok;
    }
    const bool shown = on_result && on_result(r, sum.counts);
    if (!r.triplet) {
      return;
    }
    ++sum.issued;
    if (r.saved) {
      ++(shown ? sum.saved_and_shown : sum.saved_only);
    } else if (shown && !m_out) {
      ++sum.shown_only;
    } else if (shown) { // issued, not saved: no new device may meet the same fate
      ++sum.unsaved;
      stopping = true;
    } else { // reached nowhere: nor may another
      sum.lost.push_back(r.device_name);
      stopping = true;
    }
  };

  auto worker = [&](const Registrar& reg) {
    while (const auto i = take()) {
      DeviceResult r;
      r.index = *i;
      r.device_name = m_names[*i];
      auto t = reg(m_names[*i]);
      if (!t) {
        r.error = std::move(t).error();
        deliver(std::move(r));
        continue;
      }
      r.line = triplet_json(*t, false);
      if (m_out) {
        // Durable before it is shown.
        if (auto a = m_out->append(t->product_key, t->device_name, r.line); !a) {
          r.error = std::move(a).error();
        } else {
          r.saved = true;
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
    workers_left = threads;
    for (std::size_t t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        worker(make());
        std::lock_guard lock(mu);
        --workers_left;
        cv.notify_all();
      });
    }
    // This thread watches the flags: the first signal is said at once, with what is in flight.
    bool said_stop = false;
    bool said_abandon = false;
    {
      std::unique_lock lock(mu);
      while (workers_left > 0) {
        cv.wait_for(lock, std::chrono::milliseconds(50));
        if (!said_stop && opts.stop != nullptr && opts.stop->load()) {
          said_stop = true;
          stopping = true;
          if (!in_flight.empty() && opts.on_stopping) {
            opts.on_stopping(in_flight.size());
          }
        }
        if (!said_abandon && opts.abandon != nullptr && opts.abandon->load()) {
          said_abandon = true;
          if (!in_flight.empty() && opts.on_abandoning) {
            opts.on_abandoning(in_flight.size());
          }
        }
      }
    }
    for (auto& t : pool) {
      t.join();
    }
  }

  sum.elapsed = std::chrono::steady_clock::now() - started;
  sum.not_started = todo - sum.counts.ok - sum.counts.failed;
  for (auto& e : errors) {
    if (e) {
      sum.first_error = std::move(e);
      break;
    }
  }
  return sum;
}

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    out += (out.empty() ? "" : ", ") + n;
  }
  return out;
}

} // namespace

Result<void>
batch_outcome(const BatchSummary& s, bool interrupted, const std::optional<std::string>& out_path) {
  const bool many = s.counts.total > 1;
  const std::string out = out_path.value_or("");
  const std::string resume =
      out_path ? "run the same command again: devices already in " + out + " are skipped"
               : std::string();
  // After a stop, a request that timed out is as unanswered as one abandoned.
  std::vector<std::string> unread = s.abandoned;
  if (interrupted) {
    unread.insert(unread.end(), s.timed_out.begin(), s.timed_out.end());
  }
  const std::string abandoned =
      unread.empty() ? std::string()
                     : std::to_string(unread.size())
                           + " request(s) sent, answer not read — check these on the console: "
                           + joined(unread);
  if (!s.lost.empty()) { // issued, and nowhere: that outranks every other failure
    std::string msg = "register: " + std::to_string(s.lost.size())
                      + " secret(s) the platform issued reached "
                      + (out_path ? "neither --out " + out + " nor standard output" : "no output")
                      + " (" + (s.save_error ? s.save_error->message() + "; " : std::string())
                      + "writing standard output failed): " + joined(s.lost)
                      + (many ? "; the batch stopped taking new devices" : "");
    if (s.unsaved > 0) {
      msg += "; " + std::to_string(s.unsaved)
             + " other secret(s) reached only standard output: keep them";
    }
    if (!abandoned.empty()) {
      msg += "; " + abandoned;
    }
    return Error(Errc::io, msg,
                 "those secrets were shown and saved nowhere: register those devices again (a "
                 "device that has not connected yet gets a new secret; an activated one must be "
                 "reset on the console first)");
  }
  if (s.unsaved > 0) { // the secrets are on stdout only
    return Error(Errc::io,
                 "register: " + std::to_string(s.unsaved)
                     + " secret(s) reached only standard output: saving in --out " + out
                     + " failed (" + (s.save_error ? s.save_error->message() : std::string())
                     + "); the batch stopped taking new devices"
                     + (abandoned.empty() ? std::string() : "; " + abandoned),
                 "keep the secrets printed above: the platform will not send them again; make "
                 "room, then re-run the same command: devices already in "
                     + out + " are skipped");
  }
  if (!abandoned.empty()) {
    return Error(Errc::interrupted, "register: interrupted; " + abandoned, resume);
  }
  if (interrupted) {
    return Error(Errc::interrupted, "register: interrupted", resume);
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
