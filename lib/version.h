/*
 * version.h - the build's version (git describe), from build/gen/version.c
 * which make regenerates when it changes (see the Makefile).
 */
#ifndef DP_VERSION_H
#define DP_VERSION_H

extern const char dp_version[];

#endif
