//! Builds libpwalk (native/) with zstd's compressor statically inside.
//!
//!   zig build -Doptimize=ReleaseFast -Dzstd=PATH/TO/zstd/lib
//!   zig build -Dtarget=aarch64-linux-gnu.2.27 ...    (cross builds)
//!
//! Written for zig 0.15.2 (pinned in tools/zig.sh).  The zstd sources come
//! from a pinned registry package (tools/deps.sh), never from this repository.
const std = @import("std");

const pwalk_sources = [_][]const u8{
    "opts.c", "dir.c", "errlog.c", "queue.c", "govern.c", "engine.c", "csvfmt.c", "sink.c", "report.c", "batch.c", "repair.c",
};

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
        .files = &pwalk_sources,
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
