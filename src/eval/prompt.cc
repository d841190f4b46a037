#include "eval/prompt.h"

namespace vatp::eval {

Result<std::string> truncate_middle(const tokenizer::Tokenizer& tok, const std::string& text,
                                    int64_t max_tokens) {
  if (max_tokens <= 0) return text;
  const std::vector<int32_t> ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  if (static_cast<int64_t>(ids.size()) <= max_tokens) return text;
  const size_t half = static_cast<size_t>(max_tokens / 2);
  const std::vector<int32_t> head(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(half));
  const std::vector<int32_t> tail(ids.end() - static_cast<std::ptrdiff_t>(half), ids.end());
  VATP_ASSIGN_OR_RETURN(std::string a,
                        tok.detokenize(head, /*remove_special=*/true, /*unparse_special=*/false));
  VATP_ASSIGN_OR_RETURN(std::string b,
                        tok.detokenize(tail, /*remove_special=*/true, /*unparse_special=*/false));
  return a + b;
}

Result<std::vector<int32_t>> prompt_ids(const tokenizer::Tokenizer& tok, const Sample& s,
                                        const std::optional<tokenizer::ChatFormat>& chat,
                                        const std::string& system_prompt) {
  VATP_ASSIGN_OR_RETURN(std::string user, truncate_middle(tok, s.prompt, s.truncate_to));
  std::string text;
  if (s.chat) {
    if (!chat) return invalid_argument("sample " + s.task + "/" + s.id + " needs a chat template");
    std::vector<tokenizer::ChatMessage> msgs;
    if (!system_prompt.empty()) msgs.push_back({"system", system_prompt});
    msgs.push_back({"user", std::move(user)});
    text = tokenizer::apply_chat_template(*chat, msgs, /*add_generation_prompt=*/true) + s.answer_prefix;
  } else {
    text = user + s.answer_prefix;
  }
  // Special-token text is parsed only in the template's own markers' case (chat).
  std::vector<int32_t> ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/s.chat);
  if (ids.empty()) return invalid_argument("sample " + s.task + "/" + s.id + " has an empty prompt");
  return ids;
}

}  // namespace vatp::eval
