// ASan's defaults for the fuzz targets (ASAN_OPTIONS still overrides them).
//
// quarantine_size_mb=16 instead of 256: freed memory waits in the quarantine before it
// is reused, and a fuzzing process runs tens of thousands of inputs, so with 256 MB
// every process grew to ~420 MB (fuzz_net, 30 s) and kept touching fresh pages; with 16
// MB it stays at ~80 MB. Speed is the same within this machine's noise (docs/fuzzing.md,
// "Speed"). One input allocates 0.1-0.4 MB, so 16 MB still holds every block freed during
// an input and those of dozens of inputs before it: a use after free within a run is
// caught as before.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16"; }
