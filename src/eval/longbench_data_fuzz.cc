// libFuzzer target for LongBench data files (vatp eval longbench --data): any bytes must
// parse, name one task and become samples with scores, or fail with an error; never crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eval/jsonl.h"
#include "eval/longbench_tasks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace lb = vatp::eval::longbench;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto recs = vatp::eval::parse_jsonl(text, "fuzz.jsonl");
  if (!recs.is_ok()) return 0;
  auto task = lb::task_of_records("hotpotqa.jsonl", *recs, "");
  if (!task.is_ok()) return 0;
  const vatp::eval::ScoreFn score = lb::longbench_score_fn();
  double sink = 0;
  // The file's own task, and one of each metric family that reads other fields.
  for (const std::string& t : {*task, std::string("trec"), std::string("passage_retrieval_en")}) {
    auto samples = lb::longbench_samples(t, *recs, lb::kDefaultMaxLength);
    if (!samples.is_ok()) continue;
    for (const vatp::eval::Sample& s : *samples) {
      sink += score(s, s.answers.front());
      sink += score(s, std::string_view(s.prompt).substr(0, 256));
    }
  }
  return sink < -1 ? 1 : 0;
}
