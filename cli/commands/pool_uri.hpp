// A --pool that names a PostgreSQL server: the rule for a URI without TLS to another host.
#pragma once

#include "context.hpp"

#include <aliot/factory/pool_server.hpp>

namespace aliot::cli {

// Nothing for a file. For a postgresql:// URI that would send the secrets in clear to another
// host: a warning, or under --strict Errc::config.
inline Result<void> check_pool_uri(Context& ctx, const std::string& pool) {
  if (!factory::is_server_uri(pool)) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto warning, factory::server_uri_warning(pool));
  if (!warning) {
    return ok();
  }
  if (ctx.globals.strict) {
    return Error(Errc::config, "--pool: " + *warning, "--strict refuses it");
  }
  ctx.out.warn("--pool: " + *warning);
  return ok();
}

} // namespace aliot::cli
