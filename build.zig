//! Builds libpwalk (native/) with zstd's and libdeflate's compressors
//! statically inside.
//!
//!   zig build -Doptimize=ReleaseFast -Dzstd=PATH/TO/zstd/lib -Dlibdeflate=PATH/TO/libdeflate
//!   zig build -Dtarget=aarch64-linux-gnu.2.27 ...    (cross builds)
//!
//! Written for zig 0.15.2 (pinned in tools/zig.sh).  The zstd and libdeflate
//! sources come from pinned registry packages (tools/build.sh fetches npm
//! zstd-napi and crates.io libdeflate-sys), never from this repository.
//!
//! The library is every .c file directly in native/ (native/driver/ holds
//! test drivers): the one list of sources, which tests/native.sh reads too.
//!
//! Without -Dtarget the library is built for the host's OS and architecture
//! at the release libraries' floor (tools/dist.ts TARGETS: glibc 2.27,
//! macOS 11.0) and the architecture's baseline CPU, never the build
//! machine's: a checkout built on a new login node runs on older compute
//! nodes, and its zig-out/lib/libpwalk.so is byte for byte the release
//! library of its platform.  -Dtarget=native builds for this machine only.
//!
//! The library carries the source id of native/ (sourceId below), which
//! pw_source_id() returns and lib/ffi.ts compares with its own before it
//! uses the library.
const std = @import("std");

/// The target when no -Dtarget is given: the host's OS and architecture as
/// tools/dist.ts builds them (the same triple strings), baseline CPU; on a
/// platform without a release library, the host itself.
fn defaultTarget(b: *std.Build) std.Target.Query {
    const host = b.graph.host.result;
    if (host.cpu.arch != .x86_64 and host.cpu.arch != .aarch64) return .{};
    const arch = @tagName(host.cpu.arch);
    const triple = switch (host.os.tag) {
        .linux => b.fmt("{s}-linux-gnu.2.27", .{arch}),
        .macos => b.fmt("{s}-macos.11.0", .{arch}),
        else => return .{},
    };
    return std.Target.Query.parse(.{ .arch_os_abi = triple }) catch |e|
        std.debug.panic("cannot parse {s}: {s}", .{ triple, @errorName(e) });
}

/// The names of the regular files directly in native/ that `keep` takes,
/// sorted in byte order (a stable order keeps builds reproducible).
fn nativeFiles(b: *std.Build, keep: *const fn ([]const u8) bool) []const []const u8 {
    var dir = b.build_root.handle.openDir("native", .{ .iterate = true }) catch |e|
        std.debug.panic("cannot list native/: {s}", .{@errorName(e)});
    defer dir.close();
    var names: std.ArrayList([]const u8) = .empty;
    var it = dir.iterate();
    while (it.next() catch |e| std.debug.panic("cannot list native/: {s}", .{@errorName(e)})) |entry| {
        if (entry.kind == .file and keep(entry.name))
            names.append(b.allocator, b.dupe(entry.name)) catch @panic("OOM");
    }
    std.mem.sort([]const u8, names.items, {}, struct {
        fn lt(_: void, x: []const u8, y: []const u8) bool {
            return std.mem.lessThan(u8, x, y);
        }
    }.lt);
    return names.items;
}

fn isSource(name: []const u8) bool {
    return std.mem.endsWith(u8, name, ".c") or std.mem.endsWith(u8, name, ".h");
}

/// The source id of native/: SHA-256, lowercase hex, over every regular
/// file directly in native/ whose name ends in ".c" or ".h", in byte order
/// of their names, each as its name, a NUL byte, its size in decimal, a NUL
/// byte and its bytes.  lib/source_id.ts computes the same; no path, time
/// or build option goes in, so reproducible builds stay reproducible.
fn sourceId(b: *std.Build) [64]u8 {
    var dir = b.build_root.handle.openDir("native", .{}) catch |e|
        std.debug.panic("cannot open native/: {s}", .{@errorName(e)});
    defer dir.close();
    var h = std.crypto.hash.sha2.Sha256.init(.{});
    for (nativeFiles(b, isSource)) |name| {
        const bytes = dir.readFileAlloc(b.allocator, name, 1 << 26) catch |e|
            std.debug.panic("cannot read native/{s}: {s}", .{ name, @errorName(e) });
        h.update(name);
        h.update(b.fmt("\x00{d}\x00", .{bytes.len}));
        h.update(bytes);
    }
    return std.fmt.bytesToHex(h.finalResult(), .lower);
}

/// The file that defines pw_source_id(): compiled on its own, with the id.
const source_id_file = "source_id.c";

fn isPwalkSource(name: []const u8) bool {
    return std.mem.endsWith(u8, name, ".c") and !std.mem.eql(u8, name, source_id_file);
}

/// The C files of native/ but source_id.c, sorted (a stable link order
/// keeps builds reproducible).
fn pwalkSources(b: *std.Build) []const []const u8 {
    return nativeFiles(b, isPwalkSource);
}

// zstd 1.5.x: the compressor and what it needs; no decompressor, no zstdmt
// (pwalk compresses one frame per chunk on its own worker threads).
const zstd_sources = [_][]const u8{
    "common/debug.c",                 "common/entropy_common.c",
    "common/error_private.c",         "common/fse_decompress.c",
    "common/pool.c",                  "common/threading.c",
    "common/xxhash.c",                "common/zstd_common.c",
    "compress/fse_compress.c",        "compress/hist.c",
    "compress/huf_compress.c",        "compress/zstd_compress.c",
    "compress/zstd_compress_literals.c", "compress/zstd_compress_sequences.c",
    "compress/zstd_compress_superblock.c", "compress/zstd_double_fast.c",
    "compress/zstd_fast.c",           "compress/zstd_lazy.c",
    "compress/zstd_ldm.c",            "compress/zstd_opt.c",
    "compress/zstd_preSplit.c",
};

// libdeflate 1.2x: gzip compression of whole buffers (one gzip member per
// chunk, like zstd's frames); no decompressor, no zlib/raw wrappers.  The
// CPU-feature files pick the CRC-32 and matchfinder code at run time, so the
// build itself stays baseline.
const libdeflate_sources = [_][]const u8{
    "lib/deflate_compress.c", "lib/gzip_compress.c", "lib/crc32.c",
    "lib/utils.c",            "lib/x86/cpu_features.c", "lib/arm/cpu_features.c",
};

fn sourceDir(b: *std.Build, dir: []const u8) std.Build.LazyPath {
    return if (std.fs.path.isAbsolute(dir)) .{ .cwd_relative = dir } else b.path(dir);
}

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{ .default_target = defaultTarget(b) });
    const optimize = b.standardOptimizeOption(.{});
    const zstd_dir = b.option([]const u8, "zstd", "zstd's lib/ folder (sources)") orelse
        ".tools/zstd/node_modules/zstd-napi/deps/zstd/lib";
    const zstd_root = sourceDir(b, zstd_dir);
    const deflate_dir = b.option([]const u8, "libdeflate", "libdeflate's source folder") orelse
        ".tools/libdeflate/libdeflate-sys-1.26.1/libdeflate";
    const deflate_root = sourceDir(b, deflate_dir);

    const mod = b.createModule(.{
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        // No debug info (so no source paths in the file: reproducible at
        // any path) but in Debug builds.
        .strip = optimize != .Debug,
    });
    mod.addIncludePath(zstd_root);
    mod.addIncludePath(deflate_root);
    const c_flags = [_][]const u8{
        "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden", "-fno-sanitize=undefined",
    };
    mod.addCSourceFiles(.{ .root = b.path("native"), .files = pwalkSources(b), .flags = &c_flags });
    // the id on source_id.c's command line alone: a change in native/
    // recompiles that file and the changed one, not every file
    mod.addCSourceFile(.{
        .file = b.path("native/" ++ source_id_file),
        .flags = &(c_flags ++ [_][]const u8{b.fmt("-DPW_SOURCE_ID=\"{s}\"", .{&sourceId(b)})}),
    });
    mod.addCSourceFiles(.{
        .root = zstd_root,
        .files = &zstd_sources,
        .flags = &.{
            "-fvisibility=hidden",     "-DZSTDLIB_VISIBLE=",  "-DZSTDLIB_HIDDEN=",
            "-DZSTDERRORLIB_VISIBLE=", "-DZSTD_NO_TRACE",     "-DXXH_NAMESPACE=PW_ZSTD_",
            "-fno-sanitize=undefined",
        },
    });

    // libdeflate, as a static library linked in.  native/deflate_hide.h
    // keeps its functions unexported.  On x86_64 its target adds evex512:
    // the baseline CPU has it off, and clang 20 then refuses libdeflate's
    // run-time-selected 512-bit CRC code (whose functions ask only for
    // avx512bw,avx512vl).  evex512 without avx512f enables no instruction
    // in baseline code, so the build stays baseline.
    var deflate_query = target.query;
    if (target.result.cpu.arch == .x86_64)
        deflate_query.cpu_features_add.addFeature(@intFromEnum(std.Target.x86.Feature.evex512));
    const deflate_mod = b.createModule(.{
        .target = b.resolveTargetQuery(deflate_query),
        .optimize = optimize,
        .link_libc = true,
        .strip = optimize != .Debug,
    });
    deflate_mod.addCSourceFiles(.{
        .root = deflate_root,
        .files = &libdeflate_sources,
        .flags = &.{
            "-fvisibility=hidden", "-fno-sanitize=undefined",
            "-include",            b.pathFromRoot("native/deflate_hide.h"),
        },
    });
    mod.linkLibrary(b.addLibrary(.{ .name = "deflate", .linkage = .static, .root_module = deflate_mod }));

    const lib = b.addLibrary(.{ .name = "pwalk", .linkage = .dynamic, .root_module = mod });
    b.installArtifact(lib);
}
