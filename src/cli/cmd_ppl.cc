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

#include "cli/command.h"
#include "cli/kernel_flags.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "kernels/kernel_table.h"
#include "model/model.h"
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
};

Status validate_flags(const PplFlags& f, const CLI::App& sub) {
  if (f.model.empty()) return invalid_argument("-m MODEL.gguf is required");
  if (f.text_file.empty()) return invalid_argument("-f TEXT_FILE is required");
  if (f.n_ctx < 4) return invalid_argument("-c must be >= 4, got " + std::to_string(f.n_ctx));
  if (sub.count("--chunks") > 0 && f.chunks <= 0)
    return invalid_argument("--chunks must be >= 1, got " + std::to_string(f.chunks));
  if (sub.count("-b") > 0 && f.batch < 1)
    return invalid_argument("-b must be >= 1, got " + std::to_string(f.batch));
  if (sub.count("-t") > 0 && f.threads < 1)
    return invalid_argument("-t must be >= 1, got " + std::to_string(f.threads));
  return Status::ok();
}

Status run_ppl(const PplFlags& f, const CLI::App& sub) {
  VATP_RETURN_IF_ERROR(validate_flags(f, sub));
  std::ifstream in(f.text_file, std::ios::binary);
  if (!in) return not_found("cannot open text file " + f.text_file);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  VATP_ASSIGN_OR_RETURN(const kernels::KernelTable kt, kernel_table_from_flag(f.isa));
  if (!std::filesystem::exists(f.model)) return not_found("model file not found: " + f.model);

  const int threads =
      f.threads > 0 ? f.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(threads);
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model,
                        model::Model::load(f.model, kt, {.repack = !f.no_repack, .pool = &pool}));
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(model->gguf()));
  if (f.n_ctx > model->config().n_ctx_train) {
    std::fprintf(stderr, "warning: -c %d exceeds the model's training context %d\n", f.n_ctx,
                 model->config().n_ctx_train);
  }

  runtime::SessionOptions so;
  so.n_ctx = f.n_ctx;
  VATP_ASSIGN_OR_RETURN(so.kv_type, kvcache::kv_type_from_name(f.kv_type));
  so.n_batch = f.batch > 0 ? std::min(f.batch, f.n_ctx) : f.n_ctx;
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
    std::ofstream out(f.json_out);
    out << j.dump() << "\n";
    if (!out) return io_error("cannot write " + f.json_out);
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
  cmd->add_option("--json", fl->json_out,
                  "Write ppl, stderr, counts, top-1 ids and targets to this JSON file");
  cmd->callback([fl, cmd, &selected] { selected = [fl, cmd] { return run_ppl(*fl, *cmd); }; });
}

}  // namespace vatp::cli
