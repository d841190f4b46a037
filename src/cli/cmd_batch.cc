// `vatp batch`: every line of a JSONL file is one generation request; all run together
// on the batched engine (runtime/engine.h) under a KV memory bound, and OUT.jsonl gets
// one line per request in input order.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/request_json.h"
#include "cli/command.h"
#include "cli/eval_common.h"
#include "cli/generation_flags.h"
#include "core/json_text.h"
#include "core/malloc_policy.h"
#include "core/timer.h"
#include "runtime/engine.h"
#include "tokenizer/chat_template.h"

namespace vatp::cli {
namespace {

using api::ParsedRequest;
using api::RequestDefaults;

struct BatchFlags {
  ModelFlags model;
  std::string requests, out;
  EngineFlags engine;
  std::string chat_template;
  RequestDefaults defaults;
  bool quiet = false;
};

// One input line and what became of it.
struct Item {
  int64_t line = 0;
  nlohmann::json id;
  Status status;  // a parse or submit error, or the engine's
  runtime::Completion done;
  int64_t n_prompt = 0;
  bool finished = false;
};

Result<std::vector<std::pair<int64_t, std::string>>> read_lines(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return not_found("--requests: not a regular file: " + path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open " + path + ": " + std::strerror(errno));
  std::vector<std::pair<int64_t, std::string>> out;
  std::string text;
  for (int64_t n = 1; std::getline(in, text); ++n) {
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") != std::string::npos) out.emplace_back(n, std::move(text));
  }
  if (in.bad()) return io_error("reading " + path + " failed");
  if (out.empty()) return invalid_argument(path + ": no requests (the file has no non-blank line)");
  return out;
}

// The line as a Request for the engine, or the error naming file, line and field.
Result<runtime::Request> to_request(const std::string& file, Item& item, const std::string& text,
                                    const BatchFlags& f, const LoadedModel& lm) {
  const std::string where = file + ":" + std::to_string(item.line);
  Result<nlohmann::json> parsed = parse_json_text(text);
  if (!parsed.is_ok()) return parsed.status().with_context(where);
  nlohmann::json j = std::move(parsed).value();
  if (j.is_object() && j.contains("id")) item.id = j["id"];
  Result<ParsedRequest> p = api::parse_request(j, f.defaults);
  if (!p.is_ok()) return p.status().with_context(where);
  std::optional<tokenizer::ChatFormat> chat;
  if (!p->messages.empty()) {
    Result<tokenizer::ChatFormat> fmt = tokenizer::chat_format_for(lm.model->gguf(), f.chat_template);
    if (!fmt.is_ok()) return fmt.status().with_context(where);
    chat = std::move(fmt).value();
  }
  Result<runtime::Request> r = api::engine_request(*p, *lm.tok, chat ? &*chat : nullptr);
  if (!r.is_ok()) return r.status().with_context(where);
  item.n_prompt = static_cast<int64_t>(r->prompt.size());
  return r;
}

nlohmann::json output_line(const Item& it) {
  nlohmann::json o;
  o["id"] = it.id.is_null() ? nlohmann::json(it.line) : it.id;
  o["line"] = it.line;
  if (!it.status.is_ok()) {
    o["error"] = it.status.message();
    return o;
  }
  const runtime::SessionStats& s = it.done.stats;
  o["text"] = it.done.text;
  o["tokens"] = it.done.tokens;
  o["stop_reason"] = runtime::stop_reason_name(s.stop);
  o["prompt_tokens"] = s.n_prompt;
  o["completion_tokens"] = s.n_generated;
  o["kv_bytes_held"] = s.kv_bytes_used;
  o["kv_bytes_full"] = s.kv_bytes_full;
  o["kv_bytes_allocated"] = s.kv_bytes_allocated;
  o["kv_bytes_reserved"] = it.done.kv_bytes_reserved;
  o["tokens_evicted"] = s.tokens_evicted;
  o["kv_compressions"] = s.kv_compressions;
  o["queue_seconds"] = it.done.queue_seconds;
  o["prefill_seconds"] = it.done.prefill_seconds;
  o["decode_seconds"] = it.done.decode_seconds;
  return o;
}

// Written next to the destination and renamed over it, so a failed run leaves no
// half-written OUT.jsonl.
Status write_output(const std::string& path, const std::vector<Item>& items) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return io_error("cannot write " + tmp + ": " + std::strerror(errno));
    for (const Item& it : items)
      out << output_line(it).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp);
      return io_error("writing " + tmp + " failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return io_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return Status::ok();
}

Status check_output_path(const std::string& path) {
  const std::string tmp = path + ".tmp";
  std::ofstream probe(tmp, std::ios::binary | std::ios::trunc);
  if (!probe) return io_error("-o: cannot write " + path + ": " + std::strerror(errno));
  probe.close();
  std::filesystem::remove(tmp);
  return Status::ok();
}

void show_progress(const BatchFlags& f, int64_t done, int64_t total, int64_t tokens, double secs) {
  if (f.quiet || !isatty(STDERR_FILENO)) return;
  constexpr int kWidth = 30;
  const int fill = total > 0 ? static_cast<int>(kWidth * done / total) : 0;
  const double eta = done > 0 ? secs / static_cast<double>(done) * static_cast<double>(total - done) : 0.0;
  std::fprintf(stderr, "\r[%.*s%*s] %lld/%lld requests, %lld tokens, %.0f tok/s, ETA %.0f s   ", fill,
               "==============================", kWidth - fill, "", static_cast<long long>(done),
               static_cast<long long>(total), static_cast<long long>(tokens), secs > 0 ? tokens / secs : 0.0,
               eta);
}

// Submits lines as the queue has room and steps the engine until everything is done.
Status run_all(runtime::Engine& engine, std::vector<Item>& items, std::vector<runtime::Request>& reqs,
               const BatchFlags& f) {
  std::vector<size_t> by_id;  // engine id - 1 → item index
  size_t next = 0;
  int64_t done = 0, tokens = 0;
  Timer t;
  for (const Item& it : items) done += it.status.is_ok() ? 0 : 1;
  while (true) {
    for (; next < items.size() && engine.n_waiting() < engine.options().max_queue; ++next) {
      if (!items[next].status.is_ok()) continue;
      Result<int64_t> id = engine.submit(std::move(reqs[next]));
      if (!id.is_ok()) {
        items[next].status = id.status().with_context(f.requests + ":" + std::to_string(items[next].line));
        ++done;
        continue;
      }
      by_id.resize(static_cast<size_t>(*id), 0);
      by_id[static_cast<size_t>(*id - 1)] = next;
    }
    VATP_ASSIGN_OR_RETURN(bool more, engine.step());
    for (runtime::Completion& c : engine.take_completed()) {
      Item& it = items[by_id[static_cast<size_t>(c.id - 1)]];
      if (!c.status.is_ok()) it.status = c.status.with_context(f.requests + ":" + std::to_string(it.line));
      tokens += static_cast<int64_t>(c.tokens.size());
      it.done = std::move(c);
      it.finished = true;
      ++done;
    }
    show_progress(f, done, static_cast<int64_t>(items.size()), tokens, t.seconds());
    if (!more && next >= items.size()) break;
  }
  if (!f.quiet && isatty(STDERR_FILENO)) std::fputc('\n', stderr);
  return Status::ok();
}

Status run_batch(const BatchFlags& f) {
  keep_large_blocks_in_own_mappings();  // many caches of many sizes come and go
  if (f.model.model.empty()) return invalid_argument("-m MODEL.gguf is required");
  // Checked before the model loads; the context default is resolved after.
  VATP_RETURN_IF_ERROR(engine_options(f.engine, 1).status());
  VATP_RETURN_IF_ERROR(runtime::validate(f.defaults.sampling));
  VATP_RETURN_IF_ERROR(policy::config_from_flags(f.defaults.kv).status().with_context("--kv-* flags"));
  if (f.defaults.max_tokens < 0) return invalid_argument("-n must be >= 0");
  VATP_RETURN_IF_ERROR(check_output_path(f.out));
  VATP_ASSIGN_OR_RETURN(auto lines, read_lines(f.requests));
  VATP_ASSIGN_OR_RETURN(LoadedModel lm, load_model(f.model));
  VATP_ASSIGN_OR_RETURN(const runtime::EngineOptions eo,
                        engine_options(f.engine, lm.model->config().n_ctx_train));
  VATP_ASSIGN_OR_RETURN(auto engine, runtime::Engine::create(*lm.model, *lm.tok, *lm.pool, eo));
  const int64_t kv_memory = eo.kv_memory;
  std::vector<Item> items(lines.size());
  std::vector<runtime::Request> reqs(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    items[i].line = lines[i].first;
    Result<runtime::Request> r = to_request(f.requests, items[i], lines[i].second, f, lm);
    if (r.is_ok()) {
      reqs[i] = std::move(r).value();
    } else {
      items[i].status = r.status();
    }
  }
  Timer t;
  VATP_RETURN_IF_ERROR(run_all(*engine, items, reqs, f));
  VATP_RETURN_IF_ERROR(write_output(f.out, items));
  int64_t failed = 0, tokens = 0;
  for (const Item& it : items) {
    if (!it.status.is_ok()) {
      ++failed;
      std::fprintf(stderr, "vatp batch: %s\n", it.status.message().c_str());
    }
    tokens += static_cast<int64_t>(it.done.tokens.size());
  }
  const double secs = t.seconds();
  std::fprintf(
      stderr,
      "%zu requests: %lld ok, %lld failed; %lld tokens generated in %.2f s (%.1f tok/s); KV pool peak "
      "%.2f MiB%s\n",
      items.size(), static_cast<long long>(items.size() - failed), static_cast<long long>(failed),
      static_cast<long long>(tokens), secs, secs > 0 ? tokens / secs : 0.0,
      static_cast<double>(engine->kv_pool().peak()) / 1048576.0,
      kv_memory > 0 ? (" of " + std::to_string(kv_memory / 1048576) + " MiB").c_str() : "");
  if (failed > 0)
    return invalid_argument(std::to_string(failed) + " of " + std::to_string(items.size()) +
                            " requests failed (their lines in " + f.out + " say why)");
  return Status::ok();
}

}  // namespace

void add_batch_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<BatchFlags>();
  CLI::App* cmd =
      app.add_subcommand("batch", "Run every request of a JSONL file concurrently (batched engine)");
  add_model_flags(cmd, fl->model);
  cmd->add_option("--requests", fl->requests, "JSONL file, one request per line (docs/batch.md)")->required();
  cmd->add_option("-o,--out", fl->out, "Output JSONL, one line per request in input order")->required();
  add_engine_flags(cmd, fl->engine);
  cmd->add_option("-n,--n-predict", fl->defaults.max_tokens, "Default max_tokens (default 128)");
  cmd->add_option("--chat-template", fl->chat_template,
                  "Template for \"messages\" requests (default: the model's)");
  cmd->add_flag("-q,--quiet", fl->quiet, "No progress bar");
  add_sampling_flags(cmd, fl->defaults.sampling);
  add_kv_policy_flags(cmd, fl->defaults.kv);
  cmd->callback([fl, &selected] { selected = [fl] { return run_batch(*fl); }; });
}

}  // namespace vatp::cli
