// `vatp eval ruler` and `vatp eval passkey`: synthetic long-context samples
// (eval/ruler.h, eval/passkey.h) fitted to a token length with the model's tokenizer,
// then the generation sweep (eval/sweep.h) over KV policies × budgets. --dump writes the
// samples as jsonl and stops before the model is loaded for inference.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_checks.h"
#include "cli/command.h"
#include "cli/eval_common.h"
#include "core/output_file.h"
#include "eval/passkey.h"
#include "eval/ruler.h"
#include "gguf/gguf.h"
#include "tokenizer/chat_template.h"

namespace vatp::cli {
namespace {

struct CommonFlags {
  ModelFlags model;
  int samples = 50;
  uint64_t seed = 42;
  std::string dump;
  SweepFlags sweep;
};

struct RulerFlags {
  CommonFlags c;
  std::string tasks = "niah_single_1,niah_multikey_2,niah_multikey_3,vt,cwe,fwe";
  int64_t length = 4096;
};

struct PasskeyFlags {
  CommonFlags c;
  int64_t garbage = -1;  // characters
  int64_t length = 0;    // tokens
  bool chat = false;
};

// The model's tokenizer counting tokens without BOS, plus, for chat samples, the tokens
// the chat template wraps around the user turn (RULER counts its model template too).
struct Counter {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  int64_t chat_overhead = 0;

  eval::TokenCounter fn(bool chat) const {
    const int64_t extra = chat ? chat_overhead : 0;
    const tokenizer::Tokenizer* t = tok.get();
    return [t, extra](std::string_view s) {
      return static_cast<int64_t>(t->encode(s, /*add_special=*/false, /*parse_special=*/false).size()) +
             extra;
    };
  }
};

Result<Counter> make_counter(const CommonFlags& f, bool need_chat) {
  if (!std::filesystem::exists(f.model.model)) return not_found("model file not found: " + f.model.model);
  Counter c;
  VATP_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::open(f.model.model));
  c.file = std::make_unique<gguf::GgufFile>(std::move(file));
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(*c.file));
  c.tok = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
  if (need_chat) {
    Result<tokenizer::ChatFormat> fmt = tokenizer::chat_format_for(*c.file, f.sweep.chat_template);
    if (!fmt.is_ok()) return fmt.status().with_context("chat samples");
    std::vector<tokenizer::ChatMessage> msgs;
    if (!f.sweep.system.empty()) msgs.push_back({"system", f.sweep.system});
    msgs.push_back({"user", ""});
    const std::string wrapped = tokenizer::apply_chat_template(*fmt, msgs, /*add_generation_prompt=*/true);
    c.chat_overhead = static_cast<int64_t>(c.tok->encode(wrapped, false, /*parse_special=*/true).size());
  }
  return c;
}

Status dump_samples(const std::string& path, const std::vector<eval::Sample>& samples,
                    const Counter& counter) {
  std::string out;
  for (const eval::Sample& s : samples) {
    const int64_t tokens = counter.fn(s.chat)(s.prompt + s.answer_prefix) + s.max_new_tokens;
    const nlohmann::json j = {{"task", s.task},
                              {"id", s.id},
                              {"prompt", s.prompt},
                              {"answer_prefix", s.answer_prefix},
                              {"answers", s.answers},
                              {"chat", s.chat},
                              {"max_new_tokens", s.max_new_tokens},
                              {"tokens", tokens}};
    out += j.dump() + "\n";
  }
  VATP_RETURN_IF_ERROR(write_file_atomic(path, out));
  std::fprintf(stderr, "wrote %zu samples to %s\n", samples.size(), path.c_str());
  return Status::ok();
}

Status sweep(const CommonFlags& f, CLI::App& cmd, const std::vector<eval::Sample>& samples,
             const eval::ScoreFn& score) {
  VATP_ASSIGN_OR_RETURN(eval::SweepOptions opts, sweep_options(f.sweep, cmd));
  // Before the model loads: a busy or stale output directory fails at once.
  VATP_ASSIGN_OR_RETURN(eval::RunLog log, eval::open_sweep_log(opts));
  VATP_ASSIGN_OR_RETURN(LoadedModel lm, load_model(f.model));
  VATP_ASSIGN_OR_RETURN(eval::SweepSummary summary,
                        eval::run_generation_sweep(lm.ref(), samples, score, opts, log));
  std::printf("%-16s %-12s %-8s %6s %8s\n", "task", "policy", "budget", "n", "score");
  for (const auto& c : summary.cells) {
    std::printf("%-16s %-12s %-8s %6lld %8.2f\n", c.task.c_str(), c.policy.c_str(), c.budget.c_str(),
                static_cast<long long>(c.n), c.score);
  }
  std::printf("%lld runs done, %lld skipped (already in %s/runs.jsonl)\n",
              static_cast<long long>(summary.runs_done), static_cast<long long>(summary.runs_skipped),
              opts.out_dir.c_str());
  return Status::ok();
}

Status check_common(const CommonFlags& f) {
  if (f.samples < 1) return invalid_argument("--samples must be >= 1, got " + std::to_string(f.samples));
  if (f.dump.empty() && f.sweep.out_dir.empty())
    return invalid_argument("-o OUTDIR is required (or --dump FILE)");
  if (!f.dump.empty()) return check_output_path("--dump", f.dump);
  return Status::ok();
}

Status run_ruler(const RulerFlags& f, CLI::App& cmd) {
  VATP_RETURN_IF_ERROR(check_common(f.c));
  if (f.length < 1) return invalid_argument("--length must be >= 1, got " + std::to_string(f.length));
  VATP_ASSIGN_OR_RETURN(std::vector<std::string> tasks, split_list("--tasks", f.tasks));
  const std::vector<std::string> known = eval::ruler_task_names();
  for (const std::string& t : tasks) {
    if (std::find(known.begin(), known.end(), t) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      return invalid_argument("unknown RULER task '" + t + "' (known: " + list + ")");
    }
  }
  VATP_ASSIGN_OR_RETURN(Counter counter, make_counter(f.c, /*need_chat=*/true));
  std::vector<eval::Sample> samples;
  for (const std::string& task : tasks) {
    Result<std::vector<eval::Sample>> s =
        eval::ruler_samples(task, f.length, f.c.samples, f.c.seed, counter.fn(true));
    if (!s.is_ok()) return s.status();
    for (auto& x : *s) samples.push_back(std::move(x));
  }
  if (!f.c.dump.empty()) return dump_samples(f.c.dump, samples, counter);
  return sweep(f.c, cmd, samples, eval::ruler_score_fn());
}

Status run_passkey(const PasskeyFlags& f, CLI::App& cmd) {
  VATP_RETURN_IF_ERROR(check_common(f.c));
  if ((f.garbage >= 0) == (f.length > 0))
    return invalid_argument("give exactly one of --garbage CHARS and --length TOKENS");
  VATP_ASSIGN_OR_RETURN(Counter counter, make_counter(f.c, f.chat));
  eval::PasskeyOptions o;
  o.n_garbage = f.garbage;
  o.target_tokens = f.length;
  o.n_samples = f.c.samples;
  o.seed = f.c.seed;
  o.chat = f.chat;
  VATP_ASSIGN_OR_RETURN(std::vector<eval::Sample> samples, eval::passkey_samples(o, counter.fn(f.chat)));
  if (!f.c.dump.empty()) return dump_samples(f.c.dump, samples, counter);
  return sweep(f.c, cmd, samples, eval::passkey_score_fn());
}

void add_common_flags(CLI::App* cmd, CommonFlags& c, const char* samples_help) {
  add_model_flags(cmd, c.model);
  cmd->add_option("--samples", c.samples, samples_help);
  cmd->add_option("--seed", c.seed, "Seed of the generator's mt19937_64 (default 42)")
      ->check(seed_validator());
  cmd->add_option("--dump", c.dump,
                  "Write the samples (prompt, answer_prefix, answers, tokens) to this jsonl and stop; "
                  "only the model's tokenizer is read");
  add_sweep_flags(cmd, c.sweep);
  cmd->get_option("--out")->required(false);  // not with --dump (checked in check_common)
}

}  // namespace

void add_eval_ruler_commands(CLI::App& eval, CommandFn& selected) {
  auto rf = std::make_shared<RulerFlags>();
  CLI::App* ruler = eval.add_subcommand(
      "ruler",
      "RULER's synthetic tasks (niah_single_1, niah_multikey_2, niah_multikey_3, vt, cwe, fwe) fitted to "
      "--length tokens, greedy decoding per KV policy × budget, string_match_all scores");
  add_common_flags(ruler, rf->c, "Samples per task (default 50; RULER's is 500)");
  ruler->add_option("--tasks", rf->tasks, "Comma-separated tasks (default: all six)");
  ruler->add_option("--length", rf->length,
                    "max_seq_length: prompt (with the chat template) + tokens to generate (default 4096)");
  ruler->callback([rf, ruler, &selected] { selected = [rf, ruler] { return run_ruler(*rf, *ruler); }; });

  auto pf = std::make_shared<PasskeyFlags>();
  CLI::App* passkey = eval.add_subcommand(
      "passkey",
      "Landmark's passkey retrieval: a 1-50000 key in filler text, first number of 10 tokens scored");
  add_common_flags(passkey, pf->c, "Samples (default 50, as Landmark)");
  passkey->add_option("--garbage", pf->garbage, "Filler length in characters (Landmark's n_garbage)");
  passkey->add_option("--length", pf->length,
                      "Or: fit the filler so that prompt + 10 generated tokens is at most this many tokens");
  passkey->add_flag("--chat,!--no-chat", pf->chat,
                    "Chat template, the assistant turn starting \"The pass key is\" (default: plain text "
                    "like Landmark)");
  passkey->callback(
      [pf, passkey, &selected] { selected = [pf, passkey] { return run_passkey(*pf, *passkey); }; });
}

}  // namespace vatp::cli
