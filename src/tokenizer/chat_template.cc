#include "tokenizer/chat_template.h"

namespace vatp::tokenizer {
namespace {

std::string trim(const std::string& s) {
  auto sp = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  size_t b = 0, e = s.size();
  while (b < e && sp(s[b])) ++b;
  while (e > b && sp(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

const char* chat_template_name(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::Llama2: return "llama2";
    case ChatTemplate::Vicuna: return "vicuna";
    case ChatTemplate::ChatML: return "chatml";
    case ChatTemplate::Llama3: return "llama3";
    case ChatTemplate::Mistral: return "mistral";
    case ChatTemplate::MistralV1: return "mistral-v1";
    case ChatTemplate::MistralV3: return "mistral-v3";
    case ChatTemplate::MistralV3Tekken: return "mistral-v3-tekken";
    case ChatTemplate::MistralV7: return "mistral-v7";
    case ChatTemplate::MistralV7Tekken: return "mistral-v7-tekken";
  }
  return "?";
}

Result<ChatTemplate> chat_template_from_name(std::string_view name) {
  for (ChatTemplate t :
       {ChatTemplate::Llama2, ChatTemplate::Vicuna, ChatTemplate::ChatML, ChatTemplate::Llama3,
        ChatTemplate::Mistral, ChatTemplate::MistralV1, ChatTemplate::MistralV3,
        ChatTemplate::MistralV3Tekken, ChatTemplate::MistralV7, ChatTemplate::MistralV7Tekken}) {
    if (name == chat_template_name(t)) return t;
  }
  return invalid_argument("unknown chat template '" + std::string(name) +
                          "' (supported: llama2, vicuna, chatml, llama3, mistral, mistral-v1, mistral-v3, "
                          "mistral-v3-tekken, mistral-v7, mistral-v7-tekken)");
}

Result<ChatFormat> detect_chat_template(std::string_view j) {
  ChatFormat f;
  auto has = [&](std::string_view s) { return j.find(s) != std::string_view::npos; };
  if (has("<|im_start|>")) {
    f.kind = ChatTemplate::ChatML;
    // A literal default system turn in the template, e.g. SmolLM2's
    // '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, ...<|im_end|>\n'.
    const std::string_view open = "<|im_start|>system\n";
    const size_t p = j.find(open);
    if (p != std::string_view::npos) {
      const size_t b = p + open.size();
      const size_t e = j.find("<|im_end|>", b);
      if (e != std::string_view::npos) {
        const std::string_view body = j.substr(b, e - b);
        if (body.find("{{") == std::string_view::npos && body.find("{%") == std::string_view::npos &&
            body.find('\'') == std::string_view::npos) {
          f.default_system = std::string(body);
        }
      }
    }
    return f;
  }
  if (has("<|start_header_id|>")) {
    f.kind = ChatTemplate::Llama3;
    return f;
  }
  if (has("[INST]")) {
    f.kind = has("<<SYS>>") ? ChatTemplate::Llama2 : ChatTemplate::Mistral;
    return f;
  }
  if (has("USER:") && has("ASSISTANT:")) {
    f.kind = ChatTemplate::Vicuna;
    return f;
  }
  return unimplemented(
      "unrecognised chat template in the model (pass --chat-template NAME: llama2, vicuna, chatml, "
      "llama3, mistral)");
}

std::string apply_chat_template(const ChatFormat& fmt, const std::vector<ChatMessage>& in,
                                bool add_generation_prompt) {
  std::vector<ChatMessage> msgs = in;
  if (!fmt.default_system.empty() && (msgs.empty() || msgs[0].role != "system")) {
    msgs.insert(msgs.begin(), {"system", fmt.default_system});
  }
  std::string out;
  switch (fmt.kind) {
    case ChatTemplate::ChatML:
      for (const ChatMessage& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    case ChatTemplate::Llama3:
      for (const ChatMessage& m : msgs) {
        // Content is trimmed, as Llama 3's own template (`| trim`) and llama.cpp's do.
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatTemplate::Llama2:
    case ChatTemplate::Mistral: {
      // As llama.cpp formats these models' own templates (tests/data/chat_templates_llamacpp.jsonl):
      // Llama 2 chat: "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]{answer}</s>[INST] ...",
      //   every content stripped of surrounding whitespace;
      // Mistral Instruct: "[INST] {system}\n{user} [/INST]{answer}</s>[INST] ...", verbatim.
      // There is no generation prompt: the assistant turn starts right after [/INST]. The
      // first BOS comes from the tokenizer (add_special).
      const bool l2 = fmt.kind == ChatTemplate::Llama2;
      auto text = [&](const std::string& c) { return l2 ? trim(c) : c; };
      std::string system;
      bool first_user = true;
      for (const ChatMessage& m : msgs) {
        if (m.role == "system") {
          system = text(m.content);
        } else if (m.role == "user") {
          std::string content = text(m.content);
          if (first_user && !system.empty()) {
            content = l2 ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content : system + "\n" + content;
          }
          out += "[INST] " + content + " [/INST]";
          first_user = false;
        } else {
          out += text(m.content) + "</s>";
        }
      }
      break;
    }
    case ChatTemplate::MistralV1:
    case ChatTemplate::MistralV3:
    case ChatTemplate::MistralV3Tekken:
    case ChatTemplate::MistralV7:
    case ChatTemplate::MistralV7Tekken: {
      // llama.cpp's named Mistral formats (tests/data/chat_templates_llamacpp.jsonl):
      //   v1:        " [INST] {system}\n\n{user} [/INST] {answer}</s>"
      //   v3:        "[INST] {system}\n\n{user}[/INST] {answer, trimmed}</s>"
      //   v3-tekken: "[INST]{system}\n\n{user}[/INST]{answer}</s>"
      //   v7:        "[SYSTEM_PROMPT] {system}[/SYSTEM_PROMPT][INST] {user}[/INST] {answer}</s>"
      //   v7-tekken: the same without the spaces after the openers and before answers.
      // v1/v3 put the system text before the next user message; no generation prompt.
      const ChatTemplate k = fmt.kind;
      const bool v7 = k == ChatTemplate::MistralV7 || k == ChatTemplate::MistralV7Tekken;
      const bool tekken = k == ChatTemplate::MistralV3Tekken || k == ChatTemplate::MistralV7Tekken;
      const std::string sp = tekken ? "" : " ";
      std::string system;
      for (const ChatMessage& m : msgs) {
        if (m.role == "system") {
          if (v7) {
            out += "[SYSTEM_PROMPT]" + sp + m.content + "[/SYSTEM_PROMPT]";
          } else {
            system = m.content;
          }
        } else if (m.role == "user") {
          const std::string content = system.empty() ? m.content : system + "\n\n" + m.content;
          system.clear();
          out += k == ChatTemplate::MistralV1 ? " [INST] " + content + " [/INST]"
                                              : "[INST]" + sp + content + "[/INST]";
        } else {
          out += sp + (k == ChatTemplate::MistralV3 ? trim(m.content) : m.content) + "</s>";
        }
      }
      break;
    }
    case ChatTemplate::Vicuna:
      for (const ChatMessage& m : msgs) {
        if (m.role == "system") {
          out += m.content + "\n\n";
        } else if (m.role == "user") {
          out += "USER: " + m.content + "\n";
        } else {
          out += "ASSISTANT: " + m.content + "</s>\n";
        }
      }
      if (add_generation_prompt) out += "ASSISTANT:";
      break;
  }
  return out;
}

Result<ChatFormat> chat_format_for(const gguf::GgufFile& file, std::string_view name) {
  ChatFormat fmt;
  if (!name.empty()) {
    VATP_ASSIGN_OR_RETURN(fmt.kind, chat_template_from_name(name));
    return fmt;
  }
  const gguf::Value* v = file.find("tokenizer.chat_template");
  if (v == nullptr) {
    return invalid_argument("the model has no tokenizer.chat_template; name one with --chat-template");
  }
  VATP_ASSIGN_OR_RETURN(std::string_view jinja, v->as_string());
  auto detected = detect_chat_template(jinja);
  if (!detected.is_ok()) {
    return detected.status().with_context(
        "the model's chat template is not recognised; name one with --chat-template (llama2, vicuna, "
        "chatml, llama3, mistral)");
  }
  return std::move(*detected);
}

}  // namespace vatp::tokenizer
