// `vatp ppl`: perplexity of a text file with llama-perplexity's protocol.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "cli/cli_checks.h"
#include "cli/command.h"
#include "cli/kernel_flags.h"
#include "core/output_file.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "kernels/kernel_table.h"
#include "model/model.h"
#include "runtime/memory_plan.h"
#include "runtime/perplexity_session.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace vatp::cli {
namespace {

struct PplFlags {
  std::string model;
  std::string text_file;
  int n_ctx = 512;
  int chunks = -1;  // not given: all full chunks
  int batch = 0;    // 0 (not given): n_ctx, one forward call per chunk
  int threads = 0;  // 0 (not given): hardware threads
  std::string json_out;
  bool no_repack = false;
  std::string isa;  // --isa; empty: detect
  std::string kv_type = "f16";
  std::string max_memory;  // --max-memory SIZE; empty: MemAvailable
};

Status validate_flags(const PplFlags& f, const CLI::App& sub) {
  if (f.model.empty()) return invalid_argument("-m MODEL.gguf is required");
  if (f.text_file.empty()) return invalid_argument("-f TEXT_FILE is required");
  if (f.n_ctx < 4) return invalid_argument("-c must be >= 4, got " + std::to_string(f.n_ctx));
  if (sub.count("--chunks") > 0 && f.chunks <= 0)
    return invalid_argument("--chunks must be >= 1, got " + std::to_string(f.chunks));
  if (sub.count("-b") > 0 && f.batch < 1)
    return invalid_argument("-b must be >= 1, got " + std::to_string(f.batch));
  VATP_RETURN_IF_ERROR(resolve_threads(f.threads, sub.count("-t") > 0).status());
  if (sub.count("--json") > 0) VATP_RETURN_IF_ERROR(check_output_path("--json", f.json_out));
  return memory_limit(f.max_memory).status();
}

Status run_ppl(const PplFlags& f, const CLI::App& sub) {
  VATP_RETURN_IF_ERROR(validate_flags(f, sub));
  VATP_ASSIGN_OR_RETURN(const std::string text, read_input_file("-f", f.text_file));
  VATP_ASSIGN_OR_RETURN(const kernels::KernelTable kt, kernel_table_from_flag(f.isa));
  if (!std::filesystem::exists(f.model)) return not_found("model file not found: " + f.model);

  VATP_ASSIGN_OR_RETURN(const int threads, resolve_threads(f.threads, sub.count("-t") > 0));
  ThreadPool pool(threads);
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model,
                        model::Model::load(f.model, kt, {.repack = !f.no_repack, .pool = &pool}));
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(model->gguf()));
  warn_beyond_training_context("-c", f.n_ctx, model->config());

  runtime::SessionOptions so;
  so.n_ctx = f.n_ctx;
  VATP_ASSIGN_OR_RETURN(so.kv_type, kvcache::kv_type_from_name(f.kv_type));
  so.n_batch = f.batch > 0 ? std::min(f.batch, f.n_ctx) : f.n_ctx;
  runtime::MemoryPlanInput mi;
  mi.n_ctx = mi.kv_capacity = so.n_ctx;
  mi.n_batch = so.n_batch;
  mi.threads = threads;
  mi.kv_type = so.kv_type;
  mi.logit_rows = so.n_ctx - so.n_ctx / 2;  // the scored second half of each chunk
  VATP_ASSIGN_OR_RETURN(const std::optional<uint64_t> limit, memory_limit(f.max_memory));
  VATP_RETURN_IF_ERROR(runtime::check_memory(runtime::plan_memory(model->config(), mi), limit));
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Session> session,
                        runtime::Session::create(*model, tok, pool, so));

  runtime::PerplexityOptions po;
  po.n_ctx = f.n_ctx;
  po.n_chunks = f.chunks;
  po.on_chunk = [](int chunk, double running) {
    std::printf("[%d]%.4f,", chunk + 1, running);
    std::fflush(stdout);
  };
  std::fprintf(stderr, "perplexity: n_ctx %d, batch %d, threads %d\n", so.n_ctx, so.n_batch, threads);
  Timer timer;
  VATP_ASSIGN_OR_RETURN(const runtime::PerplexityResult r, runtime::perplexity_of_text(*session, text, po));
  const double seconds = timer.seconds();
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_stderr);
  std::fprintf(stderr, "%lld tokens, %d chunks of %d, %lld scored, %.2f s (%.1f tok/s)\n",
               static_cast<long long>(r.n_tokens), r.n_chunks, r.n_ctx, static_cast<long long>(r.n_scored),
               seconds, seconds > 0 ? static_cast<double>(r.n_chunks) * r.n_ctx / seconds : 0.0);

  if (!f.json_out.empty()) {
    nlohmann::json j = {{"ppl", r.ppl},           {"ppl_stderr", r.ppl_stderr}, {"n_tokens", r.n_tokens},
                        {"n_ctx", r.n_ctx},       {"n_chunks", r.n_chunks},     {"n_scored", r.n_scored},
                        {"nll_mean", r.nll_mean}, {"chunk_ppl", r.chunk_ppl},   {"top1", r.top1},
                        {"targets", r.targets},   {"seconds", seconds},         {"threads", threads}};
    VATP_RETURN_IF_ERROR(write_file_atomic(f.json_out, j.dump() + "\n"));
  }
  return Status::ok();
}

}  // namespace

void add_ppl_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<PplFlags>();
  CLI::App* cmd = app.add_subcommand("ppl", "Perplexity of a text file (llama-perplexity protocol)");
  cmd->add_option("-m,--model", fl->model, "GGUF model file");
  cmd->add_option("-f,--file", fl->text_file, "Text file (e.g. wiki.test.raw)");
  cmd->add_option("-c,--ctx-size", fl->n_ctx, "Tokens per chunk (default 512)");
  cmd->add_option("--chunks", fl->chunks, "Evaluate at most this many chunks (default: all)");
  cmd->add_option("-b,--batch-size", fl->batch, "Tokens per forward call (default: the chunk size)");
  cmd->add_option("-t,--threads", fl->threads, "Threads (default: hardware threads)");
  cmd->add_option("--kv-type", fl->kv_type, "KV cache storage: f16 (default) | f32 | q8_0");
  cmd->add_option("--isa", fl->isa, kIsaHelp);
  cmd->add_flag("--no-repack", fl->no_repack,
                "Keep Q4_0 weights in the file's layout (no interleaved copy; less memory, slower)");
  add_max_memory_flag(cmd, fl->max_memory);
  cmd->add_option("--json", fl->json_out,
                  "Write ppl, stderr, counts, top-1 ids and targets to this JSON file");
  cmd->callback([fl, cmd, &selected] { selected = [fl, cmd] { return run_ppl(*fl, *cmd); }; });
}

}  // namespace vatp::cli
