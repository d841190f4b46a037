// `vatp run`: generate text from a prompt, streaming tokens to stdout as they come.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/cli_checks.h"
#include "cli/command.h"
#include "cli/kernel_flags.h"
#include "cli/stop_signal.h"
#include "core/output_file.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/model.h"
#include "policy/flags.h"
#include "runtime/memory_plan.h"
#include "runtime/session.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace vatp::cli {
namespace {

// Context default: the model's training context, capped so that a large model does not
// allocate a multi-GiB KV cache unasked.
constexpr int kDefaultCtxCap = 4096;

struct RunFlags {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int n_predict = 128;
  int n_ctx = 0;    // 0 (not given): min(training context, kDefaultCtxCap)
  int threads = 0;  // 0 (not given): hardware threads
  int batch = 256;
  bool chat = false;
  std::string system;
  std::string chat_template;
  runtime::SamplerParams sampling;
  std::string json_out;
  bool no_stats = false;
  policy::PolicyFlags kv;  // --kv-* flags, parsed by the policy module
  std::string kv_type = "f16";
  bool kv_rerotate = false;
  bool no_repack = false;
  std::string dump_tensors;  // --dump-tensors FILE
  std::string isa;           // --isa; empty: detect
  std::string max_memory;    // --max-memory SIZE; empty: MemAvailable
};

// Flag checks that need no file; `sub` tells which flags were given.
Status validate_flags(const RunFlags& f, const CLI::App& sub) {
  if (f.model.empty()) return invalid_argument("-m MODEL.gguf is required");
  const bool has_p = sub.count("-p") > 0, has_f = sub.count("-f") > 0;
  if (has_p && has_f) return invalid_argument("give either -p or -f, not both");
  if (!has_p && !has_f) return invalid_argument("a prompt is required: -p TEXT or -f FILE");
  if (f.n_predict < 0) return invalid_argument("-n must be >= 0, got " + std::to_string(f.n_predict));
  if (sub.count("-c") > 0 && f.n_ctx <= 0)
    return invalid_argument("-c must be > 0, got " + std::to_string(f.n_ctx));
  VATP_RETURN_IF_ERROR(resolve_threads(f.threads, sub.count("-t") > 0).status());
  if (sub.count("--json") > 0) VATP_RETURN_IF_ERROR(check_output_path("--json", f.json_out));
  if (sub.count("--dump-tensors") > 0)
    VATP_RETURN_IF_ERROR(check_output_path("--dump-tensors", f.dump_tensors));
  VATP_RETURN_IF_ERROR(memory_limit(f.max_memory).status());
  if (f.batch < 1) return invalid_argument("-b must be >= 1, got " + std::to_string(f.batch));
  if (sub.count("--system") > 0 && !f.chat) return invalid_argument("--system needs --chat");
  if (sub.count("--chat-template") > 0 && !f.chat) return invalid_argument("--chat-template needs --chat");
  return runtime::validate(f.sampling);
}

// The prompt text, wrapped in the chat template when --chat is given.
Result<std::string> build_prompt(const RunFlags& f, const std::string& user_text, const model::Model& m) {
  if (!f.chat) return user_text;
  auto fmt = tokenizer::chat_format_for(m.gguf(), f.chat_template);
  if (!fmt.is_ok()) return fmt.status().with_context("--chat");
  std::vector<tokenizer::ChatMessage> msgs;
  if (!f.system.empty()) msgs.push_back({"system", f.system});
  msgs.push_back({"user", user_text});
  return tokenizer::apply_chat_template(*fmt, msgs, /*add_generation_prompt=*/true);
}

nlohmann::json stats_json(const runtime::SessionStats& s, int n_ctx, int threads) {
  return {{"n_prompt", s.n_prompt},
          {"n_generated", s.n_generated},
          {"n_decoded", s.n_decoded},
          {"prefill_seconds", s.prefill_seconds},
          {"decode_seconds", s.decode_seconds},
          {"sample_seconds", s.sample_seconds},
          {"prefill_tok_per_s", s.prefill_tok_per_s()},
          {"decode_tok_per_s", s.decode_tok_per_s()},
          {"kv_bytes_allocated", s.kv_bytes_allocated},
          {"kv_bytes_used", s.kv_bytes_used},
          {"kv_bytes_full", s.kv_bytes_full},
          {"tokens_evicted", s.tokens_evicted},
          {"scoring_seconds", s.scoring_seconds},
          {"stop", runtime::stop_reason_name(s.stop)},
          {"n_ctx", n_ctx},
          {"threads", threads}};
}

// --dump-tensors: the tap that appends every intermediate tensor to `file`.
model::TensorTap dump_tap(std::FILE* file) {
  return [file, call = uint32_t{0}](const char* name, int layer, const float* rows, int64_t m,
                                    int64_t len) mutable {
    // Record: u32 forward-call index, u32 name length, name ("Qcur-3"), u64 n, n f32
    // (the batch's last row). scripts/ref/tensor_diff.py reads it.
    if (std::string_view(name) == "inp_embd") ++call;
    const std::string full = layer >= 0 ? std::string(name) + "-" + std::to_string(layer) : std::string(name);
    const auto nlen = static_cast<uint32_t>(full.size());
    const auto n = static_cast<uint64_t>(len);
    std::fwrite(&call, 4, 1, file);
    std::fwrite(&nlen, 4, 1, file);
    std::fwrite(full.data(), 1, full.size(), file);
    std::fwrite(&n, 8, 1, file);
    std::fwrite(rows + (m - 1) * len, 4, static_cast<size_t>(len), file);
  };
}

// Flags whose limit depends on the model (the context), then what the session will
// allocate against --max-memory or the available memory — before allocating it.
Status preflight(const RunFlags& f, const runtime::SessionOptions& so, const model::ModelConfig& c,
                 int64_t prompt_len, int threads) {
  warn_beyond_training_context("-c", so.n_ctx, c);
  if (f.sampling.repeat_last_n > so.n_ctx) {
    return invalid_argument("--repeat-last-n " + std::to_string(f.sampling.repeat_last_n) +
                            " exceeds the context (" + std::to_string(so.n_ctx) + " tokens)");
  }
  runtime::MemoryPlanInput in;
  in.n_ctx = so.n_ctx;
  in.kv_capacity = runtime::kv_capacity_for(so.kv_policy, prompt_len, so.n_ctx);
  in.n_batch = std::min(so.n_batch, so.n_ctx);
  in.threads = threads;
  in.kv_type = so.kv_type;
  in.per_query_head = policy::stat_plan(so.kv_policy).per_query_head;
  in.rerotate = so.kv_rerotate;
  in.repeat_last_n = f.sampling.repeat_last_n;
  VATP_ASSIGN_OR_RETURN(const std::optional<uint64_t> limit, memory_limit(f.max_memory));
  return runtime::check_memory(runtime::plan_memory(c, in), limit);
}

void print_stats(const runtime::SessionStats& st, const runtime::SessionOptions& so) {
  const double mib = 1024.0 * 1024.0;
  std::fprintf(stderr,
               "\nprompt %lld tok, prefill %.1f tok/s, decode %.1f tok/s, KV cache %.2f MiB used of %.2f MiB "
               "allocated (%s%s)\n",
               static_cast<long long>(st.n_prompt), st.prefill_tok_per_s(), st.decode_tok_per_s(),
               static_cast<double>(st.kv_bytes_used) / mib, static_cast<double>(st.kv_bytes_allocated) / mib,
               kvcache::kv_type_name(so.kv_type),
               so.kv_rerotate ? ", keys rerotated to cache positions" : "");
  if (!so.kv_policy.evict) return;
  std::fprintf(
      stderr,
      "kv policy %s: cache holds %.2f MiB (allocated %.2f MiB) vs %.2f MiB full (%.1f%%), %lld tokens "
      "evicted, scoring %.3f s\n",
      policy::describe(so.kv_policy).c_str(), static_cast<double>(st.kv_bytes_used) / mib,
      static_cast<double>(st.kv_bytes_allocated) / mib, static_cast<double>(st.kv_bytes_full) / mib,
      st.kv_bytes_full ? 100.0 * static_cast<double>(st.kv_bytes_used) / static_cast<double>(st.kv_bytes_full)
                       : 0.0,
      static_cast<long long>(st.tokens_evicted), st.scoring_seconds);
}

Status run_generate(const RunFlags& f, const CLI::App& sub) {
  VATP_RETURN_IF_ERROR(validate_flags(f, sub));
  std::string user_text = f.prompt;
  if (!f.prompt_file.empty()) {
    VATP_ASSIGN_OR_RETURN(user_text, read_input_file("-f", f.prompt_file));
  }
  VATP_ASSIGN_OR_RETURN(const kernels::KernelTable kt, kernel_table_from_flag(f.isa));
  if (!std::filesystem::exists(f.model)) return not_found("model file not found: " + f.model);

  VATP_ASSIGN_OR_RETURN(const int threads, resolve_threads(f.threads, sub.count("-t") > 0));
  ThreadPool pool(threads);
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model,
                        model::Model::load(f.model, kt, {.repack = !f.no_repack, .pool = &pool}));
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(model->gguf()));
  VATP_ASSIGN_OR_RETURN(const std::string text, build_prompt(f, user_text, *model));
  // add_special adds BOS only when the vocabulary asks for it; a chat template that
  // already starts with BOS text gets it parsed as a special token.
  const std::vector<int32_t> prompt = tok.encode(text, /*add_special=*/true, /*parse_special=*/f.chat);

  runtime::SessionOptions so;
  VATP_ASSIGN_OR_RETURN(so.kv_policy, policy::config_from_flags(f.kv));
  VATP_ASSIGN_OR_RETURN(so.kv_type, kvcache::kv_type_from_name(f.kv_type));
  so.kv_rerotate = f.kv_rerotate;
  so.n_ctx = f.n_ctx > 0 ? f.n_ctx : std::min(model->config().n_ctx_train, kDefaultCtxCap);
  so.n_batch = f.batch;
  so.sampling = f.sampling;
  VATP_RETURN_IF_ERROR(preflight(f, so, model->config(), static_cast<int64_t>(prompt.size()), threads));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> dump(nullptr, &std::fclose);
  if (!f.dump_tensors.empty()) {
    dump.reset(std::fopen(f.dump_tensors.c_str(), "wb"));
    if (!dump) return io_error("cannot write " + f.dump_tensors + ": " + std::strerror(errno));
    so.tap = dump_tap(dump.get());
  }
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Session> session,
                        runtime::Session::create(*model, tok, pool, so));

  std::string generated_text;
  auto on_token = [&](int32_t, std::string_view piece) {
    if (!piece.empty()) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      generated_text.append(piece);
    }
    // Stop on SIGINT/SIGTERM, or when stdout is gone (main reports the write error).
    return stop_signal() == 0 && std::ferror(stdout) == 0;
  };
  catch_stop_signals();
  VATP_ASSIGN_OR_RETURN(std::vector<int32_t> generated, session->generate(prompt, f.n_predict, on_token));
  if (dump && (std::fflush(dump.get()) != 0 || std::ferror(dump.get()) != 0)) {
    return io_error("writing " + f.dump_tensors + ": " + std::strerror(errno));
  }
  const runtime::SessionStats& st = session->stats();
  if (!f.no_stats) print_stats(st, so);
  if (f.json_out.empty()) return Status::ok();
  nlohmann::json stats = stats_json(st, so.n_ctx, threads);
  if (stop_signal() != 0) stats["signal"] = stop_signal();
  const nlohmann::json j = {
      {"prompt_ids", prompt}, {"generated_ids", generated}, {"text", generated_text}, {"stats", stats}};
  // Generated text can end inside a UTF-8 character (-n cut it there): replace, do not throw.
  return write_file_atomic(f.json_out,
                           j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace

void add_run_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt (tokens stream to stdout)");
  cmd->add_option("-m,--model", fl->model, "GGUF model file");
  cmd->add_option("-p,--prompt", fl->prompt, "Prompt text");
  cmd->add_option("-f,--file", fl->prompt_file, "Read the prompt from a file");
  cmd->add_option("-n,--n-predict", fl->n_predict, "Tokens to generate (default 128)");
  cmd->add_option("-c,--ctx-size", fl->n_ctx,
                  "Context size in tokens (default: the model's training context, at most 4096)");
  cmd->add_option("-t,--threads", fl->threads, "Threads (default: hardware threads)");
  cmd->add_option("--isa", fl->isa, kIsaHelp);
  cmd->add_option("--dump-tensors", fl->dump_tensors,
                  "Write every forward call's intermediate tensors (last token's row) to FILE "
                  "(scripts/ref/tensor_diff.py)");
  cmd->add_flag("--no-repack", fl->no_repack,
                "Keep Q4_0 weights in the file's layout (no interleaved copy; less memory, slower)");
  cmd->add_option("-b,--batch-size", fl->batch, "Prompt tokens per forward call (default 256)");
  cmd->add_flag("--chat", fl->chat, "Wrap the prompt in the model's chat template");
  cmd->add_option("--system", fl->system, "System message (with --chat)");
  cmd->add_option(
      "--chat-template", fl->chat_template,
      "Template name: llama2, vicuna, chatml, llama3, mistral, mistral-v1, mistral-v3, mistral-v3-tekken, "
      "mistral-v7, mistral-v7-tekken");
  cmd->add_option("--temp", fl->sampling.temp, "Temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--top-k", fl->sampling.top_k, "Top-k, <= 0 off (default 40)");
  cmd->add_option("--top-p", fl->sampling.top_p, "Top-p in (0,1], 1 off (default 0.95)");
  cmd->add_option("--min-p", fl->sampling.min_p, "Min-p in [0,1], 0 off (default 0.05)");
  cmd->add_option("--repeat-penalty", fl->sampling.repeat_penalty, "Repeat penalty, 1 off (default 1.0)");
  cmd->add_option("--repeat-last-n", fl->sampling.repeat_last_n,
                  "Tokens the repeat penalty looks back (default 64)");
  cmd->add_option("--seed", fl->sampling.seed, "Sampling seed (default 0)")->check(seed_validator());
  add_max_memory_flag(cmd, fl->max_memory);
  cmd->add_option("--json", fl->json_out,
                  "Write prompt ids, generated ids, text and stats to this JSON file");
  cmd->add_flag("--no-stats", fl->no_stats, "Do not print the stats line to stderr");
  // KV compression (docs/policies.md).
  cmd->add_option("--kv-policy", fl->kv.policy,
                  "full, streaming, h2o, vatp, scissorhands, vatp-scissorhands, tova, snapkv, knorm, random");
  auto opt = [&](const char* name, std::optional<std::string>& dst, const char* help) {
    cmd->add_option_function<std::string>(
        name, [&dst](const std::string& v) { dst = v; }, help);
  };
  opt("--kv-budget", fl->kv.budget, "Tokens kept: a count (512) or a fraction of the prompt (0.5)");
  opt("--kv-sinks", fl->kv.sinks, "First tokens always kept");
  opt("--kv-recent", fl->kv.recent, "Newest tokens always kept");
  opt("--kv-schedule", fl->kv.schedule, "oneshot | continuous | chunked");
  opt("--kv-chunk", fl->kv.chunk, "Prefill chunk for the chunked schedule");
  opt("--kv-group", fl->kv.group, "GQA reduction of query-head scores: sum | mean | max");
  opt("--kv-value-norm", fl->kv.value_norm, "Value weighting: none | l1 | l2");
  opt("--kv-window", fl->kv.window, "Observation window (scissorhands, snapkv)");
  opt("--kv-seed", fl->kv.seed, "Seed of the random policy");
  cmd->add_option("--kv-type", fl->kv_type, "KV cache storage: f16 (default) | f32 | q8_0");
  cmd->add_flag("--kv-rerotate", fl->kv_rerotate,
                "Renumber kept tokens to cache positions after each eviction and rotate keys there "
                "(StreamingLLM); with a continuous policy generation can run past -c");
  cmd->callback([fl, cmd, &selected] { selected = [fl, cmd] { return run_generate(*fl, *cmd); }; });
}

}  // namespace vatp::cli
