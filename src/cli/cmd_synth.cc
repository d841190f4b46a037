// `vatp synth`: writes a random-weight GGUF of a given shape carrying a real tokenizer.
#include <cstdio>

#include "cli/cli_checks.h"
#include "cli/command.h"
#include "core/output_file.h"
#include "gguf/gguf.h"
#include "model/synth.h"

namespace vatp::cli {
namespace {

struct SynthFlags {
  model::SynthSpec spec;
  std::string shape, type = "Q4_0", vocab_from, out;
};

Status run_synth(SynthFlags fl, const CLI::App& cmd) {
  VATP_RETURN_IF_ERROR(check_output_path("-o", fl.out));
  if (!fl.shape.empty()) {
    const model::SynthSpec explicit_spec = fl.spec;
    VATP_RETURN_IF_ERROR(model::apply_shape(fl.shape, &fl.spec));
    // Explicit flags override the shape's values.
    if (cmd.count("--layers")) fl.spec.layers = explicit_spec.layers;
    if (cmd.count("--dim")) fl.spec.dim = explicit_spec.dim;
    if (cmd.count("--heads")) fl.spec.heads = explicit_spec.heads;
    if (cmd.count("--kv-heads")) fl.spec.kv_heads = explicit_spec.kv_heads;
    if (cmd.count("--ff")) fl.spec.ff = explicit_spec.ff;
    if (cmd.count("--head-dim")) fl.spec.head_dim = explicit_spec.head_dim;
    if (cmd.count("--ctx")) fl.spec.ctx = explicit_spec.ctx;
    if (cmd.count("--rope-base")) fl.spec.rope_base = explicit_spec.rope_base;
    if (cmd.count("--arch")) fl.spec.arch = explicit_spec.arch;
  } else if (!cmd.count("--layers") || !cmd.count("--dim") || !cmd.count("--heads") || !cmd.count("--ff")) {
    return invalid_argument("give --shape NAME, or all of --layers --dim --heads --ff (and --kv-heads)");
  } else if (!cmd.count("--kv-heads")) {
    fl.spec.kv_heads = fl.spec.heads;
  }
  const std::optional<DType> t = dtype_from_name(fl.type);
  if (!t) return invalid_argument("unknown --type '" + fl.type + "'");
  fl.spec.type = *t;
  VATP_RETURN_IF_ERROR(model::validate(fl.spec));
  VATP_ASSIGN_OR_RETURN(gguf::GgufFile vocab, gguf::GgufFile::open(fl.vocab_from));
  VATP_RETURN_IF_ERROR(model::synth_write(fl.spec, vocab, fl.out));
  std::printf("wrote %s: %s, %d layers, dim %d, %d/%d heads, ff %d, %s\n", fl.out.c_str(),
              fl.spec.arch.c_str(), fl.spec.layers, fl.spec.dim, fl.spec.heads, fl.spec.kv_heads, fl.spec.ff,
              fl.type.c_str());
  return Status::ok();
}

}  // namespace

void add_synth_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<SynthFlags>();
  CLI::App* c =
      app.add_subcommand("synth", "Write a random-weight GGUF model of any shape (for tests and benchmarks)");
  c->add_option("--arch", fl->spec.arch, "llama | qwen2");
  c->add_option("--shape", fl->shape, "tiny | smollm2-135m | llama2-7b | qwen2-0.5b");
  c->add_option("--layers", fl->spec.layers, "Number of layers");
  c->add_option("--dim", fl->spec.dim, "Embedding width");
  c->add_option("--heads", fl->spec.heads, "Query heads");
  c->add_option("--kv-heads", fl->spec.kv_heads, "KV heads (GQA)");
  c->add_option("--ff", fl->spec.ff, "Feed-forward width");
  c->add_option("--head-dim", fl->spec.head_dim, "Head dimension (default dim / heads)");
  c->add_option("--ctx", fl->spec.ctx, "Training context length to record");
  c->add_option("--rope-base", fl->spec.rope_base, "RoPE frequency base");
  c->add_flag("--tied", fl->spec.tied, "No output.weight (tied to token_embd)");
  c->add_option("--type", fl->type, "Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K F16 BF16 F32");
  c->add_option("--vocab-from", fl->vocab_from, "GGUF whose tokenizer to copy")->required();
  c->add_option("-o,--output", fl->out, "Output GGUF")->required();
  c->add_option("--seed", fl->spec.seed, "Random seed")->check(seed_validator());
  c->callback([fl, c, &selected] { selected = [fl, c] { return run_synth(*fl, *c); }; });
}

}  // namespace vatp::cli
