/*
 * deflate_hide.h — force-included (-include) into libdeflate's sources by
 * build.zig and tests/native.sh, never by pwalk's own files.
 *
 * libdeflate's lib/lib_common.h marks its API
 * __attribute__((visibility("default"))) whatever -fvisibility says, and
 * defines that macro unconditionally; libpwalk exports only pwalk.h's
 * functions.  In these files every visibility attribute becomes "hidden"
 * (a macro is not expanded again inside its own expansion).
 */
#define visibility(v) visibility("hidden")
