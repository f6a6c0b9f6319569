"""netman_proto_library: a cc_library (and optionally Python modules) from .proto files.

Bazel 4 offline has no working cc_proto_library here (no protobuf repository
to download), so this macro runs the system protoc (Debian's
protobuf-compiler, the same 3.21 as libprotobuf-dev) in a genrule and wraps
the generated .pb.h/.pb.cc in a cc_library linked against //third_party:protobuf.

    load("//bazel:proto.bzl", "netman_proto_library")

    netman_proto_library(
        name = "kv_proto",
        srcs = ["kv.proto"],
        py = True,              # also kv_pb2.py (protoc --python_out)
    )

creates
  * :kv_proto       cc_library; #include "<package>/kv.pb.h"
  * :kv_proto_srcs  filegroup of the .proto files (for protos importing them)
  * :kv_proto_py    (py = True) filegroup with kv_pb2.py, for tests' data;
                    put its directory's root (the runfiles root) on PYTHONPATH
                    and `import <package path>.kv_pb2` or add the package
                    directory itself and `import kv_pb2`.

Imports are resolved from the workspace root: `import "examples/kv/kv.proto";`.
A proto importing another lists that one's netman_proto_library in `deps`.
"""

# protoc from the PATH: /usr/bin/protoc on Debian (tools/setup.sh installs it).
_PROTOC = "protoc"

def _stem(src):
    return src[:-len(".proto")] if src.endswith(".proto") else fail("%s is not a .proto file" % src)

def netman_proto_library(name, srcs, deps = [], py = False, visibility = None, **kwargs):
    """Declares <name> (cc_library), <name>_srcs and, with py, <name>_py.

    Args:
      name: the cc_library's name.
      srcs: .proto files of this package.
      deps: other netman_proto_library targets whose .proto files these import.
      py: also generate <stem>_pb2.py for each source (filegroup <name>_py).
      visibility: applied to every target.
      **kwargs: passed to the cc_library (e.g. tags).
    """
    package = native.package_name()
    stems = [_stem(s) for s in srcs]
    proto_paths = [(package + "/" if package else "") + s for s in srcs]
    dep_srcs = [d + "_srcs" for d in deps]

    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + dep_srcs,
        visibility = visibility,
    )

    # protoc writes <out>/<package>/<stem>.pb.{h,cc}: exactly where Bazel
    # expects this package's outputs under $(GENDIR).
    native.genrule(
        name = name + "_cc_gen",
        srcs = srcs + dep_srcs,
        outs = [s + ".pb.h" for s in stems] + [s + ".pb.cc" for s in stems],
        cmd = "%s --proto_path=. --cpp_out=$(GENDIR) %s" % (_PROTOC, " ".join(proto_paths)),
        message = "protoc --cpp_out " + " ".join(proto_paths),
        visibility = ["//visibility:private"],
    )

    native.cc_library(
        name = name,
        srcs = [s + ".pb.cc" for s in stems],
        hdrs = [s + ".pb.h" for s in stems],
        deps = deps + ["//third_party:protobuf"],
        visibility = visibility,
        **kwargs
    )

    if py:
        native.genrule(
            name = name + "_py_gen",
            srcs = srcs + dep_srcs,
            outs = [s + "_pb2.py" for s in stems],
            cmd = "%s --proto_path=. --python_out=$(GENDIR) %s" % (_PROTOC, " ".join(proto_paths)),
            message = "protoc --python_out " + " ".join(proto_paths),
            visibility = ["//visibility:private"],
        )
        native.filegroup(
            name = name + "_py",
            srcs = [s + "_pb2.py" for s in stems],
            visibility = visibility,
        )
