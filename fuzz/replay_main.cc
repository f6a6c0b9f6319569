// Copyright netman authors.
//
// A main() for fuzz targets built without libFuzzer (any configuration but
// --config=fuzz): runs LLVMFuzzerTestOneInput on every input named on the
// command line, as a libFuzzer binary does when given files.
//
//   replay [--mutations=N] [--require_inputs] [--seed=S] FILE_OR_DIR...
//
// Directories are read recursively, in sorted order. Arguments starting with
// '-' that are not ours (libFuzzer flags such as -runs=) are ignored, so a
// command line written for the real fuzzer also works here.
//
// --mutations=N then runs N more inputs made from the corpus by a small,
// deterministic mutator (fixed seed): bit flips, byte changes, inserts,
// erases, duplicated ranges, splices of two inputs and "interesting" 32-bit
// values (0, 1, 0x7fffffff, 0xffffffff, ...) written over four bytes. Not
// coverage-guided; it makes every `bazel test` a short smoke fuzz of the
// parsers, under whatever sanitizers the build has.
//
// --require_inputs fails (exit 1) when no input was found, so a corpus
// directory that went missing cannot make the test pass vacuously.
//
// Every input is copied into a heap block of exactly its size, so ASan
// catches a read one byte past the end. A failed check in the target aborts,
// which fails the test; the input's path (or mutation number) is printed
// before it runs; a mutated input is first saved to
// $TEST_UNDECLARED_OUTPUTS_DIR/current_mutation (Bazel keeps it in the test's
// outputs.zip), and deleted once every mutation has passed, so a failing one
// can be replayed with `replay path/to/current_mutation`.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

struct Input {
  std::string name;
  std::string bytes;
};

void RunOne(const std::string& bytes) {
  // Exactly `size` bytes (one spare byte only for empty inputs, not passed).
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.empty() ? 1 : bytes.size()]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  LLVMFuzzerTestOneInput(copy.get(), bytes.size());
}

bool ReadFile(const std::filesystem::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

void Collect(const std::string& arg, std::vector<Input>& inputs) {
  std::error_code ec;
  const std::filesystem::path path(arg);
  if (std::filesystem::is_directory(path, ec)) {
    std::vector<std::filesystem::path> files;
    for (auto it = std::filesystem::recursive_directory_iterator(
             path, std::filesystem::directory_options::follow_directory_symlink, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (std::filesystem::is_regular_file(it->path(), ec)) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) Collect(f.string(), inputs);
    return;
  }
  Input input;
  input.name = arg;
  if (!ReadFile(path, input.bytes)) {
    std::fprintf(stderr, "replay: cannot read %s\n", arg.c_str());
    std::exit(1);
  }
  inputs.push_back(std::move(input));
}

// xorshift64*: deterministic across platforms and compilers.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed ? seed : 0x9e3779b97f4a7c15ull) {}
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dull;
  }
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

std::string Mutate(const std::vector<Input>& corpus, Rng& rng) {
  std::string s = corpus[rng.Below(corpus.size())].bytes;
  static constexpr uint32_t kInteresting[] = {
      0, 1, 7, 8, 9, 0x7f, 0x80, 0xff, 0x100, 0x3ff, 0x400, 0x401, 0xffff,
      0x10000, 0x3ffffff, 0x4000000, 0x4000001, 0x7fffffff, 0x80000000,
      0xfffffff7, 0xfffffffe, 0xffffffff};
  const int steps = 1 + static_cast<int>(rng.Below(4));
  for (int step = 0; step < steps; ++step) {
    switch (rng.Below(8)) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng.Below(s.size())] ^= static_cast<char>(1u << rng.Below(8));
        break;
      case 1:  // set a byte
        if (!s.empty()) s[rng.Below(s.size())] = static_cast<char>(rng.Next());
        break;
      case 2:  // insert bytes
        s.insert(rng.Below(s.size() + 1), rng.Below(4) + 1, static_cast<char>(rng.Next()));
        break;
      case 3:  // erase bytes
        if (!s.empty()) {
          size_t at = rng.Below(s.size());
          s.erase(at, rng.Below(std::min<size_t>(16, s.size() - at)) + 1);
        }
        break;
      case 4:  // duplicate a range
        if (!s.empty() && s.size() < 8192) {
          size_t at = rng.Below(s.size());
          size_t len = rng.Below(s.size() - at) + 1;
          s.insert(rng.Below(s.size() + 1), s.substr(at, len));
        }
        break;
      case 5: {  // splice with another input
        const std::string& other = corpus[rng.Below(corpus.size())].bytes;
        s = s.substr(0, rng.Below(s.size() + 1)) + other.substr(rng.Below(other.size() + 1));
        break;
      }
      case 6:  // an interesting little-endian 32-bit value
        if (s.size() >= 4) {
          uint32_t v = kInteresting[rng.Below(std::size(kInteresting))];
          size_t at = rng.Below(s.size() - 3);
          for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
        }
        break;
      default:  // truncate
        s.resize(rng.Below(s.size() + 1));
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  long mutations = 0;
  uint64_t seed = 1;
  bool require_inputs = false;
  std::vector<Input> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg.rfind("--mutations=", 0) == 0) {
      mutations = std::strtol(argv[i] + 12, nullptr, 10);
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = std::strtoull(argv[i] + 7, nullptr, 10);
    } else if (arg == "--require_inputs") {
      require_inputs = true;
    } else if (!arg.empty() && arg[0] == '-') {
      // A libFuzzer flag: not ours.
    } else {
      Collect(std::string(arg), inputs);
    }
  }
  if (inputs.empty() && require_inputs) {
    std::fprintf(stderr, "replay: no inputs found\n");
    return 1;
  }
  for (const Input& input : inputs) {
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", input.name.c_str(), input.bytes.size());
    RunOne(input.bytes);
  }
  if (!inputs.empty() && mutations > 0) {
    Rng rng(seed);
    const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
    const std::string saved =
        outputs != nullptr ? std::string(outputs) + "/current_mutation" : std::string();
    for (long m = 0; m < mutations; ++m) {
      std::string bytes = Mutate(inputs, rng);
      if (!saved.empty()) {
        std::ofstream out(saved, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      }
      RunOne(bytes);
    }
    if (!saved.empty()) std::remove(saved.c_str());
    std::fprintf(stderr, "replay: %ld mutations (seed %llu)\n", mutations,
                 static_cast<unsigned long long>(seed));
  }
  std::fprintf(stderr, "replay: %zu inputs ran without a finding\n", inputs.size());
  return 0;
}
