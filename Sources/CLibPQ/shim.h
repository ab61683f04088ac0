#include <libpq-fe.h>
// mallopt: the backfill keeps large blocks in the heap (see AllocatorTuning.swift).
#include <malloc.h>
