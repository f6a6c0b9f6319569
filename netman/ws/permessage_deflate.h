// Copyright netman authors.
//
// permessage-deflate (RFC 7692) compression with zlib: a Deflater that
// compresses one message (raw deflate, sync-flushed, the trailing
// 00 00 FF FF removed, section 7.2.1), an Inflater that decompresses one
// (the tail appended back, section 7.2.2) and refuses to produce more than
// a limit (no zip bombs: the output is checked as it grows, before it is
// kept), and DeflateCodecs, one Deflater per window size and one Inflater
// per event loop, shared by every connection of that loop that negotiated
// no context takeover (the server asks for that: no zlib memory per
// connection).
//
// Threading: a Deflater/Inflater is used by one thread at a time.
// DeflateCodecs::ForThread() is safe from any thread; what it returns is
// used by the calling thread only.
#ifndef NETMAN_WS_PERMESSAGE_DEFLATE_H_
#define NETMAN_WS_PERMESSAGE_DEFLATE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netman/base/sync.h"

namespace netman::ws {

class Deflater {
 public:
  // `window_bits` 9..15.
  static absl::StatusOr<std::unique_ptr<Deflater>> Create(int window_bits);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Replaces `out` with the compressed message. `reset`: start from an
  // empty context (no context takeover).
  absl::Status Compress(std::string_view message, bool reset, std::string& out);

 private:
  explicit Deflater(void* stream) : stream_(stream) {}
  void* stream_;  // z_stream
};

class Inflater {
 public:
  static absl::StatusOr<std::unique_ptr<Inflater>> Create();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Replaces `out` with the decompressed message, starting from an empty
  // context. ResourceExhausted as soon as the output would pass `limit`
  // bytes (0 = no limit); InvalidArgument for corrupt data.
  absl::Status Decompress(std::string_view compressed, uint64_t limit, std::string& out);

 private:
  explicit Inflater(void* stream) : stream_(stream) {}
  void* stream_;  // z_stream
};

// A per-loop set: the shared compressors and the decompressor, plus a
// scratch string for each direction.
struct LoopCodecs {
  std::array<std::unique_ptr<Deflater>, 16> deflaters;  // by window bits
  std::unique_ptr<Inflater> inflater;
  std::string compressed;    // Encode's scratch
  std::string decompressed;  // OnData's scratch
  // The deflater for `window_bits`, created on first use.
  absl::StatusOr<Deflater*> DeflaterFor(int window_bits);
};

class DeflateCodecs {
 public:
  // The codecs of the calling thread (an event loop), created on first use.
  // A few loops: a linear search under a mutex, which costs little next to
  // compressing a message.
  LoopCodecs& ForThread();

 private:
  Mutex mu_;
  std::vector<std::pair<std::thread::id, std::unique_ptr<LoopCodecs>>> loops_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace netman::ws

#endif  // NETMAN_WS_PERMESSAGE_DEFLATE_H_
