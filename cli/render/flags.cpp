#include "render/flags.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

namespace aliot::cli::render {

void add_flags(CLI::App& cmd, Flags& flags, bool mosquitto_sub_like) {
  auto* pretty = cmd.add_flag("--pretty", flags.pretty,
                              "Print for a person (time, QoS, short topic, indented and coloured "
                              "JSON, hex dumps) even when standard output is not a terminal");
  auto* raw =
      cmd.add_flag("--raw", flags.raw, "Print the bytes mosquitto_sub prints even on a terminal");
  pretty->excludes(raw);
  if (!mosquitto_sub_like) {
    return;
  }
  auto* fmt = cmd.add_option("-F,--format", flags.format,
                             "Print each message as mosquitto_sub -F FORMAT does: %t topic, %p "
                             "payload, %q QoS, %r retained, %l length, %m message id, %I ISO "
                             "8601 time, %U Unix time, %j/%J JSON, %x/%X hex, @H strftime, \\n")
                  ->type_name("FORMAT")
                  ->check(CLI::Validator(
                      [](std::string& f) {
                        const auto e = format_error(f);
                        return e.empty() ? e : e + " (mosquitto_sub -F letters: see the man page)";
                      },
                      "", ""));
  fmt->excludes(pretty);
  fmt->excludes(raw);
  cmd.add_flag("--verbose-topic", flags.verbose_topic,
               "Print the topic before each payload (mosquitto_sub -v)");
}

Renderer
make(const Context& ctx, const Flags& flags, const std::string& pk, const std::string& dn) {
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  Choice c;
  c.pretty = flags.pretty;
  c.raw = flags.raw;
  c.format_given = flags.format.has_value();
  c.json = ctx.out.json();
  c.output_given = ctx.globals.output_given;
  c.verbose_topic = flags.verbose_topic;
  c.stdout_tty = tty;
  Options o;
  o.mode = choose_mode(c);
  o.format = flags.format.value_or("");
  o.color = color_wanted(ctx.globals.no_color, ctx.env.find("NO_COLOR") != ctx.env.end(), tty);
  const auto cols = ctx.env.find("COLUMNS");
  o.width = terminal_width(STDOUT_FILENO, cols != ctx.env.end() ? cols->second.c_str() : nullptr);
  o.product_key = pk;
  o.device_name = dn;
  const Output* out = &ctx.out;
  o.warn = [out](std::string_view text) {
    out->warn(text);
  };
  return Renderer(std::move(o));
}

} // namespace aliot::cli::render
