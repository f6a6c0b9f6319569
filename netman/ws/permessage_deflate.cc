// Copyright netman authors.
#include "netman/ws/permessage_deflate.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"

namespace netman::ws {
namespace {

// RFC 7692 7.2.1: a sync flush ends with this empty stored block, which
// the sender removes and the receiver appends back.
constexpr char kTail[] = {0x00, 0x00, static_cast<char>(0xff), static_cast<char>(0xff)};
constexpr size_t kTailSize = sizeof(kTail);
// zlib's default memory level: a 128 KiB hash + 64 KiB buffer at 15 bits.
constexpr int kMemLevel = 8;
constexpr size_t kChunk = 16 * 1024;

z_stream* Z(void* p) { return static_cast<z_stream*>(p); }

}  // namespace

absl::StatusOr<std::unique_ptr<Deflater>> Deflater::Create(int window_bits) {
  auto stream = std::make_unique<z_stream>();
  if (deflateInit2(stream.get(), Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits, kMemLevel,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  return std::unique_ptr<Deflater>(new Deflater(stream.release()));
}

Deflater::~Deflater() {
  deflateEnd(Z(stream_));
  delete Z(stream_);
}

absl::Status Deflater::Compress(std::string_view message, bool reset, std::string& out) {
  z_stream* z = Z(stream_);
  if (reset) deflateReset(z);
  out.resize(deflateBound(z, message.size()) + kTailSize + 8);
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z->avail_in = static_cast<uInt>(message.size());
  size_t produced = 0;
  for (;;) {
    z->next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z->avail_out = static_cast<uInt>(out.size() - produced);
    const int rc = deflate(z, Z_SYNC_FLUSH);
    produced = out.size() - z->avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return absl::InternalError("deflate failed");
    if (z->avail_in == 0 && z->avail_out != 0) break;
    out.resize(out.size() * 2);
  }
  out.resize(produced);
  if (out.size() >= kTailSize && std::string_view(out).substr(out.size() - kTailSize) ==
                                     std::string_view(kTail, kTailSize)) {
    out.resize(out.size() - kTailSize);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Inflater>> Inflater::Create() {
  auto stream = std::make_unique<z_stream>();
  if (inflateInit2(stream.get(), -MAX_WBITS) != Z_OK) {
    return absl::InternalError("inflateInit2 failed");
  }
  return std::unique_ptr<Inflater>(new Inflater(stream.release()));
}

Inflater::~Inflater() {
  inflateEnd(Z(stream_));
  delete Z(stream_);
}

absl::Status Inflater::Decompress(std::string_view compressed, uint64_t limit, std::string& out) {
  z_stream* z = Z(stream_);
  inflateReset(z);
  out.clear();
  size_t produced = 0;
  const std::string_view parts[2] = {compressed, std::string_view(kTail, kTailSize)};
  for (std::string_view part : parts) {
    z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    z->avail_in = static_cast<uInt>(part.size());
    while (z->avail_in > 0) {
      if (out.size() - produced < kChunk / 4) {
        size_t grow = std::max(out.size(), kChunk);
        if (limit != 0) grow = std::min<uint64_t>(grow, limit + 1 - produced);
        out.resize(produced + grow);
      }
      z->next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      z->avail_out = static_cast<uInt>(out.size() - produced);
      const int rc = inflate(z, Z_SYNC_FLUSH);
      produced = out.size() - z->avail_out;
      if (limit != 0 && produced > limit) {
        out.clear();
        return absl::ResourceExhaustedError(
            absl::StrCat("inflated message exceeds ", limit, " bytes"));
      }
      if (rc == Z_STREAM_END) {
        z->avail_in = 0;  // a final block: anything after it is ignored
        break;
      }
      if (rc == Z_BUF_ERROR && z->avail_out != 0) break;  // needs more input
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        out.clear();
        return absl::InvalidArgumentError("corrupt deflate data");
      }
    }
  }
  out.resize(produced);
  return absl::OkStatus();
}

absl::StatusOr<Deflater*> LoopCodecs::DeflaterFor(int window_bits) {
  if (window_bits < 9 || window_bits > 15) return absl::InvalidArgumentError("window bits");
  std::unique_ptr<Deflater>& slot = deflaters[window_bits];
  if (slot == nullptr) {
    absl::StatusOr<std::unique_ptr<Deflater>> d = Deflater::Create(window_bits);
    if (!d.ok()) return d.status();
    slot = *std::move(d);
  }
  return slot.get();
}

LoopCodecs& DeflateCodecs::ForThread() {
  const std::thread::id self = std::this_thread::get_id();
  MutexLock lock(&mu_);
  for (auto& [thread, codecs] : loops_) {
    if (thread == self) return *codecs;
  }
  loops_.emplace_back(self, std::make_unique<LoopCodecs>());
  return *loops_.back().second;
}

}  // namespace netman::ws
