/*
 * source_id.c — pw_source_id(): which sources this library was built from.
 *
 * build.zig hashes native/ (every .c and .h directly in it) and passes the
 * SHA-256 as PW_SOURCE_ID to this file alone.  lib/ffi.ts computes the same
 * over the native/ it came with (or reads it from lib/manifest.json) and
 * refuses a library built from other sources: an older library called with
 * a newer interface (pw_restore's value array grew from 10 to 18 entries)
 * would misread its arguments.  PW_VERSION did not change across such
 * changes; this id changes with any change of native/.
 */
#include "pwalk.h"

#ifndef PW_SOURCE_ID
#define PW_SOURCE_ID "unknown" /* built without build.zig (tests/native.sh's gcc) */
#endif

PW_API const char *pw_source_id(void) { return PW_SOURCE_ID; }
