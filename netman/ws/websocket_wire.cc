// Copyright netman authors.
#include "netman/ws/websocket_wire.h"

#include <openssl/base64.h>
#include <openssl/sha.h>

namespace netman::websocket_wire {
namespace {

char AsciiLower(char ch) {
  return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

std::string_view TrimSpaceAndTab(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Base64(const uint8_t* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');  // EVP_EncodeBlock adds a NUL
  out.resize(EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), data, n));
  return out;
}

std::string AcceptFor(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  SHA_CTX sha;
  SHA1_Init(&sha);
  SHA1_Update(&sha, key.data(), key.size());
  SHA1_Update(&sha, kGuid.data(), kGuid.size());
  uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1_Final(digest, &sha);
  return Base64(digest, sizeof(digest));
}

bool HasHeaderToken(std::string_view value, std::string_view token) {
  while (true) {
    const size_t comma = value.find(',');
    if (EqualsIgnoreCase(TrimSpaceAndTab(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace netman::websocket_wire
