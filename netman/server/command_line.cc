// Copyright netman authors.
#include "netman/server/command_line.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace netman {
namespace {

std::string_view BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Flags defined by abseil itself (--flagfile, --fromenv, ...) stay in
// --helpfull; every other flag the binary links belongs in --help.
bool IsAbseilFile(absl::string_view filename) {
  return absl::StartsWith(filename, "absl/") ||
         absl::StrContains(filename, "/absl/");
}

}  // namespace

void ExitWithUsageError(std::string_view program, const absl::Status& error) {
  const std::string name(BaseName(program));
  std::fprintf(stderr, "%s: %s\n%s: run '%s --help' to see the flags\n",
               name.c_str(), std::string(error.message()).c_str(), name.c_str(),
               name.c_str());
  std::fflush(stderr);
  std::exit(kUsageErrorExitCode);
}

void ParseCommandLineOrExit(int argc, char** argv, std::string_view usage,
                            absl::FunctionRef<absl::Status()> validate) {
  namespace fi = absl::flags_internal;
  absl::SetProgramUsageMessage(absl::string_view(usage.data(), usage.size()));
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view filename) {
    return !IsAbseilFile(filename);
  };
  absl::SetFlagsUsageConfig(config);

  // What absl::ParseCommandLine() does, minus its handling of the usage
  // flags, which would exit 1 for --help. Unknown flags and malformed values
  // still make abseil print an error and exit 1.
  const std::vector<char*> positional = fi::ParseCommandLineImpl(
      argc, argv, fi::ArgvListAction::kRemoveParsedArgs,
      fi::UsageFlagsAction::kIgnoreUsage, fi::OnUndefinedFlag::kAbortIfUndefined);
  const fi::HelpMode mode = fi::GetFlagsHelpMode();
  if (mode != fi::HelpMode::kNone && mode != fi::HelpMode::kOnlyCheckArgs) {
    fi::HandleUsageFlags(std::cout, absl::ProgramUsageMessage());
    std::cout.flush();
    std::exit(0);
  }

  const std::string_view program = argc > 0 ? argv[0] : "netman";
  // positional[0] is the program name.
  if (positional.size() > 1) {
    ExitWithUsageError(
        program, absl::InvalidArgumentError(absl::StrCat(
                     "unexpected argument '", positional[1],
                     "' (flags are written --name=value)")));
  }
  if (absl::Status s = validate(); !s.ok()) ExitWithUsageError(program, s);
  if (mode == fi::HelpMode::kOnlyCheckArgs) std::exit(0);
}

}  // namespace netman
