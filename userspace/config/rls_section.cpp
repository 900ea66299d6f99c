#include "rls_section.h"

#include <filesystem>

#include "net_address.h"
#include "rls_limiter.h"
#include "yaml_reader.h"

namespace sluice {
namespace {

std::string resolve(const std::string& path, const std::string& config_file) {
  std::filesystem::path p(path);
  if (p.is_absolute() || config_file.empty()) return path;
  return (std::filesystem::path(config_file).parent_path() / p).lexically_normal().string();
}

ConfigError from_rls(const RlsConfigError& e) {
  return ConfigError(e.file(), e.line(), e.column(), e.field(), e.reason());
}

}  // namespace

RlsSettings read_rls_section(const YAML::Node& node, const std::string& file) {
  const YamlReader reader(file);
  RlsSettings settings;
  settings.enabled = true;
  reader.mapping(node, "rls", {"listen", "config"});
  if (const auto listen = node["listen"]) {
    settings.listen = reader.scalar(listen, "rls.listen", "host:port, e.g. 127.0.0.1:8081");
    reader.converting(listen, "rls.listen", [&] { return parse_listen_address(settings.listen); });
  }
  const auto config = node["config"];
  if (!config)
    reader.fail(node, "rls.config", "is required: the envoyproxy/ratelimit file(s) to serve");
  std::vector<std::pair<std::string, YAML::Node>> paths;
  if (config.IsSequence()) {
    for (size_t i = 0; i < config.size(); ++i)
      paths.emplace_back(
          reader.scalar(config[i], "rls.config[" + std::to_string(i) + "]", "a path"), config[i]);
  } else {
    paths.emplace_back(reader.scalar(config, "rls.config", "a path or a list of paths"), config);
  }
  if (paths.empty()) reader.fail(config, "rls.config", "lists no file");
  try {
    for (const auto& [path, where] : paths) {
      settings.config_files.push_back(resolve(path, file));
      settings.domains.push_back(load_ratelimit_file(settings.config_files.back()));
    }
    validate_rls_domains(settings.domains);
  } catch (const RlsConfigError& e) {
    throw from_rls(e);
  }
  return settings;
}

}  // namespace sluice
