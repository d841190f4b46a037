#include "eval/longbench_tasks.h"

#include "eval/longbench_metrics.h"

namespace vatp::eval::longbench {
namespace {

struct TaskConfig {
  const char* name;
  int max_new_tokens;
  const char* prompt;
};

// Verbatim from specs/eval.md §1.3 (typos and spacing are upstream's).
constexpr TaskConfig kConfigs[] = {
    {"narrativeqa", 128,
     "You are given a story, which can be either a novel or a movie script, and a question. Answer the "
     "question asconcisely as you can, using a single phrase if possible. Do not provide any "
     "explanation.\n\nStory: {context}\n\nNow, answer the question based on the story asconcisely as you "
     "can, "
     "using a single phrase if possible. Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:"},
    {"qasper", 128,
     "You are given a scientific article and a question. Answer the question as concisely as you can, using "
     "a "
     "single phrase or sentence if possible. If the question cannot be answered based on the information in "
     "the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or "
     "\"unanswerable\". Do not provide any explanation.\n\nArticle: {context}\n\n Answer the question based "
     "on "
     "the above article as concisely as you can, using a single phrase or sentence if possible. If the "
     "question cannot be answered based on the information in the article, write \"unanswerable\". If the "
     "question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any "
     "explanation.\n\nQuestion: {input}\n\nAnswer:"},
    {"multifieldqa_en", 64,
     "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based "
     "on "
     "the above text, only give me the answer and do not output any other words.\n\nQuestion: "
     "{input}\nAnswer:"},
    {"hotpotqa", 32,
     "Answer the question based on the given passages. Only give me the answer and do not output any other "
     "words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given "
     "passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:"},
    {"2wikimqa", 32,
     "Answer the question based on the given passages. Only give me the answer and do not output any other "
     "words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given "
     "passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:"},
    {"musique", 32,
     "Answer the question based on the given passages. Only give me the answer and do not output any other "
     "words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given "
     "passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:"},
    {"gov_report", 512,
     "You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n"
     "{context}\n\nNow, write a one-page summary of the report.\n\nSummary:"},
    {"qmsum", 512,
     "You are given a meeting transcript and a query containing a question or instruction. Answer the query "
     "in "
     "one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the above meeting "
     "transcript in one or more sentences.\n\nQuery: {input}\nAnswer:"},
    {"multi_news", 512,
     "You are given several news passages. Write a one-page summary of all news. "
     "\n\nNews:\n{context}\n\nNow, "
     "write a one-page summary of all the news.\n\nSummary:"},
    {"trec", 64,
     "Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n"
     "{input}"},
    {"triviaqa", 32,
     "Answer the question based on the given passage. Only give me the answer and do not output any other "
     "words. The following are some examples.\n\n{context}\n\n{input}"},
    {"samsum", 128,
     "Summarize the dialogue into a few short sentences. The following are some examples.\n\n{context}\n\n"
     "{input}"},
    {"passage_count", 32,
     "There are some paragraphs below sourced from Wikipedia. Some of them may be duplicates. Please "
     "carefully "
     "read these paragraphs and determine how many unique paragraphs there are after removing duplicates. In "
     "other words, how many non-repeating paragraphs are there in total?\n\n{context}\n\nPlease enter the "
     "final count of unique paragraphs after removing duplicates. The output format should only contain the "
     "number, such as 1, 2, 3, and so on.\n\nThe final answer is: "},
    {"passage_retrieval_en", 32,
     "Here are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph the "
     "abstract is from.\n\n{context}\n\nThe following is an abstract.\n\n{input}\n\nPlease enter the number "
     "of "
     "the paragraph that the abstract is from. The answer format must be like \"Paragraph 1\", \"Paragraph "
     "2\", etc.\n\nThe answer is: "},
    {"lcc", 64, "Please complete the code given below. \n{context}Next line of code:\n"},
    {"repobench-p", 64, "Please complete the code given below. \n{context}{input}Next line of code:\n"},
};

Result<const TaskConfig*> config(std::string_view task) {
  VATP_RETURN_IF_ERROR(task_metric(task).status());  // the unsupported / unknown message
  for (const auto& c : kConfigs) {
    if (task == c.name) return &c;
  }
  return internal_error("no prompt for LongBench task " + std::string(task));
}

}  // namespace

Result<std::string> prompt_template(std::string_view task) {
  VATP_ASSIGN_OR_RETURN(const TaskConfig* c, config(task));
  return std::string(c->prompt);
}

Result<int> max_new_tokens(std::string_view task) {
  VATP_ASSIGN_OR_RETURN(const TaskConfig* c, config(task));
  return c->max_new_tokens;
}

bool uses_chat_template(std::string_view task) {
  for (const char* t : {"trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"}) {
    if (task == t) return false;
  }
  return true;
}

std::string fill_prompt(std::string_view tmpl, std::string_view context, std::string_view input) {
  std::string out;
  out.reserve(tmpl.size() + context.size() + input.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl.compare(i, 9, "{context}") == 0) {
      out.append(context);
      i += 9;
    } else if (tmpl.compare(i, 7, "{input}") == 0) {
      out.append(input);
      i += 7;
    } else {
      out.push_back(tmpl[i++]);
    }
  }
  return out;
}

Result<std::vector<Sample>> longbench_samples(std::string_view task, const std::vector<JsonlRecord>& records,
                                              int64_t max_length) {
  VATP_ASSIGN_OR_RETURN(const TaskConfig* cfg, config(task));
  if (max_length < 0) return invalid_argument("LongBench max_length must be >= 0");
  std::vector<Sample> out;
  out.reserve(records.size());
  for (size_t k = 0; k < records.size(); ++k) {
    const JsonlRecord& rec = records[k];
    Sample s;
    s.task = std::string(task);
    if (rec.has("_id")) {
      VATP_ASSIGN_OR_RETURN(s.id, rec.get_string("_id"));
    } else {
      s.id = std::to_string(k);
    }
    VATP_ASSIGN_OR_RETURN(const std::string context, rec.get_string("context"));
    VATP_ASSIGN_OR_RETURN(const std::string input, rec.get_string("input"));
    VATP_ASSIGN_OR_RETURN(s.answers, rec.get_string_list("answers", /*allow_empty=*/false));
    VATP_ASSIGN_OR_RETURN(s.length, rec.get_int("length"));
    VATP_ASSIGN_OR_RETURN(const auto classes, rec.get_nullable_string_list("all_classes"));
    if (classes) s.all_classes = *classes;
    if (Status st = check_answers(task, s.answers, s.all_classes); !st.is_ok())
      return rec.error(st.message());
    s.prompt = fill_prompt(cfg->prompt, context, input);
    s.answer_prefix.clear();
    s.chat = uses_chat_template(task);
    s.truncate_to = max_length;
    s.max_new_tokens = cfg->max_new_tokens;
    s.stop_at_newline = task == "samsum";
    s.min_new_tokens = task == "samsum" ? 1 : 0;  // min_length = context_length + 1
    out.push_back(std::move(s));
  }
  return out;
}

ScoreFn longbench_score_fn() {
  return [](const Sample& sample, std::string_view prediction) {
    return sample_score(sample.task, prediction, sample.answers, sample.all_classes);
  };
}

Result<std::string> task_of_records(std::string_view path, const std::vector<JsonlRecord>& records,
                                    const std::string& task_flag) {
  const JsonlRecord* first = nullptr;  // the first record, whose "dataset" the others must share
  std::string dataset;
  for (const JsonlRecord& rec : records) {
    if (first == nullptr) {
      first = &rec;
      if (rec.has("dataset")) {
        VATP_ASSIGN_OR_RETURN(dataset, rec.get_string("dataset"));
      }
      continue;
    }
    if (rec.has("dataset") != first->has("dataset")) {
      const JsonlRecord& without = rec.has("dataset") ? *first : rec;
      return without.error("missing field \"dataset\" (other lines of this file have one)");
    }
    if (!rec.has("dataset")) continue;
    VATP_ASSIGN_OR_RETURN(const std::string d, rec.get_string("dataset"));
    if (d != dataset)
      return rec.error("field \"dataset\" is \"" + d + "\" but line " + std::to_string(first->line) +
                       " has \"" + dataset + "\"; a file holds one task (split it by \"dataset\")");
  }
  if (!task_flag.empty()) return task_flag;
  if (dataset.empty()) return task_from_path(path);
  if (!task_metric(dataset).is_ok() && dataset.size() > 2 && dataset.ends_with("_e"))
    dataset.resize(dataset.size() - 2);
  return dataset;
}

Result<PredictionFile> prediction_file(std::string_view task, const std::vector<JsonlRecord>& records,
                                       bool with_length) {
  if (records.empty()) return invalid_argument("no predictions");
  PredictionFile out;
  for (const JsonlRecord& rec : records) {
    ScoredPrediction p;
    VATP_ASSIGN_OR_RETURN(p.prediction, rec.get_string("pred"));
    VATP_ASSIGN_OR_RETURN(p.answers, rec.get_string_list("answers", /*allow_empty=*/false));
    VATP_ASSIGN_OR_RETURN(const auto classes, rec.get_nullable_string_list("all_classes"));
    out.all_classes = classes.value_or(std::vector<std::string>{});
    if (with_length) {
      VATP_ASSIGN_OR_RETURN(p.length, rec.get_int("length"));
    }
    // all_classes is checked once, against the last line's value, below.
    if (Status st = check_answers(task, p.answers, {"-"}); !st.is_ok()) return rec.error(st.message());
    out.preds.push_back(std::move(p));
  }
  if (Status st = check_answers(task, out.preds.back().answers, out.all_classes); !st.is_ok())
    return records.back().error(st.message());
  return out;
}

std::string task_from_path(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return std::string(base.substr(0, base.find('.')));
}

}  // namespace vatp::eval::longbench
