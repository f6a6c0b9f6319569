// Copyright netman authors.
//
// Fuzz target: netman/ws HttpRequestParser and the upgrade checks.
//
// Input: a SplitInput (fuzz/split_input.h). The request head is parsed
// whole and in its chunks (each call with every byte so far, as the
// upgrade protocol does); both must agree on the result, the head size and
// the error status. A parsed request then goes through CheckUpgrade (with
// deflate and an origin list on) and the responses are built; a refusal is
// a 4xx/5xx status, an acceptance has a 28-character accept value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/check.h"
#include "fuzz/split_input.h"
#include "netman/ws/handshake.h"
#include "netman/ws/http_request.h"

NETMAN_FUZZ_NO_COVERAGE_BEGIN

namespace {

constexpr size_t kMaxHead = 1024;

struct Outcome {
  netman::ws::HttpRequestParser::Result result;
  size_t head_size;
  int status;
};

Outcome Parse(std::string_view stream, const std::vector<std::string_view>& chunks,
              netman::ws::HttpRequestParser& parser, netman::ws::HttpRequest* request) {
  size_t have = 0;
  netman::ws::HttpRequestParser::Result r = netman::ws::HttpRequestParser::Result::kNeedMore;
  for (std::string_view chunk : chunks) {
    have += chunk.size();
    r = parser.Parse(stream.substr(0, have), request);
    if (r != netman::ws::HttpRequestParser::Result::kNeedMore) break;
  }
  return {r, parser.head_size(), parser.error_status()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const netman::fuzz::SplitInput input = netman::fuzz::ParseSplitInput(data, size);
  netman::ws::HttpRequestParser whole_parser(kMaxHead), chunked_parser(kMaxHead);
  netman::ws::HttpRequest whole_request, chunked_request;
  const Outcome whole = Parse(input.stream, {input.stream}, whole_parser, &whole_request);
  const Outcome chunked = Parse(input.stream,
                                netman::fuzz::Chunk(input.stream, input.chunk_lengths),
                                chunked_parser, &chunked_request);
  NETMAN_FUZZ_CHECK(whole.result == chunked.result && whole.head_size == chunked.head_size &&
                        whole.status == chunked.status,
                    "whole %d/%zu/%d vs chunked %d/%zu/%d", static_cast<int>(whole.result),
                    whole.head_size, whole.status, static_cast<int>(chunked.result),
                    chunked.head_size, chunked.status);
  if (whole.result == netman::ws::HttpRequestParser::Result::kDone) {
    NETMAN_FUZZ_CHECK(whole_request.headers == chunked_request.headers &&
                          whole_request.path == chunked_request.path &&
                          whole_request.query == chunked_request.query,
                      "whole and chunked requests differ");
    NETMAN_FUZZ_CHECK(whole.head_size <= input.stream.size() && whole.head_size <= kMaxHead,
                      "head size %zu", whole.head_size);
    netman::ws::HandshakeOptions options;
    options.permessage_deflate = true;
    options.subprotocols = {"chat"};
    options.allowed_origins = {"https://a.example"};
    const netman::ws::UpgradeCheck check = netman::ws::CheckUpgrade(whole_request, options);
    if (check.refusal) {
      NETMAN_FUZZ_CHECK(check.refusal->status >= 400 && check.refusal->status < 600, "status %d",
                        check.refusal->status);
      (void)netman::ws::RefusalResponse(*check.refusal);
    } else {
      NETMAN_FUZZ_CHECK(check.agreement.accept.size() == 28, "accept '%s'",
                        check.agreement.accept.c_str());
      (void)netman::ws::SwitchingProtocolsResponse(check.agreement);
    }
  } else if (whole.result == netman::ws::HttpRequestParser::Result::kError) {
    NETMAN_FUZZ_CHECK(whole.status >= 400 && whole.status < 600, "status %d", whole.status);
  }
  return 0;
}

NETMAN_FUZZ_NO_COVERAGE_END
