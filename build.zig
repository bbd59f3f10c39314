//! Builds libpwalk (native/) with zstd's compressor statically inside.
//!
//!   zig build -Doptimize=ReleaseFast -Dzstd=PATH/TO/zstd/lib
//!   zig build -Dtarget=aarch64-linux-gnu.2.27 ...    (cross builds)
//!
//! Written for zig 0.15.2 (pinned in tools/zig.sh).  The zstd sources come
//! from a pinned registry package (tools/build.sh fetches npm zstd-napi),
//! never from this repository.
//!
//! The library is every .c file directly in native/ (native/driver/ holds
//! test drivers): the one list of sources, which tests/native.sh reads too.
const std = @import("std");

/// The C files of native/, sorted (a stable link order keeps builds reproducible).
fn pwalkSources(b: *std.Build) []const []const u8 {
    var dir = b.build_root.handle.openDir("native", .{ .iterate = true }) catch |e|
        std.debug.panic("cannot list native/: {s}", .{@errorName(e)});
    defer dir.close();
    var names: std.ArrayList([]const u8) = .empty;
    var it = dir.iterate();
    while (it.next() catch |e| std.debug.panic("cannot list native/: {s}", .{@errorName(e)})) |entry| {
        if (entry.kind == .file and std.mem.endsWith(u8, entry.name, ".c"))
            names.append(b.allocator, b.dupe(entry.name)) catch @panic("OOM");
    }
    std.mem.sort([]const u8, names.items, {}, struct {
        fn lt(_: void, a: []const u8, c: []const u8) bool {
            return std.mem.lessThan(u8, a, c);
        }
    }.lt);
    return names.items;
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

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const zstd_dir = b.option([]const u8, "zstd", "zstd's lib/ folder (sources)") orelse
        ".tools/zstd/node_modules/zstd-napi/deps/zstd/lib";
    const zstd_root: std.Build.LazyPath = if (std.fs.path.isAbsolute(zstd_dir))
        .{ .cwd_relative = zstd_dir }
    else
        b.path(zstd_dir);

    const mod = b.createModule(.{
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        // Reproducible, portable code: no CPU-specific instructions.
        .strip = optimize != .Debug,
    });
    mod.addIncludePath(zstd_root);
    mod.addCSourceFiles(.{
        .root = b.path("native"),
        .files = pwalkSources(b),
        .flags = &.{ "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden", "-fno-sanitize=undefined" },
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

    const lib = b.addLibrary(.{ .name = "pwalk", .linkage = .dynamic, .root_module = mod });
    b.installArtifact(lib);
}
