// hiredis (Debian's libhiredis-dev 0.14) for multi-node: only HeraldRedis
// imports it. The glibc headers come first for the same reason as in
// CURing's shim (a clean build inside a Clang module, Docs/ARCHITECTURE.md).
#ifndef HERALD_CHIREDIS_SHIM_H
#define HERALD_CHIREDIS_SHIM_H
#include <sys/time.h>
#include <sys/types.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#endif
