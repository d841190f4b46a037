#include "eval/jsonl.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/json_text.h"

namespace vatp::eval {
namespace {

const char* type_name(const nlohmann::json& v) { return v.type_name(); }

}  // namespace

Status JsonlRecord::error(std::string_view message) const {
  return data_loss(file + ":" + std::to_string(line) + ": " + std::string(message));
}

bool JsonlRecord::has(std::string_view key) const { return value.is_object() && value.contains(key); }

Result<std::string> JsonlRecord::get_string(std::string_view key) const {
  if (!has(key)) return error("missing field \"" + std::string(key) + "\"");
  const auto& v = value.at(std::string(key));
  if (!v.is_string())
    return error("field \"" + std::string(key) + "\" must be a string, got " + type_name(v));
  return v.get<std::string>();
}

Result<int64_t> JsonlRecord::get_int(std::string_view key) const {
  if (!has(key)) return error("missing field \"" + std::string(key) + "\"");
  const auto& v = value.at(std::string(key));
  if (!v.is_number_integer())
    return error("field \"" + std::string(key) + "\" must be an integer, got " + type_name(v));
  return v.get<int64_t>();
}

Result<std::vector<std::string>> JsonlRecord::get_string_list(std::string_view key, bool allow_empty) const {
  if (!has(key)) return error("missing field \"" + std::string(key) + "\"");
  const auto& v = value.at(std::string(key));
  if (!v.is_array())
    return error("field \"" + std::string(key) + "\" must be a list of strings, got " + type_name(v));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      return error("field \"" + std::string(key) + "\" item " + std::to_string(i) +
                   " must be a string, got " + type_name(v[i]));
    out.push_back(v[i].get<std::string>());
  }
  if (out.empty() && !allow_empty) return error("field \"" + std::string(key) + "\" is an empty list");
  return out;
}

Result<std::optional<std::vector<std::string>>> JsonlRecord::get_nullable_string_list(
    std::string_view key) const {
  if (!has(key)) return error("missing field \"" + std::string(key) + "\"");
  if (value.at(std::string(key)).is_null()) return std::optional<std::vector<std::string>>();
  VATP_ASSIGN_OR_RETURN(auto list, get_string_list(key, true));
  return std::optional<std::vector<std::string>>(std::move(list));
}

Result<std::vector<JsonlRecord>> parse_jsonl(std::string_view text, const std::string& file) {
  std::vector<JsonlRecord> out;
  int64_t line_no = 0;
  size_t begin = 0;
  while (begin < text.size()) {
    ++line_no;
    size_t nl = text.find('\n', begin);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(begin, nl - begin);
    begin = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    JsonlRecord rec{file, line_no, {}};
    Result<nlohmann::json> value = parse_json_text(line);
    if (!value.is_ok()) return rec.error(value.status().message());
    rec.value = std::move(value).value();
    if (!rec.value.is_object())
      return rec.error(std::string("expected a JSON object, got ") + type_name(rec.value));
    out.push_back(std::move(rec));
  }
  return out;
}

Result<std::vector<JsonlRecord>> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return io_error("error reading " + path + ": " + std::strerror(errno));
  return parse_jsonl(ss.str(), path);
}

}  // namespace vatp::eval
