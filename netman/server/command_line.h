// Copyright netman authors.
//
// Command-line parsing for netman's binaries: abseil flags with usage errors
// and --help handled the same way in every binary.
//
// absl::ParseCommandLine() alone (abseil 20220623) exits 1 for --help, lists
// only the flags defined in <program>.cc / <program>_main.cc (not those a
// library such as server_flags defines), and leaves checking flag *values*
// (ranges, combinations) to the program. ParseCommandLineOrExit() fixes all
// three:
//
//   - --help, --helpfull, --help=substring, --version print to stdout and
//     exit 0; --help lists every flag defined outside abseil itself.
//   - `validate` runs after parsing; a non-OK status is a usage error:
//     "<program>: <message>" and a hint to use --help on stderr, exit 2.
//     Positional arguments are usage errors too (the binaries take none).
//   - --only_check_args runs `validate` as well, then exits 0.
//   - abseil's own errors (an unknown flag, a value of the wrong type such as
//     --port=abc) are reported by abseil ("ERROR: Illegal value 'abc'
//     specified for flag 'port'"), which exits 1.
//
// Example:
//   int main(int argc, char** argv) {
//     absl::StatusOr<netman::ServerFlags> flags;
//     netman::ParseCommandLineOrExit(argc, argv, "my server.", [&flags] {
//       flags = netman::ParseServerFlags();
//       return flags.status();
//     });
//     netman::TcpServer server(flags->options);
//     ...
//
// Call it once, from main(), before starting threads.
#ifndef NETMAN_SERVER_COMMAND_LINE_H_
#define NETMAN_SERVER_COMMAND_LINE_H_

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace netman {

// The exit status of a usage error (as in getopt-based tools).
inline constexpr int kUsageErrorExitCode = 2;

// Sets `usage` as the program usage message (the --help header, after
// "<program>: "), parses argv into the abseil flags, handles the usage flags
// and runs `validate`, exiting as described above. Returns only when the
// flags are valid and the program should run.
void ParseCommandLineOrExit(int argc, char** argv, std::string_view usage,
                            absl::FunctionRef<absl::Status()> validate);

// Prints "<program>: <error message>" and the --help hint to stderr and
// exits with kUsageErrorExitCode. `program` is argv[0]; only its base name is
// printed.
[[noreturn]] void ExitWithUsageError(std::string_view program,
                                     const absl::Status& error);

}  // namespace netman

#endif  // NETMAN_SERVER_COMMAND_LINE_H_
