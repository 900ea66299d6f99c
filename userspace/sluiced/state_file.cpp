#include "state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "error.h"
#include "fd.h"

namespace sluice {
namespace {

void write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_last_errno("write " + path);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::optional<PersistedState> load_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("cannot open state file " + path + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    auto doc = nlohmann::json::parse(text.str());
    int version = doc.at("version").get<int>();
    if (version != kStateFileVersion)
      throw std::runtime_error("version " + std::to_string(version) +
                               " is not supported (expected " + std::to_string(kStateFileVersion) +
                               ")");
    PersistedState state;
    state.edits = edits_from_json(doc.at("edits"));
    state.tier_slots = doc.value("tier_slots", std::map<std::string, uint32_t>{});
    return state;
  } catch (const std::exception& e) {
    throw std::runtime_error("state file " + path + " is damaged: " + e.what());
  }
}

void save_state(const std::string& path, const PersistedState& state) {
  const std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) throw std::system_error(ec, "create directory " + target.parent_path().string());
  }
  nlohmann::json doc = {{"version", kStateFileVersion},
                        {"edits", edits_to_json(state.edits)},
                        {"tier_slots", state.tier_slots}};
  const std::string text = doc.dump(2) + "\n";
  const std::string temporary = path + ".tmp";
  // A full or read-only directory: the previous file stays as it was, and no
  // half-written temporary is left to fill the disk or confuse an operator.
  try {
    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) throw_last_errno("create " + temporary);
    write_all(fd.get(), text, temporary);
    // Data before rename: otherwise a crash can leave an empty file under the real name.
    if (::fsync(fd.get()) != 0) throw_last_errno("fsync " + temporary);
    if (::rename(temporary.c_str(), path.c_str()) != 0)
      throw_last_errno("rename " + temporary + " to " + path);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());  // the rename itself; best effort
}

}  // namespace sluice
