// `vatp info`: what a GGUF file holds — architecture, shapes, tensor types, tokenizer,
// chat template. Reads metadata only; an unknown architecture is reported, not refused.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "gguf/gguf.h"

namespace vatp::cli {
namespace {

struct InfoFlags {
  std::string model;
  bool tensors = false;
  bool verbose = false;
  bool json = false;
};

std::string str_or(const gguf::GgufFile& f, const std::string& key, const std::string& fallback = "-") {
  const gguf::Value* v = f.find(key);
  return v ? v->to_display_string() : fallback;
}

Status run_info(const InfoFlags& fl) {
  VATP_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::open(fl.model));
  const std::string arch = str_or(f, "general.architecture", "");
  const std::string a = arch + ".";
  struct TypeSum {
    int count = 0;
    size_t bytes = 0;
  };
  std::map<std::string, TypeSum> by_type;
  size_t total = 0;
  for (const gguf::TensorInfo& t : f.tensors()) {
    TypeSum& s = by_type[std::string(dtype_name(t.type))];
    s.count++;
    s.bytes += t.nbytes;
    total += t.nbytes;
  }
  const std::string tmpl = str_or(f, "tokenizer.chat_template", "");
  const gguf::Value* toks = f.find("tokenizer.ggml.tokens");

  std::vector<std::pair<std::string, std::string>> rows = {
      {"file", fl.model},
      {"file size", std::to_string(f.file_size()) + " bytes"},
      {"GGUF version", std::to_string(f.version())},
      {"name", str_or(f, "general.name")},
      {"architecture", arch.empty() ? "-" : arch},
      {"layers", str_or(f, a + "block_count")},
      {"context length", str_or(f, a + "context_length")},
      {"embedding", str_or(f, a + "embedding_length")},
      {"feed-forward", str_or(f, a + "feed_forward_length")},
      {"heads", str_or(f, a + "attention.head_count")},
      {"KV heads", str_or(f, a + "attention.head_count_kv", str_or(f, a + "attention.head_count"))},
      {"head dim", str_or(f, a + "attention.key_length", "(embedding / heads)")},
      {"rope dims", str_or(f, a + "rope.dimension_count")},
      {"rope base", str_or(f, a + "rope.freq_base", "10000 (default)")},
      {"rope scaling", str_or(f, a + "rope.scaling.type", "none")},
      {"rms eps", str_or(f, a + "attention.layer_norm_rms_epsilon")},
      {"vocab size", toks ? std::to_string(toks->array_size()) : str_or(f, a + "vocab_size")},
      {"tokenizer", str_or(f, "tokenizer.ggml.model")},
      {"pre-tokenizer", str_or(f, "tokenizer.ggml.pre")},
      {"bos / eos / unk / pad", str_or(f, "tokenizer.ggml.bos_token_id") + " / " +
                                    str_or(f, "tokenizer.ggml.eos_token_id") + " / " +
                                    str_or(f, "tokenizer.ggml.unknown_token_id") + " / " +
                                    str_or(f, "tokenizer.ggml.padding_token_id")},
      {"add bos / eos",
       str_or(f, "tokenizer.ggml.add_bos_token") + " / " + str_or(f, "tokenizer.ggml.add_eos_token")},
      {"tensors", std::to_string(f.tensors().size()) + " (" + std::to_string(total) + " bytes)"},
  };

  if (fl.json) {
    nlohmann::json j;
    for (const auto& [k, v] : rows) j[k] = v;
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [name, s] : by_type) types[name] = {{"count", s.count}, {"bytes", s.bytes}};
    j["tensor types"] = types;
    j["chat template"] = tmpl;
    nlohmann::json meta = nlohmann::json::object();
    for (const gguf::Value& v : f.values()) meta[std::string(v.key())] = v.to_display_string(4);
    j["metadata"] = meta;
    if (fl.tensors) {
      nlohmann::json ts = nlohmann::json::array();
      for (const gguf::TensorInfo& t : f.tensors()) {
        ts.push_back({{"name", t.name},
                      {"type", dtype_name(t.type)},
                      {"shape", t.shape_string()},
                      {"bytes", t.nbytes}});
      }
      j["tensor list"] = ts;
    }
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return Status::ok();
  }
  for (const auto& [k, v] : rows) std::printf("%-22s %s\n", k.c_str(), v.c_str());
  std::printf("%-22s\n", "tensor types");
  for (const auto& [name, s] : by_type) {
    std::printf("  %-8s %5d tensors %14zu bytes (%.1f%%)\n", name.c_str(), s.count, s.bytes,
                total ? 100.0 * static_cast<double>(s.bytes) / static_cast<double>(total) : 0.0);
  }
  if (!tmpl.empty()) {
    std::istringstream lines(tmpl);
    std::string line;
    int shown = 0;
    std::printf("chat template (%zu chars)%s\n", tmpl.size(),
                fl.verbose ? "" : ", first lines (--verbose for all):");
    while (std::getline(lines, line) && (fl.verbose || shown < 3)) {
      std::printf("  | %s\n", line.c_str());
      ++shown;
    }
  } else {
    std::printf("%-22s none\n", "chat template");
  }
  if (fl.verbose) {
    std::printf("metadata (%zu keys)\n", f.values().size());
    for (const gguf::Value& v : f.values()) {
      std::printf("  %-45s %s\n", std::string(v.key()).c_str(), v.to_display_string(6).c_str());
    }
  }
  if (fl.tensors) {
    std::printf("%-40s %-6s %-18s %s\n", "tensor", "type", "shape", "bytes");
    for (const gguf::TensorInfo& t : f.tensors()) {
      std::printf("%-40s %-6s %-18s %zu\n", t.name.c_str(), std::string(dtype_name(t.type)).c_str(),
                  t.shape_string().c_str(), t.nbytes);
    }
  }
  return Status::ok();
}

}  // namespace

void add_info_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<InfoFlags>();
  CLI::App* cmd = app.add_subcommand("info", "Show what a GGUF model file holds");
  cmd->add_option("-m,--model", fl->model, "GGUF file")->required();
  cmd->add_flag("--tensors", fl->tensors, "List every tensor (name, type, shape, bytes)");
  cmd->add_flag("-v,--verbose", fl->verbose, "Show all metadata and the full chat template");
  cmd->add_flag("--json", fl->json, "Print JSON");
  cmd->callback([fl, &selected] { selected = [fl] { return run_info(*fl); }; });
}

}  // namespace vatp::cli
