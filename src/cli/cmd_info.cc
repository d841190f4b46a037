// `vatp info`: what a GGUF file holds — architecture, shapes, tensor types, tokenizer,
// chat template. Reads metadata only; an unknown architecture is reported, not refused.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "gguf/gguf.h"

namespace vatp::cli {
namespace {

using nlohmann::json;

struct InfoFlags {
  std::string model;
  bool tensors = false;
  bool verbose = false;
  bool json = false;
};

// A metadata value as JSON: scalars keep their type; arrays longer than max_items
// become {"type", "count", "head"} so a 150k-token vocabulary does not flood the output.
json value_json(const gguf::Value& v, size_t max_items) {
  using gguf::ValueType;
  switch (v.type()) {
    case ValueType::BOOL: return *v.as_bool();
    case ValueType::STRING: return std::string(*v.as_string());
    case ValueType::FLOAT32: {
      // Shortest decimal of the float, so 1e-5f shows as 1e-05 and not 9.99999974737875e-06.
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(*v.as_float()));
      return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
    }
    case ValueType::FLOAT64: return *v.as_float();
    case ValueType::ARRAY: {
      const std::string t = std::string("array of ") + gguf::value_type_name(v.array_type());
      if (v.array_size() > max_items) {
        return {{"type", t}, {"count", v.array_size()}, {"head", v.to_display_string(4)}};
      }
      if (auto s = v.as_string_array(); s.is_ok())
        return json(std::vector<std::string>(s->begin(), s->end()));
      if (auto f = v.as_f32_array(); f.is_ok()) return json(*f);
      if (auto u = v.as_uint_array(); u.is_ok()) return json(*u);
      return {{"type", t}, {"count", v.array_size()}, {"head", v.to_display_string(4)}};
    }
    default:  // integers
      if (auto u = v.as_uint(); u.is_ok()) return *u;
      if (auto i = v.as_int(); i.is_ok()) return *i;
      return nullptr;
  }
}

// The value of `key` as JSON, or null when absent.
json key_json(const gguf::GgufFile& f, const std::string& key) {
  const gguf::Value* v = f.find(key);
  return v ? value_json(*v, 16) : json(nullptr);
}

std::string text(const json& j, const std::string& absent = "-") {
  if (j.is_null()) return absent;
  if (j.is_string()) return j.get<std::string>();
  if (j.is_boolean()) return j.get<bool>() ? "true" : "false";
  if (j.is_number_float()) {
    std::ostringstream os;
    os << j.get<double>();
    return os.str();
  }
  return j.dump();
}

// Special-token ids llama.cpp reads (specs/gguf.md §1.6), short name → key suffix.
const std::pair<const char*, const char*> kSpecialIds[] = {
    {"bos", "bos_token_id"},         {"eos", "eos_token_id"},         {"unk", "unknown_token_id"},
    {"pad", "padding_token_id"},     {"sep", "seperator_token_id"},   {"eot", "eot_token_id"},
    {"eom", "eom_token_id"},         {"fim_pre", "fim_pre_token_id"}, {"fim_suf", "fim_suf_token_id"},
    {"fim_mid", "fim_mid_token_id"},
};

json summary_json(const gguf::GgufFile& f, const InfoFlags& fl) {
  const gguf::Value* arch_v = f.find("general.architecture");
  const std::string arch = arch_v && arch_v->as_string().is_ok() ? std::string(*arch_v->as_string()) : "";
  const std::string a = arch + ".";
  json j;
  j["file"] = fl.model;
  j["file_size"] = f.file_size();
  j["gguf_version"] = f.version();
  j["alignment"] = f.alignment();
  j["name"] = key_json(f, "general.name");
  j["architecture"] = arch.empty() ? json(nullptr) : json(arch);
  for (const char* k :
       {"block_count", "context_length", "embedding_length", "feed_forward_length", "vocab_size"}) {
    j[k] = key_json(f, a + k);
  }
  j["head_count"] = key_json(f, a + "attention.head_count");
  j["head_count_kv"] = key_json(f, a + "attention.head_count_kv");
  if (j["head_count_kv"].is_null()) j["head_count_kv"] = j["head_count"];  // llama.cpp's default
  j["head_dim"] = key_json(f, a + "attention.key_length");
  if (j["head_dim"].is_null() && j["embedding_length"].is_number_unsigned() &&
      j["head_count"].is_number_unsigned() && j["head_count"].get<uint64_t>() > 0) {
    j["head_dim"] = j["embedding_length"].get<uint64_t>() / j["head_count"].get<uint64_t>();
  }
  j["rope"] = {{"dimension_count", key_json(f, a + "rope.dimension_count")},
               {"freq_base", key_json(f, a + "rope.freq_base")},
               {"scaling_type", key_json(f, a + "rope.scaling.type")},
               {"scaling_factor", key_json(f, a + "rope.scaling.factor")},
               {"scaling_original_context_length", key_json(f, a + "rope.scaling.original_context_length")},
               {"freqs_tensor", f.find_tensor("rope_freqs.weight") != nullptr}};
  j["rms_eps"] = key_json(f, a + "attention.layer_norm_rms_epsilon");
  const gguf::Value* toks = f.find("tokenizer.ggml.tokens");
  json tok;
  tok["model"] = key_json(f, "tokenizer.ggml.model");
  tok["pre"] = key_json(f, "tokenizer.ggml.pre");
  tok["n_tokens"] = toks ? json(toks->array_size()) : json(nullptr);
  tok["n_merges"] =
      f.find("tokenizer.ggml.merges") ? json(f.find("tokenizer.ggml.merges")->array_size()) : json(nullptr);
  json ids = json::object();
  for (const auto& [name, key] : kSpecialIds) {
    const json id = key_json(f, std::string("tokenizer.ggml.") + key);
    if (!id.is_null()) ids[name] = id;
  }
  tok["special_ids"] = ids;
  tok["add_bos"] = key_json(f, "tokenizer.ggml.add_bos_token");
  tok["add_eos"] = key_json(f, "tokenizer.ggml.add_eos_token");
  j["tokenizer"] = tok;
  j["chat_template"] = key_json(f, "tokenizer.chat_template");

  std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // name -> (count, bytes)
  uint64_t total = 0;
  for (const gguf::TensorInfo& t : f.tensors()) {
    auto& s = by_type[std::string(dtype_name(t.type))];
    s.first++;
    s.second += t.nbytes;
    total += t.nbytes;
  }
  j["tensor_count"] = f.tensors().size();
  j["weight_bytes"] = total;
  json types = json::object();
  for (const auto& [name, s] : by_type) types[name] = {{"count", s.first}, {"bytes", s.second}};
  j["tensor_types"] = types;
  return j;
}

void print_text(const gguf::GgufFile& f, const json& j, const InfoFlags& fl) {
  const json& r = j["rope"];
  const json& t = j["tokenizer"];
  std::string ids;
  for (const auto& [k, v] : t["special_ids"].items()) ids += (ids.empty() ? "" : ", ") + k + " " + text(v);
  std::string scaling = text(r["scaling_type"], "none");
  if (!r["scaling_factor"].is_null()) scaling += ", factor " + text(r["scaling_factor"]);
  if (r["freqs_tensor"].get<bool>()) scaling += ", rope_freqs.weight";
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"file", fl.model},
      {"file size", text(j["file_size"]) + " bytes"},
      {"GGUF version", text(j["gguf_version"])},
      {"name", text(j["name"])},
      {"architecture", text(j["architecture"])},
      {"layers", text(j["block_count"])},
      {"context length", text(j["context_length"])},
      {"embedding", text(j["embedding_length"])},
      {"feed-forward", text(j["feed_forward_length"])},
      {"heads / KV heads", text(j["head_count"]) + " / " + text(j["head_count_kv"])},
      {"head dim", text(j["head_dim"])},
      {"rope dims / base", text(r["dimension_count"]) + " / " + text(r["freq_base"], "10000 (default)")},
      {"rope scaling", scaling},
      {"rms eps", text(j["rms_eps"])},
      {"vocab size", text(t["n_tokens"], text(j["vocab_size"]))},
      {"tokenizer / pre", text(t["model"]) + " / " + text(t["pre"])},
      {"special ids", ids.empty() ? "-" : ids},
      {"add bos / eos", text(t["add_bos"]) + " / " + text(t["add_eos"])},
      {"tensors", text(j["tensor_count"]) + " (" + text(j["weight_bytes"]) + " bytes of weights)"},
  };
  for (const auto& [k, v] : rows) std::printf("%-18s %s\n", k.c_str(), v.c_str());
  const double total = j["weight_bytes"].get<double>();
  std::printf("tensor types\n");
  for (const auto& [name, s] : j["tensor_types"].items()) {
    const double b = s["bytes"].get<double>();
    std::printf("  %-8s %5s tensors %14s bytes (%.1f%%)\n", name.c_str(), text(s["count"]).c_str(),
                text(s["bytes"]).c_str(), total > 0 ? 100.0 * b / total : 0.0);
  }
  if (j["chat_template"].is_string()) {
    const std::string tmpl = j["chat_template"].get<std::string>();
    std::istringstream lines(tmpl);
    std::string line;
    int shown = 0;
    std::printf("chat template (%zu chars)%s\n", tmpl.size(),
                fl.verbose ? "" : ", first lines (--verbose for all):");
    while ((fl.verbose || shown < 3) && std::getline(lines, line)) {
      std::printf("  | %s\n", line.c_str());
      ++shown;
    }
  } else {
    std::printf("%-18s none\n", "chat template");
  }
  if (fl.verbose) {
    std::printf("metadata (%zu keys)\n", f.values().size());
    for (const gguf::Value& v : f.values()) {
      std::printf("  %-45s %-14s %s\n", std::string(v.key()).c_str(),
                  (v.type() == gguf::ValueType::ARRAY
                       ? std::string("arr[") + gguf::value_type_name(v.array_type()) + "]"
                       : std::string(gguf::value_type_name(v.type())))
                      .c_str(),
                  v.to_display_string(6).c_str());
    }
  }
  if (fl.tensors) {
    std::printf("%-40s %-6s %-18s %s\n", "tensor", "type", "shape", "bytes");
    for (const gguf::TensorInfo& ti : f.tensors()) {
      std::printf("%-40s %-6s %-18s %zu\n", ti.name.c_str(), std::string(dtype_name(ti.type)).c_str(),
                  ti.shape_string().c_str(), ti.nbytes);
    }
  }
}

Status run_info(const InfoFlags& fl) {
  VATP_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::open(fl.model));
  json j = summary_json(f, fl);
  if (!fl.json) {
    print_text(f, j, fl);
    return Status::ok();
  }
  json meta = json::object();
  for (const gguf::Value& v : f.values())
    meta[std::string(v.key())] = value_json(v, fl.verbose ? SIZE_MAX : 16);
  j["metadata"] = meta;
  if (fl.tensors) {
    json ts = json::array();
    for (const gguf::TensorInfo& t : f.tensors()) {
      ts.push_back({{"name", t.name},
                    {"type", dtype_name(t.type)},
                    {"shape", std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims)},
                    {"offset", t.offset},
                    {"bytes", t.nbytes}});
    }
    j["tensors"] = ts;
  }
  // Token texts and templates may hold invalid UTF-8; replace rather than throw.
  std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  return Status::ok();
}

}  // namespace

void add_info_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<InfoFlags>();
  CLI::App* cmd = app.add_subcommand("info", "Show what a GGUF model file holds");
  cmd->add_option("-m,--model", fl->model, "GGUF file")->required();
  cmd->add_flag("--tensors", fl->tensors, "List every tensor (name, type, shape, bytes)");
  cmd->add_flag("-v,--verbose", fl->verbose, "Show all metadata and the full chat template");
  cmd->add_flag("--json", fl->json, "Print JSON (numbers typed; add --verbose for whole arrays)");
  cmd->callback([fl, &selected] { selected = [fl] { return run_info(*fl); }; });
}

}  // namespace vatp::cli
