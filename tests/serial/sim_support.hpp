// Test glue: the simulator's DeviceModel behind an in-memory FakeTransport, on a virtual
// clock (no sleeping, no file descriptors).
#pragma once

#include "fake_transport.hpp"

#include <aliot/serial.hpp>

#include <limits>
#include <memory>
#include <switch_sim.hpp>

namespace aliot::test {

struct VirtualUnit {
  switchsim::Micros now = 0;
  std::string transcript;
  FakeTransport fake;
  std::unique_ptr<switchsim::DeviceModel> model;

  explicit VirtualUnit(const std::string& persona = "alsw1",
                       switchsim::FaultPlan plan = {},
                       switchsim::NvState nv = {})
      : fake([this](FakeTransport& f, std::string_view bytes) {
        model->feed(bytes, now);
        run(f);
      }) {
    switchsim::DeviceModel::Hooks h;
    h.emit = [this](std::string_view b) {
      fake.push(b);
    };
    h.unplug = [this] {
      fake.unplug();
    };
    h.transcript = [this](const std::string& s) {
      transcript += s + "\n";
    };
    model = std::make_unique<switchsim::DeviceModel>(persona, nv, switchsim::Timing{},
                                                     std::move(plan), h);
    model->power_on(0);
    run(fake);
    fake.discard_input(); // the host flushes on open
  }
  // Jumps the virtual clock over everything the device has scheduled.
  void run(FakeTransport& /*f*/) {
    while (auto t = model->next_event()) {
      now = std::max(now, *t);
      model->advance(now);
    }
  }
};

inline switchsim::FaultPlan plan_of(const std::string& json) {
  auto p = switchsim::parse_fault_plan(json);
  if (!p) {
    throw std::runtime_error(p.error().message());
  }
  return std::move(*p);
}

} // namespace aliot::test
