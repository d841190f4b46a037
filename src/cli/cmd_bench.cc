// `vatp bench`: llama-bench-style prefill (pp) and decode (tg) throughput, with the
// decode's achieved memory bandwidth against a streaming-read test of this machine.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_checks.h"
#include "cli/command.h"
#include "cli/generation_flags.h"
#include "cli/kernel_flags.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/model.h"
#include "policy/flags.h"
#include "runtime/bandwidth.h"
#include "runtime/bench.h"
#include "runtime/bench_parallel.h"
#include "runtime/memory_plan.h"
#include "tokenizer/tokenizer.h"

namespace vatp::cli {
namespace {

struct BenchFlags {
  std::string model;
  runtime::BenchOptions opts;
  std::string depths = "0";
  int threads = 0;  // 0: hardware threads
  bool json = false;
  bool no_bw = false;
  bool no_repack = false;
  std::string isa;  // --isa; empty: detect
  policy::PolicyFlags kv;
  std::string kv_type = "f16";
  std::string parallel;    // --parallel 1,4,16: the batched-engine test
  std::string max_memory;  // --max-memory SIZE; empty: MemAvailable
};

// The deepest test's context against the training context and the memory limit (the
// full-cache session of run_bench is the largest allocation).
Status preflight(const BenchFlags& f, const model::ModelConfig& c, int threads) {
  int max_depth = 0;
  for (int d : f.opts.depths) max_depth = std::max(max_depth, d);
  const int64_t n_ctx = int64_t{max_depth} + std::max({f.opts.n_prompt, f.opts.n_gen, 2});
  warn_beyond_training_context(
      max_depth > 0 ? "-d " + std::to_string(max_depth) + " + -p/-n: context" : "-p/-n: context", n_ctx, c);
  runtime::MemoryPlanInput in;
  in.n_ctx = in.kv_capacity = n_ctx;
  in.n_batch = static_cast<int>(std::min<int64_t>(f.opts.n_batch, n_ctx));
  in.threads = threads;
  in.kv_type = f.opts.kv_type;
  VATP_ASSIGN_OR_RETURN(const std::optional<uint64_t> limit, memory_limit(f.max_memory));
  return runtime::check_memory(runtime::plan_memory(c, in), limit);
}

std::string kv_label(const runtime::BenchResult& r, const BenchFlags& f) {
  if (!r.policy) return "full";
  return f.kv.policy + (f.kv.budget ? " " + *f.kv.budget : std::string());
}

Status run_parallel(const BenchFlags& f, const model::Model& model, const tokenizer::Tokenizer& tok,
                    ThreadPool& pool, int threads) {
  runtime::ParallelBenchOptions o;
  VATP_ASSIGN_OR_RETURN(o.parallel, runtime::parse_depths(f.parallel));  // same list syntax
  o.depths = f.opts.depths;
  o.n_gen = f.opts.n_gen;
  o.reps = f.opts.reps;
  o.n_batch = f.opts.n_batch;
  o.kv_type = f.opts.kv_type;
  o.kv_policy = f.opts.kv_policy;
  auto progress = [&](const std::string& what) {
    if (!f.json) std::fprintf(stderr, "running %s ...\n", what.c_str());
  };
  VATP_ASSIGN_OR_RETURN(auto res, runtime::run_parallel_bench(model, tok, pool, o, progress));
  if (f.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : res) {
      arr.push_back({{"model", f.model},
                     {"threads", threads},
                     {"parallel", r.parallel},
                     {"n_depth", r.depth},
                     {"n_gen", o.n_gen},
                     {"kv", r.policy ? f.kv.policy : "full"},
                     {"samples_ts", r.tok_per_s},
                     {"avg_ts", r.ts.mean},
                     {"stddev_ts", r.ts.sd},
                     {"kv_bytes", r.kv_bytes}});
    }
    std::printf("%s\n", arr.dump(2).c_str());
    return Status::ok();
  }
  std::printf("model %s: %d threads, tg%d per sequence, KV %s\n\n", f.model.c_str(), threads, o.n_gen,
              f.kv_type.c_str());
  std::printf("| %8s | %6s | %-12s | %20s | %12s | %10s | %9s |\n", "parallel", "depth", "kv",
              "aggregate t/s", "t/s per seq", "vs N=1", "KV MiB");
  std::printf("| %8s | %6s | %-12s | %20s | %12s | %10s | %9s |\n", "-------:", "-----:", "------------",
              "-------------------:", "-----------:", "---------:", "--------:");
  // Ratios against the one-sequence run at the same depth, when it was measured.
  auto single = [&](int depth) {
    for (const auto& r : res) {
      if (r.parallel == 1 && r.depth == depth) return r.ts.mean;
    }
    return 0.0;
  };
  for (const auto& r : res) {
    const double base = single(r.depth);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%.2f ± %.2f", r.ts.mean, r.ts.sd);
    char vs[32] = "-";
    if (base > 0) std::snprintf(vs, sizeof vs, "%.2fx", r.ts.mean / base);
    const std::string kv =
        r.policy ? f.kv.policy + (f.kv.budget ? " " + *f.kv.budget : std::string()) : "full";
    std::printf("| %8d | %6d | %-12s | %20s | %12.2f | %10s | %9.2f |\n", r.parallel, r.depth, kv.c_str(), ts,
                r.ts.mean / r.parallel, vs, static_cast<double>(r.kv_bytes) / 1048576.0);
  }
  return Status::ok();
}

Status run_bench_cmd(BenchFlags f, const CLI::App& sub) {
  if (f.model.empty()) return invalid_argument("-m MODEL.gguf is required");
  VATP_ASSIGN_OR_RETURN(const int threads, resolve_threads(f.threads, sub.count("-t") > 0));
  VATP_RETURN_IF_ERROR(memory_limit(f.max_memory).status());
  VATP_ASSIGN_OR_RETURN(f.opts.depths, runtime::parse_depths(f.depths));
  VATP_RETURN_IF_ERROR(runtime::validate(f.opts));
  VATP_ASSIGN_OR_RETURN(f.opts.kv_policy, policy::config_from_flags(f.kv));
  VATP_ASSIGN_OR_RETURN(f.opts.kv_type, kvcache::kv_type_from_name(f.kv_type));
  VATP_ASSIGN_OR_RETURN(const kernels::KernelTable kt, kernel_table_from_flag(f.isa));
  if (!std::filesystem::exists(f.model)) return not_found("model file not found: " + f.model);

  ThreadPool pool(threads);
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model,
                        model::Model::load(f.model, kt, {.repack = !f.no_repack, .pool = &pool}));
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(model->gguf()));
  VATP_RETURN_IF_ERROR(preflight(f, model->config(), threads));

  if (!f.parallel.empty()) return run_parallel(f, *model, tok, pool, threads);
  double bw = 0.0;
  if (!f.no_bw) {
    VATP_ASSIGN_OR_RETURN(runtime::BandwidthResult b, runtime::measure_read_bandwidth(pool));
    bw = b.gb_per_s;
  }
  auto progress = [&](const std::string& what) {
    if (!f.json) std::fprintf(stderr, "running %s ...\n", what.c_str());
  };
  VATP_ASSIGN_OR_RETURN(std::vector<runtime::BenchResult> res,
                        runtime::run_bench(*model, tok, pool, f.opts, progress));

  const double size_gib = static_cast<double>(model->weight_bytes()) / (1024.0 * 1024.0 * 1024.0);
  if (f.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const runtime::BenchResult& r : res) {
      arr.push_back({{"model", f.model},
                     {"model_size", model->weight_bytes()},
                     {"threads", threads},
                     {"test", r.test},
                     {"n_prompt", r.n_prompt},
                     {"n_gen", r.n_gen},
                     {"n_depth", r.depth},
                     {"kv", kv_label(r, f)},
                     {"kv_type", f.kv_type},
                     {"samples_ts", r.tok_per_s},
                     {"avg_ts", r.ts.mean},
                     {"stddev_ts", r.ts.sd},
                     {"bytes_per_token", r.bytes_per_token},
                     {"samples_gbs", r.gb_per_s},
                     {"avg_gbs", r.gbs.mean},
                     {"kv_bytes_used", r.kv_bytes_used},
                     {"bandwidth_gbs", bw}});
    }
    std::printf("%s\n", arr.dump(2).c_str());
    return Status::ok();
  }
  std::printf("model %s: %.2f GiB, %d layers, dim %d; %d threads, KV %s, ISA %s\n", f.model.c_str(), size_gib,
              model->config().n_layers, model->config().dim, threads, f.kv_type.c_str(),
              kernels::isa_name(kt.isa));
  if (bw > 0) {
    std::printf("memory bandwidth (streaming read, %d threads): %.1f GB/s\n\n", threads, bw);
  } else {
    std::printf("memory bandwidth: not measured (--no-bw-test)\n\n");
  }
  std::printf("| %-16s | %-12s | %20s | %9s | %9s | %7s |\n", "test", "kv", "t/s", "MB/token", "GB/s",
              "% BW");
  std::printf("| %-16s | %-12s | %20s | %9s | %9s | %7s |\n", "----------------", "------------",
              "-------------------:", "--------:", "--------:", "------:");
  for (const runtime::BenchResult& r : res) {
    const std::string name = r.test + (r.depth > 0 ? " @ d" + std::to_string(r.depth) : std::string());
    char ts[64];
    std::snprintf(ts, sizeof ts, "%.2f ± %.2f", r.ts.mean, r.ts.sd);
    if (r.n_gen > 0) {
      char pct[32] = "-";
      if (bw > 0) std::snprintf(pct, sizeof pct, "%.1f", 100.0 * r.gbs.mean / bw);
      std::printf("| %-16s | %-12s | %21s | %9.1f | %9.2f | %7s |\n", name.c_str(), kv_label(r, f).c_str(),
                  ts, r.bytes_per_token / 1e6, r.gbs.mean, pct);
    } else {
      std::printf("| %-16s | %-12s | %21s | %9s | %9s | %7s |\n", name.c_str(), kv_label(r, f).c_str(), ts,
                  "-", "-", "-");
    }
  }
  return Status::ok();
}

}  // namespace

void add_bench_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prefill and decode throughput (llama-bench style)");
  cmd->add_option("-m,--model", fl->model, "GGUF model file");
  cmd->add_option("-p,--n-prompt", fl->opts.n_prompt,
                  "Prompt tokens of the pp test; 0 skips it (default 512)");
  cmd->add_option("--isa", fl->isa, kIsaHelp);
  cmd->add_flag("--no-repack", fl->no_repack,
                "Keep Q4_0 weights in the file's layout (no interleaved copy; less memory, slower)");
  cmd->add_option("-n,--n-gen", fl->opts.n_gen, "Tokens of the tg test; 0 skips it (default 128)");
  cmd->add_option("-d,--depth", fl->depths, "Comma-separated KV depths to test at (default 0)");
  cmd->add_option("-r,--repetitions", fl->opts.reps, "Repetitions of each test (default 5)");
  cmd->add_option("-t,--threads", fl->threads, "Threads (default: hardware threads)");
  cmd->add_option("-b,--batch-size", fl->opts.n_batch, "Prompt tokens per forward call (default 512)");
  cmd->add_flag("--json", fl->json, "Print the results as JSON on stdout instead of the table");
  cmd->add_flag("--no-bw-test", fl->no_bw, "Skip the memory-bandwidth test");
  // KV compression, as in `vatp run` (docs/policies.md); applies to tg tests at depth > 0.
  add_kv_policy_flags(cmd, fl->kv);
  cmd->add_option("--parallel", fl->parallel,
                  "Comma-separated sequence counts: aggregate decode t/s of N sequences decoding together "
                  "on the batched engine, at each depth (instead of pp/tg)");
  cmd->add_option("--kv-type", fl->kv_type, "KV cache storage: f16 (default) | f32 | q8_0");
  add_max_memory_flag(cmd, fl->max_memory);
  cmd->callback([fl, cmd, &selected] { selected = [fl, cmd] { return run_bench_cmd(*fl, *cmd); }; });
}

}  // namespace vatp::cli
