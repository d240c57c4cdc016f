// A main for a fuzz target built without libFuzzer (the debug and asan presets): runs
// LLVMFuzzerTestOneInput on each file named, as `TARGET FILE...` does under libFuzzer, so
// ctest can run a corpus entry through the target's own decoding. Says per file whether
// the target ran it (0) or rejected it (-1); a finding aborts, as under libFuzzer.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s INPUT...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
      return 2;
    }
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const int status = LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    std::printf("%s: %s\n", argv[i], status == 0 ? "ran" : "rejected");
  }
  return 0;
}
