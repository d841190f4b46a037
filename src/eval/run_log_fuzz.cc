// libFuzzer target for sweep run logs (OUT/runs.jsonl, read on resume): any bytes must be
// accepted as records of the sweep or refused with an error naming the line; never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eval/fingerprint.h"
#include "eval/sweep_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ev = vatp::eval;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The seeds (tests/data/fuzz/run_log) carry this fingerprint, so records get past it.
  ev::Fingerprint fp;
  fp.add("vatp", "fuzz");
  fp.add("--tokens", "8");
  const ev::RunLogSchema schemas[] = {
      {{"task", "id", "policy", "budget"}, {}, {"score", "seconds", "kv_fraction"}},
      {{"segment", "policy", "budget"},
       {"segment"},
       {"n", "kl_sum", "kl2_sum", "kl_max", "top1", "nll_sum", "nll_full_sum", "kv_fraction", "seconds"}},
  };
  size_t sink = 0;
  for (const ev::RunLogSchema& schema : schemas) {
    auto runs = ev::parse_run_log(text, "runs.jsonl", schema, fp);
    if (!runs.is_ok()) {
      sink += runs.status().message().size();
      continue;
    }
    for (const ev::LoggedRun& r : *runs) sink += ev::run_key(r.rec, schema.keys).size();
  }
  return sink == 1 ? 0 : 0;
}
