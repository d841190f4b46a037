// libFuzzer target for LongBench prediction files (vatp eval score-longbench --pred): any
// bytes must be scored as eval.py would (plain and LongBench-E) or fail with an error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eval/jsonl.h"
#include "eval/longbench_tasks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace lb = vatp::eval::longbench;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto recs = vatp::eval::parse_jsonl(text, "fuzz.jsonl");
  if (!recs.is_ok()) return 0;
  double sink = 0;
  // One task per metric: qa_f1, rouge, classification, count, retrieval, code_sim.
  for (const char* task : {"qasper", "gov_report", "trec", "passage_count", "passage_retrieval_en", "lcc"}) {
    for (bool e : {false, true}) {
      auto file = lb::prediction_file(task, *recs, e);
      if (!file.is_ok()) continue;
      if (e) {
        auto b = lb::score_task_e(task, file->preds, file->all_classes);
        if (b.is_ok()) sink += static_cast<double>(b->size());
      } else {
        auto s = lb::score_task(task, file->preds, file->all_classes);
        if (s.is_ok()) sink += *s;
      }
    }
  }
  return sink < -1 ? 1 : 0;
}
