// Chat templates for the supported model families, detected from the GGUF
// `tokenizer.chat_template` (Jinja) text by its markers, or chosen by name. The output
// text is meant to be tokenized with parse_special = true.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"

namespace vatp::tokenizer {

// Mistral: what llama.cpp applies to Mistral-7B-Instruct-v0.2's template (also the
// detected default for [INST] templates without <<SYS>>); MistralV1..V7Tekken: llama.cpp's
// named Mistral formats "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7",
// "mistral-v7-tekken" (select with --chat-template).
enum class ChatTemplate {
  Llama2,
  Vicuna,
  ChatML,
  Llama3,
  Mistral,
  MistralV1,
  MistralV3,
  MistralV3Tekken,
  MistralV7,
  MistralV7Tekken
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// A template plus the default system prompt the model's own template inserts when the
// conversation has none (SmolLM2's does), if any.
struct ChatFormat {
  ChatTemplate kind = ChatTemplate::ChatML;
  std::string default_system;
};

const char* chat_template_name(ChatTemplate t);
Result<ChatTemplate> chat_template_from_name(std::string_view name);  // llama2 vicuna chatml llama3 mistral
Result<ChatFormat> detect_chat_template(std::string_view jinja);

// The format for a model: `name` if given (chat_template_from_name), else detected from
// the file's tokenizer.chat_template; a clear error when it has none or it is unknown.
Result<ChatFormat> chat_format_for(const gguf::GgufFile& file, std::string_view name);

// The prompt text; with add_generation_prompt the assistant turn is opened.
std::string apply_chat_template(const ChatFormat& fmt, const std::vector<ChatMessage>& msgs,
                                bool add_generation_prompt);

}  // namespace vatp::tokenizer
