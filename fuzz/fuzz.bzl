"""netman_fuzz_target: one libFuzzer target plus its corpus-replay test.

Adding a fuzz target for a new parser is one .cc file defining
LLVMFuzzerTestOneInput, a seed corpus directory, and a few lines in
fuzz/BUILD:

    netman_fuzz_target(
        name = "websocket_frame",
        srcs = ["websocket_frame_fuzzer.cc"],
        deps = ["//netman/websocket:frame"],
    )

That creates
  * :websocket_frame_fuzzer: the fuzzer. With --config=fuzz it is a libFuzzer
    binary (-fsanitize=fuzzer, ASan, UBSan); in any other configuration it is
    the same code linked with fuzz/replay_main.cc, which runs the inputs named
    on its command line (files or directories), so `bazel build //...` with
    gcc still builds it.
  * :websocket_frame_corpus_test: a cc_test replaying the committed seed
    corpus fuzz/corpus/websocket_frame/ (and a fixed set of mutations of it)
    through LLVMFuzzerTestOneInput, so every `bazel test //...` (default, ASan,
    TSan) exercises the corpus.
fuzz/run_fuzzers.sh finds every fuzzer by its "netman_fuzzer" tag.
"""

# Warnings are errors in netman's own code (as .bazelrc does for netman/).
NETMAN_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
]

def netman_fuzz_target(name, srcs, deps = [], corpus = None, mutations = 2000, testonly = False, **kwargs):
    """Declares <name>_fuzzer and <name>_corpus_test.

    Args:
      name: the target's base name; the seed corpus lives in corpus/<name>/.
      srcs: sources; one of them defines LLVMFuzzerTestOneInput (and may
        define LLVMFuzzerInitialize).
      deps: libraries the sources use.
      corpus: seed files; default glob(["corpus/<name>/**"]).
      mutations: deterministic mutations of the corpus the replay test also
        runs (0 for the corpus alone).
      testonly: set when deps include testonly targets (e.g.
        //netman/testing:fake_connection); applies to the library and fuzzer.
      **kwargs: passed to the cc_test (size, tags, env, ...).
    """
    corpus_dir = "corpus/" + name
    if corpus == None:
        corpus = native.glob([corpus_dir + "/**"])
    package = native.package_name()
    corpus_path = (package + "/" if package else "") + corpus_dir

    native.cc_library(
        name = name + "_lib",
        srcs = srcs,
        copts = NETMAN_COPTS,
        deps = deps,
        alwayslink = True,
        testonly = testonly,
    )

    native.cc_binary(
        name = name + "_fuzzer",
        deps = [":" + name + "_lib"] + select({
            "//fuzz:fuzzing": [],
            "//conditions:default": ["//fuzz:replay_main"],
        }),
        linkopts = select({
            "//fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = corpus,
        tags = ["netman_fuzzer"],
        testonly = testonly,
    )

    size = kwargs.pop("size", "small")
    native.cc_test(
        name = name + "_corpus_test",
        size = size,
        deps = [
            ":" + name + "_lib",
            "//fuzz:replay_main",
        ],
        data = corpus,
        args = [
            "--mutations=%d" % mutations,
            "--require_inputs",
            corpus_path,
        ],
        **kwargs
    )
